/**
 * `custody access-log <recordingId>` and `custody access-log --user <subject>`: who viewed, streamed, downloaded or
 * read the log of a recording, or everything one person read — from the audit store, through the API (issue 15,
 * item 8). A table for people, `--output json` for programs, `--format csv` for the data-protection officer's
 * export, written exactly as the API sent it.
 */
import { connectApi } from './api-client';
import { CliError, type CliContext } from './context';
import { formatTable, printJson } from './output';

export interface AccessLogOptions {
  user?: string;
  from?: string;
  to?: string;
  output: 'table' | 'json';
  format?: 'csv';
}

export type AccessRecord = Record<string, unknown>;

/** The route and query for what was asked: one recording's reads, or one subject's. */
export function accessLogRequest(
  recordingId: string | undefined,
  options: Pick<AccessLogOptions, 'user' | 'from' | 'to'> & { format: 'json' | 'csv' },
): { route: string; query: Record<string, string | undefined> } {
  if ((recordingId === undefined) === (options.user === undefined)) {
    throw new CliError('give either a recording id or --user <subject>, not both and not neither');
  }
  for (const [flag, value] of [
    ['--from', options.from],
    ['--to', options.to],
  ] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value))) {
      throw new CliError(`${flag} ${value}: not a time (RFC 3339, e.g. 2026-03-01T00:00:00Z or 2026-03-01)`);
    }
  }
  const window = { from: options.from, to: options.to, format: options.format };
  return recordingId !== undefined
    ? { route: `/v1/recordings/${encodeURIComponent(recordingId)}/access-log`, query: window }
    : { route: '/v1/access-log', query: { subject: options.user, ...window } };
}

/** `recordingId` → `RECORDING ID`: table headers in the style of the other commands. */
function header(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

function cell(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The records as a table, one column per field in the order the API gives them. */
export function accessLogTable(records: AccessRecord[]): string {
  if (records.length === 0) return '(no recorded access)';
  const keys = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return formatTable(
    keys.map(header),
    records.map((record) => keys.map((key) => cell(record[key]))),
  );
}

export async function accessLogCommand(
  ctx: CliContext,
  recordingId: string | undefined,
  options: AccessLogOptions,
): Promise<void> {
  if (options.format === 'csv' && options.output === 'json') {
    throw new CliError('--format csv and --output json exclude each other: choose one');
  }
  const { route, query } = accessLogRequest(recordingId, {
    ...options,
    format: options.format === 'csv' ? 'csv' : 'json',
  });
  const api = connectApi(ctx.config);
  if (options.format === 'csv') {
    process.stdout.write(await api.getText(route, query, 'text/csv'));
    return;
  }
  const body = await api.getJson<{ records?: AccessRecord[] }>(route, query);
  if (!Array.isArray(body.records)) {
    throw new CliError(`the custody API answered ${route} without a records list`);
  }
  if (options.output === 'json') return printJson(body);
  process.stdout.write(`${accessLogTable(body.records)}\n`);
}
