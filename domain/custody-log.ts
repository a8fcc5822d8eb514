/**
 * What the custody log says: the actions an entry may record, and the details of the entries written from more
 * than one place (the workflow and the fused activities), built here so they are byte-for-byte the same.
 * Entries are hash-chained from GENESIS_HASH (activities/custody-log/chain.ts computes the hashes).
 */
import type { DerivativeSet, MediaInfo, RulePackRef, StoredOriginal } from './types';
import type { Deadline, DeadlineWarning } from './retention';

export const GENESIS_HASH = '0'.repeat(64);

export const CUSTODY_ACTIONS = [
  'recording.received',
  'original.stored',
  'media.probed',
  'ingest.completed',
  'deadline.set',
  'recording.quarantined',
  'quarantine.released',
  'derivatives.stored',
  'stage.failed',
  'stage.replay-requested',
  'hold.placed',
  'hold.released',
  'deadline.extended',
  'evidence.marked',
  'evidence.locked',
  'deletion.early-approved',
  'policy.applied',
  'fixity.mismatch',
  'fixity.recheck-failed',
  'fixity.restored',
  'deletion.started',
  'recording.deleted',
  'certificate.written',
  'admin.reset',
  'request.created',
  'request.approved',
  'request.rejected',
  'request.cancelled',
  'request.failed',
] as const;
/** Every action a custody-log entry may record; a reader of older logs treats any other string as unknown. */
export type CustodyAction = (typeof CUSTODY_ACTIONS)[number];

export function isCustodyAction(text: string): text is CustodyAction {
  return (CUSTODY_ACTIONS as readonly string[]).includes(text);
}

/** `system` for the workflow's own steps; otherwise the id of the person (or dock) who acted. */
export const SYSTEM_ACTOR = 'system';

export interface EntrySpec {
  actor: string;
  action: CustodyAction;
  details: Record<string, unknown>;
}

/** `original.stored`: the exact evidence version and what it hashed to. */
export function originalStoredDetails(original: StoredOriginal) {
  return {
    key: original.key,
    versionId: original.versionId,
    sha256: original.sha256,
    bytes: original.bytes,
  };
}

/** `deadline.set`: the pack in force, the basis of the deadline and why that basis (warnings). */
export function deadlineSetDetails(
  pack: RulePackRef,
  deadline: Pick<Deadline, 'basis' | 'basisTime' | 'deleteAfter'> & { warnings: readonly DeadlineWarning[] },
) {
  return {
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
  };
}

export function mediaProbedDetails(media: MediaInfo | undefined) {
  return { ...media };
}

/** `derivatives.stored`: the provenance of the review derivatives (one ffmpeg run). */
export function derivativesStoredDetails(set: DerivativeSet) {
  return {
    inputSha256: set.inputSha256,
    ffmpegVersion: set.ffmpegVersion,
    args: set.args,
    elapsedS: set.elapsedS,
    partial: set.partial,
    derivatives: set.derivatives.map((d) => ({
      kind: d.kind,
      key: d.key,
      versionId: d.versionId,
      sha256: d.sha256,
      bytes: d.bytes,
    })),
  };
}

/** One deleted version or delete marker, as the deletion certificate lists it. */
export interface DeletedObjectFacts {
  key: string;
  versionId: string;
  kind: 'version' | 'delete-marker';
  sha256?: string;
}

/** `recording.deleted`: what the deletion removed, verified absent at `verifiedAbsentAt`. */
export function recordingDeletedDetails(
  cause: string,
  deletion: { verifiedAbsentAt: string; deleted: readonly DeletedObjectFacts[] },
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
