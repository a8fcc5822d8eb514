/**
 * The transcode stage's input on the real store: the exact original version is downloaded through the direct
 * reader and hashed on the way; bytes that do not hash to the recorded SHA-256 never reach ffmpeg, and nothing
 * is written to the derivatives store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import { standaloneContext } from '../../activities/context';
import { makeTranscodeRecording } from '../../activities/transcode-recording';
import { createMediaTools, DEFAULT_TRANSCODE_PROFILE } from '../../activities/media/ffmpeg';
import { FFMPEG, FFPROBE, requireFfmpeg, syntheticClip } from '../fixtures/media';

const config = testConfig('transcode-input');
const s3: S3Client = createS3Client(config.s3);
let scratch: string;

beforeAll(async () => {
  requireFfmpeg();
  await bootstrapStores(s3, config.buckets);
  scratch = await mkdtemp(path.join(tmpdir(), 'custody-transcode-input-'));
});
afterAll(async () => {
  s3.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('an original that does not hash to the recorded SHA-256 is refused before ffmpeg runs', async () => {
  const tools = createMediaTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
  const clipFile = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const clip = await readFile(clipFile);
  const recordingId = `rec-${randomBytes(6).toString('hex')}`;
  const stored = await s3.send(
    new PutObjectCommand({
      Bucket: config.buckets.evidence,
      Key: evidenceOriginalKey(recordingId),
      Body: clip,
    }),
  );
  let ffmpegStarted = false;
  const transcode = makeTranscodeRecording({
    s3,
    media: {
      ...tools,
      transcode: (...args) => {
        ffmpegStarted = true;
        return tools.transcode(...args);
      },
    },
    derivativesBucket: config.buckets.derivatives,
    tmpDir: scratch,
    profile: DEFAULT_TRANSCODE_PROFILE,
    context: standaloneContext(),
  });
  const original = {
    bucket: config.buckets.evidence,
    key: evidenceOriginalKey(recordingId),
    versionId: stored.VersionId!,
    bytes: clip.length,
    sha256: createHash('sha256').update('other bytes').digest('hex'),
  };
  await expect(
    transcode({ recordingId, original, media: await tools.probe(clipFile) }),
  ).rejects.toMatchObject({ type: 'OriginalHashMismatch', nonRetryable: true });
  expect(ffmpegStarted).toBe(false);
  const derivatives = await s3.send(
    new ListObjectVersionsCommand({
      Bucket: config.buckets.derivatives,
      Prefix: `recordings/${recordingId}/`,
    }),
  );
  expect(derivatives.Versions ?? []).toEqual([]);
  expect(await readdir(scratch)).toEqual([]); // the attempt's temp dir is gone
});
