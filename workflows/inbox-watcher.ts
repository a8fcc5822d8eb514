/**
 * Started by a Temporal Schedule every CUSTODY_INBOX_INTERVAL_SECONDS (overlap: skip). One sweep of the inbox;
 * the schedule, not a loop, makes it periodic, so there is no history to grow and a missed run is just skipped.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { SweepInboxInput, SweepReport } from '../activities/sweep-inbox';
import type { PoolActivities } from './pool-activities';

export async function inboxWatcher(input: SweepInboxInput): Promise<SweepReport> {
  const { sweepInbox } = proxyActivities<PoolActivities<'orchestration'>>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 3 },
  });
  return sweepInbox(input);
}
