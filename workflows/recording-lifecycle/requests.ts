/**
 * Four-eyes requests in a recording's workflow (domain/requests.ts): created by one person, decided by another
 * approver, cancelled by its requester only, executed on approval with both people in the custody log. The checks
 * run in Update validators (a refused request leaves no trace in history); the executions in handlers.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { personOf, samePerson, type ActionClaims, type RequestCreation } from '../../domain/assertion';
import {
  extensionNeedsApproval,
  isRecordingOfficer,
  requestExpiry,
  requestStateAt,
  SOLE_EXTENSION_LIMIT,
  type FourEyesRequest,
} from '../../domain/requests';
import type { DecideRequestResult } from '../messages';
import {
  applyPolicy,
  approveEarlyDeletion,
  checkEarlyDeletion,
  checkQuarantineRelease,
  extendDeadline,
  extensionTarget,
  holdsToRelease,
  releaseFromQuarantine,
  releaseHolds,
  type Actor,
  type Approval,
} from './actions';
import type { RecordingRun } from './state';

const PACK_ID = /^[a-z0-9-]{1,64}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;

function officerOf(run: RecordingRun) {
  return run.input.declared.officerId;
}

/** Whether the action a request stands for could be carried out now (at creation, and again at approval). */
function checkRequestedAction(run: RecordingRun, request: RequestCreation | FourEyesRequest) {
  switch (request.kind) {
    case 'hold.release':
      run.requireRetention();
      holdsToRelease(run, request.params.holdId);
      return;
    case 'deletion.early':
      checkEarlyDeletion(run);
      return;
    case 'policy.apply': {
      run.requireRetention();
      const { packId, fingerprint } = request.params;
      if (typeof packId !== 'string' || !PACK_ID.test(packId))
        throw new Error('a policy change names a rule pack by its id (lower-case letters, digits, -)');
      if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint))
        throw new Error(
          'a policy change names the fingerprint of the pack the requester saw (64 hex digits)',
        );
      return;
    }
    case 'retention.extend': {
      const until = extensionTarget(run, request.params);
      const statutory = run.requireRetention().deadline.statutoryDeadline;
      if (!extensionNeedsApproval(statutory, until)) {
        throw new Error(
          `an extension to ${until} is within ${SOLE_EXTENSION_LIMIT} of the statutory deadline ${statutory}: a ` +
            'records administrator extends it alone, no request needed',
        );
      }
      return;
    }
    case 'quarantine.release': {
      const record = checkQuarantineRelease(run, true);
      if (record.reason !== 'hash-mismatch')
        throw new Error(
          `quarantined for ${record.reason}, not a hash mismatch: an operator releases it alone`,
        );
      return;
    }
    default:
      throw new Error(`unknown kind of request ${String((request as { kind: unknown }).kind)}`);
  }
}

export function checkRequestCreation(run: RecordingRun, claims: ActionClaims<'request.create'>) {
  const creation = claims.prm;
  if (typeof creation.reason !== 'string' || !creation.reason.trim())
    throw new Error('a request needs a reason');
  if (typeof creation.params !== 'object' || creation.params === null)
    throw new Error('a request carries the parameters of its action');
  const pending = run.requests.find(
    (r) => r.kind === creation.kind && requestStateAt(r, new Date()) === 'pending',
  );
  if (pending)
    throw new Error(`request ${pending.id} (${pending.kind}) is already pending: decide or cancel it first`);
  checkRequestedAction(run, creation);
  if (creation.kind === 'deletion.early' && isRecordingOfficer(personOf(claims), officerOf(run))) {
    throw new Error(
      `${claims.sub} is the recording officer of ${run.recordingId} and may not ask for its early deletion`,
    );
  }
}

export async function createRequest(
  run: RecordingRun,
  claims: ActionClaims<'request.create'>,
  actor: Actor,
): Promise<FourEyesRequest> {
  const now = new Date();
  const { kind, params, reason } = claims.prm;
  const request = {
    id: claims.jti,
    kind,
    params,
    reason,
    requestedBy: personOf(claims),
    requestedAt: now.toISOString(),
    expiresAt: requestExpiry(now),
    state: 'pending',
  } as FourEyesRequest;
  run.addRequest(request);
  run.publishRequests();
  await run.log.append(actor.by, 'request.created', {
    requestId: request.id,
    kind,
    params: { ...params },
    reason,
    expiresAt: request.expiresAt,
    ...actor.proof,
  });
  return { ...request };
}

function pendingRequest(run: RecordingRun, requestId: unknown): FourEyesRequest {
  const request = run.requests.find((r) => r.id === requestId);
  if (!request) throw new Error(`recording ${run.recordingId} has no request ${String(requestId)}`);
  const state = requestStateAt(request, new Date());
  if (state !== 'pending') {
    throw new Error(
      `request ${request.id} is ${state}` +
        (state === 'expired' ? ` (since ${request.expiresAt}): ask again` : '') +
        ': only a pending request can be decided or cancelled',
    );
  }
  return request;
}

export function checkDecision(run: RecordingRun, claims: ActionClaims<'request.decide'>) {
  const { requestId, decision, reason } = claims.prm;
  if (decision !== 'approve' && decision !== 'reject') throw new Error('a decision is approve or reject');
  if (typeof reason !== 'string' || !reason.trim()) throw new Error('a decision needs a reason');
  const request = pendingRequest(run, requestId);
  const approver = personOf(claims);
  if (samePerson(approver, request.requestedBy)) {
    throw new Error(
      `four-eyes: ${claims.sub} asked for request ${request.id} and may not decide it — another approver must`,
    );
  }
  if (request.kind === 'deletion.early' && isRecordingOfficer(approver, officerOf(run))) {
    throw new Error(
      `${claims.sub} is the recording officer of ${run.recordingId} and may not approve its early deletion`,
    );
  }
  // An approval must still be possible: a request made before a hold or an evidence mark may not act after it.
  if (decision === 'approve') checkRequestedAction(run, request);
}

export async function decideRequest(
  run: RecordingRun,
  claims: ActionClaims<'request.decide'>,
  actor: Actor,
): Promise<DecideRequestResult> {
  const { requestId, decision, reason } = claims.prm;
  const request = run.requests.find((r) => r.id === requestId)!;
  request.state = decision === 'approve' ? 'approved' : 'rejected';
  request.decidedBy = personOf(claims);
  request.decidedAt = new Date().toISOString();
  request.decisionReason = reason;
  run.publishRequests();
  await run.log.append(actor.by, decision === 'approve' ? 'request.approved' : 'request.rejected', {
    requestId,
    kind: request.kind,
    requestedBy: request.requestedBy.subject,
    reason,
    ...actor.proof,
  });
  if (decision === 'reject') return { request: { ...request } };
  const requester: Actor = { by: request.requestedBy.subject, proof: {} };
  const approval: Approval = { by: actor.by, requestId, reason: request.reason };
  try {
    return { request: { ...request }, outcome: await execute(run, request, requester, approval) };
  } catch (err) {
    // What changed since the approval's check (the pack, or the recording) is recorded, not thrown at the approver.
    const failure = err instanceof Error ? err.message : String(err);
    request.state = 'failed';
    request.failure = failure;
    await run.log.append(actor.by, 'request.failed', { requestId, kind: request.kind, failure });
    throw ApplicationFailure.nonRetryable(`approved, but not carried out: ${failure}`, 'RequestFailed');
  }
}

async function execute(
  run: RecordingRun,
  request: FourEyesRequest,
  requester: Actor,
  approval: Approval,
): Promise<Record<string, unknown>> {
  switch (request.kind) {
    case 'hold.release':
      return releaseHolds(run, requester, approval, request.params.holdId);
    case 'deletion.early':
      return approveEarlyDeletion(run, requester, approval);
    case 'retention.extend':
      return extendDeadline(run, requester, { ...request.params, reason: request.reason }, approval);
    case 'quarantine.release':
      return {
        ...(await releaseFromQuarantine(
          run,
          requester,
          { reason: request.reason, acceptReceivedHash: true },
          approval,
        )),
      };
    case 'policy.apply': {
      // The pack comes from the worker's own policy store, never from a person: the fingerprint must match.
      const resolved = await run.activities.policyLookups.resolvePolicyChange(request.params);
      if (!resolved.ok) throw new Error(resolved.reason);
      checkRequestedAction(run, request); // the recording may have changed during the lookup
      return { ...(await applyPolicy(run, requester, resolved.pack, request.reason, approval)) };
    }
  }
}

export function checkCancellation(run: RecordingRun, claims: ActionClaims<'request.cancel'>) {
  const request = pendingRequest(run, claims.prm.requestId);
  if (!samePerson(personOf(claims), request.requestedBy))
    throw new Error(`only its requester may cancel request ${request.id}; an approver rejects it instead`);
}

export async function cancelRequest(
  run: RecordingRun,
  claims: ActionClaims<'request.cancel'>,
  actor: Actor,
): Promise<FourEyesRequest> {
  const request = run.requests.find((r) => r.id === claims.prm.requestId)!;
  request.state = 'cancelled';
  request.decidedAt = new Date().toISOString();
  request.decisionReason = claims.prm.reason ?? '';
  run.publishRequests();
  await run.log.append(actor.by, 'request.cancelled', {
    requestId: request.id,
    kind: request.kind,
    reason: claims.prm.reason ?? null,
    ...actor.proof,
  });
  return { ...request };
}
