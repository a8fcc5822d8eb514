/**
 * Deletion: every version of every object, verified absent, then a certificate that outlives the recording. One
 * media-io activity (deleteAndCertify) writes deletion.started before deleting anything, then recording.deleted,
 * the certificate and certificate.written.
 */
import { condition } from '@temporalio/workflow';
import { SYSTEM_ACTOR } from '../../domain/custody-log';
import { deleteStepwise, fusedSteps } from './legacy';
import { runStage } from './stages';
import type { RecordingRun } from './state';

/** Object Lock expiry and our timer may disagree by a clock's skew; deletion of locked objects waits this much. */
const LOCK_EXPIRY_MARGIN_MS = 5_000;

export async function deleteAndCertify(run: RecordingRun): Promise<void> {
  const { status, log } = run;
  const retention = run.retention!;
  if (retention.evidence?.lockedUntil) {
    const waitMs = Date.parse(retention.evidence.lockedUntil) + LOCK_EXPIRY_MARGIN_MS - Date.now();
    if (waitMs > 0) await condition(() => false, waitMs);
  }
  const requestedAt = new Date().toISOString();
  const startedDetails = {
    cause: run.deletionCause,
    deleteAfter: retention.deleteAfter,
    overdueMs: Math.max(0, Date.parse(requestedAt) - Date.parse(retention.deleteAfter)),
  };
  // Early or by a shortening policy change: both were asked for by one person and approved by another.
  const early = run.deletionCause === 'policy' ? run.policyChange : run.earlyDeletion;
  const requestedBy = early?.by ?? SYSTEM_ACTOR;
  const certificateFacts = {
    recordingId: run.recordingId,
    originalSha256: status.sha256 ?? null, // never hashed: quarantined before it was stored, or stopped at the deadline
    rulePack: {
      id: retention.pack.id,
      version: retention.pack.version,
      fingerprint: retention.pack.fingerprint,
      ...(retention.pack.citation && { citation: retention.pack.citation }),
    },
    deadline: retention.deleteAfter,
    cause: run.deletionCause,
    requestedBy,
    approvals: early ? [{ actor: early.approvedBy, at: early.at, reason: early.reason }] : [],
  };
  if (fusedSteps()) {
    const { lookups, mediaIo } = run.activities;
    const keys = await runStage(run, 'deletion', () =>
      lookups.recordingObjectKeys({ recordingId: run.recordingId }),
    );
    const certified = await runStage(run, 'deletion', () =>
      log.writeThrough((at) =>
        mediaIo.deleteAndCertify({
          recordingId: run.recordingId,
          objects: keys,
          log: at,
          started: { time: requestedAt, actor: requestedBy, details: startedDetails },
          certificate: certificateFacts,
        }),
      ),
    );
    status.certificate = certified.certificate;
  } else {
    await deleteStepwise(run, { actor: requestedBy, details: startedDetails }, certificateFacts);
  }
  delete status.original;
  run.setState('deleted');
}
