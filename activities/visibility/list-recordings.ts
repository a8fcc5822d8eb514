/**
 * Recordings from Temporal visibility: one query over the search attributes (ids, states, dates, units; never
 * names), one page at a time. `custody list` and the API's GET /v1/recordings read through here.
 */
import type { Client } from '@temporalio/client';
import { recordingIdFromWorkflowId } from '../../domain/ids';

export interface RecordingFilter {
  state?: string;
  stage?: string;
  policy?: string;
  device?: string;
  /** Only recordings of these units (CustodyUnit); undefined: every recording, with or without a unit. */
  units?: readonly string[];
  /** Only recordings with a pending four-eyes request of one of these kinds (CustodyOpenRequests). */
  openRequests?: readonly string[];
}

export const ALL_LIFECYCLES = `WorkflowType = 'recordingLifecycle'`;

/** A value as a visibility-query string literal. */
export const quoteVisibilityValue = (value: string) =>
  `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The filter as one visibility query; `base` selects the executions (default: every recording's lifecycle). */
export function recordingListQuery(filter: RecordingFilter, base = ALL_LIFECYCLES): string {
  const clauses = [base];
  if (filter.state) clauses.push(`CustodyState = ${quoteVisibilityValue(filter.state)}`);
  if (filter.stage) clauses.push(`CustodyStage = ${quoteVisibilityValue(filter.stage)}`);
  if (filter.policy) clauses.push(`CustodyPolicy = ${quoteVisibilityValue(filter.policy)}`);
  if (filter.device) clauses.push(`CustodyDeviceId = ${quoteVisibilityValue(filter.device)}`);
  if (filter.units) {
    if (filter.units.length === 0) throw new Error('recordingListQuery: an empty unit list selects nothing');
    clauses.push(`CustodyUnit IN (${filter.units.map(quoteVisibilityValue).join(', ')})`);
  }
  if (filter.openRequests?.length)
    clauses.push(`CustodyOpenRequests IN (${filter.openRequests.map(quoteVisibilityValue).join(', ')})`);
  return clauses.join(' AND ');
}

export interface RecordingRow {
  recordingId: string;
  state: string;
  stage: string | null;
  policy: string | null;
  deviceId: string | null;
  unit: string | null;
  deleteAfter: string | null;
  held: boolean;
  evidence: boolean;
  started: string;
}

export interface RecordingPage {
  rows: RecordingRow[];
  /** Opaque (base64url); hand it back for the next page. */
  nextPageToken?: string;
}

export async function listRecordingPage(
  client: Client,
  namespace: string,
  query: string,
  page: { limit: number; pageToken?: string },
): Promise<RecordingPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace,
    query,
    pageSize: page.limit,
    ...(page.pageToken && { nextPageToken: Buffer.from(page.pageToken, 'base64url') }),
  });
  const decoder = client.options.loadedDataConverter.payloadConverter;
  const rows = (response.executions ?? []).map((e): RecordingRow => {
    const attrs = e.searchAttributes?.indexedFields ?? {};
    const read = (name: string): unknown => {
      const payload = attrs[name];
      if (!payload) return null;
      const value: unknown = decoder.fromPayload(payload);
      return Array.isArray(value) ? (value[0] as unknown) : value;
    };
    const workflowId = e.execution?.workflowId ?? '';
    return {
      recordingId: recordingIdFromWorkflowId(workflowId),
      state: (read('CustodyState') as string | null) ?? 'unknown',
      stage: read('CustodyStage') as string | null,
      policy: read('CustodyPolicy') as string | null,
      deviceId: read('CustodyDeviceId') as string | null,
      unit: read('CustodyUnit') as string | null,
      deleteAfter: read('CustodyDeleteAfter') as string | null,
      held: read('CustodyHeld') === true,
      evidence: read('CustodyEvidence') === true,
      started: e.startTime?.seconds ? new Date(Number(e.startTime.seconds) * 1000).toISOString() : '',
    };
  });
  const token = response.nextPageToken?.length
    ? Buffer.from(response.nextPageToken).toString('base64url')
    : undefined;
  return token ? { rows, nextPageToken: token } : { rows };
}
