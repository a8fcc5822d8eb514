/**
 * Transcoding inside the lifecycle on the real stack: a long transcode interrupted by an approved early
 * deletion is cancelled — ffmpeg is killed and gone, its temp dir removed — and only then is everything
 * deleted, so no derivative can appear after the deletion was certified.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../harness/stack';
import { testPolicyDir } from '../harness/test-policies';
import { syntheticClip } from '../fixtures/media';
import { deleteEarlyUpdate, workflowIdFor } from '../../workflows/messages';
import { readCertificate } from '../../activities/write-certificate';

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

/** PIDs of ffmpeg processes working in this test's temp dir. */
function ffmpegProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('ffmpeg') && cmdline.includes(tmp)) pids.push(Number(entry));
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

  await stack.clients.client.workflow
    .getHandle(workflowIdFor(recordingId))
    .executeUpdate(deleteEarlyUpdate, {
      args: [{ reason: 'recorded by mistake', by: 'officer-lead-1', approvedBy: 'dpo-1' }],
    });
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
