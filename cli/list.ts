/**
 * `custody list` and `custody failed`: recordings from Temporal visibility (search attributes only — ids,
 * states, dates; never names), a table for people, JSON for scripts, paged with --limit / --page-token.
 */
import { STAGES, LIFECYCLE_STATES } from '../domain/types';
import { statusQuery } from '../workflows/messages';
import {
  listRecordingPage,
  recordingListQuery,
  type RecordingPage,
  type RecordingRow,
} from '../activities/visibility/list-recordings';
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

export function listQuery(o: ListOptions, now = new Date()): string {
  if (o.state && !(LIFECYCLE_STATES as readonly string[]).includes(o.state)) {
    throw new CliError(`--state ${o.state} is not a state: one of ${LIFECYCLE_STATES.join(', ')}`);
  }
  if (o.stage && !(STAGES as readonly string[]).includes(o.stage)) {
    throw new CliError(`--stage ${o.stage} is not a stage: one of ${STAGES.join(', ')}`);
  }
  return recordingListQuery(o, o.overdue ? overdueQuery(now) : undefined);
}

type Row = RecordingRow;

export async function listRecordings(ctx: CliContext, o: ListOptions): Promise<RecordingPage> {
  const limit = o.limit ? Number(o.limit) : 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new CliError(`--limit ${o.limit} must be 1–1000`);
  const client = await ctx.temporal();
  return listRecordingPage(client, ctx.config.temporal.namespace, listQuery(o), {
    limit,
    ...(o.pageToken && { pageToken: o.pageToken }),
  });
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
