/** Small S3 chores shared by cases: put an input in place and remove every version a run left behind. */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { HashingStream, CHUNK_BYTES } from '../activities/storage/hashing-stream';
import { MiB } from './runner';
import { hashFile, uploadParts } from '../cli/upload';
import { planUpload, signPartUrls, type UploadPlan } from '../api/uploads';
import { listVersions, type ListedVersion } from '../activities/storage/versions';

export async function putFile(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
): Promise<{ etag: string; versionId?: string }> {
  const result = await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
    partSize: 16 * MiB,
  }).done();
  if (!result.ETag) throw new Error(`no ETag for s3://${bucket}/${key}`);
  return { etag: result.ETag, ...(result.VersionId && { versionId: result.VersionId }) };
}

export interface UploadResult {
  key: string;
  etag: string;
  sha256: string;
  bytes: number;
}

/**
 * A dock's direct upload into the incoming store (the inbox path): multipart + SHA-256 in one read of the file
 * (1 MiB chunks), 8 MiB parts × 4 in flight. What `custody ingest` did before it went through the API; the
 * cases use it to put recordings in place as a dock would.
 */
export async function uploadAndHash(
  s3: S3Client,
  bucket: string,
  key: string,
  file: string,
  onProgress?: (bytes: number) => void,
): Promise<UploadResult> {
  const hashing = new HashingStream(onProgress);
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: hashing, ContentType: 'application/octet-stream' },
    partSize: 8 * MiB,
    queueSize: 4,
    leavePartsOnError: false,
  });
  const [, result] = await Promise.all([
    pipeline(createReadStream(file, { highWaterMark: CHUNK_BYTES }), hashing),
    upload.done(),
  ]);
  if (!result.ETag) throw new Error(`the incoming store returned no ETag for ${key}`);
  return { key, etag: result.ETag, sha256: hashing.sha256(), bytes: hashing.bytes };
}

/** Deletes every version and delete marker under `prefix` (the bench buckets carry no retention). */
export async function deleteAllVersions(client: S3Client, bucket: string, prefix: string): Promise<void> {
  // Listed in full first: a listing resumed after its marker was deleted may end early.
  const all: ListedVersion[] = [];
  for await (const version of listVersions(client, bucket, prefix)) all.push(version);
  for (const version of all) {
    await client.send(
      new DeleteObjectCommand({
        Bucket: bucket,
        Key: version.key,
        // 'null': the version of an object written before versioning was enabled, deleted by its key.
        ...(version.versionId !== 'null' && { VersionId: version.versionId }),
      }),
    );
  }
}

/** A multipart upload opened as the API opens one: the part plan and where it goes. */
export interface PresignedUpload extends UploadPlan {
  bucket: string;
  key: string;
  uploadId: string;
  bytes: number;
}

/** What POST /v1/uploads does, minus the ticket: a multipart upload of `bytes` under `key`. */
export async function beginPresignedUpload(
  client: S3Client,
  bucket: string,
  key: string,
  bytes: number,
): Promise<PresignedUpload> {
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  return { bucket, key, uploadId: created.UploadId!, bytes, ...planUpload(bytes) };
}

/** What POST /v1/uploads/complete does to the store: list the parts, join them; the object's ETag. */
export async function completePresignedUpload(client: S3Client, upload: PresignedUpload): Promise<string> {
  const { bucket: Bucket, key: Key, uploadId: UploadId } = upload;
  const listed = await client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
  const completed = await client.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: {
        Parts: (listed.Parts ?? []).map((p) => ({ PartNumber: p.PartNumber!, ETag: p.ETag! })),
      },
    }),
  );
  if (!completed.ETag) throw new Error(`the store returned no ETag for ${Key}`);
  return completed.ETag;
}

/**
 * One upload as `custody ingest` makes it (cli/upload.ts: the hash, then the parts on presigned URLs signed as the
 * API signs them), opened and completed as the API does it — without the API's three small JSON calls.
 */
export async function uploadThroughPresignedParts(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
  onProgress?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number; etag: string }> {
  const { sha256, bytes } = await hashFile(file);
  const upload = await beginPresignedUpload(client, bucket, key, bytes);
  await uploadParts(
    file,
    upload,
    async (numbers) => (await signPartUrls(client, upload, numbers)).parts,
    onProgress,
  );
  return { sha256, bytes, etag: await completePresignedUpload(client, upload) };
}
