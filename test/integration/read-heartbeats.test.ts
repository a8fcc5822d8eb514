/**
 * Long reads heartbeat while the bytes flow: fixity's re-hash of one object and the transcode's download of the
 * original run as real Temporal activities with a 2 s heartbeat timeout, reading a real versitygw object through
 * a proxy that slows the store's answers so that each read takes several heartbeat timeouts. Without heartbeats
 * during the read the same activity times out (the control case), so the test can fail.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError, ActivityFailure, TimeoutFailure } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { testConfig, connectTestClients } from '../harness/env';
import { custodyDataConverter } from '../../workers/temporal-connection';
import { REPO_ROOT } from '../harness/servers';
import { FFMPEG, FFPROBE, requireFfmpeg, syntheticClip } from '../fixtures/media';
import { temporalActivityContext, type ActivityContextPort } from '../../activities/context';
import { makeCheckRecordingFixity, type FixityCheckResult } from '../../activities/check-recording-fixity';
import { makeTranscodeRecording } from '../../activities/transcode-recording';
import { writeCustodyEntries } from '../../activities/append-custody-entry';
import { createMediaTools, DEFAULT_TRANSCODE_PROFILE } from '../../activities/media/ffmpeg';
import { createS3Client } from '../../activities/storage/s3';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import { GENESIS_HASH } from '../../domain/custody-log';
import type { DerivativeSet } from '../../domain/types';
import type { RunOnceInput, runOnceWithHeartbeatTimeout } from './read-heartbeats.workflow';

const MiB = 1024 * 1024;
const HEARTBEAT_TIMEOUT_MS = 2000;
const config = testConfig('read-heartbeats');
const taskQueue = `${config.taskQueues.orchestration}-heartbeats`;
let clients: Awaited<ReturnType<typeof connectTestClients>>;
let proxy: Awaited<ReturnType<typeof startSlowProxy>>;
let slowS3: S3Client;
let scratch: string;
let workflowBundle: string;

/** Passes the store's answers on at `bytesPerSecond`, in 16 KiB pieces (requests go through unslowed). */
class Throttle extends Transform {
  constructor(private readonly bytesPerSecond: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const piece = 16 * 1024;
    void (async () => {
      for (let offset = 0; offset < chunk.length; offset += piece) {
        const part = chunk.subarray(offset, offset + piece);
        this.push(part);
        await sleep((part.length / this.bytesPerSecond) * 1000);
      }
    })().then(() => done(), done);
  }
}

/** A TCP proxy in front of versitygw: signatures stay valid (the Host header is the proxy's, as signed). */
async function startSlowProxy(target: URL, bytesPerSecond: number) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    // The store's answer ends the client's side only once the throttle has passed on every byte.
    upstream.pipe(new Throttle(bytesPerSecond)).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** webpack cannot run inside jest's module sandbox (test/harness/test-bundles.ts): bundle in a child process. */
function bundleWorkflow(outFile: string): string {
  const script = `
    const { bundleWorkflowCode } = require('@temporalio/worker');
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
    bundleWorkflowCode({ workflowsPath: process.argv[1], logger: quiet })
      .then((bundle) => require('node:fs').writeFileSync(process.argv[2], bundle.code))
      .catch((err) => { console.error(err); process.exit(1); });`;
  const workflowFile = path.join(__dirname, 'read-heartbeats.workflow.ts');
  execFileSync(process.execPath, ['-e', script, workflowFile, outFile], { cwd: REPO_ROOT, stdio: 'inherit' });
  return outFile;
}

interface Beat {
  at: number;
  details: unknown;
}

/** Temporal's activity context, with every heartbeat also noted for the test (or, `silent`, none sent). */
function notingContext(beats: Beat[], silent = false): ActivityContextPort {
  const context: ActivityContextPort = Object.create(temporalActivityContext) as ActivityContextPort;
  return Object.assign(context, {
    heartbeat: (details?: unknown) => {
      if (silent) return;
      beats.push({ at: Date.now(), details });
      temporalActivityContext.heartbeat(details);
    },
  });
}

beforeAll(async () => {
  requireFfmpeg();
  clients = await connectTestClients(config);
  proxy = await startSlowProxy(new URL(config.s3.endpoint), MiB);
  slowS3 = createS3Client({ ...config.s3, endpoint: proxy.endpoint });
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-read-heartbeats-'));
  workflowBundle = bundleWorkflow(path.join(scratch, 'workflow-bundle.js'));
});
afterAll(async () => {
  slowS3?.destroy();
  await proxy?.close();
  await clients?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function putOriginal(recordingId: string, body: Buffer) {
  const key = evidenceOriginalKey(recordingId);
  const put = await clients.s3.send(
    new PutObjectCommand({ Bucket: config.buckets.evidence, Key: key, Body: body }),
  );
  return {
    bucket: config.buckets.evidence,
    key,
    versionId: put.VersionId!,
    sha256: createHash('sha256').update(body).digest('hex'),
    bytes: body.length,
  };
}

/** Runs `activities` on a worker of the test's own and `activity` once through the real server. */
async function runOnce(
  activities: Record<string, (...args: never[]) => Promise<unknown>>,
  input: RunOnceInput,
): Promise<unknown> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: custodyDataConverter(config),
      taskQueue,
      workflowBundle: { codePath: workflowBundle },
      activities,
    });
    return await worker.runUntil(
      clients.client.workflow.execute<typeof runOnceWithHeartbeatTimeout>('runOnceWithHeartbeatTimeout', {
        taskQueue,
        workflowId: `read-heartbeats-${input.activity}-${randomBytes(4).toString('hex')}`,
        args: [input],
      }),
    );
  } finally {
    await connection.close();
  }
}

test('fixity heartbeats while it hashes one slow object; without those heartbeats it times out', async () => {
  const recordingId = randomBytes(10).toString('hex');
  const original = await putOriginal(recordingId, randomBytes(6 * MiB)); // 6 s through the 1 MiB/s proxy
  const now = new Date().toISOString();
  await writeCustodyEntries(
    { s3: clients.s3, auditBucket: config.buckets.audit, auditRetention: 'PT1H' },
    {
      recordingId,
      seq: 0,
      prevHash: GENESIS_HASH,
      entries: [
        { time: now, actor: 'test', action: 'recording.received', details: {} },
        { time: now, actor: 'system', action: 'original.stored', details: { ...original } },
      ],
    },
  );
  const beats: Beat[] = [];
  const fixityWith = (context: ActivityContextPort) =>
    makeCheckRecordingFixity({ s3: slowS3, buckets: config.buckets, context, alert: () => undefined });
  const activities = {
    checkRecordingFixity: fixityWith(notingContext(beats)),
    checkRecordingFixityWithoutHeartbeats: fixityWith(notingContext([], true)),
  };

  const started = Date.now();
  const result = (await runOnce(activities, {
    activity: 'checkRecordingFixity',
    args: [{ recordingId }],
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  })) as FixityCheckResult;
  const elapsed = Date.now() - started;
  expect(result).toMatchObject({ objects: 1, bytes: 6 * MiB, mismatches: [], logProblems: [] });
  expect(elapsed).toBeGreaterThan(2 * HEARTBEAT_TIMEOUT_MS);
  // Heartbeats with the bytes hashed so far, while the read was under way, never a timeout apart.
  const during = beats.filter((b) => {
    const bytes = (b.details as { bytes: number }).bytes;
    return bytes > 0 && bytes < 6 * MiB;
  });
  expect(during.length).toBeGreaterThanOrEqual(4);
  const gaps = beats.slice(1).map((b, i) => b.at - beats[i]!.at);
  expect(Math.max(...gaps)).toBeLessThan(HEARTBEAT_TIMEOUT_MS);

  const failure = await runOnce(activities, {
    activity: 'checkRecordingFixityWithoutHeartbeats',
    args: [{ recordingId }],
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const activityFailure = (failure as WorkflowFailedError).cause;
  expect(activityFailure).toBeInstanceOf(ActivityFailure);
  expect(activityFailure?.cause).toBeInstanceOf(TimeoutFailure);
  expect((activityFailure?.cause as TimeoutFailure).timeoutType).toBe('HEARTBEAT');
});

test('the transcode heartbeats while it downloads a slow original, then transcodes it', async () => {
  const tools = createMediaTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
  const clipFile = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const clip = readFileSync(clipFile);
  // The original must stay decodable: a small clip, through a slower proxy of its own (about 5 s).
  const slowerProxy = await startSlowProxy(new URL(config.s3.endpoint), clip.length / 5);
  const slowerS3 = createS3Client({ ...config.s3, endpoint: slowerProxy.endpoint });
  try {
    const recordingId = randomBytes(10).toString('hex');
    const original = await putOriginal(recordingId, clip);
    const beats: Beat[] = [];
    let ffmpegStartedAt = 0;
    const transcodeRecording = makeTranscodeRecording({
      s3: slowerS3,
      media: {
        ...tools,
        transcode: (...args) => {
          ffmpegStartedAt = Date.now();
          return tools.transcode(...args);
        },
      },
      derivativesBucket: config.buckets.derivatives,
      tmpDir: scratch,
      profile: DEFAULT_TRANSCODE_PROFILE,
      context: notingContext(beats),
    });
    const set = (await runOnce(
      { transcodeRecording },
      {
        activity: 'transcodeRecording',
        args: [{ recordingId, original, media: await tools.probe(clipFile) }],
        heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      },
    )) as DerivativeSet;
    expect(set.derivatives.map((d) => d.kind).sort()).toEqual(['poster', 'proxy', 'sprite']);
    const downloading = beats.filter((b) => (b.details as { phase?: string }).phase === 'download');
    expect(downloading.length).toBeGreaterThanOrEqual(4);
    expect(downloading.every((b) => b.at <= ffmpegStartedAt)).toBe(true);
    const received = downloading.map((b) => (b.details as { bytes: number }).bytes);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(received.at(-1)).toBeLessThanOrEqual(clip.length);
    // The download alone outlasted the heartbeat timeout.
    expect(ffmpegStartedAt - downloading[0]!.at).toBeGreaterThan(HEARTBEAT_TIMEOUT_MS);
  } finally {
    slowerS3.destroy();
    await slowerProxy.close();
  }
});
