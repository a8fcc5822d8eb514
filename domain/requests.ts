/**
 * Four-eyes requests: an action that one person asks for and a different person decides. A request lives in its
 * recording's workflow (durable with it, listed through the CustodyOpenRequests search attribute), expires when
 * nobody decides it in time, and is executed only on approval. Pure rules; the workflow applies them.
 */
import { addDurationMs, parseDuration } from './duration';
import type { AssertedPerson, RequestKind, RequestParams } from './assertion';

/** How long a request waits for a decision: long enough for a weekend, short enough to stay current. */
export const REQUEST_LIFETIME_MS = 72 * 3600_000;

/**
 * How far past the statutory deadline a records administrator may extend alone; beyond it an extension is a
 * request. Keeping a recording longer than its statute needs a documented reason — and beyond three months, a
 * second person who agrees.
 */
export const SOLE_EXTENSION_LIMIT = 'P90D';

export type RequestState = 'pending' | 'approved' | 'rejected' | 'cancelled' | 'expired' | 'failed';

export type FourEyesRequest = {
  [K in RequestKind]: {
    id: string;
    kind: K;
    params: RequestParams[K];
    reason: string;
    requestedBy: AssertedPerson;
    requestedAt: string;
    expiresAt: string;
    /** As stored; a pending request past expiresAt reads as expired (requestStateAt). */
    state: Exclude<RequestState, 'expired'>;
    decidedBy?: AssertedPerson;
    decidedAt?: string;
    decisionReason?: string;
    /** Why an approved request could not be carried out (e.g. the pack changed since it was requested). */
    failure?: string;
  };
}[RequestKind];

export function requestExpiry(requestedAt: Date): string {
  return new Date(requestedAt.getTime() + REQUEST_LIFETIME_MS).toISOString();
}

export function requestStateAt(request: FourEyesRequest, now: Date): RequestState {
  if (request.state === 'pending' && now.getTime() >= Date.parse(request.expiresAt)) return 'expired';
  return request.state;
}

/** Whether an extension to `until` goes beyond what one records administrator may set alone. */
export function extensionNeedsApproval(statutoryDeadline: string, until: string): boolean {
  const limit = parseDuration(SOLE_EXTENSION_LIMIT);
  if (!limit.ok) throw new Error(limit.error);
  return Date.parse(until) > addDurationMs(Date.parse(statutoryDeadline), limit.duration);
}

/**
 * The recording officer may neither ask for nor approve the early deletion of their own recording (the BW data
 * protection commissioner's demand). Compared by officer id: the token's officer claim and the dock's manifest.
 */
export function isRecordingOfficer(person: AssertedPerson, recordingOfficerId: string | undefined): boolean {
  return recordingOfficerId !== undefined && person.officerId === recordingOfficerId;
}
