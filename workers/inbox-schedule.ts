/**
 * Creates (or updates to the current config) the Schedule that runs the inbox watcher. Idempotent: every
 * orchestration worker calls it at start.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { CustodyConfig } from './config';
import { lifecycleTaskQueues } from './pools';
import type { SweepInboxInput } from '../activities/sweep-inbox';

export const inboxScheduleId = (config: CustodyConfig) => `${config.taskQueues.orchestration}-inbox-watcher`;

export async function ensureInboxSchedule(client: Client, config: CustodyConfig): Promise<void> {
  const args: [SweepInboxInput] = [
    {
      bucket: config.buckets.incoming,
      manifestGraceSeconds: config.inbox.manifestGraceSeconds,
      policy: config.policy.defaultPack,
      taskQueues: lifecycleTaskQueues(config),
    },
  ];
  const options = {
    spec: { intervals: [{ every: `${config.inbox.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'inboxWatcher',
      taskQueue: config.taskQueues.orchestration,
      args,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
  };
  try {
    await client.schedule.create({ scheduleId: inboxScheduleId(config), ...options });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule
      .getHandle(inboxScheduleId(config))
      .update((previous) => ({ ...previous, ...options }));
  }
}
