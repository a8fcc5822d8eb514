/**
 * The deadline: set once ingest is done, waited for durably, changed only by a person's Update (hold, extension,
 * policy, early deletion) or a fixity finding. Evidence locks follow the deadline; they only ever lengthen.
 */
import {
  allHandlersFinished,
  ActivityFailure,
  condition,
  log,
  continueAsNew,
  workflowInfo,
} from '@temporalio/workflow';
import { deadlineSetDetails, type EntrySpec } from '../../domain/custody-log';
import { computeDeadline, decideWake } from '../../domain/retention';
import type { LifecycleInput, RecordingStatus, RulePackRef } from '../../domain/types';
import type { FixityMismatchNotice } from '../messages';
import { runStage } from './stages';
import { replays, type RecordingRun } from './state';

export function resolveRulePack(run: RecordingRun): Promise<RulePackRef> {
  return runStage(run, 'retention', () => run.activities.lookups.resolveRulePack(run.input.policy));
}

/** The deadline: from recordedAt (or ingest time) plus the rule pack's retention. Returns its log entry. */
export async function setDeadline(run: RecordingRun, resolved?: RulePackRef): Promise<EntrySpec> {
  const pack = resolved ?? (await resolveRulePack(run));
  const deadline = computeDeadline({
    recordedAt: run.input.declared.recordedAt,
    ingestedAt: run.status.ingestedAt,
    retention: pack.retention,
  });
  run.retention = {
    pack,
    deadline: {
      deleteAfter: deadline.deleteAfter,
      statutoryDeadline: deadline.statutoryDeadline,
      basis: deadline.basis,
      basisTime: deadline.basisTime,
    },
    deleteAfter: deadline.deleteAfter,
    extensions: [],
    holds: [],
  };
  run.publishRetention();
  return { actor: 'system', action: 'deadline.set', details: deadlineSetDetails(pack, deadline) };
}

/** Extends the WORM lock of an evidence recording to its (new) deadline; locks only ever lengthen. */
export async function lockToDeadline(run: RecordingRun) {
  const retention = run.retention;
  if (!retention?.evidence) return;
  const objects = [
    ...(run.status.original ? [run.status.original] : []),
    ...(run.status.derivatives?.derivatives ?? []),
  ].map((o) => ({ bucket: o.bucket, key: o.key, versionId: o.versionId }));
  if (objects.length === 0) return;
  const locked = await run.activities.mediaIo.lockEvidence({ objects, retainUntil: retention.deleteAfter });
  const until =
    locked
      .map((l) => l.retainUntil)
      .sort()
      .at(-1) ?? retention.deleteAfter;
  retention.evidence.lockedUntil = until;
  await run.log.append('system', 'evidence.locked', {
    retainUntil: until,
    objects: locked.map((l) => ({ key: l.key, versionId: l.versionId, retainUntil: l.retainUntil })),
  });
}

/**
 * Waits for whichever comes first: the deadline, an early deletion, or a change (hold, release, extension,
 * policy, fixity). Returns when the recording is due for deletion. An idle run continues as new when Temporal
 * suggests it; a running transcode or a parked stage stays in this run.
 */
export async function waitForDeadline(run: RecordingRun): Promise<void> {
  const mayContinueAsNew = () => run.idle() && workflowInfo().continueAsNewSuggested;
  for (;;) {
    // A request that arrives while this pass awaits a step (a fixity replay during the previous check's log
    // entry, an early deletion during a fixity park) must wake the wait below, not be cleared before it.
    const clearChangesFirst = run.changesWakeTheWait;
    if (clearChangesFirst) run.retentionChanged = false;
    const retention = run.retention!;
    if (run.earlyDeletion) {
      run.deletionCause = 'early';
      return;
    }
    if (run.pendingFixity) {
      const notice = run.pendingFixity;
      run.pendingFixity = undefined;
      if (run.signalsUntrusted) await confirmFixityReport(run, notice);
      else await parkForFixity(run, notice);
    }
    if (run.fixityRecheckRequested) {
      run.fixityRecheckRequested = false;
      await recheckFixity(run);
    }
    const decision = decideWake(new Date(), {
      deleteAfter: retention.deleteAfter,
      evidence: false,
      activeHolds: run.activeHolds(),
    });
    if (run.idle()) run.setState(decision.action === 'keep' ? 'held' : 'retained');
    if (decision.action === 'delete') return;
    if (mayContinueAsNew()) {
      await condition(allHandlersFinished);
      await continueAsNew<(input: LifecycleInput) => Promise<RecordingStatus>>({
        ...run.input,
        resume: {
          status: run.snapshot(),
          seenAssertions: Object.fromEntries(run.seenAssertions),
          ...(run.policyChange && { policyChange: run.policyChange }),
        },
      });
    }
    if (!clearChangesFirst) run.retentionChanged = false;
    const wakeInMs = decision.action === 'sleep' ? decision.sleepMs : undefined;
    // Wake for a change, the deadline, or a continue-as-new this run may take now. (Waking for a suggestion it
    // may not take yet — while transcoding — would spin.)
    await condition(() => run.retentionChanged || mayContinueAsNew(), wakeInMs);
  }
}

/** A fixity run found stored bytes that no longer match the log: park (the deadline still runs). */
async function parkForFixity(run: RecordingRun, notice: FixityMismatchNotice) {
  const problems = [
    ...notice.mismatches.map((m) =>
      m.problem === 'missing'
        ? `${m.kind} ${m.key} missing`
        : `${m.kind} ${m.key} hashes to ${m.actualSha256}`,
    ),
    ...notice.logProblems,
  ];
  run.status.lastError = {
    stage: 'fixity',
    type: 'FixityMismatch',
    message: problems.join('; '),
    attempts: 1,
    at: notice.checkedAt,
  };
  run.setState('needs-attention', 'fixity');
  await run.log.append('system', 'fixity.mismatch', {
    checkedAt: notice.checkedAt,
    checkedBy: notice.checkedBy,
    mismatches: notice.mismatches.map((m) => ({ ...m })),
    logProblems: notice.logProblems,
  });
}

/**
 * A fixity run's report is a reason to look, not a finding: anyone reaching Temporal could send one. The recording
 * checks its own objects and parks on what it finds; a report it cannot confirm is logged by the worker, not in the
 * custody log (a forged report must not be able to write there either).
 */
async function confirmFixityReport(run: RecordingRun, notice: FixityMismatchNotice) {
  let result;
  try {
    result = await run.activities.mediaIo.checkRecordingFixity({
      recordingId: run.recordingId,
      confirming: true,
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('fixity report not confirmed: the check could not run', { checkedBy: notice.checkedBy });
    return;
  }
  if (result.mismatches.length || result.logProblems.length) {
    await parkForFixity(run, { ...result, checkedBy: notice.checkedBy });
    return;
  }
  log.warn('fixity report not confirmed by the recording’s own check', { checkedBy: notice.checkedBy });
}

/** A replay of the fixity stage: check again (e.g. after the object was restored from a backup). */
async function recheckFixity(run: RecordingRun) {
  let result;
  try {
    result = await run.activities.mediaIo.checkRecordingFixity({ recordingId: run.recordingId });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    // The check itself could not run (store unreachable): stay parked, say so, let a later replay try again.
    await run.log.append('system', 'fixity.recheck-failed', { message: err.cause?.message ?? err.message });
    return;
  }
  if (result.mismatches.length || result.logProblems.length) {
    replays.add(1, { stage: 'fixity', outcome: 'failed-again' });
    await parkForFixity(run, { ...result, checkedBy: 'replay' });
    return;
  }
  replays.add(1, { stage: 'fixity', outcome: 'succeeded' });
  delete run.status.lastError;
  run.setState(run.activeHolds().length ? 'held' : 'retained');
  await run.log.append('system', 'fixity.restored', { checkedAt: result.checkedAt, objects: result.objects });
}
