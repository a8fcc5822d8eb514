/**
 * Copies a recording's original from the incoming store into the evidence store, then hashes what was stored.
 *
 * The copy is server-side — CopyObject, or above `multipartThresholdBytes` a multipart copy of byte ranges
 * (UploadPartCopy) — so the bytes never travel through this process on their way in. The SHA-256 comes from one
 * GET of the exact evidence version the copy created: the hash is of what is stored, not of what was sent. The
 * copy and every part are conditional on the incoming object's ETag, so a replaced incoming object fails the
 * copy (SourceChanged) instead of storing other bytes under this recording id.
 *
 * Idempotent: the evidence key derives from the recording id, and a finished copy carries a `sha256` tag on
 * its exact version. A retry first looks for such a version (a crash after the tag was written) and returns it;
 * versions without the tag and open multipart uploads are leftovers of a crashed attempt and are removed, so a
 * retry at any line leaves one version and no orphaned parts. The search costs two listings; it is skipped only
 * when nothing can have been written yet (`firstTry` on attempt 1).
 *
 * Why a tag and not x-amz-meta: the hash is known only after the copy, and metadata is fixed when an object is
 * written; rewriting it would cost another copy. The computed hash therefore goes into the version's tags and,
 * authoritatively, into the WORM custody log; the declared hash (manifest or CLI), known up front, is in the
 * metadata.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { readObjectInto } from './storage/object-reader';
import { evidenceOriginalKey } from './storage/keys';
import { classifyS3Error } from './storage/errors';
import { readSha256Tag, writeSha256Tag } from './storage/sha256-tag';
import { versionsOfKeys } from './storage/versions';
import { throttledHeartbeat, type ActivityContextPort } from './context';
import type { StoredOriginal } from '../domain/types';
import type { MetricsPort } from '../domain/metrics';

export interface CopyAndHashInput {
  recordingId: string;
  source: { bucket: string; key: string; etag: string; size: number };
  originalName: string;
  declaredSha256?: string;
  /**
   * Set by the workflow only when it schedules this stage for the first time in the recording's life — not when
   * it runs the stage again (a replay after needs-attention, after a quarantine release, after a workflow
   * reset). On attempt 1 it promises that nothing of this recording is in the evidence store yet, so the search
   * for a finished copy or a crashed attempt's leftovers (ListObjectVersions, ListMultipartUploads) is skipped.
   * Absent or false, or on any later attempt: the full search.
   */
  firstTry?: boolean;
}

export interface CopyAndHashDeps {
  s3: S3Client;
  evidenceBucket: string;
  context: ActivityContextPort;
  metrics?: MetricsPort;
  /** Originals larger than this are copied in parts (UploadPartCopy); at most 5 GiB, S3's CopyObject limit. */
  multipartThresholdBytes?: number;
  /**
   * Part size of a multipart copy, 5 MiB–5 GiB (S3's limits); raised for an original that would otherwise
   * need more than 10,000 parts. The parts are copied by the store: no memory here.
   */
  partSizeBytes?: number;
  /** Part copies in flight at once. */
  queueSize?: number;
  /** MaxKeys of each ListObjectVersions page; the store's default when absent (tests make it small). */
  listPageSize?: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's limits: a single CopyObject and one part at most 5 GiB, a part (but the last) at least 5 MiB. */
const MAX_SINGLE_COPY_BYTES = 5 * GiB;
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;
/** The store reports no progress while it copies: heartbeat on a clock (and let cancellation reach us). */
const HEARTBEAT_MS = 2000;

/** `bucket/key` for x-amz-copy-source, URL-encoded (names such as Einsatz_Größe_ß.mp4 or `a+b` survive). */
function copySourceOf(source: { bucket: string; key: string }): string {
  return `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`;
}

export function makeCopyAndHashOriginal(deps: CopyAndHashDeps) {
  const threshold = deps.multipartThresholdBytes ?? MAX_SINGLE_COPY_BYTES;
  const partSize = deps.partSizeBytes ?? 512 * MiB;
  const queueSize = deps.queueSize ?? 2;
  if (!(threshold >= 0 && threshold <= MAX_SINGLE_COPY_BYTES)) {
    throw new Error(
      `multipartThresholdBytes is ${threshold}: it must be between 0 and ${MAX_SINGLE_COPY_BYTES} (5 GiB, the ` +
        `largest object S3 copies in one CopyObject).`,
    );
  }
  if (!(partSize >= MIN_PART_BYTES && partSize <= MAX_SINGLE_COPY_BYTES)) {
    throw new Error(
      `partSizeBytes is ${partSize}: S3 copies parts of 5 MiB (${MIN_PART_BYTES}) to 5 GiB; choose one in between.`,
    );
  }
  if (!(Number.isInteger(queueSize) && queueSize >= 1)) {
    throw new Error(`queueSize is ${queueSize}: it must be a whole number of parts in flight, at least 1.`);
  }
  const { s3, evidenceBucket } = deps;

  async function findFinishedCopy(
    key: string,
    signal: AbortSignal,
  ): Promise<{ finished?: StoredOriginal; leftovers: string[] }> {
    const leftovers: string[] = [];
    let finished: StoredOriginal | undefined;
    const listed = await versionsOfKeys(s3, evidenceBucket, [key], {
      abortSignal: signal,
      ...(deps.listPageSize !== undefined && { pageSize: deps.listPageSize }),
    });
    for (const version of listed) {
      if (version.kind !== 'version') continue;
      const sha256 = await readSha256Tag(s3, version, signal);
      if (sha256 && !finished) {
        finished = {
          bucket: evidenceBucket,
          key,
          versionId: version.versionId,
          sha256,
          bytes: version.bytes,
        };
      } else {
        leftovers.push(version.versionId);
      }
    }
    return finished ? { finished, leftovers } : { leftovers };
  }

  async function removeLeftovers(key: string, versionIds: string[], signal: AbortSignal): Promise<void> {
    for (const versionId of versionIds) {
      await s3.send(new DeleteObjectCommand({ Bucket: evidenceBucket, Key: key, VersionId: versionId }), {
        abortSignal: signal,
      });
    }
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: evidenceBucket, Prefix: key }), {
      abortSignal: signal,
    });
    for (const upload of uploads.Uploads ?? []) {
      if (upload.Key === key && upload.UploadId) {
        await s3.send(
          new AbortMultipartUploadCommand({ Bucket: evidenceBucket, Key: key, UploadId: upload.UploadId }),
          { abortSignal: signal },
        );
      }
    }
  }

  /** Failures that are facts about the incoming object, in words that name it; anything else unchanged. */
  function explainSourceFailure(err: unknown, input: CopyAndHashInput): unknown {
    const where = `s3://${input.source.bucket}/${input.source.key}`;
    const kind = classifyS3Error(err);
    if (kind === 'precondition-failed') {
      return ApplicationFailure.nonRetryable(
        `The incoming object ${where} was replaced after recording ${input.recordingId} was registered for it: ` +
          `its ETag is no longer ${input.source.etag}, so its bytes are not the ones this recording stands for. ` +
          `Nothing was stored; ingest the new file as a new recording.`,
        'SourceChanged',
      );
    }
    // A missing key or version in a copy is the source's; a missing upload or bucket stays as the store said.
    if (kind === 'not-found') {
      return ApplicationFailure.nonRetryable(
        `The incoming object ${where} is gone; it may have been processed under another recording id or ` +
          `removed by hand.`,
        'SourceMissing',
      );
    }
    return err;
  }

  /** Server-side copy of the whole object; returns the evidence version it created. */
  async function copyWhole(
    input: CopyAndHashInput,
    key: string,
    metadata: Record<string, string>,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket: evidenceBucket,
        Key: key,
        CopySource: copySourceOf(input.source),
        // We copy exactly the object the recording id was derived from, or nothing.
        CopySourceIfMatch: input.source.etag,
        MetadataDirective: 'REPLACE',
        Metadata: metadata,
        ContentType: 'application/octet-stream',
      }),
      { abortSignal: signal },
    );
    return copied.VersionId;
  }

  /** Server-side copy in byte ranges, `queueSize` at a time; the upload is aborted on any failure. */
  async function copyInParts(
    input: CopyAndHashInput,
    key: string,
    metadata: Record<string, string>,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const size = input.source.size;
    const part = Math.max(partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
    const ranges: { partNumber: number; first: number; last: number }[] = [];
    for (let first = 0; first < size; first += part) {
      ranges.push({ partNumber: ranges.length + 1, first, last: Math.min(first + part, size) - 1 });
    }
    const created = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: evidenceBucket,
        Key: key,
        Metadata: metadata,
        ContentType: 'application/octet-stream',
      }),
      { abortSignal: signal },
    );
    const uploadId = created.UploadId;
    if (!uploadId)
      throw new Error(`The evidence store ${evidenceBucket} started a multipart copy without an id`);

    // One failed part stops the others; cancellation stops them all.
    const stopParts = new AbortController();
    const stop = () => stopParts.abort(signal.reason);
    signal.addEventListener('abort', stop);
    let firstFailure: unknown;
    const completed: CompletedPart[] = [];
    let copiedBytes = 0;
    let next = 0;
    const copier = async () => {
      while (next < ranges.length && !stopParts.signal.aborted) {
        const range = ranges[next++]!;
        try {
          const result = await s3.send(
            new UploadPartCopyCommand({
              Bucket: evidenceBucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: range.partNumber,
              CopySource: copySourceOf(input.source),
              CopySourceIfMatch: input.source.etag,
              CopySourceRange: `bytes=${range.first}-${range.last}`,
            }),
            { abortSignal: stopParts.signal },
          );
          completed.push({ PartNumber: range.partNumber, ETag: result.CopyPartResult?.ETag });
          copiedBytes += range.last - range.first + 1;
          deps.context.heartbeat({ phase: 'copy', copiedBytes, of: size });
        } catch (err) {
          if (!stopParts.signal.aborted) {
            firstFailure = err;
            stopParts.abort(err);
          }
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(queueSize, ranges.length) }, copier));
      if (stopParts.signal.aborted) throw firstFailure ?? signal.reason;
      completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: evidenceBucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
        }),
        { abortSignal: signal },
      );
      return done.VersionId;
    } catch (err) {
      // Not with the (perhaps aborted) signal: the parts must go whatever stopped us. If this fails too, the
      // next attempt's leftover search aborts the upload.
      await s3
        .send(new AbortMultipartUploadCommand({ Bucket: evidenceBucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
      throw err;
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** SHA-256 and length of one stored version, read once; heartbeats with the progress. */
  async function hashVersion(
    key: string,
    versionId: string,
    expectedBytes: number,
    signal: AbortSignal,
  ): Promise<{ sha256: string; bytes: number }> {
    // The direct reader (storage/object-reader.ts) receives at several times the SDK's rate; it falls back to
    // the SDK for anything but a plain 200.
    const hash = createHash('sha256');
    let bytes = 0;
    // As raw bytes arrive, not per hashed block: a slow link can take longer than the timeout for one block.
    const beat = throttledHeartbeat(deps.context);
    await readObjectInto(
      s3,
      { bucket: evidenceBucket, key, versionId },
      (chunk) => {
        hash.update(chunk);
        bytes += chunk.byteLength;
      },
      signal,
      { onProgress: (received) => beat(() => ({ phase: 'hash', bytes: received, of: expectedBytes })) },
    );
    return { sha256: hash.digest('hex'), bytes };
  }

  async function copyAndHash(input: CopyAndHashInput, signal: AbortSignal): Promise<StoredOriginal> {
    const key = evidenceOriginalKey(input.recordingId);
    if (!(input.firstTry && deps.context.attempt === 1)) {
      const { finished, leftovers } = await findFinishedCopy(key, signal);
      // Extra versions beside a finished one would be duplicates of an unfinished retry.
      await removeLeftovers(key, leftovers, signal);
      if (finished) return finished;
    }

    const metadata = {
      'recording-id': input.recordingId,
      // S3 metadata is ASCII: the original name is kept percent-encoded (Einsatz_Größe_ß.mp4 survives).
      'original-name': encodeURIComponent(input.originalName),
      'source-etag': input.source.etag.replace(/"/g, ''),
      ...(input.declaredSha256 && { 'declared-sha256': input.declaredSha256 }),
    };
    const started = process.hrtime.bigint();
    const beat = setInterval(
      () => deps.context.heartbeat({ phase: 'copy', of: input.source.size }),
      HEARTBEAT_MS,
    );
    let versionId: string | undefined;
    try {
      versionId =
        input.source.size > threshold
          ? await copyInParts(input, key, metadata, signal)
          : await copyWhole(input, key, metadata, signal);
    } catch (err) {
      throw explainSourceFailure(err, input);
    } finally {
      clearInterval(beat);
    }
    if (!versionId) {
      throw new Error(`The evidence store ${evidenceBucket} returned no version id: is versioning on?`);
    }

    const { sha256, bytes } = await hashVersion(key, versionId, input.source.size, signal);
    if (bytes !== input.source.size) {
      // The untagged version is a leftover for the retry to remove.
      throw ApplicationFailure.retryable(
        `The evidence copy s3://${evidenceBucket}/${key} (version ${versionId}) holds ${bytes} bytes, but the ` +
          `incoming object s3://${input.source.bucket}/${input.source.key} had ${input.source.size}`,
        'ShortRead',
      );
    }
    await writeSha256Tag(s3, { bucket: evidenceBucket, key, versionId }, sha256, signal);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics?.recordingsIngested.inc();
    deps.metrics?.bytesIngested.inc(bytes);
    if (seconds > 0) deps.metrics?.hashThroughput.observe(bytes / seconds);
    return { bucket: evidenceBucket, key, versionId, sha256, bytes };
  }

  return async function copyAndHashOriginal(input: CopyAndHashInput): Promise<StoredOriginal> {
    const signal = deps.context.cancellationSignal;
    try {
      return await copyAndHash(input, signal);
    } catch (err) {
      // Cancelled: report the cancellation itself (Temporal's CancelledFailure), not the abort it caused.
      if (signal.aborted && signal.reason instanceof Error) throw signal.reason;
      throw err;
    }
  };
}
