/**
 * Bad input loses nothing: the bytes go to the quarantine store with their reason, and the recording waits there —
 * for ever, if need be — until an administrator releases it (then ingest runs again from the quarantined bytes).
 */
import { condition } from '@temporalio/workflow';
import type {
  ObjectRef,
  QuarantineReason,
  QuarantineRecord,
  Stage,
  StoredOriginal,
} from '../../domain/types';
import { runStage } from './stages';
import type { QuarantineRelease, RecordingRun } from './state';

export interface IngestProblem {
  reason: QuarantineReason;
  message: string;
}

/** What ingest reads from: the incoming object, or after a release the quarantined version. */
export type IngestSource = RecordingRun['input']['source'] & Pick<ObjectRef, 'versionId'>;

/** A problem known before any byte moves: a malformed manifest, or an empty file. */
export function problemAtReceipt(run: RecordingRun): IngestProblem | undefined {
  const { input } = run;
  if (input.manifestProblem) return { reason: 'manifest-malformed', message: input.manifestProblem };
  if (input.source.size === 0)
    return { reason: 'empty-file', message: 'The file has zero bytes: the upload or the dock failed.' };
  return undefined;
}

export function hashMismatch(
  run: RecordingRun,
  declaredSha256: string,
  original: StoredOriginal,
): IngestProblem {
  const declarer = run.input.via === 'inbox' ? 'manifest' : 'uploader';
  return {
    reason: 'hash-mismatch',
    message: `SHA-256 of the received bytes is ${original.sha256}, but the ${declarer} declared ${declaredSha256}.`,
  };
}

/** Moves the input to quarantine and waits until an administrator releases it; returns the release. */
export async function quarantine(
  run: RecordingRun,
  problem: IngestProblem,
  source: IngestSource,
  manifestKey: string | undefined,
): Promise<QuarantineRelease> {
  run.quarantineRelease = undefined; // released before and quarantined again: wait for a new release
  const record = await moveToQuarantine(run, 'ingest', problem, source, manifestKey);
  run.setState('quarantined');
  await logQuarantined(run, problem, record);
  // Nothing is deleted automatically before the deadline; until then it waits for an administrator's release.
  await condition(() => run.quarantineRelease !== undefined);
  return run.quarantineRelease!;
}

/** The received bytes (or the evidence copy) into the quarantine store, with their reason beside them. */
export async function moveToQuarantine(
  run: RecordingRun,
  stage: Stage,
  { reason, message }: IngestProblem,
  source: IngestSource,
  manifestKey: string | undefined,
): Promise<QuarantineRecord> {
  const record = await runStage(run, stage, () =>
    run.ingestIo.quarantineRecording({
      recordingId: run.recordingId,
      source,
      ...(manifestKey && { manifestKey }),
      ...(run.status.original && { evidenceCopy: run.status.original }),
      reason,
      message,
    }),
  );
  run.status.quarantine = record;
  delete run.status.original;
  return record;
}

export function logQuarantined(
  run: RecordingRun,
  { reason, message }: IngestProblem,
  record: QuarantineRecord,
) {
  return run.log.append('system', 'recording.quarantined', {
    reason,
    message,
    quarantineKey: record.object.key,
  });
}

/** After a release: ingest again from the quarantined version (the inbox copy is gone). */
export function sourceAfterRelease(record: QuarantineRecord): IngestSource {
  const held = record.object;
  const source: IngestSource = { bucket: held.bucket, key: held.key, etag: held.etag!, size: held.size ?? 0 };
  if (held.versionId) source.versionId = held.versionId;
  return source;
}
