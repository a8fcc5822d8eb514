/**
 * The first vertical slice against the real Temporal dev server and versitygw: an object in the inbox becomes
 * a recording whose original is copied into the evidence store and hashed in one pass, on the media-io pool.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  PutObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  HeadObjectCommand,
} from '@aws-sdk/client-s3';
import { testConfig, connectTestClients, testWorkflowBundle } from '../harness/env';
import { startCustodyWorkers, type RunningWorkers } from '../../workers/run';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { startRecordingLifecycle } from '../../activities/start-lifecycle';
import { lifecycleTaskQueues } from '../../workers/pools';
import { statusQuery } from '../../workflows/messages';
import { custodyLogPrefix } from '../../activities/storage/keys';
import { verifyChain, type CustodyEntry } from '../../activities/custody-log/chain';
import type { RecordingStatus } from '../../activities/types';

const config = testConfig('slice');
let clients: Awaited<ReturnType<typeof connectTestClients>>;
let workers: RunningWorkers;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-slice-'));
  clients = await connectTestClients(config);
  workers = await startCustodyWorkers({
    config,
    s3: clients.s3,
    media: createMediaTools({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' }),
    workflowBundlePath: testWorkflowBundle(),
    inboxSchedule: false,
  });
});

afterAll(async () => {
  await workers?.shutdown();
  await clients?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function makeClip(name: string): string {
  const file = path.join(scratch, name);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15:duration=2',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-c:a', 'aac', '-shortest', '-y', file,
  ]);
  return file;
}

async function putInbox(key: string, file: string) {
  const body = readFileSync(file);
  const put = await clients.s3.send(new PutObjectCommand({ Bucket: config.buckets.incoming, Key: key, Body: body }));
  return { bucket: config.buckets.incoming, key, etag: put.ETag!, size: body.length };
}

test('an inbox object is copied into evidence with the SHA-256 computed independently', async () => {
  const file = makeClip('Einsatz_Größe_ß.mp4');
  const expectedSha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  const source = await putInbox('station-7/Einsatz_Größe_ß.mp4', file);

  const outcome = await startRecordingLifecycle(clients.client, {
    source,
    originalName: 'Einsatz_Größe_ß.mp4',
    declared: { deviceId: 'cam-0042', recordedAt: '2026-11-20T08:15:00Z' },
    via: 'inbox',
    actor: 'system',
    policy: 'bw-polg-44',
    taskQueues: lifecycleTaskQueues(config),
  });
  expect(outcome.started).toBe(true);
  const handle = clients.client.workflow.getHandle(outcome.workflowId);
  const result: RecordingStatus = await handle.result();

  expect(result.state).toBe('retained');
  expect(result.sha256).toBe(expectedSha256);
  expect(result.bytes).toBe(source.size);
  expect(result.media).toMatchObject({ videoCodec: 'h264', width: 320, height: 240, hasAudio: true });

  // The evidence object: keyed by recording id, hash in its tags, the original name kept in metadata.
  const evidence = result.original!;
  expect(evidence.key).toBe(`recordings/${outcome.recordingId}/original`);
  const stored = await clients.s3.send(
    new GetObjectCommand({ Bucket: evidence.bucket, Key: evidence.key, VersionId: evidence.versionId }),
  );
  const storedBytes = Buffer.from(await stored.Body!.transformToByteArray());
  expect(createHash('sha256').update(storedBytes).digest('hex')).toBe(expectedSha256);
  expect(decodeURIComponent(stored.Metadata?.['original-name'] ?? '')).toBe('Einsatz_Größe_ß.mp4');
  const tags = await clients.s3.send(
    new GetObjectTaggingCommand({ Bucket: evidence.bucket, Key: evidence.key, VersionId: evidence.versionId }),
  );
  expect(tags.TagSet).toContainEqual({ Key: 'sha256', Value: expectedSha256 });

  // The inbox no longer holds it.
  await expect(
    clients.s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key })),
  ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });

  // The custody log: a valid hash chain ending at the head the workflow reports, naming the hash.
  const listing = await clients.s3.send(
    new ListObjectsV2Command({ Bucket: config.buckets.audit, Prefix: custodyLogPrefix(outcome.recordingId) }),
  );
  const entries: CustodyEntry[] = [];
  for (const object of listing.Contents ?? []) {
    const body = await clients.s3.send(new GetObjectCommand({ Bucket: config.buckets.audit, Key: object.Key! }));
    entries.push(JSON.parse(await body.Body!.transformToString()) as CustodyEntry);
  }
  const verdict = verifyChain(entries);
  expect(verdict.ok).toBe(true);
  expect(entries.map((e) => e.action)).toEqual([
    'recording.received',
    'original.stored',
    'media.probed',
    'ingest.completed',
  ]);
  expect(entries[1]!.details).toMatchObject({ sha256: expectedSha256 });
  expect(result.custodyLogHead).toEqual({ seq: 3, hash: entries[3]!.hash });

  const status = await handle.query(statusQuery);
  expect(status.state).toBe('retained');
});

test('starting the same object twice processes it once', async () => {
  const file = makeClip('twice.mp4');
  const source = await putInbox('station-7/twice.mp4', file);
  const input = {
    source,
    originalName: 'twice.mp4',
    declared: {},
    via: 'inbox' as const,
    actor: 'system',
    policy: 'bw-polg-44',
    taskQueues: lifecycleTaskQueues(config),
  };
  const [first, second] = await Promise.all([
    startRecordingLifecycle(clients.client, input),
    startRecordingLifecycle(clients.client, input),
  ]);
  expect(first.recordingId).toBe(second.recordingId);
  expect([first.started, second.started].sort()).toEqual([false, true]);
  await clients.client.workflow.getHandle(first.workflowId).result();
  const third = await startRecordingLifecycle(clients.client, input);
  expect(third.started).toBe(false);
});
