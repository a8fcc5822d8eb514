/**
 * Transcoding inside the lifecycle on the real stack: a long transcode interrupted by an approved early
 * deletion is cancelled — ffmpeg is killed and gone, its temp dir removed — and only then is everything
 * deleted, so no derivative can appear after the deletion was certified.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { once } from 'node:events';
import { createTestStack, type TestStack } from '../harness/stack';
import { builtEntryPoint, envForConfig, startNode } from '../harness/processes';
import { testPolicyDir } from '../harness/test-policies';
import { syntheticClip } from '../fixtures/media';
import { approved } from '../harness/signed-actions';
import { workflowIdFor } from '../../domain/ids';
import { readCertificate } from '../../activities/write-certificate';
import { createActivities } from '../../activities';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { standaloneContext } from '../../activities/context';

let stack: TestStack;
const tmp = mkdtempSync(path.join(tmpdir(), 'custody-transcode-tmp-'));

beforeAll(async () => {
  stack = await createTestStack('transcode', {
    overrides: { CUSTODY_TMP_DIR: tmp, CUSTODY_POLICY_DIR: testPolicyDir({ 'test-1h': 'PT1H' }) },
  });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** PIDs of ffmpeg processes working in `dir` (a test's own temp dir). */
function ffmpegProcesses(dir = tmp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('ffmpeg') && cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return pids;
}

test('an early deletion during a long transcode cancels it cleanly before deleting', async () => {
  const clip = readFileSync(await syntheticClip()); // 60 s 1080p30: tens of seconds of ffmpeg on 2 cores
  const source = await stack.putInbox('station-9/long.mp4', clip);
  const { recordingId } = await stack.start(source, { policy: 'test-1h' });
  await stack.waitForState(recordingId, 'transcoding', 60_000);
  const deadline = Date.now() + 60_000;
  while (ffmpegProcesses().length === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  expect(ffmpegProcesses().length).toBeGreaterThan(0);

  await approved(
    stack.clients.client.workflow.getHandle(workflowIdFor(recordingId)),
    { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
    'officer-lead-1',
    'dpo-1',
  );
  const deleted = await stack.waitForState(recordingId, 'deleted', 90_000);

  expect(ffmpegProcesses()).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
  expect(deleted.reviewReady).toBe(false);
  for (const bucket of [stack.config.buckets.evidence, stack.config.buckets.derivatives]) {
    const left = await stack.clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `recordings/${recordingId}/` }),
    );
    expect([...(left.Versions ?? []), ...(left.DeleteMarkers ?? [])]).toEqual([]);
  }
  const certificate = (await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId))!
    .certificate!;
  expect(certificate.cause).toBe('early');
  expect(certificate.objects.map((o) => o.key)).toEqual([`recordings/${recordingId}/original`]);
});

test('a re-run of the transcode activity after a crash at any point yields the same set of objects', async () => {
  const activities = createActivities({
    config: stack.config,
    s3: stack.clients.s3,
    media: createMediaTools({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' }),
    temporal: () => Promise.resolve(stack.clients.client),
    context: standaloneContext(),
  });
  const clip = readFileSync(await syntheticClip({ durationS: 3, width: 640, height: 360, fps: 25 }));
  const source = await stack.putInbox('station-9/rerun.mp4', clip);
  const recordingId = 'rerun00000000000000a';
  const original = await activities.copyAndHashOriginal({ recordingId, source, originalName: 'rerun.mp4' });
  const media = await activities.probeMedia({ object: original });
  const bucket = stack.config.buckets.derivatives;
  const versionsAt = async () => {
    const listing = await stack.clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `recordings/${recordingId}/` }),
    );
    return (listing.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`).sort();
  };

  const first = await activities.transcodeRecording({ recordingId, original, media });
  const afterFirst = await versionsAt();
  expect(afterFirst).toHaveLength(4); // proxy, sprite, poster, derivatives.json
  // Completed, but the result was lost (worker died before reporting): the retry returns the same set.
  expect(await activities.transcodeRecording({ recordingId, original, media })).toEqual(first);
  expect(await versionsAt()).toEqual(afterFirst);

  // A crash after two uploads, before the manifest: remove the manifest, leave a stray extra proxy version.
  const manifestKey = `recordings/${recordingId}/derivatives.json`;
  for (const v of afterFirst.filter((k) => k.startsWith(manifestKey))) {
    await stack.clients.s3.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: manifestKey, VersionId: v.split('@')[1] }),
    );
  }
  await stack.clients.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `recordings/${recordingId}/proxy.mp4`, Body: 'partial' }),
  );
  const second = await activities.transcodeRecording({ recordingId, original, media });
  const afterSecond = await versionsAt();
  expect(afterSecond).toHaveLength(4); // one version per key: leftovers removed, no duplicates
  expect(second.derivatives.map((d) => d.sha256)).toEqual(first.derivatives.map((d) => d.sha256)); // deterministic output
});

test('SIGTERM of a transcode worker: past the grace its ffmpeg is cancelled, the process exits 0, another worker finishes', async () => {
  const tmp2 = mkdtempSync(path.join(tmpdir(), 'custody-transcode-shutdown-'));
  // This process runs orchestration and media-io; transcode runs in worker processes we stop.
  const local = await createTestStack('shutdown', {
    overrides: {
      CUSTODY_POOLS: 'orchestration,media-io',
      CUSTODY_TMP_DIR: tmp2,
      CUSTODY_POLICY_DIR: testPolicyDir({ 'test-1h': 'PT1H' }),
    },
  });
  const transcodeWorker = () =>
    startNode(
      builtEntryPoint('workers/main.js'),
      envForConfig(local.config, {
        CUSTODY_POOLS: 'transcode',
        CUSTODY_HTTP_PORT: '0',
        CUSTODY_TMP_DIR: tmp2,
        CUSTODY_SHUTDOWN_GRACE_SECONDS: '2',
      }),
    );
  const inTmp2 = () => ffmpegProcesses(tmp2);
  let second: ReturnType<typeof startNode> | undefined;
  const first = transcodeWorker();
  try {
    const source = await local.putInbox('station-9/shutdown.mp4', readFileSync(await syntheticClip()));
    const { recordingId } = await local.start(source, { policy: 'test-1h' });
    const deadline = Date.now() + 90_000;
    while (inTmp2().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (inTmp2().length === 0)
      throw new Error(`no ffmpeg started; transcode worker said:\n${first.output()}`);

    const stoppedAt = Date.now();
    first.kill('SIGTERM');
    const [code] = (await once(first, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(20_000); // grace 2 s + cancellation, not the whole transcode
    expect(inTmp2()).toEqual([]);
    expect(readdirSync(tmp2)).toEqual([]);

    second = transcodeWorker();
    const done = await local.waitForState(recordingId, 'retained', 180_000);
    expect(done.reviewReady).toBe(true);
    expect(done.derivatives?.derivatives).toHaveLength(3);
  } finally {
    if (first.exitCode === null) first.kill('SIGKILL');
    second?.kill('SIGTERM');
    if (second) await once(second, 'exit');
    await local.stop();
    rmSync(tmp2, { recursive: true, force: true });
  }
});
