/**
 * Bench-only workflows that price Temporal's share of a recording: the same number of steps as an ingest,
 * once as task-queue activities (what recordingLifecycle does today) and once as local activities (what the
 * light steps could be). The activities do nothing, so only orchestration cost is measured.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { prototypeActivities } from './activities';

type Activities = typeof prototypeActivities;

const remote = proxyActivities<Activities>({ startToCloseTimeout: '1m' });
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '1m' });

/** `steps` activities one after the other, like the ingest's copy, probe, appends…; `batched`: one call. */
export async function stepChain(input: {
  steps: number;
  mode: 'activities' | 'local' | 'none';
}): Promise<number> {
  let done = 0;
  for (let i = 0; i < (input.mode === 'none' ? 0 : input.steps); i++) {
    done += input.mode === 'local' ? await local.step(i) : await remote.step(i);
  }
  return done;
}
