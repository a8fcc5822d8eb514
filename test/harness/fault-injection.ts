/**
 * Failing a lifecycle on purpose, for the reset tests: the fault-injection workflow bundle (global-setup.ts)
 * and a start that marks one workflow, by memo, for the fault (fault-injection-interceptors.ts).
 */
import type { Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { recordingIdFor } from '../../activities/start-lifecycle';
import type { LifecycleInput } from '../../domain/types';
import { workflowIdFor } from '../../domain/ids';
import { RecordingIdAttr, StateAttr, PolicyAttr, DeviceIdAttr } from '../../domain/search-attributes';
import { requireTestServers } from './env';
import { FAULT_MEMO_KEY, type InjectedFault } from './fault-injection-interceptors';

/** The normal workflows plus the fault-injecting interceptor, bundled by global-setup.ts. */
export function faultInjectionWorkflowBundle(): string {
  requireTestServers();
  const bundle = process.env.CUSTODY_TEST_FAULTY_WORKFLOW_BUNDLE;
  if (!bundle)
    throw new Error(
      'global-setup.ts did not build the fault-injection bundle; run the tests with `npm test`',
    );
  return bundle;
}

/** A lifecycle like startRecordingLifecycle's, marked for `fault`. */
export async function startLifecycleWithFault(
  client: Client,
  input: Omit<LifecycleInput, 'recordingId'>,
  fault: InjectedFault,
): Promise<{ recordingId: string; workflowId: string }> {
  const recordingId = recordingIdFor(input.source);
  const workflowId = workflowIdFor(recordingId);
  await client.workflow.start('recordingLifecycle', {
    taskQueue: input.taskQueues.orchestration,
    workflowId,
    args: [{ ...input, recordingId } satisfies LifecycleInput],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    memo: { [FAULT_MEMO_KEY]: fault },
    typedSearchAttributes: [
      { key: RecordingIdAttr, value: recordingId },
      { key: StateAttr, value: 'ingesting' },
      { key: PolicyAttr, value: input.policy },
      ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
    ],
  });
  return { recordingId, workflowId };
}
