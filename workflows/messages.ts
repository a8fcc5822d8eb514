/**
 * Queries and Updates of a recording's workflow, shared by the workflow and the CLI. Pure definitions only.
 * Every Update that changes something has a validator: a rejection returns its reason to the caller and leaves
 * no trace in history.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RecordingStatus, Stage, RulePackRef, QuarantineReason, FixityMismatch } from '../domain/types';

export const statusQuery = defineQuery<RecordingStatus>('status');

/**
 * Waits until the recording is ready for review — derivatives stored and logged, or ingest done when transcoding
 * is off — or cannot get there without someone's help (needs-attention, quarantined, deleting, deleted), and
 * returns its status at that moment. Changes nothing. `custody ingest --wait` and `custody status --wait` use
 * it instead of polling the status query, which costs a workflow task on the worker every time.
 */
export const awaitReviewReadyUpdate = defineUpdate<RecordingStatus>('awaitReviewReady');

export interface ReplayRequest {
  by: string;
  reason?: string;
}
export interface ReplayResult {
  stage: Stage;
  replayed: boolean;
}
/** Re-runs the parked stage from its start (needs-attention only). */
export const replayUpdate = defineUpdate<ReplayResult, [ReplayRequest]>('replay');

export interface HoldRequest {
  caseId: string;
  reason: string;
  by: string;
}
export const holdUpdate = defineUpdate<{ holdId: string; activeHolds: number }, [HoldRequest]>('hold');

export interface ReleaseRequest {
  by: string;
  approvedBy: string;
  /** One hold; all active holds when absent. */
  holdId?: string;
  reason?: string;
}
export const releaseUpdate = defineUpdate<{ released: string[]; deleteAfter: string }, [ReleaseRequest]>(
  'release',
);

export type ExtendRequest = ({ until: string } | { for: string }) & {
  reason: string;
  by: string;
  caseId?: string;
};
export const extendUpdate = defineUpdate<{ deleteAfter: string; previous: string }, [ExtendRequest]>(
  'extend',
);

export interface MarkEvidenceRequest {
  caseId: string;
  by: string;
  reason?: string;
}
export const markEvidenceUpdate = defineUpdate<
  { lockedUntil: string; objects: number },
  [MarkEvidenceRequest]
>('markEvidence');

export interface DeleteEarlyRequest {
  reason: string;
  by: string;
  approvedBy: string;
}
export const deleteEarlyUpdate = defineUpdate<{ accepted: true }, [DeleteEarlyRequest]>('deleteEarly');

export interface ApplyPolicyRequest {
  pack: RulePackRef;
  by: string;
  reason?: string;
}
export interface ApplyPolicyResult {
  previous: { pack: string; deleteAfter: string };
  next: { pack: string; deleteAfter: string };
  change: 'shortened' | 'lengthened' | 'unchanged';
}
export const applyPolicyUpdate = defineUpdate<ApplyPolicyResult, [ApplyPolicyRequest]>('applyPolicy');

export interface ReleaseQuarantineRequest {
  by: string;
  reason: string;
  /**
   * For a hash mismatch: the person has established that the declared hash was wrong (e.g. a dock bug) and
   * accepts the SHA-256 of the received bytes. Without it, a hash-mismatch recording cannot be released.
   */
  acceptReceivedHash?: boolean;
}
export interface ReleaseQuarantineResult {
  released: true;
  reason: QuarantineReason;
}
/** Sends a quarantined recording back into processing: ingest runs again from the quarantined bytes. */
export const releaseQuarantineUpdate = defineUpdate<ReleaseQuarantineResult, [ReleaseQuarantineRequest]>(
  'releaseQuarantine',
);

/** What a fixity run found wrong with a recording's stored objects; parks it (stage fixity). */
export interface FixityMismatchNotice {
  checkedAt: string;
  /** The fixity run (workflow id) that found it. */
  checkedBy: string;
  mismatches: FixityMismatch[];
  /** Breaks in the custody log's own hash chain. */
  logProblems: string[];
}
export const fixityMismatchSignal = defineSignal<[FixityMismatchNotice]>('fixityMismatch');

/**
 * An administrative action taken outside the workflow (a Temporal reset) that belongs in the custody log.
 * A signal, not an Update: a reset run must record it even before its first workflow task completes.
 */
export interface AdministrativeNote {
  action: 'reset';
  by: string;
  reason: string;
  details: Record<string, string | number | boolean | null>;
}
export const administrativeNoteSignal = defineSignal<[AdministrativeNote]>('administrativeNote');
