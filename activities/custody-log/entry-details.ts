/**
 * The details of custody-log entries written from more than one place. Pure (types only), so the workflow and
 * the activities build byte-for-byte the same entry.
 */
import type { CertifiedObject } from '../certificate';

/** `recording.deleted`: what the deletion removed, verified absent at `verifiedAbsentAt`. */
export function recordingDeletedDetails(
  cause: string,
  deletion: { verifiedAbsentAt: string; deleted: readonly CertifiedObject[] },
) {
  return {
    cause,
    verifiedAbsentAt: deletion.verifiedAbsentAt,
    objects: deletion.deleted.map((d) => ({
      key: d.key,
      versionId: d.versionId,
      kind: d.kind,
      sha256: d.sha256 ?? null,
    })),
  };
}
