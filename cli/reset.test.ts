import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  bulkResetQuery,
  chooseResetPoint,
  completedLocalActivityType,
  isFailureEvent,
  resetRequestId,
  type JsonHistoryEvent,
} from './reset';

/** A compact history: [eventId, type] pairs, with attributes where they matter. */
function history(...events: (readonly [number, string, Partial<JsonHistoryEvent>?])[]): JsonHistoryEvent[] {
  return events.map(([eventId, type, extra]) => ({
    eventId: String(eventId),
    eventType: `EVENT_TYPE_${type}`,
    ...extra,
  }));
}
const scheduled = (name: string) => ({ activityTaskScheduledEventAttributes: { activityType: { name } } });
const completed = (scheduledEventId: number) => ({
  activityTaskCompletedEventAttributes: { scheduledEventId: String(scheduledEventId) },
});

/** Started, one task, a custody-log append, a second task that schedules the certificate and the run fails. */
const failedRun = history(
  [1, 'WORKFLOW_EXECUTION_STARTED'],
  [2, 'WORKFLOW_TASK_SCHEDULED'],
  [3, 'WORKFLOW_TASK_STARTED'],
  [4, 'WORKFLOW_TASK_COMPLETED'],
  [5, 'ACTIVITY_TASK_SCHEDULED', scheduled('appendCustodyEntry')],
  [6, 'ACTIVITY_TASK_STARTED'],
  [7, 'ACTIVITY_TASK_COMPLETED', completed(5)],
  [8, 'WORKFLOW_TASK_SCHEDULED'],
  [9, 'WORKFLOW_TASK_STARTED'],
  [10, 'WORKFLOW_TASK_COMPLETED'],
  [11, 'WORKFLOW_EXECUTION_FAILED'],
);

test('last-good: the last completed workflow task before the run failed; it runs again after the reset', () => {
  expect(chooseResetPoint(failedRun, 'last-good')).toEqual({
    ok: true,
    eventId: 10,
    to: 'last-good',
    failure: { eventId: 11, eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED' },
    custodyLogAppendsAfter: 0,
  });
});

test('last-good before a non-determinism error: the first failed task counts, later completions do not', () => {
  const events = history(
    [1, 'WORKFLOW_EXECUTION_STARTED'],
    [2, 'WORKFLOW_TASK_SCHEDULED'],
    [3, 'WORKFLOW_TASK_STARTED'],
    [4, 'WORKFLOW_TASK_COMPLETED'],
    [5, 'TIMER_STARTED'],
    [6, 'TIMER_FIRED'],
    [7, 'WORKFLOW_TASK_SCHEDULED'],
    [8, 'WORKFLOW_TASK_STARTED'],
    [
      9,
      'WORKFLOW_TASK_FAILED',
      { workflowTaskFailedEventAttributes: { cause: 'WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR' } },
    ],
    [10, 'WORKFLOW_TASK_SCHEDULED'],
    [11, 'WORKFLOW_TASK_STARTED'],
    [12, 'WORKFLOW_TASK_COMPLETED'],
  );
  expect(chooseResetPoint(events, 'last-good')).toMatchObject({
    ok: true,
    eventId: 4,
    failure: { eventId: 9 },
  });
});

test('routine task failures (a previous reset, a lost sticky worker) are not failures; the CLI format works too', () => {
  expect(
    isFailureEvent({
      eventId: 9,
      eventType: 'WorkflowTaskFailed',
      workflowTaskFailedEventAttributes: { cause: 'WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW' },
    }),
  ).toBe(false);
  expect(isFailureEvent({ eventId: 9, eventType: 'WorkflowTaskFailed' })).toBe(true);
  expect(isFailureEvent({ eventId: 9, eventType: 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT' })).toBe(false);
  expect(isFailureEvent({ eventId: 9, eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT' })).toBe(true);
  expect(isFailureEvent({ eventId: 9, eventType: 'WorkflowExecutionTerminated' })).toBe(true);
});

test('first: the first completed task; the appends after it would be written again, and say so', () => {
  expect(chooseResetPoint(failedRun, 'first')).toEqual({
    ok: true,
    eventId: 4,
    to: 'first',
    custodyLogAppendsAfter: 1,
  });
});

test('nothing to reset to: no failure, or the very first task failed', () => {
  const running = failedRun.slice(0, 7);
  const noFailure = chooseResetPoint(running, 'last-good');
  expect(noFailure).toEqual({
    ok: false,
    problem: expect.stringMatching(/no failed workflow task .* `custody replay`/) as string,
  });
  const firstTaskFailed = history(
    [1, 'WORKFLOW_EXECUTION_STARTED'],
    [2, 'WORKFLOW_TASK_SCHEDULED'],
    [3, 'WORKFLOW_TASK_STARTED'],
    [4, 'WORKFLOW_TASK_FAILED'],
  );
  expect(chooseResetPoint(firstTaskFailed, 'last-good')).toEqual({
    ok: false,
    problem: expect.stringMatching(/first workflow task already failed \(event 4/) as string,
  });
  expect(chooseResetPoint(firstTaskFailed, 'first')).toEqual({
    ok: false,
    problem: expect.stringMatching(/no workflow task of this run ever completed/) as string,
  });
});

test('the request id is stable for the same reset and differs for another', () => {
  const parts = { workflowId: 'rec-a', runId: 'r1', eventId: 10, by: 'admin-1', reason: 'fix' };
  expect(resetRequestId(parts)).toBe(resetRequestId({ ...parts }));
  expect(resetRequestId(parts)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(resetRequestId({ ...parts, eventId: 4 })).not.toBe(resetRequestId(parts));
});

test('bulk reset only ever touches recording workflows', () => {
  expect(bulkResetQuery({ failedWorkflows: true })).toBe(
    "WorkflowType = 'recordingLifecycle' AND ExecutionStatus = 'Failed'",
  );
  expect(bulkResetQuery({ query: "CustodyDeviceId = 'cam-1' OR CustodyDeviceId = 'cam-2'" })).toBe(
    "WorkflowType = 'recordingLifecycle' AND (CustodyDeviceId = 'cam-1' OR CustodyDeviceId = 'cam-2')",
  );
  expect(() => bulkResetQuery({})).toThrow(/--query .* or --failed-workflows/);
});

test('on a captured lifecycle history (test/histories): no failure to reset before; --to first would rewrite the log', () => {
  const file = path.join(__dirname, '..', 'test', 'histories', 'happy-path.json');
  const { events } = JSON.parse(readFileSync(file, 'utf8')) as { events: JsonHistoryEvent[] };
  expect(chooseResetPoint(events, 'last-good')).toMatchObject({ ok: false });
  const first = chooseResetPoint(events, 'first');
  expect(first).toMatchObject({ ok: true, eventId: 4 });
  // Every custody-log write of the run came after the first task: the ingest run of entries (received …
  // deadline.set), derivatives.stored, and deleteAndCertify (deletion.started … certificate.written).
  expect(first.ok && first.custodyLogAppendsAfter).toBe(3);
  // Runs from before the fused steps wrote one entry per activity.
  const older = path.join(__dirname, '..', 'test', 'histories', 'happy-path@before-fused-steps.json');
  const before = chooseResetPoint(
    (JSON.parse(readFileSync(older, 'utf8')) as { events: JsonHistoryEvent[] }).events,
    'first',
  );
  expect(before.ok && before.custodyLogAppendsAfter).toBeGreaterThanOrEqual(8);
});

test('custody-log appends as local activities (markers) count too; failed ones and other markers do not', () => {
  const marker = (activityType: string, failed = false): Partial<JsonHistoryEvent> => ({
    markerRecordedEventAttributes: {
      markerName: 'core_local_activity',
      details: {
        data: {
          payloads: [
            { data: Buffer.from(JSON.stringify({ seq: 1, activity_type: activityType })).toString('base64') },
          ],
        },
      },
      ...(failed && { failure: { message: 'boom' } }),
    },
  });
  const events = history(
    [1, 'WORKFLOW_EXECUTION_STARTED'],
    [2, 'WORKFLOW_TASK_SCHEDULED'],
    [3, 'WORKFLOW_TASK_STARTED'],
    [4, 'WORKFLOW_TASK_COMPLETED'],
    [5, 'MARKER_RECORDED', marker('appendCustodyEntry')],
    [6, 'MARKER_RECORDED', marker('resolveRulePack')],
    [7, 'MARKER_RECORDED', marker('appendCustodyEntry', true)],
    [8, 'MARKER_RECORDED', { markerRecordedEventAttributes: { markerName: 'core_patch' } }],
    [9, 'WORKFLOW_EXECUTION_FAILED'],
  );
  expect(completedLocalActivityType(events[4]!)).toBe('appendCustodyEntry');
  expect(completedLocalActivityType(events[6]!)).toBeUndefined();
  expect(chooseResetPoint(events, 'last-good')).toMatchObject({
    ok: true,
    eventId: 4,
    custodyLogAppendsAfter: 1,
  });
});
