/**
 * Queries and Updates of a recording's workflow, shared by the workflow and the CLI. Pure definitions only.
 * Every Update that changes something has a validator: a rejection returns its reason to the caller and leaves
 * no trace in history.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import {
  RECORDING_STATUS_QUERY,
  type RecordingStatus,
  type Stage,
  type RulePackRef,
  type QuarantineReason,
  type FixityMismatch,
} from '../domain/types';
import type { FourEyesRequest } from '../domain/requests';
import type { AssertedAction } from '../domain/assertion';

/**
 * A person's action: the custody API's signed assertion (domain/assertion.ts), and nothing beside it — the
 * workflow reads who acted and every parameter from the verified assertion, so nothing unsigned can ride along.
 */
export interface SignedAction {
  assertion: string;
}

export const statusQuery = defineQuery<RecordingStatus>(RECORDING_STATUS_QUERY);

/**
 * Waits until the recording is ready for review — derivatives stored and logged, or ingest done when transcoding
 * is off — or cannot get there without someone's help (needs-attention, quarantined, deleting, deleted), and
 * returns its status at that moment. Changes nothing. `custody ingest --wait` and `custody status --wait` use
 * it instead of polling the status query, which costs a workflow task on the worker every time.
 */
export const awaitReviewReadyUpdate = defineUpdate<RecordingStatus>('awaitReviewReady');

/** Before signed assertions (until 2026-12), people were named by the caller: such Updates are in histories only. */
export interface LegacyReplayRequest {
  by: string;
  reason?: string;
}
export type ReplayRequest = SignedAction | LegacyReplayRequest;
export interface ReplayResult {
  stage: Stage;
  replayed: boolean;
}
/** Re-runs the parked stage from its start (needs-attention only). */
export const replayUpdate = defineUpdate<ReplayResult, [ReplayRequest]>('replay');

export interface LegacyHoldRequest {
  caseId: string;
  reason: string;
  by: string;
}
export type HoldRequest = SignedAction | LegacyHoldRequest;
export const holdUpdate = defineUpdate<{ holdId: string; activeHolds: number }, [HoldRequest]>('hold');

/** In histories only: a hold release is a four-eyes request now (createRequestUpdate). */
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

export type LegacyExtendRequest = ({ until: string } | { for: string }) & {
  reason: string;
  by: string;
  caseId?: string;
};
export type ExtendRequest = SignedAction | LegacyExtendRequest;
export const extendUpdate = defineUpdate<{ deleteAfter: string; previous: string }, [ExtendRequest]>(
  'extend',
);

export interface LegacyMarkEvidenceRequest {
  caseId: string;
  by: string;
  reason?: string;
}
export type MarkEvidenceRequest = SignedAction | LegacyMarkEvidenceRequest;
export const markEvidenceUpdate = defineUpdate<
  { lockedUntil: string; objects: number },
  [MarkEvidenceRequest]
>('markEvidence');

/** In histories only: an early deletion is a four-eyes request now (createRequestUpdate). */
export interface DeleteEarlyRequest {
  reason: string;
  by: string;
  approvedBy: string;
}
export const deleteEarlyUpdate = defineUpdate<{ accepted: true }, [DeleteEarlyRequest]>('deleteEarly');

/** In histories only: a policy change is a four-eyes request now, naming a pack id and fingerprint. */
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

export type ReleaseQuarantineRequest = SignedAction | LegacyReleaseQuarantineRequest;
export interface LegacyReleaseQuarantineRequest {
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
 * An administrative action taken outside the workflow (a Temporal reset) that belonged in the custody log. In
 * histories only: a signal has no validator, so anyone reaching Temporal could write `admin.*` entries with it.
 * It arrives as recordAdministrativeNoteUpdate now, signed.
 */
export interface AdministrativeNote {
  action: 'reset';
  by: string;
  reason: string;
  details: Record<string, string | number | boolean | null>;
}
export const administrativeNoteSignal = defineSignal<[AdministrativeNote]>('administrativeNote');

/** Records an administrative action outside the workflow (a reset) in the custody log: `admin.note`, signed. */
export const recordAdministrativeNoteUpdate = defineUpdate<{ recorded: true }, [SignedAction]>(
  'recordAdministrativeNote',
);

/**
 * Four-eyes requests (domain/requests.ts): one person asks (`request.create`), a different approver decides
 * (`request.decide`), only the requester may cancel (`request.cancel`). Each returns the request as it now is.
 */
export const createRequestUpdate = defineUpdate<FourEyesRequest, [SignedAction]>('createRequest');
export interface DecideRequestResult {
  request: FourEyesRequest;
  /** What the approved action did (absent when rejected). */
  outcome?: Record<string, unknown>;
}
export const decideRequestUpdate = defineUpdate<DecideRequestResult, [SignedAction]>('decideRequest');
export const cancelRequestUpdate = defineUpdate<FourEyesRequest, [SignedAction]>('cancelRequest');

/** The Update each signed action is sent as (the API's and the tests' one table). */
export const UPDATE_OF_ACTION = {
  'hold.place': holdUpdate,
  'evidence.mark': markEvidenceUpdate,
  'retention.extend': extendUpdate,
  'recording.replay': replayUpdate,
  'quarantine.release': releaseQuarantineUpdate,
  'request.create': createRequestUpdate,
  'request.decide': decideRequestUpdate,
  'request.cancel': cancelRequestUpdate,
  'admin.note': recordAdministrativeNoteUpdate,
} as const satisfies Record<AssertedAction, unknown>;
