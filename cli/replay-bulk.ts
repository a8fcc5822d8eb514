/**
 * `custody replay`: one parked recording by id (cli/admin.ts), or with --failed every recording parked in
 * needs-attention that matches the filters, one Update at a time at a bounded rate (a replay re-runs ffmpeg or a
 * copy: hundreds at once would swamp the pools). A validator's rejection is a skip with its reason, not a crash;
 * anything else is an error and makes the exit code non-zero. --dry-run lists what it would replay and sends nothing.
 */
import { statusQuery } from '../workflows/messages';
import { recordingIdFromWorkflowId } from '../domain/ids';
import type { LastError } from '../domain/types';
import { CliError, EXIT, type CliContext } from './context';
import { listQuery } from './list';
import { actOn, replayCommand } from './admin';
import { formatTable, printJson } from './output';
import { addDuration, parseDuration, parseInstant } from '../domain/duration';

export interface ReplayOptions {
  reason?: string;
  failed?: boolean;
  stage?: string;
  since?: string;
  device?: string;
  policy?: string;
  limit?: string;
  rate?: string;
  dryRun?: boolean;
  json?: boolean;
}

const BULK_ONLY = ['stage', 'since', 'device', 'policy', 'limit', 'rate', 'dryRun'] as const;
const FLAG: Record<(typeof BULK_ONLY)[number], string> = {
  stage: '--stage',
  since: '--since',
  device: '--device',
  policy: '--policy',
  limit: '--limit',
  rate: '--rate',
  dryRun: '--dry-run',
};

/** `custody replay <id>` or `custody replay --failed …`. */
export async function replayEntryCommand(ctx: CliContext, id: string | undefined, o: ReplayOptions) {
  if (id && o.failed)
    throw new CliError('give a recording id or --failed, not both (replay <id>, or replay --failed)');
  if (!id && !o.failed)
    throw new CliError('say what to replay: a recording id, or --failed for every parked recording');
  if (id) {
    const bulkFlags = BULK_ONLY.filter((k) => o[k] !== undefined).map((k) => FLAG[k]);
    if (bulkFlags.length)
      throw new CliError(`${bulkFlags.join(', ')} only apply with --failed (bulk replay)`);
    return replayCommand(ctx, id, { ...(o.reason && { reason: o.reason }), json: o.json });
  }
  return bulkReplayCommand(ctx, o);
}

/** "2", "2/s" or "0.5/s": Updates per second, at most 50 (a bulk replay is not a load test). */
export function parseRate(text: string | undefined): number {
  if (text === undefined) return 2;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*s)?\s*$/.exec(text);
  const rate = match ? Number(match[1]) : NaN;
  if (!(rate > 0 && rate <= 50))
    throw new CliError(`--rate ${text} is not a rate: give replays per second, e.g. 2 or 0.5/s (at most 50)`);
  return rate;
}

/** An RFC 3339 time ("2026-11-23T08:00:00Z") or how long ago as an ISO 8601 duration ("PT6H", "P2D"). */
export function parseSince(text: string, now = new Date()): Date {
  if (text.startsWith('P')) {
    const parsed = parseDuration(text);
    if (!parsed.ok) throw new CliError(`--since: ${parsed.error}`);
    const span = Date.parse(addDuration(now.toISOString(), parsed.duration)) - now.getTime();
    return new Date(now.getTime() - span);
  }
  const at = parseInstant(text);
  if (!at.ok)
    throw new CliError(`--since: ${at.error}, or how long ago as an ISO 8601 duration such as PT6H`);
  return new Date(at.epochMs);
}

export function parseLimit(text: string | undefined): number {
  if (text === undefined) return Infinity;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit ${text} must be a whole number ≥ 1`);
  return limit;
}

/** The visibility query of the bulk replay: parked recordings (open runs) under the list filters. */
export function bulkReplayQuery(o: Pick<ReplayOptions, 'stage' | 'device' | 'policy'>): string {
  return `${listQuery({
    state: 'needs-attention',
    ...(o.stage && { stage: o.stage }),
    ...(o.device && { device: o.device }),
    ...(o.policy && { policy: o.policy }),
  })} AND ExecutionStatus = 'Running'`;
}

export type ReplayOutcome = 'would-replay' | 'replayed' | 'skipped' | 'error';

export interface BulkReplayRow {
  recordingId: string;
  stage: string | null;
  lastError: LastError | null;
  outcome: ReplayOutcome;
  /** Why it was skipped or failed; the stage that runs again when replayed. */
  detail: string;
}

export interface BulkReplaySummary {
  replayed: number;
  skipped: number;
  errors: number;
}

export function summarize(rows: BulkReplayRow[]): BulkReplaySummary {
  const count = (outcome: ReplayOutcome) => rows.filter((r) => r.outcome === outcome).length;
  return { replayed: count('replayed'), skipped: count('skipped'), errors: count('error') };
}

/** Spaces calls so that no more than `perSecond` start in any second; the first one starts at once. */
export function createPacer(
  perSecond: number,
  sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)),
) {
  const intervalMs = 1000 / perSecond;
  let nextAt = 0;
  return async () => {
    const now = Date.now();
    const wait = nextAt - now;
    nextAt = Math.max(now, nextAt) + intervalMs;
    if (wait > 0) await sleep(wait);
  };
}

async function bulkReplayCommand(ctx: CliContext, o: ReplayOptions) {
  const rate = parseRate(o.rate);
  const limit = parseLimit(o.limit);
  const since = o.since ? parseSince(o.since) : undefined;
  const query = bulkReplayQuery(o);
  const client = await ctx.temporal();

  // Candidates first (visibility is a snapshot; each status says when and why the stage was parked).
  const rows: BulkReplayRow[] = [];
  for await (const execution of client.workflow.list({ query })) {
    if (rows.length >= limit) break;
    const recordingId = recordingIdFromWorkflowId(execution.workflowId);
    let lastError: LastError | null = null;
    try {
      const status = await client.workflow.getHandle(execution.workflowId).query(statusQuery);
      if (status.state !== 'needs-attention') continue; // replayed meanwhile: visibility lags a little
      lastError = status.lastError ?? null;
    } catch (err) {
      rows.push({
        recordingId,
        stage: null,
        lastError: null,
        outcome: 'error',
        detail: `status unreadable: ${(err as Error).message}`,
      });
      continue;
    }
    if (since && lastError && Date.parse(lastError.at) < since.getTime()) continue;
    rows.push({
      recordingId,
      stage: lastError?.stage ?? null,
      lastError,
      outcome: 'would-replay',
      detail: lastError ? `${lastError.type}: ${lastError.message}` : '',
    });
  }

  if (!o.dryRun) {
    const pace = createPacer(rate);
    for (const row of rows) {
      if (row.outcome === 'error') continue;
      await pace();
      try {
        const result = await actOn<{ stage: string }>(ctx, row.recordingId, 'replay', {
          ...(o.reason && { reason: o.reason }),
        });
        Object.assign(row, { outcome: 'replayed', detail: `stage ${result.stage} runs again` });
      } catch (err) {
        // A refusal (not parked any more; not among the caller's units, a 404) or a recording closed meanwhile:
        // skipped.
        if (err instanceof CliError && (err.exitCode === EXIT.rejected || err.exitCode === EXIT.unknown))
          Object.assign(row, { outcome: 'skipped', detail: err.message.replace(/^refused: /, '') });
        else Object.assign(row, { outcome: 'error', detail: (err as Error).message });
      }
    }
  }

  const summary = summarize(rows);
  if (o.json) {
    printJson({
      dryRun: Boolean(o.dryRun),
      query,
      ...(since && { since: since.toISOString() }),
      ratePerSecond: rate,
      ...summary,
      recordings: rows,
    });
  } else {
    process.stdout.write(
      `${formatTable(
        ['RECORDING', 'STAGE', 'PARKED AT', 'OUTCOME', 'DETAIL'],
        rows.map((r) => [
          r.recordingId,
          r.stage ?? '',
          r.lastError?.at ?? '',
          r.outcome === 'skipped' || r.outcome === 'error' ? `${r.outcome}: ${r.detail}` : r.outcome,
          r.outcome === 'skipped' || r.outcome === 'error' ? '' : r.detail.slice(0, 80),
        ]),
      )}\n${
        o.dryRun
          ? `dry run: ${rows.filter((r) => r.outcome === 'would-replay').length} recording(s) would be replayed; nothing changed`
          : `replayed ${summary.replayed}, skipped ${summary.skipped}, errors ${summary.errors} (at most ${rate}/s)`
      }\n`,
    );
  }
  if (summary.errors > 0) process.exitCode = EXIT.error;
}
