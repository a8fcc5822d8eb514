/**
 * Moves suspicious input to the quarantine store with a reason record beside it, then removes it from the
 * inbox (and an unlocked evidence copy, if one was made). Nothing is lost: the bytes are copied and checked in
 * quarantine before any source is removed, and a retry finds the copy already there.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  CopyObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { quarantineManifestKey, quarantineObjectKey, quarantineReasonKey } from './storage/keys';
import { isNotFound } from './storage/errors';
import type { ObjectRef, QuarantineReason, QuarantineRecord, StoredOriginal } from '../domain/types';
import type { MetricsPort } from '../domain/metrics';

export interface QuarantineInput {
  recordingId: string;
  source: Required<Pick<ObjectRef, 'bucket' | 'key' | 'etag' | 'size'>>;
  manifestKey?: string;
  evidenceCopy?: StoredOriginal;
  reason: QuarantineReason;
  message: string;
}

export function makeQuarantineRecording(deps: {
  s3: S3Client;
  quarantineBucket: string;
  metrics?: MetricsPort;
}) {
  const { s3, quarantineBucket } = deps;

  async function head(bucket: string, key: string) {
    try {
      return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  return async function quarantineRecording(input: QuarantineInput): Promise<QuarantineRecord> {
    const objectKey = quarantineObjectKey(input.recordingId);
    const reasonKey = quarantineReasonKey(input.recordingId);
    const at = new Date().toISOString();
    let stored = await head(quarantineBucket, objectKey);
    if (!stored) {
      // The inbox copy is the bytes as received; fall back to the evidence copy if the inbox one is gone.
      const from = (await head(input.source.bucket, input.source.key))
        ? { bucket: input.source.bucket, key: input.source.key }
        : input.evidenceCopy && { bucket: input.evidenceCopy.bucket, key: input.evidenceCopy.key };
      if (!from) {
        throw ApplicationFailure.nonRetryable(
          `Cannot quarantine ${input.recordingId}: neither s3://${input.source.bucket}/${input.source.key} nor an evidence copy exists`,
          'NothingToQuarantine',
        );
      }
      await s3.send(
        new CopyObjectCommand({
          Bucket: quarantineBucket,
          Key: objectKey,
          CopySource: `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
          MetadataDirective: 'REPLACE',
          Metadata: { 'recording-id': input.recordingId, 'source-key': encodeURIComponent(input.source.key) },
        }),
      );
      stored = await head(quarantineBucket, objectKey);
    }
    if (!stored || (stored.ContentLength ?? -1) !== input.source.size) {
      throw new Error(
        `Quarantine copy of ${input.recordingId} has ${stored?.ContentLength} bytes, expected ${input.source.size}; sources kept`,
      );
    }
    const record: QuarantineRecord = {
      reason: input.reason,
      message: input.message,
      at,
      object: {
        bucket: quarantineBucket,
        key: objectKey,
        size: input.source.size,
        ...(stored.ETag && { etag: stored.ETag }),
        ...(stored.VersionId && { versionId: stored.VersionId }),
      },
      reasonKey,
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: quarantineBucket,
        Key: reasonKey,
        ContentType: 'application/json',
        Body: JSON.stringify({ recordingId: input.recordingId, source: input.source, ...record }, null, 2),
      }),
    );
    // Only now, with the bytes safe in quarantine, remove them from where they were — unless they came from
    // quarantine (a released recording that failed again): then they are where they belong.
    const fromQuarantine = input.source.bucket === quarantineBucket && input.source.key === objectKey;
    if (!fromQuarantine) {
      await s3.send(new DeleteObjectCommand({ Bucket: input.source.bucket, Key: input.source.key }));
    }
    if (input.manifestKey) {
      await s3
        .send(
          new CopyObjectCommand({
            Bucket: quarantineBucket,
            Key: quarantineManifestKey(input.recordingId),
            CopySource: `${input.source.bucket}/${encodeURIComponent(input.manifestKey).replace(/%2F/g, '/')}`,
          }),
        )
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
      await s3.send(new DeleteObjectCommand({ Bucket: input.source.bucket, Key: input.manifestKey }));
    }
    if (input.evidenceCopy) {
      await s3.send(
        new DeleteObjectCommand({
          Bucket: input.evidenceCopy.bucket,
          Key: input.evidenceCopy.key,
          VersionId: input.evidenceCopy.versionId,
        }),
      );
    }
    deps.metrics?.quarantines.inc({ reason: input.reason });
    return record;
  };
}
