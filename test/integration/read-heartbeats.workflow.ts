/**
 * For read-heartbeats.test.ts only: runs one activity, once, with the heartbeat timeout the test asks for, so
 * a real Temporal server decides whether the activity heartbeated often enough.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface RunOnceInput {
  activity: string;
  args: unknown[];
  heartbeatTimeoutMs: number;
}

export async function runOnceWithHeartbeatTimeout(input: RunOnceInput): Promise<unknown> {
  const activities = proxyActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>({
    startToCloseTimeout: '3m',
    heartbeatTimeout: input.heartbeatTimeoutMs,
    retry: { maximumAttempts: 1 },
  });
  const activity = activities[input.activity];
  if (!activity) throw new Error(`no activity ${input.activity}`);
  return activity(...input.args);
}
