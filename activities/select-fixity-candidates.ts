/**
 * Lists the recordings a fixity run should re-hash: those of this run's slot (a full cycle covers all) plus a
 * random sample, among recordings that keep objects and are idle (retained or held) on our task queue.
 */
import type { Client } from '@temporalio/client';
import { chooseFixityCandidates, fixitySlotAt } from './fixity-plan';
import { recordingIdFromWorkflowId } from '../domain/ids';
import type { ActivityContextPort } from './context';

export interface SelectFixityInput {
  /** The run's scheduled time (ms since epoch): fixes the slot even when a run starts late. */
  runAtMs: number;
  intervalSeconds: number;
  fullCycleDays: number;
  sample: number;
  /** The lifecycle workflows' task queue: one deployment's recordings only. */
  orchestrationTaskQueue: string;
}

export interface FixityCandidates {
  slot: number;
  slots: number;
  idle: number;
  cycle: string[];
  sampled: string[];
}

export function makeSelectFixityCandidates(deps: {
  temporal: () => Promise<Client>;
  context: ActivityContextPort;
}) {
  return async function selectFixityCandidates(input: SelectFixityInput): Promise<FixityCandidates> {
    const client = await deps.temporal();
    const query =
      `WorkflowType = 'recordingLifecycle' AND ExecutionStatus = 'Running' AND ` +
      `TaskQueue = '${input.orchestrationTaskQueue}' AND CustodyState IN ('retained', 'held')`;
    const ids: string[] = [];
    for await (const execution of client.workflow.list({ query })) {
      ids.push(recordingIdFromWorkflowId(execution.workflowId));
      if (ids.length % 1000 === 0) deps.context.heartbeat({ listed: ids.length });
    }
    const slot = fixitySlotAt(input.runAtMs, input.intervalSeconds, input.fullCycleDays);
    const chosen = chooseFixityCandidates(ids, { ...slot, sample: input.sample });
    return { ...slot, idle: ids.length, ...chosen };
  };
}
