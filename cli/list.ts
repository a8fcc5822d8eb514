/**
 * `custody list` and `custody failed`: recordings from Temporal visibility (search attributes only — ids,
 * states, dates; never names), a table for people, JSON for scripts, paged with --limit / --page-token.
 */
import { STAGES, LIFECYCLE_STATES } from '../domain/types';
import { statusQuery } from '../workflows/messages';
import { recordingIdFromWorkflowId } from '../domain/ids';
import { overdueQuery } from '../workers/visibility-gauges';
import { CliError, type CliContext } from './context';
import { formatTable, printJson } from './output';

export interface ListOptions {
  state?: string;
  stage?: string;
  policy?: string;
  device?: string;
  overdue?: boolean;
  limit?: string;
  pageToken?: string;
  json?: boolean;
}

const quote = (value: string) => `'${value.replace(/'/g, "\\'")}'`;

export function listQuery(o: ListOptions, now = new Date()): string {
  if (o.state && !(LIFECYCLE_STATES as readonly string[]).includes(o.state)) {
    throw new CliError(`--state ${o.state} is not a state: one of ${LIFECYCLE_STATES.join(', ')}`);
  }
  if (o.stage && !(STAGES as readonly string[]).includes(o.stage)) {
    throw new CliError(`--stage ${o.stage} is not a stage: one of ${STAGES.join(', ')}`);
  }
  const clauses = [o.overdue ? overdueQuery(now) : `WorkflowType = 'recordingLifecycle'`];
  if (o.state) clauses.push(`CustodyState = ${quote(o.state)}`);
  if (o.stage) clauses.push(`CustodyStage = ${quote(o.stage)}`);
  if (o.policy) clauses.push(`CustodyPolicy = ${quote(o.policy)}`);
  if (o.device) clauses.push(`CustodyDeviceId = ${quote(o.device)}`);
  return clauses.join(' AND ');
}

interface Row {
  recordingId: string;
  state: string;
  stage: string | null;
  policy: string | null;
  deviceId: string | null;
  deleteAfter: string | null;
  held: boolean;
  evidence: boolean;
  started: string;
}

export async function listRecordings(
  ctx: CliContext,
  o: ListOptions,
): Promise<{ rows: Row[]; nextPageToken?: string }> {
  const limit = o.limit ? Number(o.limit) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new CliError(`--limit ${o.limit} must be 1–1000`);
  const client = await ctx.temporal();
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: ctx.config.temporal.namespace,
    query: listQuery(o),
    pageSize: limit,
    ...(o.pageToken && { nextPageToken: Buffer.from(o.pageToken, 'base64url') }),
  });
  const decoder = client.options.loadedDataConverter.payloadConverter;
  const rows = (response.executions ?? []).map((e): Row => {
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

function printPage(
  rows: Row[],
  nextPageToken: string | undefined,
  extraHeaders: string[] = [],
  extra: (r: Row) => string[] = () => [],
) {
  process.stdout.write(
    `${formatTable(
      [
        'RECORDING',
        'STATE',
        'STAGE',
        'POLICY',
        'DEVICE',
        'DELETE AFTER',
        'HELD',
        'EVIDENCE',
        ...extraHeaders,
      ],
      rows.map((r) => [
        r.recordingId,
        r.state,
        r.stage ?? '',
        r.policy ?? '',
        r.deviceId ?? '',
        r.deleteAfter ?? '',
        r.held ? 'yes' : '',
        r.evidence ? 'yes' : '',
        ...extra(r),
      ]),
    )}\n${rows.length} recording(s)${nextPageToken ? `; more with --page-token ${nextPageToken}` : ''}\n`,
  );
}

export async function listCommand(ctx: CliContext, o: ListOptions) {
  const page = await listRecordings(ctx, o);
  if (o.json) return printJson(page);
  printPage(page.rows, page.nextPageToken);
}

/** Parked recordings with the error that parked them (read from each one's status). */
export async function failedCommand(
  ctx: CliContext,
  o: Pick<ListOptions, 'stage' | 'limit' | 'pageToken' | 'json'>,
) {
  const page = await listRecordings(ctx, { ...o, state: 'needs-attention' });
  const client = await ctx.temporal();
  const withErrors = await Promise.all(
    page.rows.map(async (row) => {
      const status = await client.workflow
        .getHandle(`rec-${row.recordingId}`)
        .query(statusQuery)
        .catch(() => undefined);
      return { ...row, lastError: status?.lastError ?? null };
    }),
  );
  if (o.json)
    return printJson({ rows: withErrors, ...(page.nextPageToken && { nextPageToken: page.nextPageToken }) });
  printPage(withErrors, page.nextPageToken, ['ERROR', 'ATTEMPTS', 'AT'], (r) => {
    const e = (r as (typeof withErrors)[number]).lastError;
    return e ? [`${e.type}: ${e.message.slice(0, 60)}`, String(e.attempts), e.at] : ['', '', ''];
  });
}
