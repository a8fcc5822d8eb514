/**
 * copyAndHashOriginal against real versitygw (posix backend, versioning, Object Lock): the server-side copy
 * (CopyObject, and UploadPartCopy above a threshold made small here), the hash of the stored version, the
 * requests a first try saves, retries after a crash at each step, a replaced source and cancellation. The
 * activity is called directly with a hand-made activity context; no Temporal worker is needed.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import type { ActivityContextPort } from '../../activities/context';
import {
  makeCopyAndHashOriginal,
  type CopyAndHashDeps,
  type CopyAndHashInput,
} from '../../activities/copy-and-hash-original';

const MiB = 1024 * 1024;
const config = testConfig('copyhash');
const { incoming, evidence } = config.buckets;
const s3: S3Client = createS3Client(config.s3);

/** Every command the activity sends through `counted`, by name, in order. */
const sent: string[] = [];
/** Runs once, with the command's name, before a command is sent; set by a test to cut in (cancellation). */
let beforeSend: ((commandName: string) => void) | undefined;
const counted: S3Client = createS3Client(config.s3);
counted.middlewareStack.add(
  (next, context) => (args) => {
    const name = context.commandName ?? 'unknown';
    sent.push(name);
    beforeSend?.(name);
    return next(args);
  },
  { step: 'initialize', name: 'countCommands' },
);

beforeAll(async () => {
  await bootstrapStores(s3, config.buckets);
});
beforeEach(() => {
  sent.length = 0;
  beforeSend = undefined;
});
afterAll(() => {
  s3.destroy();
  counted.destroy();
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const newRecordingId = () => `rec-${randomBytes(6).toString('hex')}`;

interface TestContext extends ActivityContextPort {
  beats: unknown[];
  controller: AbortController;
}

function contextFor(attempt = 1): TestContext {
  const controller = new AbortController();
  const beats: unknown[] = [];
  return {
    beats,
    controller,
    heartbeat: (details) => beats.push(details),
    cancellationSignal: controller.signal,
    attempt,
    heartbeatDetails: undefined,
  };
}

function activityWith(context: ActivityContextPort, options: Partial<CopyAndHashDeps> = {}) {
  return makeCopyAndHashOriginal({ s3: counted, evidenceBucket: evidence, context, ...options });
}

/** Small enough to test the multipart copy: 12 MiB in parts of 5 MiB (5 + 5 + 2). */
const smallParts = { multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB };

async function putSource(key: string, body: Buffer): Promise<CopyAndHashInput['source']> {
  const put = await s3.send(new PutObjectCommand({ Bucket: incoming, Key: key, Body: body }));
  return { bucket: incoming, key, etag: put.ETag!, size: body.length };
}

async function versionsOf(key: string) {
  const listing = await s3.send(new ListObjectVersionsCommand({ Bucket: evidence, Prefix: key }));
  return (listing.Versions ?? []).filter((v) => v.Key === key);
}

async function openUploadsOf(key: string) {
  const listing = await s3.send(new ListMultipartUploadsCommand({ Bucket: evidence, Prefix: key }));
  return (listing.Uploads ?? []).filter((u) => u.Key === key);
}

async function tagOf(key: string, versionId: string) {
  const tags = await s3.send(
    new GetObjectTaggingCommand({ Bucket: evidence, Key: key, VersionId: versionId }),
  );
  return tags.TagSet?.find((t) => t.Key === 'sha256')?.Value;
}

async function storedBytes(key: string, versionId: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: evidence, Key: key, VersionId: versionId }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/** The one stored version must hold exactly `body` and carry its hash as a tag. */
async function expectOneTaggedCopyOf(key: string, body: Buffer, versionId: string) {
  expect((await versionsOf(key)).map((v) => v.VersionId)).toEqual([versionId]);
  expect(await openUploadsOf(key)).toEqual([]);
  expect(await tagOf(key, versionId)).toBe(sha256(body));
  expect(sha256(await storedBytes(key, versionId))).toBe(sha256(body));
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the copy to fail, but it succeeded');
}

test('a first try copies server-side, hashes the stored version and tags it: three requests', async () => {
  const body = randomBytes(3 * MiB + 17);
  // Non-ASCII, a space and a plus in the key: the copy source must be URL-encoded to find it.
  const source = await putSource('station-7/Einsatz Größe+ß.mp4', body);
  const recordingId = newRecordingId();
  const declared = sha256(body);

  const stored = await activityWith(contextFor())({
    recordingId,
    source,
    originalName: 'Einsatz_Größe_ß.mp4',
    declaredSha256: declared,
    firstTry: true,
  });

  const key = evidenceOriginalKey(recordingId);
  expect(stored).toEqual({
    bucket: evidence,
    key,
    versionId: stored.versionId,
    sha256: sha256(body),
    bytes: body.length,
  });
  expect(stored.versionId).toMatch(/\S/);
  expect(sent).toEqual(['CopyObjectCommand', 'GetObjectCommand', 'PutObjectTaggingCommand']);
  await expectOneTaggedCopyOf(key, body, stored.versionId);
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: evidence, Key: key, VersionId: stored.versionId }),
  );
  expect(head.ContentType).toBe('application/octet-stream');
  expect(head.Metadata).toEqual({
    'recording-id': recordingId,
    'original-name': encodeURIComponent('Einsatz_Größe_ß.mp4'),
    'source-etag': source.etag.replace(/"/g, ''),
    'declared-sha256': declared,
  });
  expect(decodeURIComponent(head.Metadata!['original-name']!)).toBe('Einsatz_Größe_ß.mp4');
});

test('not a first try, or a later attempt of one: the full search for leftovers runs first', async () => {
  const body = randomBytes(64 * 1024);
  const source = await putSource('station-7/search.mp4', body);
  const fullSearch = [
    'ListObjectVersionsCommand',
    'ListMultipartUploadsCommand',
    'CopyObjectCommand',
    'GetObjectCommand',
    'PutObjectTaggingCommand',
  ];
  for (const [firstTry, attempt] of [
    [undefined, 1],
    [false, 1],
    [true, 2],
  ] as const) {
    sent.length = 0;
    const stored = await activityWith(contextFor(attempt))({
      recordingId: newRecordingId(),
      source,
      originalName: 'search.mp4',
      ...(firstTry !== undefined && { firstTry }),
    });
    expect({ firstTry, attempt, sent }).toEqual({ firstTry, attempt, sent: fullSearch });
    await expectOneTaggedCopyOf(stored.key, body, stored.versionId);
  }
});

test('above the threshold the copy is multipart (UploadPartCopy), with the same metadata and hash', async () => {
  const body = randomBytes(12 * MiB);
  const source = await putSource('station-7/big.mp4', body);
  const recordingId = newRecordingId();
  const context = contextFor();

  const stored = await activityWith(
    context,
    smallParts,
  )({
    recordingId,
    source,
    originalName: 'big.mp4',
    firstTry: true,
  });

  expect(sent).toEqual([
    'CreateMultipartUploadCommand',
    'UploadPartCopyCommand',
    'UploadPartCopyCommand',
    'UploadPartCopyCommand',
    'CompleteMultipartUploadCommand',
    'GetObjectCommand',
    'PutObjectTaggingCommand',
  ]);
  expect(stored).toMatchObject({ sha256: sha256(body), bytes: body.length });
  await expectOneTaggedCopyOf(stored.key, body, stored.versionId);
  const head = await s3.send(
    new HeadObjectCommand({ Bucket: evidence, Key: stored.key, VersionId: stored.versionId }),
  );
  expect(head.Metadata).toMatchObject({ 'recording-id': recordingId, 'original-name': 'big.mp4' });
  // Progress per part copied, up to the whole object.
  expect(context.beats).toContainEqual({ phase: 'copy', copiedBytes: body.length, of: body.length });
});

test('bad part settings are refused with the limit they break', () => {
  const context = contextFor();
  expect(() => activityWith(context, { partSizeBytes: MiB })).toThrow(/5 MiB.*5 GiB/);
  expect(() => activityWith(context, { multipartThresholdBytes: 6 * 1024 * MiB })).toThrow(/at most|5 GiB/);
  expect(() => activityWith(context, { queueSize: 0 })).toThrow(/queueSize/);
});

describe('a retry after a crash leaves exactly one tagged version and no open upload', () => {
  test('crash after the copy, before the tag: the untagged version is replaced', async () => {
    const body = randomBytes(256 * 1024);
    const source = await putSource('station-7/crash-untagged.mp4', body);
    const recordingId = newRecordingId();
    const key = evidenceOriginalKey(recordingId);
    const crashed = await s3.send(
      new CopyObjectCommand({
        Bucket: evidence,
        Key: key,
        CopySource: `${incoming}/station-7/crash-untagged.mp4`,
      }),
    );

    // The retry of a first try: attempt 2.
    const stored = await activityWith(contextFor(2))({
      recordingId,
      source,
      originalName: 'crash-untagged.mp4',
      firstTry: true,
    });

    expect(stored.versionId).not.toBe(crashed.VersionId);
    await expectOneTaggedCopyOf(key, body, stored.versionId);
  });

  test('crash during a multipart copy: the open upload is aborted', async () => {
    const body = randomBytes(12 * MiB);
    const source = await putSource('station-7/crash-parts.mp4', body);
    const recordingId = newRecordingId();
    const key = evidenceOriginalKey(recordingId);
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: evidence, Key: key }));
    await s3.send(
      new UploadPartCopyCommand({
        Bucket: evidence,
        Key: key,
        UploadId: upload.UploadId,
        PartNumber: 1,
        CopySource: `${incoming}/station-7/crash-parts.mp4`,
        CopySourceRange: `bytes=0-${5 * MiB - 1}`,
      }),
    );
    expect(await openUploadsOf(key)).toHaveLength(1);

    const stored = await activityWith(
      contextFor(2),
      smallParts,
    )({
      recordingId,
      source,
      originalName: 'crash-parts.mp4',
      firstTry: true,
    });

    await expectOneTaggedCopyOf(key, body, stored.versionId);
  });

  test('crash after the tag (the result was lost): the retry returns the finished copy and copies nothing', async () => {
    const body = randomBytes(256 * 1024);
    const source = await putSource('station-7/crash-tagged.mp4', body);
    const input = { recordingId: newRecordingId(), source, originalName: 'crash-tagged.mp4' };
    const first = await activityWith(contextFor())({ ...input, firstTry: true });
    sent.length = 0;

    // A replay after needs-attention: attempt 1 again, but not a first try.
    const second = await activityWith(contextFor())(input);

    expect(second).toEqual(first);
    expect(sent).not.toContain('CopyObjectCommand');
    await expectOneTaggedCopyOf(first.key, body, first.versionId);
  });
});

describe('a replaced incoming object is not copied', () => {
  test.each([
    ['CopyObject', {}],
    ['UploadPartCopy', smallParts],
  ])('%s: a clear, non-retryable SourceChanged; nothing stored', async (_path, options) => {
    const name = `station-7/replaced-${randomBytes(3).toString('hex')}.mp4`;
    const source = await putSource(name, randomBytes(12 * MiB));
    await s3.send(new PutObjectCommand({ Bucket: incoming, Key: name, Body: randomBytes(12 * MiB) }));
    const recordingId = newRecordingId();

    const err = await failureOf(
      activityWith(contextFor(), options)({ recordingId, source, originalName: 'x.mp4', firstTry: true }),
    );

    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'SourceChanged', nonRetryable: true });
    expect((err as Error).message).toContain(`s3://${incoming}/${name}`);
    expect((err as Error).message).toContain('replaced');
    const key = evidenceOriginalKey(recordingId);
    expect(await versionsOf(key)).toEqual([]);
    expect(await openUploadsOf(key)).toEqual([]);
  });

  test('a missing incoming object is SourceMissing', async () => {
    const source = { bucket: incoming, key: 'station-7/never-there.mp4', etag: '"abc"', size: 10 };
    const err = await failureOf(
      activityWith(contextFor())({
        recordingId: newRecordingId(),
        source,
        originalName: 'x.mp4',
        firstTry: true,
      }),
    );
    expect(err).toMatchObject({ type: 'SourceMissing', nonRetryable: true });
  });

  test('a stored size other than the registered one is a retryable ShortRead naming both', async () => {
    const body = randomBytes(64 * 1024);
    const source = await putSource('station-7/short.mp4', body);
    const err = await failureOf(
      activityWith(contextFor())({
        recordingId: newRecordingId(),
        source: { ...source, size: body.length + 1 },
        originalName: 'short.mp4',
        firstTry: true,
      }),
    );
    expect(err).toMatchObject({ type: 'ShortRead', nonRetryable: false });
    expect((err as Error).message).toMatch(new RegExp(`${body.length} bytes.*had ${body.length + 1}`));
  });
});

describe('cancellation stops every request', () => {
  class TestCancelled extends Error {}

  test('during a multipart copy: no part after it, the upload aborted, the cancellation reported', async () => {
    const body = randomBytes(12 * MiB);
    const source = await putSource('station-7/cancel-parts.mp4', body);
    const recordingId = newRecordingId();
    const context = contextFor();
    let parts = 0;
    beforeSend = (name) => {
      if (name === 'UploadPartCopyCommand' && ++parts === 2) context.controller.abort(new TestCancelled());
    };

    const err = await failureOf(
      activityWith(context, { ...smallParts, queueSize: 1 })({
        recordingId,
        source,
        originalName: 'x.mp4',
        firstTry: true,
      }),
    );

    expect(err).toBeInstanceOf(TestCancelled);
    expect(sent).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCopyCommand',
      'UploadPartCopyCommand',
      'AbortMultipartUploadCommand',
    ]);
    const key = evidenceOriginalKey(recordingId);
    expect(await openUploadsOf(key)).toEqual([]);
    expect(await versionsOf(key)).toEqual([]);
  });

  test('during the hash: no tag written; the retry replaces the untagged copy', async () => {
    const body = randomBytes(4 * MiB);
    const source = await putSource('station-7/cancel-hash.mp4', body);
    const input = { recordingId: newRecordingId(), source, originalName: 'x.mp4' };
    const context = contextFor();
    beforeSend = (name) => {
      if (name === 'GetObjectCommand') context.controller.abort(new TestCancelled());
    };

    const err = await failureOf(activityWith(context)({ ...input, firstTry: true }));

    expect(err).toBeInstanceOf(TestCancelled);
    expect(sent).toEqual(['CopyObjectCommand', 'GetObjectCommand']);
    const key = evidenceOriginalKey(input.recordingId);
    const left = await versionsOf(key);
    expect(left).toHaveLength(1);
    expect(await tagOf(key, left[0]!.VersionId!)).toBeUndefined();

    beforeSend = undefined;
    const stored = await activityWith(contextFor(2))({ ...input, firstTry: true });
    await expectOneTaggedCopyOf(key, body, stored.versionId);
  });
});
