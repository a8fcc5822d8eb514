/**
 * Starts one recordingLifecycle per incoming object. The recording id derives from the object's identity
 * (store, key, ETag, size), and the workflow id from the recording id, so overlapping inbox listings, a CLI
 * retry or a worker that dies mid-start can never process a file twice: Temporal refuses a second start of the
 * same id, open or closed, and we report that as "already started".
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy, WorkflowIdConflictPolicy } from '@temporalio/common';
import type { LifecycleInput } from '../domain/types';
import {
  recordingIdentityText,
  RECORDING_ID_LENGTH,
  workflowIdFor,
  type ObjectIdentity,
} from '../domain/ids';
import { RecordingIdAttr, StateAttr, PolicyAttr, DeviceIdAttr, UnitAttr } from '../domain/search-attributes';

export type { ObjectIdentity };

/** The first 20 hex characters (80 bits) of SHA-256 over the identity (domain/ids.ts). */
export function recordingIdFor(identity: ObjectIdentity): string {
  return createHash('sha256')
    .update(recordingIdentityText(identity))
    .digest('hex')
    .slice(0, RECORDING_ID_LENGTH);
}

export type StartOutcome = { recordingId: string; workflowId: string; started: boolean };

export async function startRecordingLifecycle(
  client: Client,
  input: Omit<LifecycleInput, 'recordingId'>,
): Promise<StartOutcome> {
  const recordingId = recordingIdFor(input.source);
  const workflowId = workflowIdFor(recordingId);
  try {
    await client.workflow.start('recordingLifecycle', {
      taskQueue: input.taskQueues.orchestration,
      workflowId,
      args: [{ ...input, recordingId } satisfies LifecycleInput],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      typedSearchAttributes: [
        { key: RecordingIdAttr, value: recordingId },
        { key: StateAttr, value: 'ingesting' },
        { key: PolicyAttr, value: input.policy },
        ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
        ...(input.declared.unit ? [{ key: UnitAttr, value: input.declared.unit }] : []),
      ],
    });
    return { recordingId, workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return { recordingId, workflowId, started: false };
    throw err;
  }
}
