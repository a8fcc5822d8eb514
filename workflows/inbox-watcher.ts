/**
 * Started by a Temporal Schedule every CUSTODY_INBOX_INTERVAL_SECONDS (overlap: skip). One sweep of the inbox;
 * the schedule, not a loop, makes it periodic, so there is no history to grow and a missed run is just skipped.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SweepInboxInput, SweepReport } from '../activities/sweep-inbox';

type Activities = ReturnType<typeof createActivities>;

export async function inboxWatcher(input: SweepInboxInput): Promise<SweepReport> {
  const { sweepInbox } = proxyActivities<Activities>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 3 },
  });
  return sweepInbox(input);
}
