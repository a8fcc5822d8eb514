/**
 * Makes the review derivatives — proxy, thumbnail sprite, poster — in one ffmpeg run over the original, and
 * stores them under keys derived from the recording id, each with its provenance (input and output SHA-256,
 * ffmpeg version, arguments, duration) in metadata.
 *
 * Idempotent: the set is complete once `recordings/<id>/derivatives.json` exists (written last, once); a retry
 * returns it. Without it, versions a crashed attempt left at the derivative keys are removed before the new
 * uploads, so a re-run yields the same set of objects: no duplicates, no orphans. The attempt's temp dir goes in
 * every outcome; temp space is checked before starting; cancelling kills ffmpeg and waits for it to exit.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import {
  buildTranscodePlan,
  checkFreeSpace,
  estimateAttemptBytes,
  withAttemptTempDir,
  MediaError,
  OUTPUT_FILE_NAMES,
  type MediaTools,
  type TranscodeProfile,
  type TranscodeResult,
  type DerivativeFile,
} from './media/ffmpeg';
import { readObjectInto } from './storage/object-reader';
import { derivativeKey } from './storage/keys';
import { DERIVATIVES_MANIFEST } from './recording-object-keys';
import { isNotFound } from './storage/errors';
import { sha256TaggingParameter } from './storage/sha256-tag';
import { versionsOfKeys } from './storage/versions';
import { throttledHeartbeat, type ActivityContextPort } from './context';
import type { MediaInfo, StoredOriginal, Derivative, DerivativeSet } from '../domain/types';
import type { MetricsPort } from '../domain/metrics';

export interface TranscodeRecordingInput {
  recordingId: string;
  original: StoredOriginal;
  media: MediaInfo;
}

export interface TranscodeRecordingDeps {
  s3: S3Client;
  media: MediaTools;
  derivativesBucket: string;
  tmpDir: string;
  profile: TranscodeProfile;
  context: ActivityContextPort;
  metrics?: MetricsPort;
  /** MaxKeys of each ListObjectVersions page; the store's default when absent (tests make it small). */
  listPageSize?: number;
}

const MANIFEST = DERIVATIVES_MANIFEST;

export function makeTranscodeRecording(deps: TranscodeRecordingDeps) {
  const { s3, derivativesBucket: bucket } = deps;

  async function existingSet(recordingId: string): Promise<DerivativeSet | undefined> {
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: derivativeKey(recordingId, MANIFEST) }),
      );
      return JSON.parse(await object.Body!.transformToString()) as DerivativeSet;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function removeLeftovers(recordingId: string): Promise<void> {
    const keys = Object.values(OUTPUT_FILE_NAMES).map((name) => derivativeKey(recordingId, name));
    const leftovers = await versionsOfKeys(s3, bucket, keys, {
      ...(deps.listPageSize !== undefined && { pageSize: deps.listPageSize }),
    });
    for (const v of leftovers) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: v.key, VersionId: v.versionId }));
    }
  }

  /**
   * Downloads the exact original version, checking its hash on the way (a bad copy never gets a proxy), and
   * heartbeats as bytes arrive: a large original over a slow link takes longer than the heartbeat timeout.
   */
  async function download(original: StoredOriginal, target: string, signal: AbortSignal): Promise<void> {
    // The direct reader (storage/object-reader.ts) receives at several times the SDK stream's rate; the writes
    // are synchronous 1 MiB+ blocks into the page cache.
    const hash = createHash('sha256');
    const beat = throttledHeartbeat(deps.context);
    const fd = openSync(target, 'w');
    try {
      await readObjectInto(
        s3,
        { bucket: original.bucket, key: original.key, versionId: original.versionId },
        (chunk) => {
          hash.update(chunk);
          for (let written = 0; written < chunk.byteLength;)
            written += writeSync(fd, chunk, written, chunk.byteLength - written);
        },
        signal,
        { onProgress: (bytes) => beat(() => ({ phase: 'download', bytes, of: original.bytes })) },
      );
    } finally {
      closeSync(fd);
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== original.sha256) {
      throw ApplicationFailure.nonRetryable(
        `The stored original of this recording hashes to ${sha256}, not the recorded ${original.sha256}: ` +
          'run `custody verify` and investigate before transcoding.',
        'OriginalHashMismatch',
      );
    }
  }

  async function upload(
    recordingId: string,
    file: DerivativeFile,
    result: TranscodeResult,
  ): Promise<Derivative> {
    const name = OUTPUT_FILE_NAMES[file.kind];
    const key = derivativeKey(recordingId, name);
    const args = result.args.join(' ');
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: await readFile(file.path),
        ContentType: file.contentType,
        // The same tag as the original's, so that a deletion certificate lists every derivative with its hash.
        Tagging: sha256TaggingParameter(file.sha256),
        Metadata: {
          'recording-id': recordingId,
          'input-sha256': result.inputSha256,
          'output-sha256': file.sha256,
          'ffmpeg-version': result.ffmpegVersion,
          // S3 metadata is ASCII and at most 2 KB in all: the arguments are percent-encoded, and cut if huge
          // (the custody log always has them whole).
          'ffmpeg-args': encodeURIComponent(args).slice(0, 1500),
          'transcode-seconds': result.elapsedS.toFixed(3),
        },
      }),
    );
    if (!put.VersionId)
      throw new Error(`the derivatives store ${bucket} returned no version id: is versioning on?`);
    return {
      kind: file.kind,
      bucket,
      key,
      versionId: put.VersionId,
      sha256: file.sha256,
      bytes: file.bytes,
      contentType: file.contentType,
      width: file.width,
      height: file.height,
    };
  }

  return async function transcodeRecording(input: TranscodeRecordingInput): Promise<DerivativeSet> {
    const done = await existingSet(input.recordingId);
    if (done) return done;
    await removeLeftovers(input.recordingId);
    const signal = deps.context.cancellationSignal;
    try {
      return await withAttemptTempDir(deps.tmpDir, async (dir) => {
        await checkFreeSpace(dir, estimateAttemptBytes(input.media, input.original.bytes));
        const inputPath = path.join(dir, 'input');
        await download(input.original, inputPath, signal);
        const plan = buildTranscodePlan(deps.profile, input.media, { inputPath, outputDir: dir });
        const beat = throttledHeartbeat(deps.context);
        const result = await deps.media.transcode(plan, {
          signal,
          inputSha256: input.original.sha256, // verified by download() above
          onProgress: (p) => beat(() => ({ fraction: p.fraction, fps: p.fps, speed: p.speed })),
        });
        deps.context.heartbeat({ fraction: 1, uploading: true });
        // Side by side; a failure is thrown only once all three have settled, so no PUT of this attempt is
        // still in flight when a retry removes the leftovers.
        const uploads = await Promise.allSettled(
          [result.proxy, result.sprite, result.poster].map((file) => upload(input.recordingId, file, result)),
        );
        const failed = uploads.find((u): u is PromiseRejectedResult => u.status === 'rejected');
        if (failed) throw failed.reason;
        const derivatives = uploads.map((u) => (u as PromiseFulfilledResult<Derivative>).value);
        const set: DerivativeSet = {
          inputSha256: result.inputSha256,
          ffmpegVersion: result.ffmpegVersion,
          args: result.args,
          elapsedS: result.elapsedS,
          ffmpegElapsedS: result.ffmpegElapsedS,
          partial: result.partial ? { ...result.partial } : null,
          derivatives,
        };
        // Written once, last: its presence means the whole set is stored.
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: derivativeKey(input.recordingId, MANIFEST),
            Body: JSON.stringify(set),
            ContentType: 'application/json',
          }),
        );
        deps.metrics?.transcodeSeconds.observe(result.elapsedS);
        if (input.media.durationS > 0)
          deps.metrics?.transcodeRealTimeFactor.observe(input.media.durationS / result.elapsedS);
        return set;
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : err;
      if (err instanceof MediaError) {
        deps.metrics?.transcodeFailures.inc({ reason: err.type });
        throw ApplicationFailure.create({
          message: err.message,
          type: err.type,
          nonRetryable: err.nonRetryable,
          details: [err.details],
        });
      }
      deps.metrics?.transcodeFailures.inc({ reason: 'other' });
      throw err;
    }
  };
}
