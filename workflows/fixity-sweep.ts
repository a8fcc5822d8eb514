/**
 * One fixity run, started by a Temporal Schedule every CUSTODY_FIXITY_INTERVAL_SECONDS (overlap: skip). It
 * re-hashes the recordings of this run's slot (so a full cycle covers every recording) plus a random sample,
 * and signals each recording whose stored bytes or custody log no longer match: that recording parks in
 * needs-attention (stage fixity). The check itself counts, logs and alerts (activities/check-recording-fixity).
 */
import {
  proxyActivities,
  getExternalWorkflowHandle,
  workflowInfo,
  continueAsNew,
  ApplicationFailure,
  log,
} from '@temporalio/workflow';
import type { FixityCheckResult } from '../activities/check-recording-fixity';
import type { LifecycleInput } from '../domain/types';
import { fixityMismatchSignal } from './messages';
import { workflowIdFor } from '../domain/ids';
import type { PoolActivities } from './pool-activities';

export interface FixitySweepInput {
  intervalSeconds: number;
  fullCycleDays: number;
  sample: number;
  taskQueues: LifecycleInput['taskQueues'];
  /** Recordings to check at once (default 2: hashing is I/O-bound, the media-io pool bounds it further). */
  parallel?: number;
  /** Set by this workflow when it continues as new: the recordings still to check in this run. */
  remaining?: { recordingIds: string[]; summary: FixitySweepSummary };
}

export interface FixitySweepSummary {
  slot: number;
  slots: number;
  /** Recordings that were idle (retained or held) when the run listed them. */
  idle: number;
  checked: number;
  skipped: number;
  objects: number;
  bytes: number;
  /** Recording ids with a mismatch (each was signalled and parks). */
  mismatched: string[];
}

export async function fixitySweep(input: FixitySweepInput): Promise<FixitySweepSummary> {
  const light = proxyActivities<PoolActivities<'orchestration'>>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 3 },
  });
  const mediaIo = proxyActivities<PoolActivities<'media-io'>>({
    taskQueue: input.taskQueues.mediaIo,
    startToCloseTimeout: '4h',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 5, initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m' },
  });

  let queue: string[];
  let summary: FixitySweepSummary;
  if (input.remaining) {
    queue = [...input.remaining.recordingIds];
    summary = input.remaining.summary;
  } else {
    const chosen = await light.selectFixityCandidates({
      runAtMs: Date.now(),
      intervalSeconds: input.intervalSeconds,
      fullCycleDays: input.fullCycleDays,
      sample: input.sample,
      orchestrationTaskQueue: input.taskQueues.orchestration,
    });
    queue = [...chosen.cycle, ...chosen.sampled];
    summary = {
      slot: chosen.slot,
      slots: chosen.slots,
      idle: chosen.idle,
      checked: 0,
      skipped: 0,
      objects: 0,
      bytes: 0,
      mismatched: [],
    };
  }

  const account = async (result: FixityCheckResult) => {
    if (result.skipped) {
      summary.skipped++;
      return;
    }
    summary.checked++;
    summary.objects += result.objects;
    summary.bytes += result.bytes;
    if (result.mismatches.length === 0 && result.logProblems.length === 0) return;
    summary.mismatched.push(result.recordingId);
    try {
      await getExternalWorkflowHandle(workflowIdFor(result.recordingId)).signal(fixityMismatchSignal, {
        checkedAt: result.checkedAt,
        checkedBy: workflowInfo().workflowId,
        mismatches: result.mismatches,
        logProblems: result.logProblems,
      });
    } catch (err) {
      // The recording was deleted since it was listed: its objects are gone by design, nothing to park. Any
      // other failure fails this run (visible, and the next run checks again) rather than losing the park.
      if (!(err instanceof ApplicationFailure && /not ?found/i.test(`${err.type} ${err.message}`))) throw err;
      log.warn('fixity mismatch of a recording that no longer runs', { recordingId: result.recordingId });
    }
  };

  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      await account(await mediaIo.checkRecordingFixity({ recordingId: id }));
      if (workflowInfo().continueAsNewSuggested) return;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, input.parallel ?? 2) }, worker));
  if (queue.length > 0) {
    // A very large slot: keep the history small, carry on in a fresh run.
    await continueAsNew<typeof fixitySweep>({ ...input, remaining: { recordingIds: queue, summary } });
  }
  return summary;
}
