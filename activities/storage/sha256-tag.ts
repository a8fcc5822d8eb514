/**
 * The `sha256` tag: the SHA-256 of a stored version, put on that exact version once it is known. A tag and not
 * x-amz-meta, because metadata is fixed when an object is written and the original's hash is known only after
 * its copy. A finished copy is recognised by it (copy-and-hash-original.ts), and a deletion records it
 * (delete-recording.ts). The custody log, not the tag, is the authoritative record of a hash.
 */
import {
  GetObjectTaggingCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type Tag,
  type Tagging,
} from '@aws-sdk/client-s3';

export const SHA256_TAG = 'sha256';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The hash in a tag set; undefined when there is no `sha256` tag or it is not a lowercase hex SHA-256. */
export function sha256FromTags(tagSet: readonly Tag[] | undefined): string | undefined {
  const value = tagSet?.find((tag) => tag.Key === SHA256_TAG)?.Value;
  return value !== undefined && SHA256_HEX.test(value) ? value : undefined;
}

function requireSha256(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a lowercase hex SHA-256: ${JSON.stringify(sha256)}`);
  return sha256;
}

/** The Tagging of PutObjectTagging. */
export function sha256Tagging(sha256: string): Tagging {
  return { TagSet: [{ Key: SHA256_TAG, Value: requireSha256(sha256) }] };
}

/** The `Tagging` parameter of PutObject / CreateMultipartUpload (URL query form). */
export function sha256TaggingParameter(sha256: string): string {
  return new URLSearchParams({ [SHA256_TAG]: requireSha256(sha256) }).toString();
}

export interface VersionRef {
  bucket: string;
  key: string;
  versionId: string;
}

/** The `sha256` tag of one version; undefined when it has none. Errors (a missing version) are the store's. */
export async function readSha256Tag(
  s3: S3Client,
  ref: VersionRef,
  abortSignal?: AbortSignal,
): Promise<string | undefined> {
  const tags = await s3.send(
    new GetObjectTaggingCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
    { ...(abortSignal && { abortSignal }) },
  );
  return sha256FromTags(tags.TagSet);
}

/** Tags one version with its hash (replacing its tag set: the hash is the only tag we put). */
export async function writeSha256Tag(
  s3: S3Client,
  ref: VersionRef,
  sha256: string,
  abortSignal?: AbortSignal,
): Promise<void> {
  await s3.send(
    new PutObjectTaggingCommand({
      Bucket: ref.bucket,
      Key: ref.key,
      VersionId: ref.versionId,
      Tagging: sha256Tagging(sha256),
    }),
    { ...(abortSignal && { abortSignal }) },
  );
}
