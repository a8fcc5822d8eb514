/**
 * Ingest against the real Temporal dev server, versitygw and ffprobe: an inbox object becomes a recording whose
 * original is copied into the evidence store and hashed in one pass; bad input is quarantined with its reason.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../harness/stack';
import { syntheticClip, cameraFixtures } from '../fixtures/media';
import { statusQuery } from '../../workflows/messages';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import { makeSweepInbox } from '../../activities/sweep-inbox';
import { standaloneContext } from '../../activities/context';
import { lifecycleTaskQueues } from '../../workers/pools';
import { createActivities } from '../../activities';
import { createMediaTools } from '../../activities/media/ffmpeg';

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack('ingest');
});
afterAll(() => stack?.stop());

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const DAY_MS = 86_400_000;

async function bodyOf(bucket: string, key: string): Promise<Buffer> {
  const object = await stack.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

test('an inbox object is copied into evidence with the SHA-256 computed independently', async () => {
  const file = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const expectedSha256 = sha256(readFileSync(file));
  const source = await stack.putInboxFile('station-7/Einsatz_Größe_ß.mp4', file);

  // Recorded two days ago (whole seconds, from the clock): its P28D deadline is then always weeks ahead.
  const recordedAt = Math.floor(Date.now() / 1000) * 1000 - 2 * DAY_MS;
  const outcome = await stack.start(source, {
    originalName: 'Einsatz_Größe_ß.mp4',
    declared: { deviceId: 'cam-0042', recordedAt: new Date(recordedAt).toISOString() },
  });
  expect(outcome.started).toBe(true);
  const result = await stack.waitForState(outcome.recordingId, 'retained');

  expect(result.state).toBe('retained');
  expect(result.sha256).toBe(expectedSha256);
  expect(result.bytes).toBe(source.size);
  expect(result.media).toMatchObject({ videoCodec: 'h264', width: 320, height: 240, hasAudio: true });
  expect(result.deviceId).toBe('cam-0042');

  // The evidence object: keyed by recording id, the hash tagged on its version, the original name in metadata.
  const evidence = result.original!;
  expect(evidence.key).toBe(`recordings/${outcome.recordingId}/original`);
  const stored = await stack.clients.s3.send(
    new GetObjectCommand({ Bucket: evidence.bucket, Key: evidence.key, VersionId: evidence.versionId }),
  );
  expect(sha256(Buffer.from(await stored.Body!.transformToByteArray()))).toBe(expectedSha256);
  expect(decodeURIComponent(stored.Metadata?.['original-name'] ?? '')).toBe('Einsatz_Größe_ß.mp4');
  const tags = await stack.clients.s3.send(
    new GetObjectTaggingCommand({
      Bucket: evidence.bucket,
      Key: evidence.key,
      VersionId: evidence.versionId,
    }),
  );
  expect(tags.TagSet).toContainEqual({ Key: 'sha256', Value: expectedSha256 });

  // The inbox no longer holds it.
  await expect(
    stack.clients.s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key })),
  ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });

  // The custody log: a valid hash chain ending at the head the workflow reports, naming the hash.
  const entries = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, outcome.recordingId);
  expect(verifyChain(entries).ok).toBe(true);
  // The deadline is set at receipt, before any byte moves.
  expect(entries.slice(0, 5).map((e) => e.action)).toEqual([
    'recording.received',
    'deadline.set',
    'original.stored',
    'media.probed',
    'ingest.completed',
  ]);
  expect(entries[2]!.details).toMatchObject({ sha256: expectedSha256 });
  expect(entries[0]!.details).toMatchObject({ originalName: 'Einsatz_Größe_ß.mp4' });
  expect(entries.slice(5).map((e) => e.action)).toEqual(['derivatives.stored']);
  expect(result.custodyLogHead).toEqual({ seq: 5, hash: entries[5]!.hash });
  expect(result.retention).toMatchObject({
    pack: { id: 'bw-polg-44', citation: '§ 44 PolG BW', retention: 'P28D' },
    deleteAfter: new Date(recordedAt + 28 * DAY_MS).toISOString(),
    deadline: { basis: 'recordedAt' },
  });
  expect(result.reviewReady).toBe(true);
  expect(result.derivatives?.derivatives.map((d) => d.kind).sort()).toEqual(['poster', 'proxy', 'sprite']);
  expect(result.derivatives?.inputSha256).toBe(expectedSha256);
});

test('starting the same object twice processes it once', async () => {
  const file = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const source = await stack.putInboxFile('station-7/twice.mp4', file);
  const [first, second] = await Promise.all([stack.start(source), stack.start(source)]);
  expect(first.recordingId).toBe(second.recordingId);
  expect([first.started, second.started].sort()).toEqual([false, true]);
  await stack.waitForState(first.recordingId, 'retained');
  expect((await stack.start(source)).started).toBe(false);
});

describe('bad input is quarantined with its own reason, bytes intact', () => {
  async function expectQuarantined(
    source: Awaited<ReturnType<TestStack['putInbox']>>,
    bytes: Buffer,
    reason: string,
    extra: Parameters<TestStack['start']>[1] = {},
  ) {
    const outcome = await stack.start(source, extra);
    const status = await stack.waitForState(outcome.recordingId, 'quarantined');
    expect(status.quarantine?.reason).toBe(reason);
    expect(status.quarantine?.message.length).toBeGreaterThan(10);
    const kept = await bodyOf(stack.config.buckets.quarantine, status.quarantine!.object.key);
    expect(kept.equals(bytes)).toBe(true);
    const record = JSON.parse(
      (await bodyOf(stack.config.buckets.quarantine, status.quarantine!.reasonKey)).toString(),
    ) as {
      reason: string;
    };
    expect(record.reason).toBe(reason);
    // Gone from the inbox, and no evidence copy left behind.
    await expect(
      stack.clients.s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const versions = await stack.clients.s3.send(
      new ListObjectVersionsCommand({
        Bucket: stack.config.buckets.evidence,
        Prefix: `recordings/${outcome.recordingId}/`,
      }),
    );
    expect(versions.Versions ?? []).toHaveLength(0);
    const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, outcome.recordingId);
    expect(log.at(-1)).toMatchObject({ action: 'recording.quarantined', details: { reason } });
    return status;
  }

  test('a manifest hash that does not match the bytes', async () => {
    const file = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
    const bytes = readFileSync(file);
    const source = await stack.putInbox('station-7/mismatch.mp4', bytes);
    const status = await expectQuarantined(source, bytes, 'hash-mismatch', {
      declared: { deviceId: 'cam-1', sha256: 'ab'.repeat(32) },
    });
    expect(status.quarantine!.message).toContain(sha256(bytes));
    expect(status.quarantine!.message).toContain('ab'.repeat(32));
  });

  test('a zero-byte file', async () => {
    const source = await stack.putInbox('station-7/empty.mp4', Buffer.alloc(0));
    await expectQuarantined(source, Buffer.alloc(0), 'empty-file');
  });

  test('random bytes named .mp4', async () => {
    const bytes = readFileSync((await cameraFixtures()).randomBytesAsMp4);
    const source = await stack.putInbox('station-7/random.mp4', bytes);
    await expectQuarantined(source, bytes, 'not-media');
  });

  test('a malformed manifest', async () => {
    const file = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
    const bytes = readFileSync(file);
    const source = await stack.putInbox('station-7/bad-manifest.mp4', bytes);
    const status = await expectQuarantined(source, bytes, 'manifest-malformed', {
      manifestProblem: 'station-7/bad-manifest.mp4.json is not valid JSON',
    });
    expect(status.quarantine!.message).toContain('not valid JSON');
  });
});

describe('the inbox sweep', () => {
  const sweepFor = () =>
    makeSweepInbox({
      s3: stack.clients.s3,
      temporal: () => Promise.resolve(stack.clients.client),
      context: standaloneContext(),
    });
  const sweepInput = (grace: number) => ({
    bucket: stack.config.buckets.incoming,
    manifestGraceSeconds: grace,
    policy: 'bw-polg-44',
    taskQueues: lifecycleTaskQueues(stack.config),
  });

  test('two overlapping sweeps start each file exactly once, manifests applied, malformed ones quarantined', async () => {
    const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
    const dock = 'dock-11/';
    // Yesterday, written as local time at +01:00 (from the clock, so the P28D deadline stays ahead).
    const recordedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY_MS);
    const recordedAtWithOffset = new Date(recordedAt.getTime() + 3_600_000)
      .toISOString()
      .replace('.000Z', '+01:00');
    await stack.putInbox(`${dock}a.mp4`, clip);
    await stack.putInbox(
      `${dock}a.mp4.json`,
      JSON.stringify({
        deviceId: 'cam-a',
        officerId: 'o-17',
        recordedAt: recordedAtWithOffset,
        sha256: sha256(clip),
      }),
    );
    await stack.putInbox(`${dock}b.mp4`, Buffer.concat([clip, Buffer.from('x')]));
    await stack.putInbox(`${dock}b.mp4.json`, '{"deviceId": "cam-b", "recordedAt": "yesterday"}');
    await new Promise((r) => setTimeout(r, 2100)); // manifests older than the "still being written" window

    const [one, two] = await Promise.all([sweepFor()(sweepInput(0)), sweepFor()(sweepInput(0))]);
    const started = [...one.started, ...two.started];
    expect(new Set(started).size).toBe(started.length);
    expect(started).toHaveLength(2);
    expect(one.alreadyKnown + two.alreadyKnown).toBe(2);

    const statuses = await Promise.all(
      started.map((id) => stack.clients.client.workflow.getHandle(`rec-${id}`).query(statusQuery)),
    );
    const a = statuses.find((s) => s.originalName === 'a.mp4')!;
    const b = statuses.find((s) => s.originalName === 'b.mp4')!;
    expect(a.deviceId).toBe('cam-a');
    expect(a.recordedAt).toBe(recordedAt.toISOString());
    const bDone = await stack.waitForState(b.recordingId, 'quarantined');
    expect(bDone.quarantine?.reason).toBe('manifest-malformed');
    expect(bDone.quarantine?.message).toContain('recordedAt');
    const aDone = await stack.waitForState(a.recordingId, 'retained');
    expect(aDone.sha256).toBe(sha256(clip));
    // The manifest left the inbox with its recording.
    const left = await sweepFor()(sweepInput(0));
    expect(left.listed).toBe(0);
  });

  test('a file without its manifest waits for the grace period', async () => {
    const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
    await stack.putInbox('dock-12/late.mp4', clip);
    const waiting = await sweepFor()(sweepInput(3600));
    expect(waiting).toMatchObject({ started: [], waitingForManifest: 1 });
    const now = await sweepFor()(sweepInput(0));
    expect(now.started).toHaveLength(1);
    await stack.waitForState(now.started[0]!, 'retained');
  });
});

test('a retried copy after a crash leaves one version and no leftovers', async () => {
  const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  const source = await stack.putInbox('station-7/crash.mp4', clip);
  const activities = createActivities({
    config: stack.config,
    s3: stack.clients.s3,
    media: createMediaTools({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' }),
    temporal: () => Promise.resolve(stack.clients.client),
    context: standaloneContext(),
  });
  const input = { recordingId: 'crashtest0000000000a', source, originalName: 'crash.mp4' };
  const key = `recordings/${input.recordingId}/original`;
  // A crashed attempt left an untagged version (uploaded, never tagged).
  await stack.clients.s3.send(
    new PutObjectCommand({ Bucket: stack.config.buckets.evidence, Key: key, Body: 'partial' }),
  );
  const first = await activities.copyAndHashOriginal(input);
  // The attempt finished, but its result was lost (worker died before reporting): the retry returns it.
  const second = await activities.copyAndHashOriginal(input);
  expect(second).toEqual(first);
  expect(first.sha256).toBe(sha256(clip));
  const versions = await stack.clients.s3.send(
    new ListObjectVersionsCommand({ Bucket: stack.config.buckets.evidence, Prefix: key }),
  );
  expect((versions.Versions ?? []).map((v) => v.VersionId)).toEqual([first.versionId]);
});
