/**
 * What people's actions do to a recording, once they are allowed: the same steps whether one person acted (a hold)
 * or a second approved (a release), and whether the action came signed or — in old histories only — named by its
 * caller. Each step records its request for the main path before any await, then writes its log entry.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { applyExtension, rearmDeadline } from '../../domain/retention';
import type { Hold, RulePackRef } from '../../domain/types';
import type * as messages from '../messages';
import { lockToDeadline } from './retention';
import type { RecordingRun } from './state';

/** Who acted, and what the log keeps about how that is known (the signed assertion, issuer and roles). */
export interface Actor {
  by: string;
  proof: Record<string, unknown>;
}

/** A second person's approval of a four-eyes request. */
export interface Approval {
  by: string;
  requestId: string;
  reason: string;
}

export async function placeHold(run: RecordingRun, actor: Actor, params: { caseId: string; reason: string }) {
  const r = run.requireRetention();
  const hold: Hold = {
    id: `hold-${r.holds.length + 1}`,
    caseId: params.caseId,
    reason: params.reason,
    by: actor.by,
    at: new Date().toISOString(),
  };
  r.holds.push(hold);
  run.publishRetention();
  run.retentionChanged = true;
  await run.log.append(actor.by, 'hold.placed', {
    holdId: hold.id,
    caseId: hold.caseId,
    reason: hold.reason,
    ...actor.proof,
  });
  return { holdId: hold.id, activeHolds: run.activeHolds().length };
}

export function holdsToRelease(run: RecordingRun, holdId: string | undefined) {
  const matching = run.activeHolds().filter((h) => !holdId || h.id === holdId);
  if (matching.length === 0) {
    throw new Error(holdId ? `no active hold ${holdId}` : `recording ${run.recordingId} has no active hold`);
  }
  return matching;
}

export async function releaseHolds(
  run: RecordingRun,
  actor: Actor,
  approval: { by: string; requestId?: string; reason?: string },
  holdId: string | undefined,
) {
  const r = run.requireRetention();
  const now = new Date().toISOString();
  const released = run.activeHolds().filter((h) => !holdId || h.id === holdId);
  for (const hold of released)
    Object.assign(hold, { releasedAt: now, releasedBy: actor.by, approvedBy: approval.by });
  run.publishRetention();
  run.retentionChanged = true;
  await run.log.append(actor.by, 'hold.released', {
    holdIds: released.map((h) => h.id),
    approvedBy: approval.by,
    reason: approval.reason ?? null,
    ...(approval.requestId && { requestId: approval.requestId }),
    ...actor.proof,
  });
  return { released: released.map((h) => h.id), deleteAfter: r.deleteAfter };
}

export type ExtensionParams = { until?: string; for?: string; reason: string; caseId?: string };

/** The new deadline an extension would set, or the reason it may not. */
export function extensionTarget(run: RecordingRun, params: { until?: string; for?: string }) {
  const r = run.requireRetention();
  if ((params.until === undefined) === (params.for === undefined))
    throw new Error('an extension names either until (an instant) or for (a duration)');
  const result = applyExtension(
    r.deleteAfter,
    params.until !== undefined ? { until: params.until } : { for: params.for! },
  );
  if (!result.ok) throw new Error(result.reason);
  return result.deleteAfter;
}

export async function extendDeadline(
  run: RecordingRun,
  actor: Actor,
  params: ExtensionParams,
  approval?: Approval,
) {
  const r = run.requireRetention();
  const previous = r.deleteAfter;
  const result = applyExtension(
    previous,
    params.until !== undefined ? { until: params.until } : { for: params.for! },
  );
  if (!result.ok) throw ApplicationFailure.nonRetryable(result.reason, 'ExtensionRejected');
  r.extensions.push({
    until: result.deleteAfter,
    reason: params.reason,
    by: actor.by,
    at: new Date().toISOString(),
    ...(params.caseId && { caseId: params.caseId }),
  });
  r.deleteAfter = result.deleteAfter;
  run.publishRetention();
  run.retentionChanged = true;
  await run.log.append(actor.by, 'deadline.extended', {
    previous,
    deleteAfter: r.deleteAfter,
    reason: params.reason,
    caseId: params.caseId ?? null,
    ...(approval && { approvedBy: approval.by, requestId: approval.requestId }),
    ...actor.proof,
  });
  await lockToDeadline(run);
  return { deleteAfter: r.deleteAfter, previous };
}

export function checkMarkEvidence(run: RecordingRun, caseId: string | undefined) {
  const r = run.requireRetention();
  if (!caseId?.trim()) throw new Error('marking evidence needs a case number');
  if (r.evidence) throw new Error(`already marked as evidence for case ${r.evidence.caseId}`);
  if (!run.status.original) {
    throw new Error(
      `recording ${run.recordingId} is ${run.status.state}: marking it as evidence locks its stored original, and it has none` +
        (run.status.state === 'quarantined' ? ' — release it from quarantine first' : ' yet'),
    );
  }
}

export async function markEvidence(
  run: RecordingRun,
  actor: Actor,
  params: { caseId: string; reason?: string },
) {
  const r = run.requireRetention();
  r.evidence = { caseId: params.caseId, by: actor.by, at: new Date().toISOString() };
  run.publishRetention();
  await run.log.append(actor.by, 'evidence.marked', {
    caseId: params.caseId,
    reason: params.reason ?? null,
    deleteAfter: r.deleteAfter,
    ...actor.proof,
  });
  await lockToDeadline(run);
  return {
    lockedUntil: r.evidence.lockedUntil ?? r.deleteAfter,
    objects: 1 + (run.status.derivatives?.derivatives.length ?? 0),
  };
}

/** Nothing may delete a held or evidence recording early. */
export function checkEarlyDeletion(run: RecordingRun) {
  const r = run.requireRetention();
  if (run.activeHolds().length > 0)
    throw new Error(
      `rejected: held (${run
        .activeHolds()
        .map((h) => `${h.id} case ${h.caseId}`)
        .join(', ')})`,
    );
  if (r.evidence) throw new Error(`rejected: marked as evidence for case ${r.evidence.caseId}`);
}

export async function approveEarlyDeletion(run: RecordingRun, actor: Actor, approval: Approval) {
  run.earlyDeletion = {
    by: actor.by,
    approvedBy: approval.by,
    reason: approval.reason,
    at: new Date().toISOString(),
  };
  run.retentionChanged = true;
  await run.log.append(actor.by, 'deletion.early-approved', {
    reason: approval.reason,
    approvedBy: approval.by,
    ...(approval.requestId && { requestId: approval.requestId }),
    ...actor.proof,
  });
  return { accepted: true as const };
}

export async function applyPolicy(
  run: RecordingRun,
  actor: Actor,
  pack: RulePackRef,
  reason: string | undefined,
  approval?: Approval,
): Promise<messages.ApplyPolicyResult> {
  const r = run.requireRetention();
  const previous = { pack: r.pack.id, deleteAfter: r.deleteAfter };
  const next = rearmDeadline({ ...r.deadline, deleteAfter: r.deleteAfter }, pack.retention, r.extensions);
  r.pack = pack;
  r.deadline = {
    deleteAfter: next.deleteAfter,
    statutoryDeadline: next.statutoryDeadline,
    basis: next.basis,
    basisTime: next.basisTime,
  };
  r.deleteAfter = next.deleteAfter;
  run.status.policy = pack.id;
  if (next.change === 'shortened') {
    run.deletionCause = 'policy';
    if (approval)
      run.policyChange = {
        by: actor.by,
        approvedBy: approval.by,
        reason: approval.reason,
        at: new Date().toISOString(),
      };
  }
  run.publishRetention();
  run.retentionChanged = true;
  await run.log.append(actor.by, 'policy.applied', {
    previous,
    pack: { id: pack.id, version: pack.version, fingerprint: pack.fingerprint },
    deleteAfter: next.deleteAfter,
    change: next.change,
    reason: reason ?? null,
    ...(approval && { approvedBy: approval.by, requestId: approval.requestId }),
    ...actor.proof,
  });
  await lockToDeadline(run);
  return { previous, next: { pack: pack.id, deleteAfter: next.deleteAfter }, change: next.change };
}

/** Whether a quarantined recording may be released as asked; `acceptReceivedHash` needs a second person. */
export function checkQuarantineRelease(run: RecordingRun, acceptReceivedHash: boolean) {
  const record = run.status.quarantine;
  if (run.status.state !== 'quarantined' || !record || run.quarantineRelease) {
    throw new Error(`recording ${run.recordingId} is ${run.status.state}, not quarantined`);
  }
  if (record.reason === 'empty-file') throw new Error('the file has zero bytes: there is nothing to process');
  if (!record.object.etag) {
    throw new Error(`the quarantine record of ${run.recordingId} has no ETag; re-upload the file instead`);
  }
  if (record.reason === 'hash-mismatch' && !acceptReceivedHash) {
    throw new Error(
      'quarantined for a hash mismatch: release only by a request to accept the received hash, once you have ' +
        'established that the declared hash was wrong (the received hash is then the reference), which a second ' +
        'person approves',
    );
  }
  return record;
}

export async function releaseFromQuarantine(
  run: RecordingRun,
  actor: Actor,
  params: { reason: string; acceptReceivedHash?: boolean },
  approval?: Approval,
): Promise<messages.ReleaseQuarantineResult> {
  const record = run.status.quarantine!;
  run.quarantineRelease = {
    by: actor.by,
    reason: params.reason,
    acceptReceivedHash: params.acceptReceivedHash ?? false,
  };
  await run.log.append(actor.by, 'quarantine.released', {
    reason: params.reason,
    quarantineReason: record.reason,
    acceptReceivedHash: params.acceptReceivedHash ?? false,
    quarantineKey: record.object.key,
    ...(approval && { approvedBy: approval.by, requestId: approval.requestId }),
    ...actor.proof,
  });
  return { released: true, reason: record.reason };
}

export function checkReplay(run: RecordingRun) {
  if (run.status.state !== 'needs-attention') {
    throw new Error(
      `recording ${run.recordingId} is ${run.status.state}, not needs-attention: nothing to replay`,
    );
  }
  // A second replay before the first has started the stage again would run it twice.
  if (run.replayRequested || run.fixityRecheckRequested)
    throw new Error('a replay of this stage is already under way');
}

export async function requestReplay(
  run: RecordingRun,
  actor: Actor,
  reason: string | undefined,
): Promise<messages.ReplayResult> {
  const stage = run.status.lastError?.stage ?? 'ingest';
  // Flags first, before any await: a second replay in the same activation is validated against them.
  if (stage === 'fixity') {
    run.fixityRecheckRequested = true;
    run.retentionChanged = true;
  } else run.replayRequested = true;
  await run.log.append(actor.by, 'stage.replay-requested', { stage, reason: reason ?? null, ...actor.proof });
  return { stage, replayed: true };
}
