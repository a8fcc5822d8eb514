/**
 * The Schedules an orchestration worker keeps in line with its config: the inbox watcher and the fixity run.
 * Idempotent: every orchestration worker calls ensureSchedules at start; the last config started wins.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
} from '@temporalio/client';
import type { CustodyConfig } from './config';
import { lifecycleTaskQueues } from './pools';
import type { SweepInboxInput } from '../activities/sweep-inbox';
import type { FixitySweepInput } from '../workflows/fixity-sweep';

export const inboxScheduleId = (config: CustodyConfig) => `${config.taskQueues.orchestration}-inbox-watcher`;
export const fixityScheduleId = (config: CustodyConfig) => `${config.taskQueues.orchestration}-fixity`;

async function upsertSchedule(
  client: Client,
  scheduleId: string,
  everySeconds: number,
  action: ScheduleOptionsAction,
): Promise<void> {
  const options = {
    spec: { intervals: [{ every: `${everySeconds}s` }] },
    action,
    // A run still going when the next is due is not doubled; a worker outage does not replay missed runs.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
  };
  try {
    await client.schedule.create({ scheduleId, ...options });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, ...options }));
  }
}

export async function ensureInboxSchedule(client: Client, config: CustodyConfig): Promise<void> {
  const args: [SweepInboxInput] = [
    {
      bucket: config.buckets.incoming,
      manifestGraceSeconds: config.inbox.manifestGraceSeconds,
      policy: config.policy.defaultPack,
      taskQueues: lifecycleTaskQueues(config),
      ...(!config.media.transcode && { transcode: false }),
    },
  ];
  await upsertSchedule(client, inboxScheduleId(config), config.inbox.intervalSeconds, {
    type: 'startWorkflow',
    workflowType: 'inboxWatcher',
    taskQueue: config.taskQueues.orchestration,
    args,
  });
}

export function fixitySweepInput(config: CustodyConfig): FixitySweepInput {
  return {
    intervalSeconds: config.fixity.intervalSeconds,
    fullCycleDays: config.fixity.fullCycleDays,
    sample: config.fixity.sample,
    taskQueues: lifecycleTaskQueues(config),
  };
}

/** Creates or updates the fixity Schedule; removes it when fixity is switched off. */
export async function ensureFixitySchedule(client: Client, config: CustodyConfig): Promise<void> {
  if (!config.fixity.enabled) {
    await client.schedule
      .getHandle(fixityScheduleId(config))
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
    return;
  }
  const args: [FixitySweepInput] = [fixitySweepInput(config)];
  await upsertSchedule(client, fixityScheduleId(config), config.fixity.intervalSeconds, {
    type: 'startWorkflow',
    workflowType: 'fixitySweep',
    taskQueue: config.taskQueues.orchestration,
    args,
  });
}
