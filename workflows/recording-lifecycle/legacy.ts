/**
 * Every branch kept only for runs started before a change of the commands this workflow issues, in one place
 * (docs/versioning.md). Each patch id says when it was introduced and the earliest date it may be deprecated:
 * its introduction plus the longest retention a shipped rule pack gives (P2M, by-pag) — and only once the
 * retirement query in docs/versioning.md counts no open or failed run started before it (a held or evidence
 * recording can keep an old run open for years).
 *
 * A new patch is decided before any local activity of its workflow task (at the start of the run, or before the
 * lookup): a patched() call made right after a local activity that outlasted its workflow task runs in another task
 * on replay than it did live, and replay then fails on the marker.
 */
import { isCancellation, patched, type ActivityFailure } from '@temporalio/workflow';
import type { CustodyActivities } from '../../activities';
import { originalStoredDetails, recordingDeletedDetails, type EntrySpec } from '../../domain/custody-log';
import { hashMismatch, type IngestProblem, type IngestSource } from './quarantine';
import { setDeadline } from './retention';
import { quarantineReasonOf, runStage } from './stages';
import type { LookupActivities } from './proxies';
import type { RecordingRun } from './state';

/** Introduced 2026-11-23; deprecate from 2027-01-23: resolveRulePack and recordingObjectKeys as local activities. */
const LOOKUPS_RUN_LOCALLY = 'custody-lookups-local-202611';
/** Introduced 2026-11-23; deprecate from 2027-01-23: a stage cancelled by deletion no longer parks first. */
const CANCELLED_STAGE_NOT_PARKED = 'custody-cancelled-stage-202611';
/**
 * Introduced 2026-11-23; deprecate from 2027-01-23: ingest's media-io work in one activity (storeOriginal) and
 * its log entries in one run; the deletion with its entries and certificate in one activity (deleteAndCertify).
 */
const FUSED_STEPS = 'custody-fused-steps-202611';
/**
 * Introduced 2026-12-04; deprecate from 2027-02-04: the deadline wait clears its change flag at the start of a pass,
 * not just before waiting, so a request that arrives while the pass awaits a step is not lost.
 */
const CHANGES_WAKE_THE_WAIT = 'custody-changes-wake-the-wait-202612';
/**
 * Introduced 2026-12-04; deprecate from 2027-02-04: the deadline is set at receipt and runs through ingest, parking
 * and quarantine (before, a quarantined or ingest-parked recording had no deadline and was kept for ever).
 */
const DEADLINE_AT_RECEIPT = 'custody-deadline-at-receipt-202612';
/**
 * Introduced 2026-12-04; deprecate from 2027-02-04: no caller is trusted about people or findings. The
 * administrativeNote signal is ignored (a signed Update records notes), and a fixityMismatch signal is only a
 * reason to check: the recording parks on its own check's finding, not on the sender's word.
 */
const UNTRUSTED_SIGNALS = 'custody-untrusted-signals-202612';

/** Before LOOKUPS_RUN_LOCALLY, lookups were regular activities on the orchestration queue. */
export function lookupsProxy(local: LookupActivities, regular: LookupActivities): LookupActivities {
  return patched(LOOKUPS_RUN_LOCALLY) ? local : regular;
}

/** Before CANCELLED_STAGE_NOT_PARKED, a stage cancelled by deletion parked like a failed one. */
export function cancellationPassesThrough(err: ActivityFailure): boolean {
  return isCancellation(err) && patched(CANCELLED_STAGE_NOT_PARKED);
}

/** Before CHANGES_WAKE_THE_WAIT, the wait cleared the flag just before waiting (losing a request made meanwhile). */
export function changesDuringAPassWakeTheWait(): boolean {
  return patched(CHANGES_WAKE_THE_WAIT);
}

/** Before DEADLINE_AT_RECEIPT, the deadline was set once ingest had succeeded. */
export function deadlineAtReceipt(): boolean {
  return patched(DEADLINE_AT_RECEIPT);
}

/** Before UNTRUSTED_SIGNALS, the two signals were believed: a note was written, a reported mismatch parked. */
export function signalsUntrusted(): boolean {
  return patched(UNTRUSTED_SIGNALS);
}

/** Whether this run takes the fused steps (ingest, deletion) or the step-by-step ones below. */
export function fusedSteps(): boolean {
  return patched(FUSED_STEPS);
}

/** Before FUSED_STEPS: copy and hash, then compare, then probe, each its own activity and log entry. */
export async function ingestOriginalStepwise(
  run: RecordingRun,
  source: IngestSource,
  declaredSha256: string | undefined,
): Promise<IngestProblem | undefined> {
  const { mediaIo } = run.activities;
  try {
    const original = await runStage(run, 'ingest', () =>
      mediaIo.copyAndHashOriginal({
        recordingId: run.recordingId,
        source,
        originalName: run.input.originalName,
        ...(declaredSha256 && { declaredSha256 }),
      }),
    );
    run.noteOriginal(original);
    await run.log.append('system', 'original.stored', originalStoredDetails(original));
    if (declaredSha256 && declaredSha256.toLowerCase() !== original.sha256) {
      return hashMismatch(run, declaredSha256, original);
    }
    run.status.media = await runStage(run, 'ingest', () => mediaIo.probeMedia({ object: original }));
    return undefined;
  } catch (err) {
    const reason = quarantineReasonOf(err);
    if (!reason) throw err;
    return { reason, message: (err as ActivityFailure).cause?.message ?? String(err) };
  }
}

/** Before FUSED_STEPS: ingest's last entries one by one, with the inbox release and the deadline between them. */
export async function finishIngestStepwise(
  run: RecordingRun,
  source: IngestSource,
  manifestKey: string | undefined,
  probed: EntrySpec,
  completed: EntrySpec,
): Promise<void> {
  const { log } = run;
  await log.append(probed.actor, probed.action, probed.details);
  await runStage(run, 'ingest', () =>
    run.activities.mediaIo.removeFromInbox({ source, ...(manifestKey && { manifestKey }) }),
  );
  await log.append(completed.actor, completed.action, completed.details);
  const deadlineSet = await setDeadline(run);
  await log.append(deadlineSet.actor, deadlineSet.action, deadlineSet.details);
}

type CertificateFacts = Parameters<CustodyActivities['deleteAndCertify']>[0]['certificate'];

/** Before FUSED_STEPS: the deletion's entries, the deletion and the certificate, each its own activity. */
export async function deleteStepwise(
  run: RecordingRun,
  started: { actor: string; details: Record<string, unknown> },
  certificateFacts: CertificateFacts,
): Promise<void> {
  const { log } = run;
  const { mediaIo, lookups, light } = run.activities;
  await log.append(started.actor, 'deletion.started', started.details);
  const keys = await runStage(run, 'deletion', () =>
    lookups.recordingObjectKeys({ recordingId: run.recordingId }),
  );
  const deleted = await runStage(run, 'deletion', () =>
    mediaIo.deleteRecording({ recordingId: run.recordingId, objects: keys }),
  );
  await log.append('system', 'recording.deleted', recordingDeletedDetails(run.deletionCause, deleted));
  const head = log.head;
  const certificate = await runStage(run, 'deletion', () =>
    light.writeCertificate({
      ...certificateFacts,
      objects: deleted.deleted,
      deletedAt: deleted.verifiedAbsentAt,
      custodyLog: { headSeq: head.seq, headHash: head.hash },
    }),
  );
  run.status.certificate = { key: certificate.key, certificateHash: certificate.certificateHash };
  await log.append('system', 'certificate.written', {
    key: certificate.key,
    certificateHash: certificate.certificateHash,
  });
}
