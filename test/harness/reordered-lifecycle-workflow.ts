/**
 * A deliberately incompatible recordingLifecycle, for the self-check of the replay gate
 * (test/integration/replay-histories.test.ts): it issues its first commands in another order than the real
 * workflow — rule pack first, custody log second — which is exactly the kind of change that breaks a running
 * recording without patched(). Replaying a committed history with it must fail with a DeterminismViolationError.
 */
import { proxyActivities, condition } from '@temporalio/workflow';
import type { createActivities } from '../../activities';
import type { LifecycleInput } from '../../domain/types';

type Activities = ReturnType<typeof createActivities>;

export async function recordingLifecycle(input: LifecycleInput): Promise<void> {
  const light = proxyActivities<Activities>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '1m',
  });
  await light.resolveRulePack(input.policy);
  await light.appendCustodyEntry({
    recordingId: input.recordingId,
    seq: 0,
    prevHash: '0'.repeat(64),
    time: new Date().toISOString(),
    actor: input.actor,
    action: 'recording.received',
    details: {},
  });
  await condition(() => false);
}
