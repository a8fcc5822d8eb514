/**
 * The storage helpers against the SDK's own parsing: each error below is what the S3 client throws for a
 * store's answer (status, headers, XML body) fed to it by a request handler of the test's own — the codes and
 * messages are versitygw's (test/integration/storage.test.ts checks them on the real server). Listing pages are
 * fed the same way, so paging and its loud failure are tested without a server.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  classifyS3Error,
  httpStatusOf,
  isAccessDenied,
  isNotFound,
  isPreconditionFailed,
  isRefusedByObjectLock,
  s3ErrorCode,
  type S3ErrorKind,
} from './errors';
import { commonFolder, listVersions, versionsOfKeys, type ListedVersion } from './versions';
import { SHA256_TAG, sha256FromTags, sha256Tagging, sha256TaggingParameter } from './sha256-tag';

interface CannedAnswer {
  status: number;
  body?: string;
}

interface SentRequest {
  method: string;
  query: Record<string, unknown>;
}

/** An S3 client whose every request is answered, in turn, by `answers`; `sent` records the requests. */
function cannedClient(answers: CannedAnswer[]): { s3: S3Client; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: (request: { method: string; query?: Record<string, unknown> }) => {
        sent.push({ method: request.method, query: request.query ?? {} });
        const answer = answers.shift();
        if (!answer) return Promise.reject(new Error('the test sent more requests than it has answers for'));
        return Promise.resolve({
          response: {
            statusCode: answer.status,
            headers: answer.body ? { 'content-type': 'application/xml' } : {},
            body: Readable.from(answer.body ? [Buffer.from(answer.body)] : []),
          },
        });
      },
    },
  });
  return { s3, sent };
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
  `<RequestId>R1</RequestId><HostId>H1</HostId></Error>`;

type Request = (s3: S3Client) => Promise<unknown>;

/** The error the SDK throws when the store answers `request` with `answer`. */
async function sdkError(request: Request, answer: CannedAnswer): Promise<unknown> {
  const { s3 } = cannedClient([answer]);
  try {
    await request(s3);
  } catch (err) {
    return err;
  } finally {
    s3.destroy();
  }
  throw new Error('the command succeeded; the test expected an error');
}

const ref = { Bucket: 'b', Key: 'k' };
const LOCKED_MESSAGE = 'Access Denied because object protected by object lock.';

describe('classifyS3Error on the errors the SDK throws', () => {
  const cases: [string, Request, CannedAnswer, S3ErrorKind, string][] = [
    [
      'GetObject of a missing key',
      (s3) => s3.send(new GetObjectCommand(ref)),
      { status: 404, body: errorXml('NoSuchKey', 'The specified key does not exist.') },
      'not-found',
      'NoSuchKey',
    ],
    [
      'GetObject of a missing version',
      (s3) => s3.send(new GetObjectCommand({ ...ref, VersionId: 'v' })),
      { status: 404, body: errorXml('NoSuchVersion', 'The specified version does not exist.') },
      'not-found',
      'NoSuchVersion',
    ],
    [
      'HeadObject of a missing key (no body)',
      (s3) => s3.send(new HeadObjectCommand(ref)),
      { status: 404 },
      'not-found',
      'NotFound',
    ],
    [
      'GetObject in a missing bucket',
      (s3) => s3.send(new GetObjectCommand(ref)),
      { status: 404, body: errorXml('NoSuchBucket', 'The specified bucket does not exist.') },
      'no-such-bucket',
      'NoSuchBucket',
    ],
    [
      'AbortMultipartUpload of a finished upload',
      (s3) => s3.send(new AbortMultipartUploadCommand({ ...ref, UploadId: 'u' })),
      { status: 404, body: errorXml('NoSuchUpload', 'The specified multipart upload does not exist.') },
      'no-such-upload',
      'NoSuchUpload',
    ],
    [
      'PutObject If-None-Match: * over an existing key',
      (s3) => s3.send(new PutObjectCommand({ ...ref, Body: 'x', IfNoneMatch: '*' })),
      {
        status: 412,
        body: errorXml('PreconditionFailed', 'At least one of the pre-conditions did not hold.'),
      },
      'precondition-failed',
      'PreconditionFailed',
    ],
    [
      'HeadObject If-Match that does not hold (no body)',
      (s3) => s3.send(new HeadObjectCommand({ ...ref, IfMatch: '"e"' })),
      { status: 412 },
      'precondition-failed',
      'Unknown',
    ],
    [
      'DeleteObject of a version under retention',
      (s3) => s3.send(new DeleteObjectCommand({ ...ref, VersionId: 'v' })),
      { status: 403, body: errorXml('AccessDenied', LOCKED_MESSAGE) },
      'locked',
      'AccessDenied',
    ],
    [
      'GetObject without the permission',
      (s3) => s3.send(new GetObjectCommand(ref)),
      { status: 403, body: errorXml('AccessDenied', 'Access Denied.') },
      'access-denied',
      'AccessDenied',
    ],
    [
      'GetObject with a wrong secret',
      (s3) => s3.send(new GetObjectCommand(ref)),
      { status: 403, body: errorXml('SignatureDoesNotMatch', 'The request signature does not match.') },
      'access-denied',
      'SignatureDoesNotMatch',
    ],
    [
      'HeadObject refused (no body)',
      (s3) => s3.send(new HeadObjectCommand(ref)),
      { status: 403 },
      'access-denied',
      'Unknown',
    ],
    [
      'GetObjectRetention of a version without retention',
      (s3) => s3.send(new GetObjectRetentionCommand({ ...ref, VersionId: 'v' })),
      {
        status: 400,
        body: errorXml(
          'NoSuchObjectLockConfiguration',
          'The specified object does not have a ObjectLock configuration.',
        ),
      },
      'no-lock-on-object',
      'NoSuchObjectLockConfiguration',
    ],
    [
      'GetObjectLockConfiguration of a bucket without Object Lock (a 404 that is not a missing object)',
      (s3) => s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'b' })),
      {
        status: 404,
        body: errorXml(
          'ObjectLockConfigurationNotFoundError',
          'Object Lock configuration does not exist for this bucket.',
        ),
      },
      'bucket-without-object-lock',
      'ObjectLockConfigurationNotFoundError',
    ],
    [
      'PutObjectRetention in a bucket without Object Lock',
      (s3) =>
        s3.send(
          new PutObjectRetentionCommand({
            ...ref,
            Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(0) },
          }),
        ),
      { status: 400, body: errorXml('InvalidRequest', 'Bucket is missing Object Lock Configuration') },
      'bucket-without-object-lock',
      'InvalidRequest',
    ],
    [
      'another InvalidRequest',
      (s3) => s3.send(new PutObjectCommand({ ...ref, Body: 'x' })),
      { status: 400, body: errorXml('InvalidRequest', 'Missing required header for this request') },
      'other',
      'InvalidRequest',
    ],
    [
      'CreateBucket of our own bucket',
      (s3) => s3.send(new CreateBucketCommand({ Bucket: 'b' })),
      { status: 409, body: errorXml('BucketAlreadyOwnedByYou', 'You already own it.') },
      'bucket-already-owned',
      'BucketAlreadyOwnedByYou',
    ],
    [
      'a malformed version id',
      (s3) => s3.send(new GetObjectCommand({ ...ref, VersionId: 'bogus' })),
      { status: 400, body: errorXml('InvalidArgument', 'Invalid version id specified') },
      'other',
      'InvalidArgument',
    ],
    [
      'a store failing',
      (s3) => s3.send(new GetObjectCommand(ref)),
      { status: 500, body: errorXml('InternalError', 'We encountered an internal error.') },
      'other',
      'InternalError',
    ],
  ];

  it.each(cases)('%s', async (_what, request, answer, kind, code) => {
    const err = await sdkError(request, answer);
    // The shape every classification relies on: a ServiceException with the code and the status.
    expect(err).toBeInstanceOf(S3ServiceException);
    expect(s3ErrorCode(err)).toBe(code);
    expect(httpStatusOf(err)).toBe(answer.status);
    expect(classifyS3Error(err)).toBe(kind);
    expect(isNotFound(err)).toBe(['not-found', 'no-such-bucket', 'no-such-upload'].includes(kind));
    expect(isPreconditionFailed(err)).toBe(kind === 'precondition-failed');
    expect(isAccessDenied(err)).toBe(kind === 'access-denied' || kind === 'locked');
    expect(isRefusedByObjectLock(err)).toBe(kind === 'locked');
  });

  it('calls what never reached the store "other", with no status', () => {
    const notFromTheStore = [
      new Error('connect ECONNREFUSED 127.0.0.1:7070'),
      Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }),
      'a string',
      undefined,
      null,
      42,
    ];
    for (const err of notFromTheStore) {
      expect(classifyS3Error(err)).toBe('other');
      expect(httpStatusOf(err)).toBeUndefined();
      expect(isNotFound(err)).toBe(false);
    }
  });

  it('reads a plain object shaped like an SDK error (a test double, a serialised error)', () => {
    expect(classifyS3Error({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })).toBe('not-found');
    expect(classifyS3Error({ Code: 'PreconditionFailed' })).toBe('precondition-failed');
    expect(classifyS3Error({ $metadata: { httpStatusCode: 404 } })).toBe('not-found');
    expect(classifyS3Error({ $metadata: { httpStatusCode: '404' } })).toBe('other');
  });
});

const listingXml = (page: {
  truncated: boolean;
  next?: { key: string; versionId: string };
  versions?: { key: string; versionId: string; size: number; etag: string }[];
  markers?: { key: string; versionId: string }[];
}) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
  `<Name>b</Name><Prefix>p/</Prefix><MaxKeys>2</MaxKeys><IsTruncated>${page.truncated}</IsTruncated>` +
  (page.next
    ? `<NextKeyMarker>${page.next.key}</NextKeyMarker><NextVersionIdMarker>${page.next.versionId}</NextVersionIdMarker>`
    : '') +
  (page.versions ?? [])
    .map(
      (v) =>
        `<Version><Key>${v.key}</Key><VersionId>${v.versionId}</VersionId><IsLatest>false</IsLatest>` +
        `<Size>${v.size}</Size><ETag>&quot;${v.etag}&quot;</ETag></Version>`,
    )
    .join('') +
  (page.markers ?? [])
    .map(
      (m) =>
        `<DeleteMarker><Key>${m.key}</Key><VersionId>${m.versionId}</VersionId><IsLatest>true</IsLatest></DeleteMarker>`,
    )
    .join('') +
  `</ListVersionsResult>`;

async function collect(versions: AsyncIterable<ListedVersion>): Promise<ListedVersion[]> {
  const all: ListedVersion[] = [];
  for await (const version of versions) all.push(version);
  return all;
}

describe('listVersions', () => {
  it('follows KeyMarker and VersionIdMarker to the last page, versions and delete markers alike', async () => {
    const { s3, sent } = cannedClient([
      {
        status: 200,
        body: listingXml({
          truncated: true,
          next: { key: 'p/a', versionId: 'a1' },
          versions: [{ key: 'p/a', versionId: 'a2', size: 5, etag: 'e2' }],
          markers: [{ key: 'p/a', versionId: 'a1' }],
        }),
      },
      {
        status: 200,
        body: listingXml({
          truncated: true,
          next: { key: 'p/b', versionId: 'b1' },
          versions: [
            { key: 'p/a', versionId: 'a0', size: 3, etag: 'e0' },
            { key: 'p/b', versionId: 'b1', size: 7, etag: 'e1' },
          ],
        }),
      },
      // versitygw ends a listing whose last page was full with an empty, untruncated one.
      { status: 200, body: listingXml({ truncated: false }) },
    ]);
    const listed = await collect(listVersions(s3, 'b', 'p/', { pageSize: 2 }));
    expect(listed).toEqual([
      { bucket: 'b', key: 'p/a', versionId: 'a2', kind: 'version', bytes: 5, etag: 'e2' },
      { bucket: 'b', key: 'p/a', versionId: 'a1', kind: 'delete-marker', bytes: 0 },
      { bucket: 'b', key: 'p/a', versionId: 'a0', kind: 'version', bytes: 3, etag: 'e0' },
      { bucket: 'b', key: 'p/b', versionId: 'b1', kind: 'version', bytes: 7, etag: 'e1' },
    ]);
    expect(sent.map((r) => r.query)).toEqual([
      expect.objectContaining({ prefix: 'p/', 'max-keys': '2' }),
      expect.objectContaining({ prefix: 'p/', 'key-marker': 'p/a', 'version-id-marker': 'a1' }),
      expect.objectContaining({ prefix: 'p/', 'key-marker': 'p/b', 'version-id-marker': 'b1' }),
    ]);
    expect(sent[0]!.query).not.toHaveProperty('key-marker');
  });

  it("drops the marker's own entry when the store repeats it at the start of the next page (versitygw)", async () => {
    const { s3 } = cannedClient([
      {
        status: 200,
        body: listingXml({
          truncated: true,
          next: { key: 'p/b', versionId: 'b2' },
          versions: [
            { key: 'p/a', versionId: 'a1', size: 1, etag: 'e' },
            { key: 'p/b', versionId: 'b2', size: 1, etag: 'e' },
          ],
        }),
      },
      {
        status: 200,
        body: listingXml({
          truncated: false,
          versions: [
            { key: 'p/b', versionId: 'b2', size: 1, etag: 'e' },
            { key: 'p/b', versionId: 'b1', size: 1, etag: 'e' },
          ],
        }),
      },
    ]);
    const listed = await collect(listVersions(s3, 'b', 'p/', { pageSize: 2 }));
    expect(listed.map((v) => `${v.key}@${v.versionId}`)).toEqual(['p/a@a1', 'p/b@b2', 'p/b@b1']);
  });

  it('fails loudly when a truncated page names no next page, or the page it came from', async () => {
    const stuck = { truncated: true, next: { key: 'p/a', versionId: 'a1' } };
    const repeats = cannedClient([
      { status: 200, body: listingXml(stuck) },
      { status: 200, body: listingXml(stuck) },
    ]);
    await expect(collect(listVersions(repeats.s3, 'b', 'p/'))).rejects.toThrow(
      /ListObjectVersions of s3:\/\/b\/p\/ does not advance/,
    );
    const nowhere = cannedClient([{ status: 200, body: listingXml({ truncated: true }) }]);
    await expect(collect(listVersions(nowhere.s3, 'b', 'p/'))).rejects.toThrow(/does not advance/);
  });

  it('passes the store error through unchanged', async () => {
    const { s3 } = cannedClient([
      { status: 404, body: errorXml('NoSuchBucket', 'The specified bucket does not exist.') },
    ]);
    await expect(collect(listVersions(s3, 'b', 'p/'))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('versionsOfKeys', () => {
  it('lists keys that share a folder once, under the folder, and keeps only those keys', async () => {
    const { s3, sent } = cannedClient([
      {
        status: 200,
        body: listingXml({
          truncated: false,
          versions: [
            { key: 'r/1/original', versionId: 'o1', size: 1, etag: 'e' },
            { key: 'r/1/original.bak', versionId: 'x1', size: 1, etag: 'e' },
            { key: 'r/1/proxy.mp4', versionId: 'p1', size: 1, etag: 'e' },
          ],
        }),
      },
    ]);
    const listed = await versionsOfKeys(s3, 'b', ['r/1/original', 'r/1/proxy.mp4']);
    expect(listed.map((v) => v.versionId)).toEqual(['o1', 'p1']);
    expect(sent.map((r) => r.query.prefix)).toEqual(['r/1/']);
  });

  it('lists a single key under its own key, and keys with no common folder one by one', async () => {
    const single = cannedClient([{ status: 200, body: listingXml({ truncated: false }) }]);
    await versionsOfKeys(single.s3, 'b', ['r/1/original']);
    expect(single.sent.map((r) => r.query.prefix)).toEqual(['r/1/original']);
    const apart = cannedClient([
      { status: 200, body: listingXml({ truncated: false }) },
      { status: 200, body: listingXml({ truncated: false }) },
    ]);
    await versionsOfKeys(apart.s3, 'b', ['a/1', 'b/1']);
    expect(apart.sent.map((r) => r.query.prefix)).toEqual(['a/1', 'b/1']);
  });

  it('finds the folder keys share', () => {
    expect(commonFolder(['recordings/1/original', 'recordings/1/proxy.mp4'])).toBe('recordings/1/');
    expect(commonFolder(['recordings/12/a', 'recordings/13/a'])).toBe('recordings/');
    expect(commonFolder(['a/1', 'b/1'])).toBe('');
    expect(commonFolder([])).toBe('');
  });
});

describe('the sha256 tag', () => {
  const hash = 'ab'.repeat(32);

  it('is read from a tag set only when it holds a lowercase hex SHA-256', () => {
    expect(
      sha256FromTags([
        { Key: 'other', Value: 'x' },
        { Key: SHA256_TAG, Value: hash },
      ]),
    ).toBe(hash);
    expect(sha256FromTags([{ Key: SHA256_TAG, Value: hash.toUpperCase() }])).toBeUndefined();
    expect(sha256FromTags([{ Key: SHA256_TAG, Value: 'abc' }])).toBeUndefined();
    expect(sha256FromTags([{ Key: 'sha-256', Value: hash }])).toBeUndefined();
    expect(sha256FromTags([])).toBeUndefined();
    expect(sha256FromTags(undefined)).toBeUndefined();
  });

  it('is written as a tag set and as the Tagging parameter of a put, and never with something else', () => {
    expect(sha256Tagging(hash)).toEqual({ TagSet: [{ Key: 'sha256', Value: hash }] });
    expect(sha256TaggingParameter(hash)).toBe(`sha256=${hash}`);
    expect(() => sha256Tagging('not a hash')).toThrow(/not a lowercase hex SHA-256/);
    expect(() => sha256TaggingParameter(`${hash}&x=1`)).toThrow(/not a lowercase hex SHA-256/);
  });
});
