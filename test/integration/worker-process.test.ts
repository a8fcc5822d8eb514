/**
 * The worker entry point as operators run it: config errors stop it with a clear message, /healthz /readyz
 * /metrics answer (and promtool accepts the metrics), SIGTERM drains and exits 0.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { testConfig, connectTestClients } from '../harness/env';
import { syntheticClip } from '../fixtures/media';
import { inboxScheduleId, fixityScheduleId } from '../../workers/schedules';
import type { FixitySweepSummary } from '../../workflows/fixity-sweep';
import { builtEntryPoint, envFor, envForConfig, runNode, startNode } from '../harness/processes';
import { freeLoopbackPort } from '../../workers/ports';

const worker = builtEntryPoint('workers/main.js');

test.each([
  ['AWS_ENDPOINT_URL_S3', 'not a url'],
  ['CUSTODY_POOLS', 'bogus'],
])('%s=%j stops the worker with exit 78 and names the variable', async (name, value) => {
  const result = await runNode(worker, [], envFor({ [name]: value }), 30_000);
  expect(result.code).toBe(78);
  expect(result.stderr).toContain(`${name}=${JSON.stringify(value)} is invalid: expected`);
});

function configEnv(label: string, port: number) {
  return envForConfig(testConfig(label), {
    CUSTODY_HTTP_PORT: String(port),
    CUSTODY_SHUTDOWN_GRACE_SECONDS: '5',
  });
}

async function waitForOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url)
        .then((r) => r.ok)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not OK within ${timeoutMs} ms`);
}

test.each([['orchestration'], ['media-io']])(
  'a %s worker serves health, readiness and promtool-valid metrics, and drains on SIGTERM',
  async (pool) => {
    const port = await freeLoopbackPort();
    const child = startNode(worker, { ...configEnv(`proc-${pool}`, port), CUSTODY_POOLS: pool });
    try {
      await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('custody_worker_ready{pool="' + pool + '"} 1');
      expect(metrics).toMatch(/^temporal_/m); // the SDK's own metrics ride along
      // promtool exits non-zero on any lint or format problem.
      execFileSync('promtool', ['check', 'metrics'], { input: metrics });
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(child.output()).toContain('custody workers stopped');
  },
);

test('the inbox watcher Schedule picks up a docked file by itself, and the fixity Schedule re-hashes it', async () => {
  const port = await freeLoopbackPort();
  const config = testConfig('schedule');
  const clients = await connectTestClients(config);
  const child = startNode(
    worker,
    envForConfig(config, {
      CUSTODY_HTTP_PORT: String(port),
      CUSTODY_INBOX_INTERVAL_SECONDS: '1',
      CUSTODY_MANIFEST_GRACE_SECONDS: '30',
      CUSTODY_FIXITY_INTERVAL_SECONDS: '2',
      CUSTODY_FIXITY_FULL_CYCLE_DAYS: '1',
      CUSTODY_FIXITY_SAMPLE: '5',
    }),
  );
  try {
    await waitForOk(`http://127.0.0.1:${port}/readyz`, 60_000);
    const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
    await clients.s3.send(
      new PutObjectCommand({ Bucket: config.buckets.incoming, Key: 'dock-5/0001.mp4', Body: clip }),
    );
    await clients.s3.send(
      new PutObjectCommand({
        Bucket: config.buckets.incoming,
        Key: 'dock-5/0001.mp4.json',
        Body: JSON.stringify({ deviceId: 'cam-5', recordedAt: new Date().toISOString() }),
      }),
    );
    const query = `WorkflowType = 'recordingLifecycle' AND CustodyDeviceId = 'cam-5' AND TaskQueue = '${config.taskQueues.orchestration}'`;
    const deadline = Date.now() + 60_000;
    let found: string[] = [];
    while (found.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      found = [];
      for await (const execution of clients.client.workflow.list({ query })) found.push(execution.workflowId);
    }
    expect(found).toHaveLength(1);
    const schedule = await clients.client.schedule.getHandle(inboxScheduleId(config)).describe();
    expect(schedule.spec.intervals?.[0]?.every).toBe(1000);

    // Once retained, a scheduled fixity run (every 2 s here) re-hashes its original and derivatives.
    const fixityQuery = `WorkflowType = 'fixitySweep' AND TaskQueue = '${config.taskQueues.orchestration}' AND ExecutionStatus = 'Completed'`;
    let objectsChecked = 0;
    while (objectsChecked < 4 && Date.now() < deadline + 90_000) {
      await new Promise((r) => setTimeout(r, 1000));
      for await (const run of clients.client.workflow.list({ query: fixityQuery })) {
        const summary: FixitySweepSummary = await clients.client.workflow
          .getHandle<(input: unknown) => Promise<FixitySweepSummary>>(run.workflowId, run.runId)
          .result();
        objectsChecked = Math.max(objectsChecked, summary.objects);
      }
    }
    expect(objectsChecked).toBeGreaterThanOrEqual(4); // original, proxy, sprite, poster
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    for (const id of [inboxScheduleId(config), fixityScheduleId(config)]) {
      await clients.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    }
    await clients.close();
  }
});
