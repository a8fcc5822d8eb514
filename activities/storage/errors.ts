/**
 * What an S3 error means, decided in one place. The SDK throws a ServiceException whose `name` is the store's
 * error code (NoSuchKey, PreconditionFailed, …) and whose `$metadata.httpStatusCode` is the HTTP status; an
 * answer without a body (every HEAD request) carries no code, only the status (`NotFound` for a 404, `Unknown`
 * otherwise), so each class falls back to the status. The codes and messages below are what versitygw and AWS
 * answer; test/integration/storage.test.ts pins versitygw's against the real server.
 */

export type S3ErrorKind =
  /** The key or version does not exist; or a HEAD answered 404. */
  | 'not-found'
  /** The bucket does not exist (NoSuchBucket). */
  | 'no-such-bucket'
  /** The multipart upload does not exist (aborted or completed). */
  | 'no-such-upload'
  /** A conditional write lost (If-None-Match: *, CopySourceIfMatch): the object exists or changed. */
  | 'precondition-failed'
  /** A delete or overwrite refused because Object Lock protects the version (retention or legal hold). */
  | 'locked'
  /** Any other 403: missing permission, wrong credentials. */
  | 'access-denied'
  /** The version has no retention or legal hold of its own (GetObjectRetention / GetObjectLegalHold). */
  | 'no-lock-on-object'
  /** The bucket was created without Object Lock, so it takes no retention at all. */
  | 'bucket-without-object-lock'
  /** CreateBucket of a bucket the caller already owns. */
  | 'bucket-already-owned'
  | 'other';

/** The HTTP status the store answered with; undefined for an error that never reached it (network, abort). */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The store's error code (the SDK puts it in `name`; `Code` where only that is set). */
export function s3ErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, Code } = err as { name?: unknown; Code?: unknown };
  if (typeof Code === 'string' && Code) return Code;
  return typeof name === 'string' && name ? name : undefined;
}

function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** versitygw and AWS both say "Access Denied because object protected by object lock." */
const OBJECT_LOCK_WORDS = /object ?lock/i;

const KIND_OF_CODE: Record<string, S3ErrorKind> = {
  NoSuchKey: 'not-found',
  NoSuchVersion: 'not-found',
  NotFound: 'not-found',
  NoSuchBucket: 'no-such-bucket',
  NoSuchUpload: 'no-such-upload',
  PreconditionFailed: 'precondition-failed',
  NoSuchObjectLockConfiguration: 'no-lock-on-object',
  // Answers 404, but about the bucket's configuration, not a missing object.
  ObjectLockConfigurationNotFoundError: 'bucket-without-object-lock',
  BucketAlreadyOwnedByYou: 'bucket-already-owned',
};

export function classifyS3Error(err: unknown): S3ErrorKind {
  const code = s3ErrorCode(err);
  const known = code === undefined ? undefined : KIND_OF_CODE[code];
  if (known) return known;
  const status = httpStatusOf(err);
  if (code === 'AccessDenied' || status === 403) {
    return OBJECT_LOCK_WORDS.test(messageOf(err)) ? 'locked' : 'access-denied';
  }
  // PutObjectRetention on a bucket without Object Lock: "Bucket is missing Object Lock Configuration".
  if (code === 'InvalidRequest' && OBJECT_LOCK_WORDS.test(messageOf(err)))
    return 'bucket-without-object-lock';
  if (status === 404) return 'not-found';
  if (status === 412) return 'precondition-failed';
  return 'other';
}

/** The object, version, upload or bucket is not there. */
export function isNotFound(err: unknown): boolean {
  const kind = classifyS3Error(err);
  return kind === 'not-found' || kind === 'no-such-bucket' || kind === 'no-such-upload';
}

export const isPreconditionFailed = (err: unknown): boolean => classifyS3Error(err) === 'precondition-failed';

/** Refused for lack of rights — including a refusal because Object Lock protects the version. */
export function isAccessDenied(err: unknown): boolean {
  const kind = classifyS3Error(err);
  return kind === 'access-denied' || kind === 'locked';
}

export const isRefusedByObjectLock = (err: unknown): boolean => classifyS3Error(err) === 'locked';
