/**
 * The life of one recording. Decides only; every effect is an activity. Read it as the diagram in the README:
 *
 *   ingest (copy + hash + probe) ─► transcode ─┐   (transcoding runs beside the deadline: it never delays it)
 *                                              ├─► retained: wait for deadline / hold / extension / policy / early
 *                                              └─► deleting ─► delete every version ─► certificate ─► deleted
 *
 * Administrative actions arrive as Updates whose validators reject with a reason. Every step is a custody-log
 * entry. Waiting for weeks keeps history small: the workflow continues as new when Temporal suggests it.
 */
import {
  proxyActivities,
  setHandler,
  condition,
  upsertSearchAttributes,
  ApplicationFailure,
  ActivityFailure,
  CancellationScope,
  isCancellation,
  workflowInfo,
  continueAsNew,
  allHandlersFinished,
  ActivityCancellationType,
  metricMeter,
  patched,
  proxyLocalActivities,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type {
  LifecycleInput,
  LifecycleState,
  RecordingStatus,
  Stage,
  QuarantineReason,
  QuarantineRecord,
  LastError,
  RetentionStatus,
  Hold,
  DerivativeSet,
  ObjectRef,
  StoredOriginal,
  RulePackRef,
} from '../domain/types';
import * as messages from './messages';
import {
  StateAttr,
  StageAttr,
  RecordingIdAttr,
  DeviceIdAttr,
  PolicyAttr,
  DeleteAfterAttr,
  HeldAttr,
  EvidenceAttr,
} from '../domain/search-attributes';
import { CustodyLogWriter, type EntrySpec } from './custody-log-writer';
import { recordingDeletedDetails } from '../domain/custody-log';
import { computeDeadline, applyExtension, rearmDeadline, decideWake } from '../domain/retention';

type Activities = ReturnType<typeof createActivities>;

/** Errors that are facts about the input, not passing faults: at ingest, the recording goes to quarantine. */
const QUARANTINE_ERRORS: Record<string, QuarantineReason> = {
  NotMedia: 'not-media',
  CorruptMedia: 'unreadable',
};

/** Object Lock expiry and our timer may disagree by a clock's skew; deletion of locked objects waits this much. */
const LOCK_EXPIRY_MARGIN_MS = 5_000;

/** Replays of parked stages, by stage and outcome (succeeded, failed-again); exported with the SDK's metrics. */
const replays = metricMeter.createCounter(
  'custody_replays',
  'replays',
  'Replays of parked stages by outcome.',
);

/** Patch ids (docs/versioning.md): each marks a change of the commands this workflow issues. */
// custody-lookups-local-202611: introduced 2026-11-23 (resolveRulePack, recordingObjectKeys as local activities).
const LOOKUPS_RUN_LOCALLY = 'custody-lookups-local-202611';
// custody-cancelled-stage-202611: introduced 2026-11-23 (a stage cancelled by deletion no longer parks first).
const CANCELLED_STAGE_NOT_PARKED = 'custody-cancelled-stage-202611';
// custody-fused-steps-202611: introduced 2026-11-23 (ingest's media-io work in one activity, storeOriginal; its
// log entries in one run; the deletion with its entries and certificate in one activity, deleteAndCertify).
const FUSED_STEPS = 'custody-fused-steps-202611';

type IngestSource = LifecycleInput['source'] & Pick<ObjectRef, 'versionId'>;
interface IngestProblem {
  reason: QuarantineReason;
  message: string;
}

export async function recordingLifecycle(input: LifecycleInput): Promise<RecordingStatus> {
  const mediaIo = proxyActivities<Activities>({
    taskQueue: input.taskQueues.mediaIo,
    startToCloseTimeout: '4h',
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 5, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  });
  const transcoder = proxyActivities<Activities>({
    taskQueue: input.taskQueues.transcode,
    startToCloseTimeout: '6h',
    heartbeatTimeout: '1m',
    // Deletion must not start while ffmpeg or an upload still runs: wait until the activity has really stopped.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 3, initialInterval: '10s', backoffCoefficient: 3, maximumInterval: '5m' },
  });
  const lightRetry = { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' };
  const light = proxyActivities<Activities>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '1m',
    retry: lightRetry,
  });
  // Rule-pack lookups and key listings only read: as local activities they cost no task-queue round trip.
  // (Log appends and the certificate stay regular activities: their inputs must be fixed in history, or a
  // re-run workflow task would write them again with another clock, or in another order.) Runs started before
  // this change replay with regular activities (docs/versioning.md).
  const lookups = patched(LOOKUPS_RUN_LOCALLY)
    ? proxyLocalActivities<Activities>({ startToCloseTimeout: '1m', retry: lightRetry })
    : light;
  // The custody log waits out a store outage rather than fail the recording's workflow.
  const logActivities = proxyActivities<Activities>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '1m' },
  });

  const logLookups = proxyLocalActivities<Activities>({ startToCloseTimeout: '1m', retry: lightRetry });

  const resumed = input.resume;
  const log = new CustodyLogWriter(
    input.recordingId,
    {
      appendEntry: logActivities.appendCustodyEntry,
      appendEntries: logActivities.appendCustodyEntries,
      headFrom: logLookups.custodyLogHead,
    },
    resumed?.status.custodyLogHead,
  );
  const status: RecordingStatus = resumed?.status ?? {
    recordingId: input.recordingId,
    state: 'ingesting',
    originalName: input.originalName,
    ingestedAt: new Date(workflowInfo().startTime).toISOString(),
    policy: input.policy,
    reviewReady: false,
    ...(input.declared.deviceId && { deviceId: input.declared.deviceId }),
    ...(input.declared.recordedAt && { recordedAt: input.declared.recordedAt }),
    custodyLogHead: log.head,
  };
  let retention: RetentionStatus | undefined = resumed?.status.retention;
  let replayRequested = false;
  let quarantineRelease: messages.ReleaseQuarantineRequest | undefined;
  let pendingFixity: messages.FixityMismatchNotice | undefined;
  let fixityRecheckRequested = false;
  /** Set by Updates; the deadline wait re-evaluates whenever it flips. */
  let retentionChanged = false;
  let earlyDeletion: { by: string; approvedBy: string; reason: string; at: string } | undefined;
  let deletionCause: 'deadline' | 'early' | 'policy' = 'deadline';

  const snapshot = (): RecordingStatus => ({
    ...status,
    custodyLogHead: log.head,
    ...(retention && { retention: { ...retention, holds: retention.holds.map((h) => ({ ...h })) } }),
  });

  function setState(state: LifecycleState, stage: Stage | '' = '') {
    status.state = state;
    upsertSearchAttributes([
      { key: StateAttr, value: state },
      { key: StageAttr, value: stage || null },
    ]);
  }

  function publishRetention() {
    if (!retention) return;
    upsertSearchAttributes([
      { key: DeleteAfterAttr, value: new Date(retention.deleteAfter) },
      { key: HeldAttr, value: retention.holds.some((h) => !h.releasedAt) },
      { key: EvidenceAttr, value: retention.evidence !== undefined },
      { key: PolicyAttr, value: retention.pack.id },
    ]);
  }

  const deletable = () => status.state !== 'deleting' && status.state !== 'deleted';
  const fixityParked = () => status.state === 'needs-attention' && status.lastError?.stage === 'fixity';
  const activeHolds = () => retention?.holds.filter((h) => !h.releasedAt) ?? [];
  function requireRetention(): RetentionStatus {
    if (!retention)
      throw new Error(`recording ${input.recordingId} is ${status.state}: its deadline is not set yet`);
    if (!deletable()) throw new Error(`recording ${input.recordingId} is ${status.state}`);
    return retention;
  }
  function requirePerson(by: string | undefined, flag = '--by') {
    if (!by || by.trim() === '' || by === 'system') throw new Error(`${flag} must name a person (an id)`);
  }
  function requireFourEyes(by: string, approvedBy: string) {
    requirePerson(by);
    requirePerson(approvedBy, '--approved-by');
    if (by === approvedBy) throw new Error(`four-eyes: --approved-by must be a second person, not ${by}`);
  }

  /** Extends the WORM lock of an evidence recording to its (new) deadline; locks only ever lengthen. */
  async function lockToDeadline() {
    if (!retention?.evidence) return;
    const objects = [
      ...(status.original ? [status.original] : []),
      ...(status.derivatives?.derivatives ?? []),
    ].map((o) => ({ bucket: o.bucket, key: o.key, versionId: o.versionId }));
    if (objects.length === 0) return;
    const locked = await mediaIo.lockEvidence({ objects, retainUntil: retention.deleteAfter });
    const until =
      locked
        .map((l) => l.retainUntil)
        .sort()
        .at(-1) ?? retention.deleteAfter;
    retention.evidence.lockedUntil = until;
    await log.append('system', 'evidence.locked', {
      retainUntil: until,
      objects: locked.map((l) => ({ key: l.key, versionId: l.versionId, retainUntil: l.retainUntil })),
    });
  }

  // --- Queries and Updates ----------------------------------------------------------------------------------
  setHandler(messages.statusQuery, snapshot);

  /** Nothing more happens to this recording for review without a person or its deadline. */
  const reviewSettled = () => {
    switch (status.state) {
      case 'ingesting':
      case 'transcoding':
        return false;
      case 'retained':
      case 'held':
        // A resumed run (continue-as-new) only ever starts idle: whatever transcoding it had is behind it.
        return status.reviewReady || input.transcode === false || resumed !== undefined;
      default:
        return true;
    }
  };
  setHandler(messages.awaitReviewReadyUpdate, async () => {
    await condition(reviewSettled);
    return snapshot();
  });

  setHandler(
    messages.replayUpdate,
    async (request): Promise<messages.ReplayResult> => {
      const stage = status.lastError?.stage ?? 'ingest';
      // Flags first, before any await: a second replay in the same activation is validated against them.
      if (stage === 'fixity') {
        fixityRecheckRequested = true;
        retentionChanged = true;
      } else replayRequested = true;
      await log.append(request.by, 'stage.replay-requested', { stage, reason: request.reason ?? null });
      return { stage, replayed: true };
    },
    {
      validator: (request: messages.ReplayRequest) => {
        requirePerson(request.by);
        if (status.state !== 'needs-attention') {
          throw new Error(
            `recording ${input.recordingId} is ${status.state}, not needs-attention: nothing to replay`,
          );
        }
        // A second replay before the first has started the stage again would run it twice.
        if (replayRequested || fixityRecheckRequested)
          throw new Error('a replay of this stage is already under way');
      },
    },
  );

  setHandler(
    messages.holdUpdate,
    async (request) => {
      const r = requireRetention();
      const hold: Hold = {
        id: `hold-${r.holds.length + 1}`,
        caseId: request.caseId,
        reason: request.reason,
        by: request.by,
        at: new Date().toISOString(),
      };
      r.holds.push(hold);
      publishRetention();
      retentionChanged = true;
      await log.append(request.by, 'hold.placed', {
        holdId: hold.id,
        caseId: hold.caseId,
        reason: hold.reason,
      });
      return { holdId: hold.id, activeHolds: activeHolds().length };
    },
    {
      validator: (request: messages.HoldRequest) => {
        requireRetention();
        requirePerson(request.by);
        if (!request.caseId?.trim()) throw new Error('a hold needs --case <case number>');
        if (!request.reason?.trim()) throw new Error('a hold needs --reason');
      },
    },
  );

  setHandler(
    messages.releaseUpdate,
    async (request) => {
      const r = requireRetention();
      const now = new Date().toISOString();
      const released = activeHolds().filter((h) => !request.holdId || h.id === request.holdId);
      for (const hold of released)
        Object.assign(hold, { releasedAt: now, releasedBy: request.by, approvedBy: request.approvedBy });
      publishRetention();
      retentionChanged = true;
      await log.append(request.by, 'hold.released', {
        holdIds: released.map((h) => h.id),
        approvedBy: request.approvedBy,
        reason: request.reason ?? null,
      });
      return { released: released.map((h) => h.id), deleteAfter: r.deleteAfter };
    },
    {
      validator: (request: messages.ReleaseRequest) => {
        requireRetention();
        requireFourEyes(request.by, request.approvedBy);
        const matching = activeHolds().filter((h) => !request.holdId || h.id === request.holdId);
        if (matching.length === 0) {
          throw new Error(
            request.holdId
              ? `no active hold ${request.holdId}`
              : `recording ${input.recordingId} has no active hold`,
          );
        }
      },
    },
  );

  setHandler(
    messages.extendUpdate,
    async (request) => {
      const r = requireRetention();
      const previous = r.deleteAfter;
      const result = applyExtension(
        previous,
        'until' in request ? { until: request.until } : { for: request.for },
      );
      if (!result.ok) throw ApplicationFailure.nonRetryable(result.reason, 'ExtensionRejected');
      r.extensions.push({
        until: result.deleteAfter,
        reason: request.reason,
        by: request.by,
        at: new Date().toISOString(),
        ...(request.caseId && { caseId: request.caseId }),
      });
      r.deleteAfter = result.deleteAfter;
      publishRetention();
      retentionChanged = true;
      await log.append(request.by, 'deadline.extended', {
        previous,
        deleteAfter: r.deleteAfter,
        reason: request.reason,
        caseId: request.caseId ?? null,
      });
      await lockToDeadline();
      return { deleteAfter: r.deleteAfter, previous };
    },
    {
      validator: (request: messages.ExtendRequest) => {
        const r = requireRetention();
        requirePerson(request.by);
        if (!request.reason?.trim()) throw new Error('an extension needs --reason');
        const result = applyExtension(
          r.deleteAfter,
          'until' in request ? { until: request.until } : { for: request.for },
        );
        if (!result.ok) throw new Error(result.reason);
      },
    },
  );

  setHandler(
    messages.markEvidenceUpdate,
    async (request) => {
      const r = requireRetention();
      r.evidence = { caseId: request.caseId, by: request.by, at: new Date().toISOString() };
      publishRetention();
      await log.append(request.by, 'evidence.marked', {
        caseId: request.caseId,
        reason: request.reason ?? null,
        deleteAfter: r.deleteAfter,
      });
      await lockToDeadline();
      return {
        lockedUntil: r.evidence.lockedUntil ?? r.deleteAfter,
        objects: 1 + (status.derivatives?.derivatives.length ?? 0),
      };
    },
    {
      validator: (request: messages.MarkEvidenceRequest) => {
        const r = requireRetention();
        requirePerson(request.by);
        if (!request.caseId?.trim()) throw new Error('marking evidence needs --case <case number>');
        if (r.evidence) throw new Error(`already marked as evidence for case ${r.evidence.caseId}`);
      },
    },
  );

  setHandler(
    messages.deleteEarlyUpdate,
    async (request) => {
      earlyDeletion = { ...request, at: new Date().toISOString() };
      retentionChanged = true;
      await log.append(request.by, 'deletion.early-approved', {
        reason: request.reason,
        approvedBy: request.approvedBy,
      });
      return { accepted: true as const };
    },
    {
      validator: (request: messages.DeleteEarlyRequest) => {
        const r = requireRetention();
        requireFourEyes(request.by, request.approvedBy);
        if (!request.reason?.trim()) throw new Error('an early deletion needs --reason');
        if (activeHolds().length > 0)
          throw new Error(
            `rejected: held (${activeHolds()
              .map((h) => `${h.id} case ${h.caseId}`)
              .join(', ')})`,
          );
        if (r.evidence) throw new Error(`rejected: marked as evidence for case ${r.evidence.caseId}`);
      },
    },
  );

  setHandler(
    messages.applyPolicyUpdate,
    async (request): Promise<messages.ApplyPolicyResult> => {
      const r = requireRetention();
      const previous = { pack: r.pack.id, deleteAfter: r.deleteAfter };
      const next = rearmDeadline(r.deadline, request.pack.retention, r.extensions);
      r.pack = request.pack;
      r.deadline = {
        deleteAfter: next.deleteAfter,
        statutoryDeadline: next.statutoryDeadline,
        basis: next.basis,
        basisTime: next.basisTime,
      };
      r.deleteAfter = next.deleteAfter;
      status.policy = request.pack.id;
      if (next.change === 'shortened') deletionCause = 'policy';
      publishRetention();
      retentionChanged = true;
      await log.append(request.by, 'policy.applied', {
        previous,
        pack: { id: request.pack.id, version: request.pack.version, fingerprint: request.pack.fingerprint },
        deleteAfter: next.deleteAfter,
        change: next.change,
        reason: request.reason ?? null,
      });
      await lockToDeadline();
      return {
        previous,
        next: { pack: request.pack.id, deleteAfter: next.deleteAfter },
        change: next.change,
      };
    },
    {
      validator: (request: messages.ApplyPolicyRequest) => {
        requireRetention();
        requirePerson(request.by);
      },
    },
  );

  setHandler(
    messages.releaseQuarantineUpdate,
    async (request): Promise<messages.ReleaseQuarantineResult> => {
      const record = status.quarantine!;
      quarantineRelease = request; // before any await, like replay
      await log.append(request.by, 'quarantine.released', {
        reason: request.reason,
        quarantineReason: record.reason,
        acceptReceivedHash: request.acceptReceivedHash ?? false,
        quarantineKey: record.object.key,
      });
      return { released: true, reason: record.reason };
    },
    {
      validator: (request: messages.ReleaseQuarantineRequest) => {
        requirePerson(request.by);
        if (!request.reason?.trim()) throw new Error('a release from quarantine needs --reason');
        const record = status.quarantine;
        if (status.state !== 'quarantined' || !record || quarantineRelease) {
          throw new Error(`recording ${input.recordingId} is ${status.state}, not quarantined`);
        }
        if (record.reason === 'empty-file')
          throw new Error('the file has zero bytes: there is nothing to process');
        if (!record.object.etag) {
          throw new Error(
            `the quarantine record of ${input.recordingId} has no ETag; re-upload the file instead`,
          );
        }
        if (record.reason === 'hash-mismatch' && !request.acceptReceivedHash) {
          throw new Error(
            'quarantined for a hash mismatch: release only with --accept-received-hash, once you have established ' +
              'that the declared hash was wrong (the received hash is then the reference)',
          );
        }
      },
    },
  );

  setHandler(messages.fixityMismatchSignal, (notice) => {
    if (!deletable()) return;
    pendingFixity = notice;
    retentionChanged = true;
  });

  // A reset (or another action outside the workflow) is written into this recording's custody log.
  setHandler(messages.administrativeNoteSignal, async (note) => {
    await log.append(note.by, `admin.${note.action}`, { reason: note.reason, ...note.details });
  });

  /**
   * Runs one stage; when its retries run out, parks the recording in needs-attention (never a failed
   * workflow) until an administrator's replay, then runs the stage again from its start.
   */
  async function runStage<T>(stage: Stage, body: () => Promise<T>): Promise<T> {
    for (let replayed = false; ; replayed = true) {
      try {
        const result = await body();
        if (replayed) replays.add(1, { stage, outcome: 'succeeded' });
        return result;
      } catch (err) {
        if (replayed) replays.add(1, { stage, outcome: 'failed-again' });
        // A cancelled stage (deletion came first) is not a failure; at ingest, facts about the input go to
        // quarantine (the caller handles them), not to a replay queue.
        if (!(err instanceof ActivityFailure)) throw err;
        if (isCancellation(err) && patched(CANCELLED_STAGE_NOT_PARKED)) throw err;
        if (stage === 'ingest' && quarantineReasonOf(err)) throw err;
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        const lastError: LastError = {
          stage,
          type: cause?.type ?? err.cause?.name ?? 'ActivityFailure',
          message: err.cause?.message ?? err.message,
          attempts: attemptOf(cause),
          at: new Date().toISOString(),
        };
        status.lastError = lastError;
        const before = status.state;
        setState('needs-attention', stage);
        await log.append('system', 'stage.failed', { ...lastError });
        await condition(() => replayRequested);
        replayRequested = false;
        setState(before === 'needs-attention' ? (stage === 'ingest' ? 'ingesting' : 'transcoding') : before);
      }
    }
  }

  /** Moves the input to quarantine and waits — for ever, if need be — until an administrator releases it. */
  async function quarantine(
    problem: IngestProblem,
    source: IngestSource,
    manifestKey: string | undefined,
  ): Promise<messages.ReleaseQuarantineRequest> {
    const { reason, message } = problem;
    quarantineRelease = undefined; // a recording released before and quarantined again waits for a new release
    const record: QuarantineRecord = await runStage('ingest', () =>
      mediaIo.quarantineRecording({
        recordingId: input.recordingId,
        source,
        ...(manifestKey && { manifestKey }),
        ...(status.original && { evidenceCopy: status.original }),
        reason,
        message,
      }),
    );
    status.quarantine = record;
    delete status.original;
    setState('quarantined');
    await log.append('system', 'recording.quarantined', {
      reason,
      message,
      quarantineKey: record.object.key,
    });
    // Nothing is deleted automatically; it stays until an administrator releases it (custody release-quarantine).
    await condition(() => quarantineRelease !== undefined);
    return quarantineRelease!;
  }

  const resetRun = () => workflowInfo().runId !== workflowInfo().originalExecutionRunId;
  const originalStoredEntry = (original: StoredOriginal): EntrySpec => ({
    actor: 'system',
    action: 'original.stored',
    details: {
      key: original.key,
      versionId: original.versionId,
      sha256: original.sha256,
      bytes: original.bytes,
    },
  });
  const hashMismatch = (declaredSha256: string, original: StoredOriginal): IngestProblem => ({
    reason: 'hash-mismatch',
    message: `SHA-256 of the received bytes is ${original.sha256}, but the ${input.via === 'cli' ? 'uploader' : 'manifest'} declared ${declaredSha256}.`,
  });

  /**
   * Copies, hashes, compares, probes and releases the inbox copy in one media-io activity. The
   * `original.stored` entry of a good original is written with the rest of ingest's entries; a problem means
   * quarantine, with the entry written first.
   */
  async function storeOriginal(
    source: IngestSource,
    manifestKey: string | undefined,
    declaredSha256: string | undefined,
    firstTry: boolean,
  ): Promise<IngestProblem | undefined> {
    let scheduled = 0;
    const stored = await runStage('ingest', () =>
      mediaIo.storeOriginal({
        recordingId: input.recordingId,
        source,
        originalName: input.originalName,
        ...(declaredSha256 && { declaredSha256 }),
        ...(manifestKey && { manifestKey }),
        // Only the very first scheduling may skip the search for a crashed attempt's leftovers: not a replay,
        // not a release from quarantine, not a run made by a reset (an earlier run may have copied already).
        ...(firstTry && scheduled++ === 0 && !resetRun() && { firstTry: true }),
      }),
    );
    const { original } = stored;
    status.original = original;
    status.sha256 = original.sha256;
    status.bytes = original.bytes;
    if (stored.media) {
      status.media = stored.media;
      return undefined;
    }
    await log.append('system', 'original.stored', originalStoredEntry(original).details);
    if (stored.mediaProblem) {
      return { reason: QUARANTINE_ERRORS[stored.mediaProblem.type]!, message: stored.mediaProblem.message };
    }
    if (stored.hashMismatch && declaredSha256) return hashMismatch(declaredSha256, original);
    throw new Error(`storeOriginal returned neither media facts nor a problem for ${input.recordingId}`);
  }

  /** Copies and hashes the original, compares with the declared hash, probes it. A problem means quarantine. */
  async function ingestOriginal(
    source: IngestSource,
    declaredSha256: string | undefined,
  ): Promise<IngestProblem | undefined> {
    try {
      const original = await runStage('ingest', () =>
        mediaIo.copyAndHashOriginal({
          recordingId: input.recordingId,
          source,
          originalName: input.originalName,
          ...(declaredSha256 && { declaredSha256 }),
        }),
      );
      status.original = original;
      status.sha256 = original.sha256;
      status.bytes = original.bytes;
      await log.append('system', 'original.stored', originalStoredEntry(original).details);
      if (declaredSha256 && declaredSha256.toLowerCase() !== original.sha256) {
        return hashMismatch(declaredSha256, original);
      }
      status.media = await runStage('ingest', () => mediaIo.probeMedia({ object: original }));
      return undefined;
    } catch (err) {
      const reason = quarantineReasonOf(err);
      if (!reason) throw err;
      return { reason, message: (err as ActivityFailure).cause?.message ?? String(err) };
    }
  }

  /** A fixity run found stored bytes that no longer match the log: park (the deadline still runs). */
  async function parkForFixity(notice: messages.FixityMismatchNotice) {
    const problems = [
      ...notice.mismatches.map((m) =>
        m.problem === 'missing'
          ? `${m.kind} ${m.key} missing`
          : `${m.kind} ${m.key} hashes to ${m.actualSha256}`,
      ),
      ...notice.logProblems,
    ];
    status.lastError = {
      stage: 'fixity',
      type: 'FixityMismatch',
      message: problems.join('; '),
      attempts: 1,
      at: notice.checkedAt,
    };
    setState('needs-attention', 'fixity');
    await log.append('system', 'fixity.mismatch', {
      checkedAt: notice.checkedAt,
      checkedBy: notice.checkedBy,
      mismatches: notice.mismatches.map((m) => ({ ...m })),
      logProblems: notice.logProblems,
    });
  }

  /** A replay of the fixity stage: check again (e.g. after the object was restored from a backup). */
  async function recheckFixity() {
    let result;
    try {
      result = await mediaIo.checkRecordingFixity({ recordingId: input.recordingId });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // The check itself could not run (store unreachable): stay parked, say so, let a later replay try again.
      await log.append('system', 'fixity.recheck-failed', { message: err.cause?.message ?? err.message });
      return;
    }
    if (result.mismatches.length || result.logProblems.length) {
      replays.add(1, { stage: 'fixity', outcome: 'failed-again' });
      await parkForFixity({ ...result, checkedBy: 'replay' });
      return;
    }
    replays.add(1, { stage: 'fixity', outcome: 'succeeded' });
    setState(activeHolds().length ? 'held' : 'retained');
    await log.append('system', 'fixity.restored', { checkedAt: result.checkedAt, objects: result.objects });
  }

  /** The deadline: from recordedAt (or ingest time) plus the rule pack's retention. Returns its log entry. */
  const resolveRulePack = () => runStage('retention', () => lookups.resolveRulePack(input.policy));
  async function setDeadline(resolved?: RulePackRef): Promise<EntrySpec> {
    const pack = resolved ?? (await resolveRulePack());
    const deadline = computeDeadline({
      recordedAt: input.declared.recordedAt,
      ingestedAt: status.ingestedAt,
      retention: pack.retention,
    });
    retention = {
      pack,
      deadline: {
        deleteAfter: deadline.deleteAfter,
        statutoryDeadline: deadline.statutoryDeadline,
        basis: deadline.basis,
        basisTime: deadline.basisTime,
      },
      deleteAfter: deadline.deleteAfter,
      extensions: [],
      holds: [],
    };
    publishRetention();
    return {
      actor: 'system',
      action: 'deadline.set',
      details: {
        pack: {
          id: pack.id,
          version: pack.version,
          fingerprint: pack.fingerprint,
          citation: pack.citation ?? null,
        },
        retention: pack.retention,
        basis: deadline.basis,
        basisTime: deadline.basisTime,
        deleteAfter: deadline.deleteAfter,
        warnings: deadline.warnings.map((w) => w.message),
      },
    };
  }

  // --- Ingest: copy + hash the original, compare with what the dock declared, confirm it is media -----------
  /** Ingest's last log entries: written while the transcode already starts (it needs none of them). */
  let ingestLogged: Promise<unknown> = Promise.resolve();
  if (!resumed) {
    upsertSearchAttributes([
      { key: RecordingIdAttr, value: input.recordingId },
      { key: PolicyAttr, value: input.policy },
      ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
    ]);
    setState('ingesting');
    const fused = patched(FUSED_STEPS);
    const receivedDetails = {
      via: input.via,
      source: {
        bucket: input.source.bucket,
        key: input.source.key,
        etag: input.source.etag,
        size: input.source.size,
      },
      originalName: input.originalName,
      declared: { ...input.declared },
      policy: input.policy,
    };
    // The receipt is stamped now and written with ingest's first result (its park or quarantine included).
    if (fused) log.defer(input.actor, 'recording.received', receivedDetails);
    else await log.append(input.actor, 'recording.received', receivedDetails);
    let source: IngestSource = input.source;
    let manifestKey = input.manifestKey;
    let declaredSha256 = input.declared.sha256;
    let problem: IngestProblem | undefined = input.manifestProblem
      ? { reason: 'manifest-malformed', message: input.manifestProblem }
      : input.source.size === 0
        ? { reason: 'empty-file', message: 'The file has zero bytes: the upload or the dock failed.' }
        : undefined;
    // A rule pack that cannot be resolved (a config error) parks the recording before any bytes move, and the
    // ingest's entries then go into the log as one run.
    const pack = fused ? await resolveRulePack() : undefined;
    for (let firstTry = true; ; firstTry = false) {
      problem ??= fused
        ? await storeOriginal(source, manifestKey, declaredSha256, firstTry)
        : await ingestOriginal(source, declaredSha256);
      if (!problem) break;
      const release = await quarantine(problem, source, manifestKey);
      // Released: ingest again from the quarantined bytes (the inbox copy is gone).
      const held = status.quarantine!.object;
      source = { bucket: held.bucket, key: held.key, etag: held.etag!, size: held.size ?? 0 };
      if (held.versionId) source.versionId = held.versionId;
      manifestKey = undefined;
      if (release.acceptReceivedHash) declaredSha256 = undefined;
      delete status.quarantine;
      problem = undefined;
      setState('ingesting');
    }
    const probed: EntrySpec = { actor: 'system', action: 'media.probed', details: { ...status.media } };
    const completed: EntrySpec = {
      actor: 'system',
      action: 'ingest.completed',
      details: {
        sha256: status.sha256,
        bytes: status.bytes,
        ...(input.transcode === false && { transcode: 'off (CUSTODY_TRANSCODE_ENABLED=false)' }),
      },
    };
    if (fused) {
      // storeOriginal has released the inbox copy; the entries of a good ingest go into the log as one run.
      const deadlineSet = await setDeadline(pack);
      ingestLogged = log.appendAll([originalStoredEntry(status.original!), probed, completed, deadlineSet]);
    } else {
      await log.append(probed.actor, probed.action, probed.details);
      const ingested = source;
      const ingestedManifest = manifestKey;
      await runStage('ingest', () =>
        mediaIo.removeFromInbox({
          source: ingested,
          ...(ingestedManifest && { manifestKey: ingestedManifest }),
        }),
      );
      await log.append(completed.actor, completed.action, completed.details);
      const deadlineSet = await setDeadline();
      await log.append(deadlineSet.actor, deadlineSet.action, deadlineSet.details);
    }
  }

  // --- Transcode beside the deadline: a stuck or parked transcode never delays deletion ----------------------
  const transcodeScope = new CancellationScope();
  const transcoding =
    status.reviewReady || resumed || input.transcode === false
      ? Promise.resolve()
      : transcodeScope
          .run(async () => {
            setState('transcoding');
            const derivatives: DerivativeSet = await runStage('transcode', () =>
              transcoder.transcodeRecording({
                recordingId: input.recordingId,
                original: status.original!,
                media: status.media!,
              }),
            );
            status.derivatives = derivatives;
            status.reviewReady = true;
            await log.append('system', 'derivatives.stored', {
              inputSha256: derivatives.inputSha256,
              ffmpegVersion: derivatives.ffmpegVersion,
              args: derivatives.args,
              elapsedS: derivatives.elapsedS,
              partial: derivatives.partial,
              derivatives: derivatives.derivatives.map((d) => ({
                kind: d.kind,
                key: d.key,
                versionId: d.versionId,
                sha256: d.sha256,
                bytes: d.bytes,
              })),
            });
            await lockToDeadline(); // marked as evidence while transcoding: the derivatives are locked too
            if (deletable() && !fixityParked()) setState(activeHolds().length ? 'held' : 'retained');
          })
          .catch((err: unknown) => {
            if (!isCancellation(err)) throw err;
          });
  await ingestLogged;
  if (status.state !== 'transcoding' && status.state !== 'needs-attention') setState('retained');

  // --- Retained: wait for whichever comes first ---------------------------------------------------------------
  // Only an idle recording continues as new: a running transcode (or a parked stage) lives in this run.
  const idle = () => status.state === 'retained' || status.state === 'held';
  const mayContinueAsNew = () => idle() && workflowInfo().continueAsNewSuggested;
  for (;;) {
    const r = retention!;
    if (earlyDeletion) {
      deletionCause = 'early';
      break;
    }
    if (pendingFixity) {
      const notice = pendingFixity;
      pendingFixity = undefined;
      await parkForFixity(notice);
    }
    if (fixityRecheckRequested) {
      fixityRecheckRequested = false;
      await recheckFixity();
    }
    const decision = decideWake(new Date(), {
      deleteAfter: r.deleteAfter,
      evidence: false,
      activeHolds: activeHolds(),
    });
    if (idle()) setState(decision.action === 'keep' ? 'held' : 'retained');
    if (decision.action === 'delete') break;
    if (mayContinueAsNew()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof recordingLifecycle>({ ...input, resume: { status: snapshot() } });
    }
    retentionChanged = false;
    const wakeInMs = decision.action === 'sleep' ? decision.sleepMs : undefined;
    // Wake for a change, the deadline, or a continue-as-new this run may take now. (Waking for a suggestion it
    // may not take yet — while transcoding — would spin.)
    await condition(() => retentionChanged || mayContinueAsNew(), wakeInMs);
  }

  // --- Deletion: every version of every object, verified absent, then a certificate --------------------------
  const r = retention!;
  setState('deleting');
  transcodeScope.cancel();
  await transcoding;
  if (r.evidence?.lockedUntil) {
    const waitMs = Date.parse(r.evidence.lockedUntil) + LOCK_EXPIRY_MARGIN_MS - Date.now();
    if (waitMs > 0) await condition(() => false, waitMs);
  }
  const requestedAt = new Date().toISOString();
  const startedDetails = {
    cause: deletionCause,
    deleteAfter: r.deleteAfter,
    overdueMs: Math.max(0, Date.parse(requestedAt) - Date.parse(r.deleteAfter)),
  };
  const requestedBy = earlyDeletion?.by ?? 'system';
  const certificateFacts = {
    recordingId: input.recordingId,
    originalSha256: status.sha256 ?? '',
    rulePack: {
      id: r.pack.id,
      version: r.pack.version,
      fingerprint: r.pack.fingerprint,
      ...(r.pack.citation && { citation: r.pack.citation }),
    },
    deadline: r.deleteAfter,
    cause: deletionCause,
    requestedBy,
    approvals: earlyDeletion
      ? [{ actor: earlyDeletion.approvedBy, at: earlyDeletion.at, reason: earlyDeletion.reason }]
      : [],
  };
  if (patched(FUSED_STEPS)) {
    // One activity writes deletion.started, deletes, writes recording.deleted, the certificate and
    // certificate.written, in that order (activities/delete-and-certify.ts).
    const keys = await runStage('deletion', () =>
      lookups.recordingObjectKeys({ recordingId: input.recordingId }),
    );
    const certified = await runStage('deletion', () =>
      log.writeThrough((at) =>
        mediaIo.deleteAndCertify({
          recordingId: input.recordingId,
          objects: keys,
          log: at,
          started: { time: requestedAt, actor: requestedBy, details: startedDetails },
          certificate: certificateFacts,
        }),
      ),
    );
    status.certificate = certified.certificate;
  } else {
    await log.append(requestedBy, 'deletion.started', startedDetails);
    const keys = await runStage('deletion', () =>
      lookups.recordingObjectKeys({ recordingId: input.recordingId }),
    );
    const deleted = await runStage('deletion', () =>
      mediaIo.deleteRecording({ recordingId: input.recordingId, objects: keys }),
    );
    await log.append('system', 'recording.deleted', recordingDeletedDetails(deletionCause, deleted));
    const head = log.head;
    const certificate = await runStage('deletion', () =>
      light.writeCertificate({
        ...certificateFacts,
        objects: deleted.deleted,
        deletedAt: deleted.verifiedAbsentAt,
        custodyLog: { headSeq: head.seq, headHash: head.hash },
      }),
    );
    status.certificate = { key: certificate.key, certificateHash: certificate.certificateHash };
    await log.append('system', 'certificate.written', {
      key: certificate.key,
      certificateHash: certificate.certificateHash,
    });
  }
  delete status.original;
  setState('deleted');
  await condition(allHandlersFinished);
  return snapshot();
}

/** The attempt number activities attach to their failures (activities/index.ts). */
function attemptOf(failure: ApplicationFailure | undefined): number {
  const details = (failure?.details ?? []) as { attempt?: unknown }[];
  const attempt = details.map((d) => d?.attempt).find((a) => typeof a === 'number');
  return typeof attempt === 'number' ? attempt : 1;
}

function quarantineReasonOf(err: unknown): QuarantineReason | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return QUARANTINE_ERRORS[err.cause.type ?? ''];
  }
  return undefined;
}
