/**
 * Locks the exact object versions of a recording marked as evidence (the original and its derivatives) with
 * S3 Object Lock in COMPLIANCE mode: until the retain-until date nobody — not even the store's administrator
 * through the S3 API — can delete or overwrite those versions.
 *
 * Only ever raises a lock: the retain-until written is max(current, requested). AWS refuses to shorten a
 * COMPLIANCE retention, but versitygw accepts it, so we read the current date first and never rely on the
 * store to refuse. Idempotent: a retry finds its lock in place and writes nothing. Each lock is read back
 * after writing, so a store that silently ignores Object Lock fails loudly here rather than at a court date.
 *
 * Two lockEvidence calls racing on one version could, on a store that accepts shortening, leave the earlier of
 * their dates; the lifecycle workflow runs them one at a time per recording, which rules that out.
 */
import {
  GetObjectRetentionCommand,
  PutObjectRetentionCommand,
  type ObjectLockRetentionMode,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { parseInstant } from '../domain/duration';
import { classifyS3Error, isNotFound } from './storage/errors';
import type { ActivityContextPort } from './context';

export interface LockEvidenceDeps {
  s3: S3Client;
  /** For heartbeats; without it the activity is silent (tools, tests). */
  context?: ActivityContextPort;
}

export interface EvidenceVersion {
  bucket: string;
  key: string;
  versionId: string;
}

export interface LockEvidenceInput {
  objects: EvidenceVersion[];
  /** RFC 3339 instant; rounded up to a whole second, since some stores keep no more. */
  retainUntil: string;
}

export interface LockedVersion extends EvidenceVersion {
  /** The retain-until the store reports after this call (ISO UTC): ≥ the requested date. */
  retainUntil: string;
  /** False when an equal or later COMPLIANCE lock was already in place. */
  changed: boolean;
}

interface Retention {
  mode?: ObjectLockRetentionMode;
  untilMs?: number;
}

function describe(object: EvidenceVersion): string {
  return `s3://${object.bucket}/${object.key} version ${object.versionId}`;
}

/** A bucket created without Object Lock refuses reading a retention as well as setting one. */
function objectLockUnavailable(object: EvidenceVersion, err: unknown): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `Cannot lock ${describe(object)}: the bucket refuses Object Lock (${(err as Error).message}). ` +
      `Evidence and derivative stores must be buckets created with Object Lock enabled.`,
    'ObjectLockUnavailable',
  );
}

export function makeLockEvidence(deps: LockEvidenceDeps) {
  async function readRetention(object: EvidenceVersion): Promise<Retention> {
    try {
      const result = await deps.s3.send(
        new GetObjectRetentionCommand({
          Bucket: object.bucket,
          Key: object.key,
          VersionId: object.versionId,
        }),
      );
      const until = result.Retention?.RetainUntilDate;
      return {
        ...(result.Retention?.Mode && { mode: result.Retention.Mode }),
        ...(until && { untilMs: new Date(until).getTime() }),
      };
    } catch (err) {
      const kind = classifyS3Error(err);
      // No retention set yet (AWS and versitygw both answer so).
      if (kind === 'no-lock-on-object') return {};
      if (kind === 'bucket-without-object-lock') throw objectLockUnavailable(object, err);
      if (isNotFound(err)) {
        throw ApplicationFailure.nonRetryable(
          `Cannot lock ${describe(object)}: that version does not exist. Evidence must be locked on the exact ` +
            `version that was hashed; check the recording's custody log for the version id.`,
          'EvidenceMissing',
        );
      }
      throw err;
    }
  }

  async function lockOne(object: EvidenceVersion, requestedMs: number): Promise<LockedVersion> {
    const current = await readRetention(object);
    if (current.mode === 'COMPLIANCE' && current.untilMs !== undefined && current.untilMs >= requestedMs) {
      return { ...object, retainUntil: new Date(current.untilMs).toISOString(), changed: false };
    }
    const targetMs = Math.max(requestedMs, current.untilMs ?? 0);
    if (targetMs <= Date.now()) {
      throw ApplicationFailure.nonRetryable(
        `Cannot lock ${describe(object)} until ${new Date(targetMs).toISOString()}: that is in the past. ` +
          `Pass a retain-until date in the future.`,
        'InvalidRetainUntil',
      );
    }
    try {
      await deps.s3.send(
        new PutObjectRetentionCommand({
          Bucket: object.bucket,
          Key: object.key,
          VersionId: object.versionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(targetMs) },
        }),
      );
    } catch (err) {
      if (classifyS3Error(err) === 'bucket-without-object-lock') throw objectLockUnavailable(object, err);
      throw err;
    }
    const after = await readRetention(object);
    if (after.mode !== 'COMPLIANCE' || after.untilMs === undefined || after.untilMs < targetMs) {
      throw ApplicationFailure.nonRetryable(
        `The store accepted a COMPLIANCE lock on ${describe(object)} until ${new Date(targetMs).toISOString()} ` +
          `but reports ${after.mode ?? 'no mode'} until ${after.untilMs === undefined ? 'never' : new Date(after.untilMs).toISOString()}: ` +
          `it does not enforce Object Lock, so evidence is not protected. Investigate the storage before retrying.`,
        'LockNotApplied',
      );
    }
    return { ...object, retainUntil: new Date(after.untilMs).toISOString(), changed: true };
  }

  return async function lockEvidence(input: LockEvidenceInput): Promise<LockedVersion[]> {
    const parsed = parseInstant(input.retainUntil);
    if (!parsed.ok)
      throw ApplicationFailure.nonRetryable(
        `lockEvidence retainUntil: ${parsed.error}`,
        'InvalidRetainUntil',
      );
    const requestedMs = Math.ceil(parsed.epochMs / 1000) * 1000;
    if (input.objects.length === 0) {
      throw ApplicationFailure.nonRetryable(
        'lockEvidence needs at least one object version to lock',
        'InvalidInput',
      );
    }
    const missingVersion = input.objects.find((object) => !object.bucket || !object.key || !object.versionId);
    if (missingVersion) {
      throw ApplicationFailure.nonRetryable(
        `lockEvidence locks exact versions: ${JSON.stringify(missingVersion)} lacks a bucket, key or versionId`,
        'InvalidInput',
      );
    }
    const locked: LockedVersion[] = [];
    for (const object of input.objects) {
      locked.push(await lockOne(object, requestedMs));
      deps.context?.heartbeat({ locked: locked.length, of: input.objects.length });
    }
    return locked;
  };
}
