/**
 * The gauges counted from Temporal visibility, against the real server: a lifecycle that was terminated (or failed)
 * before its recording was deleted leaves the overdue gauge's watch — the abandoned gauge counts it instead, so its
 * alert fires. The workflows here run on a task queue no worker polls: only their visibility records matter.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { testConfig, connectTestClients } from '../harness/env';
import { abandonedQuery, overdueQuery, startVisibilityGauges } from '../../workers/visibility-gauges';
import { createMetrics } from '../../workers/metrics';
import { DeleteAfterAttr, HeldAttr, RecordingIdAttr, StateAttr } from '../../domain/search-attributes';
import { workflowIdFor } from '../../domain/ids';

let clients: Awaited<ReturnType<typeof connectTestClients>>;
let client: Client;
const config = testConfig('gauges');

beforeAll(async () => {
  clients = await connectTestClients(config);
  client = clients.client;
});
afterAll(() => clients?.close());

/** A lifecycle's visibility record: overdue (deadline an hour ago, not held), in state retained. */
async function startOverdueLifecycle(): Promise<string> {
  const recordingId = randomBytes(10).toString('hex');
  await client.workflow.start('recordingLifecycle', {
    taskQueue: `${config.taskQueues.orchestration}-nobody-polls`,
    workflowId: workflowIdFor(recordingId),
    args: [{}],
    typedSearchAttributes: [
      { key: RecordingIdAttr, value: recordingId },
      { key: StateAttr, value: 'retained' },
      { key: HeldAttr, value: false },
      { key: DeleteAfterAttr, value: new Date(Date.now() - 3_600_000) },
    ],
  });
  return recordingId;
}

async function countOf(query: string, recordingId: string): Promise<number> {
  return (await client.workflow.count(`${query} AND CustodyRecordingId = '${recordingId}'`)).count;
}

/** Visibility is eventually consistent: wait (bounded) until the count is what we expect. */
async function eventually(count: () => Promise<number>, expected: number): Promise<number> {
  const until = Date.now() + 15_000;
  let seen = await count();
  while (seen !== expected && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    seen = await count();
  }
  return seen;
}

test('a terminated lifecycle leaves the overdue count and is counted as abandoned', async () => {
  const recordingId = await startOverdueLifecycle();
  expect(await eventually(() => countOf(overdueQuery(new Date()), recordingId), 1)).toBe(1);
  expect(await countOf(abandonedQuery(), recordingId)).toBe(0);

  await client.workflow.getHandle(workflowIdFor(recordingId)).terminate('test: taken out of every list');
  expect(await eventually(() => countOf(abandonedQuery(), recordingId), 1)).toBe(1);
  expect(await countOf(overdueQuery(new Date()), recordingId)).toBe(0);
}, 60_000);

test('the gauge is exported at 0 from the start and set from visibility', async () => {
  const metrics = createMetrics();
  expect(await metrics.registry.getSingleMetricAsString('custody_abandoned_recordings')).toMatch(
    /^custody_abandoned_recordings 0$/m,
  );
  const recordingId = await startOverdueLifecycle();
  await client.workflow.getHandle(workflowIdFor(recordingId)).terminate('test');
  await eventually(() => countOf(abandonedQuery(), recordingId), 1);
  const gauges = startVisibilityGauges(() => Promise.resolve(client), metrics, 3_600_000);
  try {
    await gauges.refresh();
    const value = (await metrics.registry.getSingleMetric('custody_abandoned_recordings')!.get()).values[0]
      ?.value;
    // Other test files may have failed or terminated lifecycles of their own: at least this one is counted.
    expect(value).toBeGreaterThanOrEqual(1);
  } finally {
    gauges.stop();
  }
}, 60_000);
