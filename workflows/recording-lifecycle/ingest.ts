/**
 * Ingest: copy the original into the evidence store and hash the stored version, compare with what the dock or
 * uploader declared, confirm it is media, release the inbox copy — one media-io activity (storeOriginal). A problem
 * with the input sends it to quarantine; a release brings it back here.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { mediaProbedDetails, originalStoredDetails, type EntrySpec } from '../../domain/custody-log';
import { DeviceIdAttr, PolicyAttr, RecordingIdAttr } from '../../domain/search-attributes';
import type { StoredOriginal } from '../../domain/types';
import { fusedSteps, finishIngestStepwise, ingestOriginalStepwise } from './legacy';
import {
  hashMismatch,
  problemAtReceipt,
  quarantine,
  sourceAfterRelease,
  type IngestProblem,
  type IngestSource,
} from './quarantine';
import { resolveRulePack, setDeadline } from './retention';
import { QUARANTINE_ERRORS, runStage } from './stages';
import type { RecordingRun } from './state';

/**
 * Ingests the original, through quarantine and back as often as it takes. Returns once the original is stored and
 * probed and its deadline set, with ingest's last log entries still to write: the caller writes them while the
 * transcode, which needs none of them, already starts.
 */
export async function ingest(run: RecordingRun): Promise<{ lastEntries: EntrySpec[] }> {
  const { input, status, log } = run;
  upsertSearchAttributes([
    { key: RecordingIdAttr, value: input.recordingId },
    { key: PolicyAttr, value: input.policy },
    ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
  ]);
  run.setState('ingesting');
  const fused = fusedSteps();
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
  let problem = problemAtReceipt(run);
  // A rule pack that cannot be resolved (a config error) parks the recording before any bytes move, and the
  // ingest's entries then go into the log as one run.
  const pack = fused ? await resolveRulePack(run) : undefined;
  for (let firstTry = true; ; firstTry = false) {
    problem ??= fused
      ? await storeOriginal(run, source, manifestKey, declaredSha256, firstTry)
      : await ingestOriginalStepwise(run, source, declaredSha256);
    if (!problem) break;
    const release = await quarantine(run, problem, source, manifestKey);
    source = sourceAfterRelease(status.quarantine!);
    manifestKey = undefined;
    if (release.acceptReceivedHash) declaredSha256 = undefined;
    delete status.quarantine;
    problem = undefined;
    run.setState('ingesting');
  }
  const probed: EntrySpec = {
    actor: 'system',
    action: 'media.probed',
    details: mediaProbedDetails(status.media),
  };
  const completed: EntrySpec = {
    actor: 'system',
    action: 'ingest.completed',
    details: {
      sha256: status.sha256,
      bytes: status.bytes,
      ...(input.transcode === false && { transcode: 'off (CUSTODY_TRANSCODE_ENABLED=false)' }),
    },
  };
  if (!fused) {
    await finishIngestStepwise(run, source, manifestKey, probed, completed);
    return { lastEntries: [] };
  }
  // storeOriginal has released the inbox copy; the entries of a good ingest go into the log as one run.
  const deadlineSet = await setDeadline(run, pack);
  return { lastEntries: [originalStoredEntry(status.original!), probed, completed, deadlineSet] };
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
    run.activities.mediaIo.storeOriginal({
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
