/**
 * Ingest: copy the original into the evidence store and hash the stored version, compare with what the dock or
 * uploader declared, confirm it is media, release the inbox copy — one media-io activity (storeOriginal). A problem
 * with the input sends it to quarantine; a release brings it back here.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { mediaProbedDetails, originalStoredDetails, type EntrySpec } from '../../domain/custody-log';
import { DeviceIdAttr, PolicyAttr, RecordingIdAttr } from '../../domain/search-attributes';
import type { StoredOriginal } from '../../domain/types';
import { deadlineAtReceipt, fusedSteps, finishIngestStepwise, ingestOriginalStepwise } from './legacy';
import {
  hashMismatch,
  logQuarantined,
  moveToQuarantine,
  problemAtReceipt,
  quarantine,
  sourceAfterRelease,
  type IngestProblem,
  type IngestSource,
} from './quarantine';
import { resolveRulePack, setDeadline, waitForDeadline } from './retention';
import { QUARANTINE_ERRORS, runStage } from './stages';
import type { RecordingRun } from './state';

export interface Ingested {
  /** Ingest's last log entries, still to write (the caller writes them while the transcode starts). */
  lastEntries: EntrySpec[];
  /** Set from receipt on (new runs): settles when the recording is due for deletion. */
  deadline?: Promise<void>;
  /** The deadline came before ingest was done: ingest was stopped, and what it received is to be deleted. */
  interrupted?: boolean;
}

/**
 * Ingests the original, through quarantine and back as often as it takes, and sets the deadline. New runs set it
 * at receipt, before any byte moves, so that it runs through parking and quarantine too: a recording nobody
 * releases is deleted on time like any other.
 */
export async function ingest(run: RecordingRun): Promise<Ingested> {
  const { input, status, log } = run;
  upsertSearchAttributes([
    { key: RecordingIdAttr, value: input.recordingId },
    { key: PolicyAttr, value: input.policy },
    ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
  ]);
  run.setState('ingesting');
  const fused = fusedSteps();
  // Decided here, before the rule-pack lookup: a patch decided right after a local activity can land in another
  // workflow task on replay than it did live (when the lookup outlasted its task), which replay cannot match.
  const deadlineFromReceipt = fused && deadlineAtReceipt();
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
  const attempt: IngestAttempt = {
    source: input.source,
    manifestKey: input.manifestKey,
    declaredSha256: input.declared.sha256,
    problem: problemAtReceipt(run),
  };
  // A rule pack that cannot be resolved (a config error) parks the recording before any bytes move, and the
  // ingest's entries then go into the log as one run.
  const pack = fused ? await resolveRulePack(run) : undefined;
  if (pack && deadlineFromReceipt) {
    const deadlineSet = await setDeadline(run, pack);
    log.defer(deadlineSet.actor, deadlineSet.action, deadlineSet.details);
    return ingestWithinDeadline(run, attempt);
  }
  await storeUntilGood(run, attempt, fused);
  const [probed, completed] = ingestedEntries(run);
  if (!fused) {
    await finishIngestStepwise(run, attempt.source, attempt.manifestKey, probed, completed);
    return { lastEntries: [] };
  }
  // storeOriginal has released the inbox copy; the entries of a good ingest go into the log as one run.
  const deadlineSet = await setDeadline(run, pack);
  return { lastEntries: [originalStoredEntry(status.original!), probed, completed, deadlineSet] };
}

/** Where ingest reads from, and what stands in its way; a release from quarantine changes it. */
interface IngestAttempt {
  source: IngestSource;
  manifestKey: string | undefined;
  declaredSha256: string | undefined;
  problem: IngestProblem | undefined;
}

/** Stores and probes the original; a problem sends it to quarantine, a release brings it back here. */
async function storeUntilGood(run: RecordingRun, attempt: IngestAttempt, fused: boolean): Promise<void> {
  for (let firstTry = true; ; firstTry = false) {
    attempt.problem ??= fused
      ? await storeOriginal(run, attempt.source, attempt.manifestKey, attempt.declaredSha256, firstTry)
      : await ingestOriginalStepwise(run, attempt.source, attempt.declaredSha256);
    if (!attempt.problem) return;
    const release = await quarantine(run, attempt.problem, attempt.source, attempt.manifestKey);
    attempt.source = sourceAfterRelease(run.status.quarantine!);
    attempt.manifestKey = undefined;
    if (release.acceptReceivedHash) attempt.declaredSha256 = undefined;
    delete run.status.quarantine;
    attempt.problem = undefined;
    run.setState('ingesting');
  }
}

/**
 * Ingest against the clock: the deadline wait runs from receipt, beside ingest. When it comes first — the
 * recording parked or quarantined, and nobody released it — ingest stops (an activity in flight is waited for), the
 * inbox copy is removed, and the recording goes to deletion like any other.
 */
async function ingestWithinDeadline(run: RecordingRun, attempt: IngestAttempt): Promise<Ingested> {
  run.ingestIo = run.activities.mediaIoUntilStopped;
  const deadline = waitForDeadline(run);
  // Awaited later; a continue-as-new or a failure surfaces there, not as an unhandled rejection meanwhile.
  deadline.catch(() => undefined);
  const scope = new CancellationScope();
  const stored = scope.run(() => storeUntilGood(run, attempt, true));
  const first = await Promise.race([
    stored.then(() => 'stored' as const),
    deadline.then(() => 'due' as const),
  ]);
  if (first === 'stored') {
    const [probed, completed] = ingestedEntries(run);
    return { lastEntries: [originalStoredEntry(run.status.original!), probed, completed], deadline };
  }
  scope.cancel();
  await stored.catch((err: unknown) => {
    if (!isCancellation(err)) throw err;
  });
  if (!run.status.quarantine) await moveToQuarantineForDeletion(run, attempt);
  return { lastEntries: [], interrupted: true };
}

/**
 * The received bytes of an ingest its deadline stopped are still where ingest left them — the inbox, or an evidence
 * copy. They go to the quarantine store (recorded as such), so that the deletion removes them from a store of ours
 * and its certificate lists them. Nothing left to move (the inbox copy gone, no evidence copy): the deletion covers
 * whatever the custody stores hold.
 */
async function moveToQuarantineForDeletion(run: RecordingRun, attempt: IngestAttempt): Promise<void> {
  const problem: IngestProblem = {
    reason: 'deadline-reached',
    message:
      'Ingest had not completed when the deadline came; the received bytes were moved here to be deleted.',
  };
  try {
    const record = await moveToQuarantine(run, 'deletion', problem, attempt.source, attempt.manifestKey);
    await logQuarantined(run, problem, record);
  } catch (err) {
    const nothingLeft =
      err instanceof ActivityFailure &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === 'NothingToQuarantine';
    if (!nothingLeft) throw err;
  }
}

function ingestedEntries(run: RecordingRun): [EntrySpec, EntrySpec] {
  const { status, input } = run;
  return [
    { actor: 'system', action: 'media.probed', details: mediaProbedDetails(status.media) },
    {
      actor: 'system',
      action: 'ingest.completed',
      details: {
        sha256: status.sha256,
        bytes: status.bytes,
        ...(input.transcode === false && { transcode: 'off (CUSTODY_TRANSCODE_ENABLED=false)' }),
      },
    },
  ];
}

export const originalStoredEntry = (original: StoredOriginal): EntrySpec => ({
  actor: 'system',
  action: 'original.stored',
  details: originalStoredDetails(original),
});

/**
 * Copies, hashes, compares, probes and releases the inbox copy in one media-io activity. The
 * `original.stored` entry of a good original is written with the rest of ingest's entries; a problem means
 * quarantine, with the entry written first.
 */
async function storeOriginal(
  run: RecordingRun,
  source: IngestSource,
  manifestKey: string | undefined,
  declaredSha256: string | undefined,
  firstTry: boolean,
): Promise<IngestProblem | undefined> {
  let scheduled = 0;
  const stored = await runStage(run, 'ingest', () =>
    run.ingestIo.storeOriginal({
      recordingId: run.recordingId,
      source,
      originalName: run.input.originalName,
      ...(declaredSha256 && { declaredSha256 }),
      ...(manifestKey && { manifestKey }),
      // Only the very first scheduling may skip the search for a crashed attempt's leftovers: not a replay,
      // not a release from quarantine, not a run made by a reset (an earlier run may have copied already).
      ...(firstTry && scheduled++ === 0 && !resetRun() && { firstTry: true }),
    }),
  );
  const { original } = stored;
  run.noteOriginal(original);
  if (stored.media) {
    run.status.media = stored.media;
    return undefined;
  }
  await run.log.append('system', 'original.stored', originalStoredDetails(original));
  if (stored.mediaProblem) {
    return { reason: QUARANTINE_ERRORS[stored.mediaProblem.type]!, message: stored.mediaProblem.message };
  }
  if (stored.hashMismatch && declaredSha256) return hashMismatch(run, declaredSha256, original);
  throw new Error(`storeOriginal returned neither media facts nor a problem for ${run.recordingId}`);
}

const resetRun = () => workflowInfo().runId !== workflowInfo().originalExecutionRunId;
