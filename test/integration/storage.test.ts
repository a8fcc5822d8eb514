/**
 * activities/storage/ against the real versitygw: every classification an activity relies on, made from the
 * store's own answers; version listings that really page (a small MaxKeys), on their own and inside the
 * activities that list versions; and the sha256 tag as the activities write and read it.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { evidenceOriginalKey, derivativeKey } from '../../activities/storage/keys';
import { classifyS3Error, isNotFound, type S3ErrorKind } from '../../activities/storage/errors';
import { listVersions, type ListedVersion } from '../../activities/storage/versions';
import { readSha256Tag, sha256TaggingParameter, writeSha256Tag } from '../../activities/storage/sha256-tag';
import { standaloneContext } from '../../activities/context';
import { makeCopyAndHashOriginal } from '../../activities/copy-and-hash-original';
import { makeDeleteRecording } from '../../activities/delete-recording';
import { makeLockEvidence } from '../../activities/lock-evidence';

const config = testConfig('storage');
const { incoming, evidence, derivatives, audit, quarantine } = config.buckets;
const s3: S3Client = createS3Client(config.s3);

/** ListObjectVersions requests sent through `s3`, counted to prove that a listing really paged. */
let listRequests = 0;
s3.middlewareStack.add(
  (next, context) => (args) => {
    if (context.commandName === 'ListObjectVersionsCommand') listRequests++;
    return next(args);
  },
  { step: 'initialize', name: 'countListings' },
);

beforeAll(async () => {
  await bootstrapStores(s3, config.buckets);
});
afterAll(() => s3.destroy());

const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');
const unique = (label: string) => `${label}-${randomBytes(5).toString('hex')}`;
const inAnHour = () => new Date(Date.now() + 3600_000);

async function put(bucket: string, key: string, body: string, extra: Partial<PutObjectCommandInput> = {}) {
  const result = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
  return { bucket, key, versionId: result.VersionId!, etag: result.ETag! };
}

/** The error the store answers `send` with; fails the test when it succeeds. */
async function storeError(send: () => Promise<unknown>): Promise<unknown> {
  try {
    await send();
  } catch (err) {
    return err;
  }
  throw new Error('the request succeeded; the test expected the store to refuse it');
}

async function expectKind(send: () => Promise<unknown>, kind: S3ErrorKind, code?: string) {
  const err = await storeError(send);
  expect(classifyS3Error(err)).toBe(kind);
  if (code !== undefined) expect((err as Error).name).toBe(code);
  return err;
}

describe('what versitygw answers, classified', () => {
  let stored: Awaited<ReturnType<typeof put>>;
  /** A well-formed version id of a version that never existed (versitygw's ids are ULIDs). */
  let absentVersionId: string;
  beforeAll(async () => {
    stored = await put(evidence, unique('classify/object'), 'bytes');
    const other = await put(evidence, unique('classify/gone'), 'bytes');
    await s3.send(new DeleteObjectCommand({ Bucket: evidence, Key: other.key, VersionId: other.versionId }));
    absentVersionId = other.versionId;
  });

  test('a missing key, version, bucket or upload is not found', async () => {
    const missing = { Bucket: evidence, Key: unique('classify/missing') };
    const version = { Bucket: evidence, Key: stored.key, VersionId: absentVersionId };
    await expectKind(() => s3.send(new GetObjectCommand(missing)), 'not-found', 'NoSuchKey');
    await expectKind(() => s3.send(new HeadObjectCommand(missing)), 'not-found', 'NotFound');
    await expectKind(() => s3.send(new GetObjectCommand(version)), 'not-found', 'NoSuchVersion');
    await expectKind(() => s3.send(new HeadObjectCommand(version)), 'not-found', 'NotFound');
    await expectKind(() => s3.send(new DeleteObjectCommand(version)), 'not-found', 'NoSuchVersion');
    await expectKind(() => s3.send(new GetObjectTaggingCommand(version)), 'not-found', 'NoSuchVersion');
    await expectKind(() => s3.send(new GetObjectRetentionCommand(version)), 'not-found', 'NoSuchVersion');
    // A copy whose source is gone: what copy-and-hash-original.ts reports as SourceMissing.
    await expectKind(
      () =>
        s3.send(
          new CopyObjectCommand({
            Bucket: evidence,
            Key: unique('classify/copy'),
            CopySource: `${incoming}/${unique('nothing')}`,
          }),
        ),
      'not-found',
    );
    const noBucket = `${unique('no-such-bucket')}`;
    const gone = await expectKind(
      () => s3.send(new GetObjectCommand({ Bucket: noBucket, Key: 'k' })),
      'no-such-bucket',
      'NoSuchBucket',
    );
    expect(isNotFound(gone)).toBe(true);
    // HeadBucket has no body to say what is missing: a plain 404, which bootstrapStores reads as "create it".
    expect(isNotFound(await storeError(() => s3.send(new HeadBucketCommand({ Bucket: noBucket }))))).toBe(
      true,
    );
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: evidence, Key: stored.key }));
    await s3.send(
      new AbortMultipartUploadCommand({ Bucket: evidence, Key: stored.key, UploadId: upload.UploadId }),
    );
    const noUpload = await expectKind(
      () =>
        s3.send(
          new AbortMultipartUploadCommand({ Bucket: evidence, Key: stored.key, UploadId: upload.UploadId }),
        ),
      'no-such-upload',
      'NoSuchUpload',
    );
    expect(isNotFound(noUpload)).toBe(true);
  });

  test('a conditional write that loses is a failed precondition', async () => {
    await expectKind(
      () => s3.send(new PutObjectCommand({ Bucket: evidence, Key: stored.key, Body: 'x', IfNoneMatch: '*' })),
      'precondition-failed',
      'PreconditionFailed',
    );
    await expectKind(
      () =>
        s3.send(
          new CopyObjectCommand({
            Bucket: evidence,
            Key: unique('classify/copy'),
            CopySource: `${evidence}/${stored.key}`,
            CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"',
          }),
        ),
      'precondition-failed',
      'PreconditionFailed',
    );
  });

  test('deleting a version under COMPLIANCE retention, GOVERNANCE retention or a legal hold is refused as locked', async () => {
    const compliance = await put(evidence, unique('classify/compliance'), 'kept', {
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: inAnHour(),
    });
    const governance = await put(evidence, unique('classify/governance'), 'kept', {
      ObjectLockMode: 'GOVERNANCE',
      ObjectLockRetainUntilDate: inAnHour(),
    });
    const held = await put(evidence, unique('classify/held'), 'kept', { ObjectLockLegalHoldStatus: 'ON' });
    for (const version of [compliance, governance, held]) {
      await expectKind(
        () =>
          s3.send(
            new DeleteObjectCommand({ Bucket: evidence, Key: version.key, VersionId: version.versionId }),
          ),
        'locked',
        'AccessDenied',
      );
    }
    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: evidence,
        Key: held.key,
        VersionId: held.versionId,
        LegalHold: { Status: 'OFF' },
      }),
    );
    // Released: the same request goes through, so the refusal above was the lock's.
    await s3.send(new DeleteObjectCommand({ Bucket: evidence, Key: held.key, VersionId: held.versionId }));
  });

  test('wrong credentials are access denied, not a lock', async () => {
    const stranger = new S3Client({
      endpoint: config.s3.endpoint,
      region: config.s3.region,
      credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: 'not-the-secret' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    try {
      const ref = { Bucket: evidence, Key: stored.key };
      await expectKind(
        () => stranger.send(new GetObjectCommand(ref)),
        'access-denied',
        'SignatureDoesNotMatch',
      );
      await expectKind(() => stranger.send(new HeadObjectCommand(ref)), 'access-denied');
    } finally {
      stranger.destroy();
    }
  });

  test('a version without retention or hold, and a bucket without Object Lock', async () => {
    const ref = { Bucket: evidence, Key: stored.key, VersionId: stored.versionId };
    await expectKind(
      () => s3.send(new GetObjectRetentionCommand(ref)),
      'no-lock-on-object',
      'NoSuchObjectLockConfiguration',
    );
    await expectKind(
      () => s3.send(new GetObjectLegalHoldCommand(ref)),
      'no-lock-on-object',
      'NoSuchObjectLockConfiguration',
    );
    // A 404 about the bucket's configuration, not a missing object.
    const noLock = await expectKind(
      () => s3.send(new GetObjectLockConfigurationCommand({ Bucket: quarantine })),
      'bucket-without-object-lock',
      'ObjectLockConfigurationNotFoundError',
    );
    expect(isNotFound(noLock)).toBe(false);
    const unlocked = await put(quarantine, unique('classify/unlocked'), 'bytes');
    await expectKind(
      () =>
        s3.send(
          new PutObjectRetentionCommand({
            Bucket: quarantine,
            Key: unlocked.key,
            VersionId: unlocked.versionId,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inAnHour() },
          }),
        ),
      'bucket-without-object-lock',
      'InvalidRequest',
    );
    // What lockEvidence makes of it: a clear, non-retryable failure rather than a retried one.
    const failure = await storeError(() =>
      makeLockEvidence({ s3 })({
        objects: [{ bucket: quarantine, key: unlocked.key, versionId: unlocked.versionId }],
        retainUntil: inAnHour().toISOString(),
      }),
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'ObjectLockUnavailable', nonRetryable: true });
  });

  test('creating a bucket we own already', async () => {
    await expectKind(
      () => s3.send(new CreateBucketCommand({ Bucket: evidence, ObjectLockEnabledForBucket: true })),
      'bucket-already-owned',
      'BucketAlreadyOwnedByYou',
    );
  });
});

async function listed(bucket: string, prefix: string, pageSize?: number): Promise<ListedVersion[]> {
  const all: ListedVersion[] = [];
  for await (const version of listVersions(s3, bucket, prefix, pageSize === undefined ? {} : { pageSize })) {
    all.push(version);
  }
  return all;
}

/** What one unpaged ListObjectVersions answers, in the generator's shape; fails if the store truncated it. */
async function listedInOneRequest(bucket: string, prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  expect(page.IsTruncated).toBe(false);
  return [
    ...(page.Versions ?? []).map((v) => `${v.Key}@${v.VersionId} version`),
    ...(page.DeleteMarkers ?? []).map((m) => `${m.Key}@${m.VersionId} delete-marker`),
  ].sort();
}

const described = (versions: ListedVersion[]) =>
  versions.map((v) => `${v.key}@${v.versionId} ${v.kind}`).sort();

describe('listVersions on the real store, a few entries per page', () => {
  test('a key with more versions and delete markers than a page holds', async () => {
    const key = unique('paging/one-key');
    for (let i = 0; i < 7; i++) {
      await put(evidence, key, `version ${i}`);
      if (i % 3 === 1) await s3.send(new DeleteObjectCommand({ Bucket: evidence, Key: key }));
    }
    listRequests = 0;
    const paged = await listed(evidence, key, 2);
    expect(listRequests).toBeGreaterThanOrEqual(5); // 9 entries, 2 a page
    expect(paged).toHaveLength(9);
    expect(paged.filter((v) => v.kind === 'delete-marker')).toHaveLength(2);
    expect(new Set(paged.map((v) => v.versionId)).size).toBe(9);
    expect(described(paged)).toEqual(await listedInOneRequest(evidence, key));
    for (const version of paged.filter((v) => v.kind === 'version')) {
      expect(version).toMatchObject({ bucket: evidence, key, bytes: 'version 0'.length });
      expect(version.etag).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  // Pages of 3 end on key-1's only version, which versitygw repeats at the start of the next page (the marker is
  // the latest version of its key): the listing must yield it once.
  test('a prefix with many keys, pages ending inside a key and on the latest version of one', async () => {
    const prefix = `${unique('paging/folder')}/`;
    for (let i = 0; i < 9; i++) {
      const key = `${prefix}key-${i}`;
      await put(evidence, key, 'a');
      if (i % 2 === 0) await put(evidence, key, 'b');
    }
    // A neighbour that shares the prefix text but not the folder must not appear.
    await put(evidence, `${prefix.slice(0, -1)}-neighbour`, 'n');
    listRequests = 0;
    const paged = await listed(evidence, prefix, 3);
    expect(listRequests).toBeGreaterThanOrEqual(5); // 14 entries, 3 a page
    expect(paged).toHaveLength(14);
    expect(new Set(paged.map((v) => `${v.key}@${v.versionId}`)).size).toBe(14);
    expect(described(paged)).toEqual(await listedInOneRequest(evidence, prefix));
    expect(await listed(evidence, prefix)).toHaveLength(14);
  });

  test('an empty prefix yields nothing, in one request', async () => {
    listRequests = 0;
    expect(await listed(evidence, `${unique('paging/nothing')}/`, 2)).toEqual([]);
    expect(listRequests).toBe(1);
  });
});

describe('activities that list versions, past the first page', () => {
  test('copyAndHashOriginal finds its finished copy behind leftovers on later pages, and removes them', async () => {
    const recordingId = unique('rec');
    const key = evidenceOriginalKey(recordingId);
    const body = `the original of ${recordingId}`;
    // The finished copy (tagged) is the oldest version; three crashed attempts left untagged ones after it,
    // so with two entries per page it is on the second.
    const finished = await put(evidence, key, body, { Tagging: sha256TaggingParameter(sha256(body)) });
    for (let i = 0; i < 3; i++) await put(evidence, key, `unfinished attempt ${i}`);
    const source = await put(incoming, unique('dock/clip.mp4'), body);
    const result = await makeCopyAndHashOriginal({
      s3,
      evidenceBucket: evidence,
      context: standaloneContext(),
      listPageSize: 2,
    })({
      recordingId,
      source: { bucket: incoming, key: source.key, etag: source.etag, size: body.length },
      originalName: 'clip.mp4',
    });
    expect(result).toEqual({
      bucket: evidence,
      key,
      versionId: finished.versionId,
      sha256: sha256(body),
      bytes: body.length,
    });
    expect((await listed(evidence, key)).map((v) => v.versionId)).toEqual([finished.versionId]);
  });

  test('deleteRecording deletes and certifies every version of keys listed over many pages', async () => {
    const recordingId = unique('rec');
    const original = evidenceOriginalKey(recordingId);
    const proxy = derivativeKey(recordingId, 'proxy.mp4');
    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      const body = `original ${i}`;
      const v = await put(evidence, original, body, { Tagging: sha256TaggingParameter(sha256(body)) });
      expected.push(`${original}@${v.versionId} version ${sha256(body)}`);
    }
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: evidence, Key: original }));
    expected.push(`${original}@${marker.VersionId} delete-marker -`);
    for (let i = 0; i < 3; i++) {
      const v = await put(derivatives, proxy, `proxy ${i}`);
      expected.push(`${proxy}@${v.versionId} version -`);
    }
    listRequests = 0;
    const result = await makeDeleteRecording({
      s3,
      context: standaloneContext(),
      auditBucket: audit,
      auditRetention: config.auditRetention,
      listPageSize: 2,
    })({
      recordingId,
      objects: [
        { bucket: evidence, key: original },
        { bucket: derivatives, key: proxy },
      ],
    });
    expect(listRequests).toBeGreaterThanOrEqual(8); // 6 + 3 entries, 2 a page, listed before and after
    expect(result.deleted.map((v) => `${v.key}@${v.versionId} ${v.kind} ${v.sha256 ?? '-'}`).sort()).toEqual(
      expected.sort(),
    );
    expect(await listed(evidence, original)).toEqual([]);
    expect(await listed(derivatives, proxy)).toEqual([]);
  });
});

describe('the sha256 tag', () => {
  test('written on one version and read back from it, not from its neighbours', async () => {
    const key = unique('tag/object');
    const tagged = await put(evidence, key, 'tagged');
    const untagged = await put(evidence, key, 'untagged');
    await writeSha256Tag(s3, tagged, sha256('tagged'));
    expect(await readSha256Tag(s3, tagged)).toBe(sha256('tagged'));
    expect(await readSha256Tag(s3, untagged)).toBeUndefined();
    const tags = await s3.send(
      new GetObjectTaggingCommand({ Bucket: evidence, Key: key, VersionId: tagged.versionId }),
    );
    expect(tags.TagSet).toEqual([{ Key: 'sha256', Value: sha256('tagged') }]);
  });

  test('put with the object itself, as transcoding stores derivatives', async () => {
    const stored = await put(derivatives, unique('tag/derivative'), 'proxy bytes', {
      Tagging: sha256TaggingParameter(sha256('proxy bytes')),
    });
    expect(await readSha256Tag(s3, stored)).toBe(sha256('proxy bytes'));
  });
});
