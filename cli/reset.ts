/**
 * `custody reset`: Temporal's reset for a recording whose workflow failed outright or is stuck on a
 * non-determinism error after a deploy. The run is replayed by the current code up to a completed workflow
 * task of its history and continues from there as a new run; the old run stays in history. The operator is
 * the signed-in person (`GET /v1/me`); who reset it and why reaches the custody log as a note the custody API
 * signs (`POST /v1/recordings/{id}/admin-notes`, an Update of the new run), sent once the reset is done: it
 * waits for a worker to run the new run, and a run that completes before the note arrives cannot take it
 * (reported as an error).
 *
 * Reset is the last resort (docs/versioning.md): a parked stage is continued with `custody replay`, and a
 * workflow change is made safe with patched(), not repaired with reset afterwards.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { connectApi, type ApiClient } from './api-client';
import { recordingIdFromWorkflowId, workflowIdFor } from '../domain/ids';
import { CliError, EXIT, type CliContext } from './context';
import { createPacer, parseLimit, parseRate } from './replay-bulk';
import { formatFields, formatTable, printJson } from './output';

export const RESET_TARGETS = ['last-good', 'first'] as const;
export type ResetTarget = (typeof RESET_TARGETS)[number];

/** A history event in proto JSON form, as historyToJSON and `temporal workflow show -o json` write it. */
export interface JsonHistoryEvent {
  eventId: string | number;
  eventType: string;
  workflowTaskFailedEventAttributes?: { cause?: string };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  activityTaskCompletedEventAttributes?: { scheduledEventId?: string | number };
  markerRecordedEventAttributes?: {
    markerName?: string;
    details?: Record<string, { payloads?: { data?: string }[] }>;
    failure?: unknown;
  };
}

/**
 * The activity type of a completed local activity: its marker carries Temporal core's marker data (JSON with
 * `activity_type`) in details.data. Undefined for other markers and for failed local activities.
 */
export function completedLocalActivityType(event: JsonHistoryEvent): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (kindOf(event) !== 'markerrecorded' || marker?.markerName !== 'core_local_activity' || marker.failure)
    return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { activity_type?: unknown };
    return typeof parsed.activity_type === 'string' ? parsed.activity_type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A history as plain JSON — int64 as strings, enums by name, bytes in base64 — the form test/histories/ keeps.
 * (Not the SDK's historyToJSON: with two protobufjs copies in node_modules — grpc-js wants 7, Temporal 8 — it
 * throws "type must be a Type".)
 */
export function historyAsJson(history: temporal.api.history.v1.IHistory): {
  events: (JsonHistoryEvent & Record<string, unknown>)[];
} {
  return temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
  }) as { events: (JsonHistoryEvent & Record<string, unknown>)[] };
}

/** "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" and "WorkflowTaskCompleted" both become "workflowtaskcompleted". */
const kindOf = (event: JsonHistoryEvent) =>
  event.eventType
    .replace(/^EVENT_TYPE_/, '')
    .replace(/_/g, '')
    .toLowerCase();

/**
 * Workflow-task failures that are Temporal's own housekeeping, not a fault of the workflow code: the marker a
 * previous reset leaves, a task that raced a new event, a lost sticky worker.
 */
const ROUTINE_TASK_FAILURE_CAUSES = [
  'RESET_WORKFLOW',
  'UNHANDLED_COMMAND',
  'RESET_STICKY_TASK_QUEUE',
  'FAILOVER_CLOSE_COMMAND',
  'FORCE_CLOSE_COMMAND',
];

/**
 * The events that mean "this run went wrong": a workflow task the code failed (e.g. non-determinism after a
 * deploy), or the run failed, timed out or was terminated. (A workflow task that times out is not one: that
 * happens whenever a worker dies mid-task, and the task simply runs again elsewhere.)
 */
export function isFailureEvent(event: JsonHistoryEvent): boolean {
  const kind = kindOf(event);
  if (kind === 'workflowtaskfailed') {
    const cause = (event.workflowTaskFailedEventAttributes?.cause ?? '').replace(
      /^WORKFLOW_TASK_FAILED_CAUSE_/,
      '',
    );
    return !ROUTINE_TASK_FAILURE_CAUSES.includes(cause);
  }
  return ['workflowexecutionfailed', 'workflowexecutiontimedout', 'workflowexecutionterminated'].includes(
    kind,
  );
}

export type ResetPoint =
  | {
      ok: true;
      /** The WorkflowTaskCompleted event to reset to: the task that completed there runs again. */
      eventId: number;
      to: ResetTarget;
      failure?: { eventId: number; eventType: string };
      /** Custody-log appends the old run completed after the reset point, which the new run writes again. */
      custodyLogAppendsAfter: number;
    }
  | { ok: false; problem: string };

/**
 * Where to reset a run to, from its history: `last-good` = the last WorkflowTaskCompleted before the first
 * failure event; `first` = the first WorkflowTaskCompleted (the whole run again, from its input).
 */
export function chooseResetPoint(events: JsonHistoryEvent[], to: ResetTarget): ResetPoint {
  const id = (e: JsonHistoryEvent) => Number(e.eventId);
  const completedTasks = events.filter((e) => kindOf(e) === 'workflowtaskcompleted');
  let eventId: number | undefined;
  let failure: JsonHistoryEvent | undefined;
  if (to === 'first') {
    const first = completedTasks[0];
    if (!first)
      return {
        ok: false,
        problem:
          'no workflow task of this run ever completed: there is nothing to reset to. Deploy code whose ' +
          'first workflow task succeeds; Temporal retries a failing task by itself',
      };
    eventId = id(first);
  } else {
    failure = events.find(isFailureEvent);
    if (!failure)
      return {
        ok: false,
        problem:
          'this run has no failed workflow task and did not fail, time out or get terminated: there is no ' +
          'failure to reset before. A recording parked in needs-attention is continued with `custody ' +
          'replay`; `--to first` runs the whole workflow again',
      };
    const failedAt = id(failure);
    const before = completedTasks.filter((e) => id(e) < failedAt).at(-1);
    if (!before)
      return {
        ok: false,
        problem:
          `the first workflow task already failed (event ${failedAt}, ${failure.eventType}): there is no ` +
          'completed task to reset to. Deploy the fixed code; Temporal retries the failing task by itself',
      };
    eventId = id(before);
  }
  const completedActivities = new Set(
    events
      .filter((e) => kindOf(e) === 'activitytaskcompleted')
      .map((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId)),
  );
  // Activities that write custody-log entries: appends (task-queue activities, or local activities — markers —
  // in runs of the light-activities period) when they completed, and deleteAndCertify as soon as it was
  // scheduled, since it writes deletion.started before anything can fail.
  const appendTypes = new Set(['appendCustodyEntry', 'appendCustodyEntries']);
  const custodyLogAppendsAfter = events.filter((e) => {
    if (id(e) <= eventId) return false;
    if (completedLocalActivityType(e) === 'appendCustodyEntry') return true;
    if (kindOf(e) !== 'activitytaskscheduled') return false;
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
    return type === 'deleteAndCertify' || (appendTypes.has(type) && completedActivities.has(id(e)));
  }).length;
  return {
    ok: true,
    eventId,
    to,
    ...(failure && { failure: { eventId: id(failure), eventType: failure.eventType } }),
    custodyLogAppendsAfter,
  };
}

/** Same reset asked twice (a retried command, a lost response) → same request id → Temporal does it once. */
export function resetRequestId(parts: {
  workflowId: string;
  runId: string;
  eventId: number;
  by: string;
  reason: string;
}) {
  const hex = createHash('sha256')
    .update(JSON.stringify([parts.workflowId, parts.runId, parts.eventId, parts.by, parts.reason]))
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface ResetOptions {
  to?: string;
  reason?: string;
  query?: string;
  failedWorkflows?: boolean;
  limit?: string;
  rate?: string;
  dryRun?: boolean;
  json?: boolean;
}

export type ResetOutcome = 'would-reset' | 'reset' | 'nothing-to-reset' | 'skipped' | 'error';

export interface ResetRow {
  recordingId: string;
  workflowId: string;
  fromRunId: string;
  status: string;
  outcome: ResetOutcome;
  to: ResetTarget;
  eventId?: number;
  toRunId?: string;
  failure?: { eventId: number; eventType: string };
  detail: string;
}

function parseTarget(text: string | undefined): ResetTarget {
  const to = text ?? 'last-good';
  if (!(RESET_TARGETS as readonly string[]).includes(to))
    throw new CliError(`--to ${to} is not a reset point: one of ${RESET_TARGETS.join(', ')}`);
  return to as ResetTarget;
}

/** The query of a bulk reset: only recording workflows, whatever the user's query says. */
export function bulkResetQuery(o: Pick<ResetOptions, 'query' | 'failedWorkflows'>): string {
  if (!o.query && !o.failedWorkflows)
    throw new CliError(
      'say which workflows to reset: a recording id, --query "<visibility query>", or --failed-workflows',
    );
  return [
    `WorkflowType = 'recordingLifecycle'`,
    ...(o.failedWorkflows ? [`ExecutionStatus = 'Failed'`] : []),
    ...(o.query ? [`(${o.query})`] : []),
  ].join(' AND ');
}

/**
 * Resets one run (the current one when `runId` is absent). Only the current run of a workflow is reset: an older
 * run that visibility still lists as failed was already superseded (by a reset or a continue-as-new).
 */
async function resetRun(
  ctx: CliContext,
  client: Client,
  workflowId: string,
  runId: string | undefined,
  to: ResetTarget,
  o: ResetOptions,
  operator: Operator | undefined,
): Promise<ResetRow> {
  const current = await client.workflow.getHandle(workflowId).describe();
  const row: ResetRow = {
    recordingId: recordingIdFromWorkflowId(workflowId),
    workflowId,
    fromRunId: runId ?? current.runId,
    status: current.status.name,
    outcome: 'would-reset',
    to,
    detail: '',
  };
  if (runId && runId !== current.runId) {
    return {
      ...row,
      status: 'SUPERSEDED',
      outcome: 'skipped',
      detail: `run ${runId} was superseded by run ${current.runId} (${current.status.name.toLowerCase()})`,
    };
  }
  const handle = client.workflow.getHandle(workflowId, row.fromRunId);
  const history = await handle.fetchHistory();
  const events = historyAsJson(history).events;
  const point = chooseResetPoint(events, to);
  if (!point.ok)
    return { ...row, outcome: 'nothing-to-reset', detail: `nothing to reset to: ${point.problem}` };
  Object.assign(row, { eventId: point.eventId, ...(point.failure && { failure: point.failure }) });
  if (point.custodyLogAppendsAfter > 0) {
    // The audit store keeps entries immutable (If-None-Match, Object Lock): a new run that writes different
    // entries at seqs the old run already used stops with CustodyLogConflict. Refuse rather than break it.
    return {
      ...row,
      outcome: 'nothing-to-reset',
      detail:
        `nothing to reset to: resetting to event ${point.eventId} would make the new run write ` +
        `custody-log entries again that the old run already wrote (${point.custodyLogAppendsAfter} writes), and the ` +
        'audit store refuses a second, different entry at a taken position. Reset to a later point ' +
        '(--to last-good), or let the workflow continue with `custody replay`',
    };
  }
  if (o.dryRun) return { ...row, detail: `would reset to event ${point.eventId}` };

  const finishEvent = history.events?.find((e) => Number(e.eventId) === point.eventId);
  const by = operator!.subject;
  const response = await client.workflowService.resetWorkflowExecution({
    namespace: ctx.config.temporal.namespace,
    workflowExecution: { workflowId, runId: row.fromRunId },
    reason: `by ${by}: ${o.reason}`,
    workflowTaskFinishEventId: finishEvent!.eventId,
    requestId: resetRequestId({
      workflowId,
      runId: row.fromRunId,
      eventId: point.eventId,
      by,
      reason: o.reason!,
    }),
    identity: `custody-cli:${by}`,
  });
  const toRunId = response.runId;
  row.toRunId = toRunId;
  try {
    // The custody log records the reset through the API, signed as the operator (the new run verifies it).
    await operator!.api.sendJson('POST', `/v1/recordings/${row.recordingId}/admin-notes`, {
      action: 'reset',
      reason: o.reason!,
      details: { fromRunId: row.fromRunId, eventId: point.eventId, to, toRunId },
    });
  } catch (err) {
    return {
      ...row,
      outcome: 'error',
      detail:
        `reset to event ${point.eventId} done (new run ${toRunId}), but the note for the custody log was not ` +
        `recorded: ${(err as Error).message}`,
    };
  }
  return { ...row, outcome: 'reset', detail: `reset to event ${point.eventId}; new run ${toRunId}` };
}

/** The signed-in operator who resets (the API says who they are), or undefined for a dry run. */
async function requireOperator(ctx: CliContext, o: ResetOptions): Promise<Operator | undefined> {
  if (o.dryRun) return undefined;
  if (!o.reason?.trim())
    throw new CliError('a reset needs --reason (it is written to Temporal and to the custody log)');
  const api = connectApi(ctx.config);
  const me = await api.getJson<{ subject: string; permissions: string[] }>('/v1/me');
  if (!me.permissions.includes('recording.reset'))
    throw new CliError(`${me.subject} may not reset recordings: it needs the operator role`, EXIT.rejected);
  return { api, subject: me.subject };
}

interface Operator {
  api: ApiClient;
  subject: string;
}

/** `custody reset <id>` or `custody reset --query … | --failed-workflows`. */
export async function resetCommand(ctx: CliContext, id: string | undefined, o: ResetOptions) {
  const to = parseTarget(o.to);
  const operator = await requireOperator(ctx, o);
  if (id) {
    if (o.query || o.failedWorkflows || o.limit || o.rate)
      throw new CliError(
        '--query, --failed-workflows, --limit and --rate are for a bulk reset, without an id',
      );
    return resetOneCommand(ctx, id, to, o, operator);
  }
  return bulkResetCommand(ctx, to, o, operator);
}

async function resetOneCommand(
  ctx: CliContext,
  id: string,
  to: ResetTarget,
  o: ResetOptions,
  operator: Operator | undefined,
) {
  const client = await ctx.temporal();
  let row: ResetRow;
  try {
    row = await resetRun(ctx, client, workflowIdFor(id), undefined, to, o, operator);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`unknown recording id ${id}`, EXIT.unknown);
    throw err;
  }
  if (row.outcome === 'nothing-to-reset') throw new CliError(`${id}: ${row.detail}`, EXIT.rejected);
  if (o.json) printJson(row);
  else
    process.stdout.write(
      `${o.dryRun ? `dry run: ${id} would be reset (nothing changed)` : `${id} reset (${to})`}\n${formatFields(
        [
          ['fromRunId', row.fromRunId],
          ['status', row.status.toLowerCase()],
          ['failure', row.failure ? `event ${row.failure.eventId} ${row.failure.eventType}` : undefined],
          ['resetTo', `event ${row.eventId} (WorkflowTaskCompleted)`],
          ['toRunId', row.toRunId],
          ['detail', row.outcome === 'error' ? row.detail : undefined],
        ],
      )}\n`,
    );
  if (row.outcome === 'error') process.exitCode = EXIT.error;
}

async function bulkResetCommand(
  ctx: CliContext,
  to: ResetTarget,
  o: ResetOptions,
  operator: Operator | undefined,
) {
  const query = bulkResetQuery(o);
  const limit = parseLimit(o.limit);
  const pace = createPacer(parseRate(o.rate));
  const client = await ctx.temporal();
  const rows: ResetRow[] = [];
  const seen = new Set<string>();
  for await (const execution of client.workflow.list({ query })) {
    if (rows.length >= limit) break;
    if (seen.has(execution.workflowId)) continue; // several runs of one workflow: only its current one counts
    seen.add(execution.workflowId);
    if (!o.dryRun) await pace();
    try {
      rows.push(await resetRun(ctx, client, execution.workflowId, execution.runId, to, o, operator));
    } catch (err) {
      rows.push({
        recordingId: recordingIdFromWorkflowId(execution.workflowId),
        workflowId: execution.workflowId,
        fromRunId: execution.runId,
        status: execution.status.name,
        outcome: 'error',
        to,
        detail: (err as Error).message,
      });
    }
  }
  const count = (outcome: ResetOutcome) => rows.filter((r) => r.outcome === outcome).length;
  const summary = {
    reset: count('reset'),
    wouldReset: count('would-reset'),
    nothingToReset: count('nothing-to-reset'),
    skipped: count('skipped'),
    errors: count('error'),
  };
  if (o.json) printJson({ dryRun: Boolean(o.dryRun), query, to, ...summary, workflows: rows });
  else
    process.stdout.write(
      `${formatTable(
        ['RECORDING', 'RUN', 'STATUS', 'OUTCOME', 'EVENT', 'DETAIL'],
        rows.map((r) => [r.recordingId, r.fromRunId, r.status.toLowerCase(), r.outcome, r.eventId, r.detail]),
      )}\n${
        o.dryRun ? `dry run: ${summary.wouldReset} would be reset; nothing changed` : `reset ${summary.reset}`
      }, nothing to reset ${summary.nothingToReset}, skipped ${summary.skipped}, errors ${summary.errors}\n`,
    );
  if (summary.errors > 0) process.exitCode = EXIT.error;
}
