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
  contentIdentityText,
  recordingIdentityText,
  RECORDING_ID_LENGTH,
  workflowIdFor,
  type ContentIdentity,
  type ObjectIdentity,
} from '../domain/ids';
import { RecordingIdAttr, StateAttr, PolicyAttr, DeviceIdAttr, UnitAttr } from '../domain/search-attributes';

export type { ObjectIdentity, ContentIdentity };

const idOfText = (text: string) =>
  createHash('sha256').update(text).digest('hex').slice(0, RECORDING_ID_LENGTH);

/** The first 20 hex characters (80 bits) of SHA-256 over the identity (domain/ids.ts). */
export function recordingIdFor(identity: ObjectIdentity): string {
  return idOfText(recordingIdentityText(identity));
}

/** The recording id of an upload's bytes: the same SHA-256 and size, the same id. */
export function contentRecordingIdFor(identity: ContentIdentity): string {
  return idOfText(contentIdentityText(identity));
}

export type StartOutcome = { recordingId: string; workflowId: string; started: boolean };

/**
 * Starts the lifecycle of `input.source`; its id from the object's identity, or from `content` when given (an
 * upload through the API: the same bytes again meet the same id, and Temporal refuses the second start).
 */
export async function startRecordingLifecycle(
  client: Client,
  input: Omit<LifecycleInput, 'recordingId'>,
  content?: ContentIdentity,
  /** Plain facts for whoever starts it again (never personal data: the memo is not searched, but is shown). */
  memo?: Record<string, string>,
): Promise<StartOutcome> {
  const recordingId = content ? contentRecordingIdFor(content) : recordingIdFor(input.source);
  const workflowId = workflowIdFor(recordingId);
  try {
    await client.workflow.start('recordingLifecycle', {
      taskQueue: input.taskQueues.orchestration,
      workflowId,
      args: [{ ...input, recordingId } satisfies LifecycleInput],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      ...(memo && { memo }),
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
