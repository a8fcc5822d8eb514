/**
 * Queries and Updates of a recording's workflow, shared by the workflow and the CLI. Pure definitions only.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { RecordingStatus, Stage } from '../activities/types';

export const statusQuery = defineQuery<RecordingStatus>('status');

export interface ReplayRequest {
  by: string;
  reason?: string;
}
export interface ReplayResult {
  stage: Stage;
  replayed: boolean;
}
/** Re-runs the parked stage from its start (needs-attention only). */
export const replayUpdate = defineUpdate<ReplayResult, [ReplayRequest]>('replay');

export const workflowIdFor = (recordingId: string) => `rec-${recordingId}`;
export const recordingIdFromWorkflowId = (workflowId: string) => workflowId.replace(/^rec-/, '');
