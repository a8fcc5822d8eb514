/**
 * One test file's slice of the real stack: its own buckets and task queues on the shared servers, in-process
 * workers for the pools it needs, and small helpers to put files into the inbox and start lifecycles.
 */
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { testConfig, connectTestClients, testWorkflowBundle } from './env';
import { startCustodyWorkers, type RunningWorkers } from '../../workers/run';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { startRecordingLifecycle } from '../../activities/start-lifecycle';
import { lifecycleTaskQueues } from '../../workers/pools';
import type { CustodyConfig } from '../../workers/config';
import type { LifecycleInput, RecordingStatus } from '../../domain/types';
import { statusQuery } from '../../workflows/messages';
import { workflowIdFor } from '../../domain/ids';

export interface TestStack {
  config: CustodyConfig;
  clients: Awaited<ReturnType<typeof connectTestClients>>;
  workers?: RunningWorkers;
  putInbox(key: string, body: Buffer | string): Promise<LifecycleInput['source']>;
  putInboxFile(key: string, file: string): Promise<LifecycleInput['source']>;
  start(
    source: LifecycleInput['source'],
    extra?: Partial<Omit<LifecycleInput, 'recordingId' | 'source' | 'taskQueues'>>,
  ): ReturnType<typeof startRecordingLifecycle>;
  startWorkers(): Promise<RunningWorkers>;
  /** Polls the status query until the recording is in `state` (or one of them). */
  waitForState(
    recordingId: string,
    state: RecordingStatus['state'] | RecordingStatus['state'][],
    timeoutMs?: number,
  ): Promise<RecordingStatus>;
  stop(): Promise<void>;
}

export async function createTestStack(
  label: string,
  options: { overrides?: Record<string, string>; workers?: boolean; config?: CustodyConfig } = {},
): Promise<TestStack> {
  const config = options.config ?? testConfig(label, options.overrides);
  const clients = await connectTestClients(config);
  const stack: TestStack = {
    config,
    clients,
    async putInbox(key, body) {
      const put = await clients.s3.send(
        new PutObjectCommand({ Bucket: config.buckets.incoming, Key: key, Body: body }),
      );
      return { bucket: config.buckets.incoming, key, etag: put.ETag!, size: Buffer.byteLength(body) };
    },
    putInboxFile(key, file) {
      return stack.putInbox(key, readFileSync(file));
    },
    start(source, extra = {}) {
      return startRecordingLifecycle(clients.client, {
        source,
        originalName: source.key.split('/').pop()!,
        declared: {},
        via: 'inbox',
        actor: 'system',
        policy: config.policy.defaultPack,
        ...extra,
        taskQueues: lifecycleTaskQueues(config),
      });
    },
    async startWorkers() {
      stack.workers = await startCustodyWorkers({
        config,
        s3: clients.s3,
        media: createMediaTools({
          ffmpegPath: config.media.ffmpegPath,
          ffprobePath: config.media.ffprobePath,
        }),
        workflowBundlePath: testWorkflowBundle(),
        schedules: false,
      });
      return stack.workers;
    },
    async waitForState(recordingId, state, timeoutMs = 90_000) {
      const wanted = Array.isArray(state) ? state : [state];
      const handle = clients.client.workflow.getHandle(workflowIdFor(recordingId));
      const deadline = Date.now() + timeoutMs;
      let status: RecordingStatus | undefined;
      while (Date.now() < deadline) {
        status = await handle.query(statusQuery).catch(() => status);
        if (status && wanted.includes(status.state)) return status;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(
        `recording ${recordingId} did not reach ${wanted.join('/')}; last status ${JSON.stringify(status)}`,
      );
    },
    async stop() {
      await stack.workers?.shutdown();
      await clients.close();
    },
  };
  if (options.workers !== false) await stack.startWorkers();
  return stack;
}
