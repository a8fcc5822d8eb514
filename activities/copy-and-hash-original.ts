/**
 * Copies a recording's original from the incoming store into the evidence store, hashing it in the same read.
 *
 * Idempotent: the evidence key derives from the recording id, and a finished copy carries a `sha256` tag on
 * its exact version. A retry first looks for such a version (a crash after the copy finished) and returns it;
 * versions without the tag and open multipart uploads are leftovers of a crashed attempt and are removed, so a
 * retry at any line leaves one version and no orphaned parts.
 *
 * Why a tag and not x-amz-meta: S3 fixes user metadata when an upload starts, before the last byte is hashed;
 * rewriting it would cost a server-side copy of every original. The computed hash therefore goes into the
 * version's tags and, authoritatively, into the WORM custody log; the declared hash (manifest or CLI), known up
 * front, is in the metadata.
 */
import {
  GetObjectCommand,
  ListObjectVersionsCommand,
  GetObjectTaggingCommand,
  PutObjectTaggingCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  AbortMultipartUploadCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { HashingStream } from './storage/hashing-stream';
import { evidenceOriginalKey } from './storage/keys';
import { isNotFound } from './storage/s3';
import type { ActivityContextPort } from './context';
import type { StoredOriginal } from './types';
import type { CustodyMetrics } from '../workers/metrics';

export interface CopyAndHashInput {
  recordingId: string;
  source: { bucket: string; key: string; etag: string; size: number };
  originalName: string;
  declaredSha256?: string;
}

export interface CopyAndHashDeps {
  s3: S3Client;
  evidenceBucket: string;
  context: ActivityContextPort;
  metrics?: CustodyMetrics;
  /** Multipart part size; memory use is about partSize × (queueSize + 1), whatever the file's size. */
  partSizeBytes?: number;
  queueSize?: number;
}

const SHA256_TAG = 'sha256';

export function makeCopyAndHashOriginal(deps: CopyAndHashDeps) {
  const partSize = deps.partSizeBytes ?? 16 * 1024 * 1024;
  const queueSize = deps.queueSize ?? 2;

  async function findFinishedCopy(key: string): Promise<{ finished?: StoredOriginal; leftovers: string[] }> {
    const leftovers: string[] = [];
    let finished: StoredOriginal | undefined;
    const listing = await deps.s3.send(
      new ListObjectVersionsCommand({ Bucket: deps.evidenceBucket, Prefix: key }),
    );
    for (const version of listing.Versions ?? []) {
      if (version.Key !== key || !version.VersionId) continue;
      const tags = await deps.s3.send(
        new GetObjectTaggingCommand({ Bucket: deps.evidenceBucket, Key: key, VersionId: version.VersionId }),
      );
      const sha256 = tags.TagSet?.find((t) => t.Key === SHA256_TAG)?.Value;
      if (sha256 && !finished) {
        finished = {
          bucket: deps.evidenceBucket,
          key,
          versionId: version.VersionId,
          sha256,
          bytes: version.Size ?? 0,
        };
      } else {
        leftovers.push(version.VersionId);
      }
    }
    return finished ? { finished, leftovers } : { leftovers };
  }

  async function removeLeftovers(key: string, versionIds: string[]): Promise<void> {
    for (const versionId of versionIds) {
      await deps.s3.send(
        new DeleteObjectCommand({ Bucket: deps.evidenceBucket, Key: key, VersionId: versionId }),
      );
    }
    const uploads = await deps.s3.send(
      new ListMultipartUploadsCommand({ Bucket: deps.evidenceBucket, Prefix: key }),
    );
    for (const upload of uploads.Uploads ?? []) {
      if (upload.Key === key && upload.UploadId) {
        await deps.s3.send(
          new AbortMultipartUploadCommand({
            Bucket: deps.evidenceBucket,
            Key: key,
            UploadId: upload.UploadId,
          }),
        );
      }
    }
  }

  return async function copyAndHashOriginal(input: CopyAndHashInput): Promise<StoredOriginal> {
    const key = evidenceOriginalKey(input.recordingId);
    const { finished, leftovers } = await findFinishedCopy(key);
    if (finished) {
      // A previous attempt finished the copy; extra versions would be duplicates of an unfinished retry.
      await removeLeftovers(key, leftovers);
      return finished;
    }
    await removeLeftovers(key, leftovers);

    const signal = deps.context.cancellationSignal;
    let body: Readable;
    try {
      const object = await deps.s3.send(
        // IfMatch: we copy exactly the object the recording id was derived from, or nothing.
        new GetObjectCommand({
          Bucket: input.source.bucket,
          Key: input.source.key,
          IfMatch: input.source.etag,
        }),
        { abortSignal: signal },
      );
      body = object.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) {
        throw ApplicationFailure.nonRetryable(
          `The incoming object s3://${input.source.bucket}/${input.source.key} is gone; it may have been ` +
            `processed under another recording id or removed by hand.`,
          'SourceMissing',
        );
      }
      throw err;
    }

    let lastBeat = 0;
    const hashing = new HashingStream((bytes) => {
      const now = Date.now();
      if (now - lastBeat >= 2000) {
        lastBeat = now;
        deps.context.heartbeat({ bytes, of: input.source.size });
      }
    });
    const started = process.hrtime.bigint();
    const upload = new Upload({
      client: deps.s3,
      partSize,
      queueSize,
      leavePartsOnError: false,
      params: {
        Bucket: deps.evidenceBucket,
        Key: key,
        Body: hashing,
        ContentType: 'application/octet-stream',
        Metadata: {
          'recording-id': input.recordingId,
          // S3 metadata is ASCII: the original name is kept percent-encoded (Einsatz_Größe_ß.mp4 survives).
          'original-name': encodeURIComponent(input.originalName),
          'source-etag': input.source.etag.replace(/"/g, ''),
          ...(input.declaredSha256 && { 'declared-sha256': input.declaredSha256 }),
        },
      },
    });
    const onAbort = () => void upload.abort();
    signal.addEventListener('abort', onAbort);
    try {
      const [, result] = await Promise.all([pipeline(body, hashing, { signal }), upload.done()]);
      const sha256 = hashing.sha256();
      const versionId = result.VersionId;
      if (!versionId)
        throw new Error(
          `The evidence store ${deps.evidenceBucket} returned no version id: is versioning on?`,
        );
      if (hashing.bytes !== input.source.size) {
        throw ApplicationFailure.retryable(
          `Read ${hashing.bytes} bytes of s3://${input.source.bucket}/${input.source.key}, expected ${input.source.size}`,
          'ShortRead',
        );
      }
      await deps.s3.send(
        new PutObjectTaggingCommand({
          Bucket: deps.evidenceBucket,
          Key: key,
          VersionId: versionId,
          Tagging: { TagSet: [{ Key: SHA256_TAG, Value: sha256 }] },
        }),
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics?.recordingsIngested.inc();
      deps.metrics?.bytesIngested.inc(hashing.bytes);
      if (seconds > 0) deps.metrics?.hashThroughput.observe(hashing.bytes / seconds);
      return { bucket: deps.evidenceBucket, key, versionId, sha256, bytes: hashing.bytes };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}
