/**
 * What people (and the fixity sweep) may ask of a recording: Queries answer, Updates change, each Update's validator
 * rejects with a reason and leaves no trace in history. Handlers only record requests and write their log entries;
 * the main path (index.ts) acts on them.
 */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { applyExtension, rearmDeadline } from '../../domain/retention';
import type { Hold } from '../../domain/types';
import * as messages from '../messages';
import { lockToDeadline } from './retention';
import type { RecordingRun } from './state';

function requirePerson(by: string | undefined, flag = '--by') {
  if (!by || by.trim() === '' || by === 'system') throw new Error(`${flag} must name a person (an id)`);
}

function requireFourEyes(by: string, approvedBy: string) {
  requirePerson(by);
  requirePerson(approvedBy, '--approved-by');
  if (by === approvedBy) throw new Error(`four-eyes: --approved-by must be a second person, not ${by}`);
}

export function registerHandlers(run: RecordingRun): void {
  setHandler(messages.statusQuery, () => run.snapshot());

  /** Nothing more happens to this recording for review without a person or its deadline. */
  const reviewSettled = () => {
    switch (run.status.state) {
      case 'ingesting':
      case 'transcoding':
        return false;
      case 'retained':
      case 'held':
        // A resumed run (continue-as-new) only ever starts idle: whatever transcoding it had is behind it.
        return run.status.reviewReady || run.input.transcode === false || run.resumed !== undefined;
      default:
        return true;
    }
  };
  setHandler(messages.awaitReviewReadyUpdate, async () => {
    await condition(reviewSettled);
    return run.snapshot();
  });

  setHandler(
    messages.replayUpdate,
    async (request): Promise<messages.ReplayResult> => {
      const stage = run.status.lastError?.stage ?? 'ingest';
      // Flags first, before any await: a second replay in the same activation is validated against them.
      if (stage === 'fixity') {
        run.fixityRecheckRequested = true;
        run.retentionChanged = true;
      } else run.replayRequested = true;
      await run.log.append(request.by, 'stage.replay-requested', { stage, reason: request.reason ?? null });
      return { stage, replayed: true };
    },
    {
      validator: (request: messages.ReplayRequest) => {
        requirePerson(request.by);
        if (run.status.state !== 'needs-attention') {
          throw new Error(
            `recording ${run.recordingId} is ${run.status.state}, not needs-attention: nothing to replay`,
          );
        }
        // A second replay before the first has started the stage again would run it twice.
        if (run.replayRequested || run.fixityRecheckRequested)
          throw new Error('a replay of this stage is already under way');
      },
    },
  );

  setHandler(
    messages.holdUpdate,
    async (request) => {
      const r = run.requireRetention();
      const hold: Hold = {
        id: `hold-${r.holds.length + 1}`,
        caseId: request.caseId,
        reason: request.reason,
        by: request.by,
        at: new Date().toISOString(),
      };
      r.holds.push(hold);
      run.publishRetention();
      run.retentionChanged = true;
      await run.log.append(request.by, 'hold.placed', {
        holdId: hold.id,
        caseId: hold.caseId,
        reason: hold.reason,
      });
      return { holdId: hold.id, activeHolds: run.activeHolds().length };
    },
    {
      validator: (request: messages.HoldRequest) => {
        run.requireRetention();
        requirePerson(request.by);
        if (!request.caseId?.trim()) throw new Error('a hold needs --case <case number>');
        if (!request.reason?.trim()) throw new Error('a hold needs --reason');
      },
    },
  );

  setHandler(
    messages.releaseUpdate,
    async (request) => {
      const r = run.requireRetention();
      const now = new Date().toISOString();
      const released = run.activeHolds().filter((h) => !request.holdId || h.id === request.holdId);
      for (const hold of released)
        Object.assign(hold, { releasedAt: now, releasedBy: request.by, approvedBy: request.approvedBy });
      run.publishRetention();
      run.retentionChanged = true;
      await run.log.append(request.by, 'hold.released', {
        holdIds: released.map((h) => h.id),
        approvedBy: request.approvedBy,
        reason: request.reason ?? null,
      });
      return { released: released.map((h) => h.id), deleteAfter: r.deleteAfter };
    },
    {
      validator: (request: messages.ReleaseRequest) => {
        run.requireRetention();
        requireFourEyes(request.by, request.approvedBy);
        const matching = run.activeHolds().filter((h) => !request.holdId || h.id === request.holdId);
        if (matching.length === 0) {
          throw new Error(
            request.holdId
              ? `no active hold ${request.holdId}`
              : `recording ${run.recordingId} has no active hold`,
          );
        }
      },
    },
  );

  setHandler(
    messages.extendUpdate,
    async (request) => {
      const r = run.requireRetention();
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
      run.publishRetention();
      run.retentionChanged = true;
      await run.log.append(request.by, 'deadline.extended', {
        previous,
        deleteAfter: r.deleteAfter,
        reason: request.reason,
        caseId: request.caseId ?? null,
      });
      await lockToDeadline(run);
      return { deleteAfter: r.deleteAfter, previous };
    },
    {
      validator: (request: messages.ExtendRequest) => {
        const r = run.requireRetention();
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
      const r = run.requireRetention();
      r.evidence = { caseId: request.caseId, by: request.by, at: new Date().toISOString() };
      run.publishRetention();
      await run.log.append(request.by, 'evidence.marked', {
        caseId: request.caseId,
        reason: request.reason ?? null,
        deleteAfter: r.deleteAfter,
      });
      await lockToDeadline(run);
      return {
        lockedUntil: r.evidence.lockedUntil ?? r.deleteAfter,
        objects: 1 + (run.status.derivatives?.derivatives.length ?? 0),
      };
    },
    {
      validator: (request: messages.MarkEvidenceRequest) => {
        const r = run.requireRetention();
        requirePerson(request.by);
        if (!request.caseId?.trim()) throw new Error('marking evidence needs --case <case number>');
        if (r.evidence) throw new Error(`already marked as evidence for case ${r.evidence.caseId}`);
        if (!run.status.original) {
          throw new Error(
            `recording ${run.recordingId} is ${run.status.state}: marking it as evidence locks its stored original, and it has none` +
              (run.status.state === 'quarantined' ? ' — release it from quarantine first' : ' yet'),
          );
        }
      },
    },
  );

  setHandler(
    messages.deleteEarlyUpdate,
    async (request) => {
      run.earlyDeletion = { ...request, at: new Date().toISOString() };
      run.retentionChanged = true;
      await run.log.append(request.by, 'deletion.early-approved', {
        reason: request.reason,
        approvedBy: request.approvedBy,
      });
      return { accepted: true as const };
    },
    {
      validator: (request: messages.DeleteEarlyRequest) => {
        const r = run.requireRetention();
        requireFourEyes(request.by, request.approvedBy);
        if (!request.reason?.trim()) throw new Error('an early deletion needs --reason');
        if (run.activeHolds().length > 0)
          throw new Error(
            `rejected: held (${run
              .activeHolds()
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
      const r = run.requireRetention();
      const previous = { pack: r.pack.id, deleteAfter: r.deleteAfter };
      const next = rearmDeadline(
        { ...r.deadline, deleteAfter: r.deleteAfter },
        request.pack.retention,
        r.extensions,
      );
      r.pack = request.pack;
      r.deadline = {
        deleteAfter: next.deleteAfter,
        statutoryDeadline: next.statutoryDeadline,
        basis: next.basis,
        basisTime: next.basisTime,
      };
      r.deleteAfter = next.deleteAfter;
      run.status.policy = request.pack.id;
      if (next.change === 'shortened') run.deletionCause = 'policy';
      run.publishRetention();
      run.retentionChanged = true;
      await run.log.append(request.by, 'policy.applied', {
        previous,
        pack: { id: request.pack.id, version: request.pack.version, fingerprint: request.pack.fingerprint },
        deleteAfter: next.deleteAfter,
        change: next.change,
        reason: request.reason ?? null,
      });
      await lockToDeadline(run);
      return {
        previous,
        next: { pack: request.pack.id, deleteAfter: next.deleteAfter },
        change: next.change,
      };
    },
    {
      validator: (request: messages.ApplyPolicyRequest) => {
        run.requireRetention();
        requirePerson(request.by);
      },
    },
  );

  setHandler(
    messages.releaseQuarantineUpdate,
    async (request): Promise<messages.ReleaseQuarantineResult> => {
      const record = run.status.quarantine!;
      run.quarantineRelease = request; // before any await, like replay
      await run.log.append(request.by, 'quarantine.released', {
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
        const record = run.status.quarantine;
        if (run.status.state !== 'quarantined' || !record || run.quarantineRelease) {
          throw new Error(`recording ${run.recordingId} is ${run.status.state}, not quarantined`);
        }
        if (record.reason === 'empty-file')
          throw new Error('the file has zero bytes: there is nothing to process');
        if (!record.object.etag) {
          throw new Error(
            `the quarantine record of ${run.recordingId} has no ETag; re-upload the file instead`,
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
    if (!run.deletable()) return;
    run.pendingFixity = notice;
    run.retentionChanged = true;
  });

  // A reset (or another action outside the workflow) is written into this recording's custody log.
  setHandler(messages.administrativeNoteSignal, async (note) => {
    await run.log.append(note.by, `admin.${note.action}`, { reason: note.reason, ...note.details });
  });
}
