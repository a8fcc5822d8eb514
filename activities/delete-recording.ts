/**
 * Deletes a recording for good: every version and every delete marker of each of its keys (original and
 * derivatives), so that nothing stays restorable — then verifies that the store lists nothing under those
 * keys and that every key that held a version answers 404.
 *
 * Crash-safe record of what was deleted: before deleting anything the activity writes an inventory of the
 * versions it found — id, size, ETag and the `sha256` tag — to the audit store, at
 * `deletions/<recordingId>/inventory.json`, once (`If-None-Match: *`) and WORM-locked for the audit retention.
 * A retry reads that inventory instead of trusting what is left in the store, so its result still lists every
 * version the first attempt deleted. Should a retry find versions the inventory lacks (written after it was
 * taken), it records them in a supplement, `inventory-2.json`, `inventory-3.json`, …, before deleting them.
 * Keys named in an inventory stay part of the deletion even if a later call leaves them out: once inventoried,
 * a key is deleted and verified.
 *
 * Versions that are gone already (NoSuchKey, NoSuchVersion) count as deleted. Before deleting anything every
 * version is checked for Object Lock (retention or legal hold): a locked version means the recording is
 * evidence, which the workflow must never send here, so the activity stops with the non-retryable
 * `DeletionBlockedByLock` and deletes nothing. The store's own refusal (AccessDenied) at delete time is
 * reported the same way.
 */
import {
  GetObjectRetentionCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import {
  classifyS3Error,
  isAccessDenied,
  isNotFound,
  isPreconditionFailed,
  isRefusedByObjectLock,
} from './storage/errors';
import { readSha256Tag } from './storage/sha256-tag';
import { versionsOfKeys } from './storage/versions';
import { addDuration } from '../domain/duration';
import type { ActivityContextPort } from './context';
import type { CertifiedObject } from './certificate';

export interface DeleteRecordingDeps {
  s3: S3Client;
  context: ActivityContextPort;
  /** Where the inventory of the deletion is written (the audit store). */
  auditBucket: string;
  /** ISO 8601 duration the inventory stays locked, e.g. P10Y (the audit retention). */
  auditRetention: string;
  /** MaxKeys of each ListObjectVersions page; the store's default when absent (tests make it small). */
  listPageSize?: number;
}

export interface DeleteRecordingInput {
  recordingId: string;
  /** The recording's keys, each in its store; every version of each is deleted. */
  objects: { bucket: string; key: string }[];
}

/** One removed version or delete marker; the shape a deletion certificate lists. */
export type DeletedVersion = CertifiedObject;

export interface DeleteRecordingResult {
  recordingId: string;
  /** Every version and marker removed, by this attempt or an earlier one, in inventory order. */
  deleted: DeletedVersion[];
  /** When the listing and HeadObject showed nothing left (ISO UTC). */
  verifiedAbsentAt: string;
  /** The inventory objects in the audit store that back `deleted`. */
  inventory: { bucket: string; keys: string[] };
}

const INVENTORY_FORMAT = 'custody.deletion-inventory/v1';
/** Supplements are rare (a version written after the inventory); a few contending writers at most. */
const MAX_INVENTORY_ROUNDS = 5;

export const deletionInventoryKey = (recordingId: string, part: number) =>
  `deletions/${recordingId}/${part === 1 ? 'inventory.json' : `inventory-${part}.json`}`;

interface InventoryPart {
  format: typeof INVENTORY_FORMAT;
  recordingId: string;
  part: number;
  takenAt: string;
  versions: DeletedVersion[];
}

interface Inventory {
  parts: InventoryPart[];
  keys: string[];
}

type KeyRef = { bucket: string; key: string };

const refId = (v: { bucket: string; key: string; versionId: string }) =>
  `${v.bucket}\n${v.key}\n${v.versionId}`;
const keyId = (v: KeyRef) => `${v.bucket}\n${v.key}`;

const describeVersion = (v: { bucket: string; key: string; versionId: string }) =>
  `s3://${v.bucket}/${v.key} version ${v.versionId}`;

function validateInput(input: DeleteRecordingInput): void {
  const refuse = (why: string): never => {
    throw ApplicationFailure.nonRetryable(`deleteRecording: ${why}`, 'InvalidDeletionRequest');
  };
  if (typeof input.recordingId !== 'string' || !/^[A-Za-z0-9._-]+$/.test(input.recordingId)) {
    refuse(
      `recordingId must be a recording id (letters, digits, . _ -), got ${JSON.stringify(input.recordingId)}`,
    );
  }
  if (!Array.isArray(input.objects) || input.objects.length === 0)
    refuse('objects must name at least one key');
  for (const object of input.objects) {
    if (!object.bucket || !object.key)
      refuse(`every object needs a bucket and a key, got ${JSON.stringify(object)}`);
    // A guard against deleting someone else's data: every key of a recording names its id as a path segment.
    if (!object.key.split('/').includes(input.recordingId)) {
      refuse(
        `s3://${object.bucket}/${object.key} does not belong to recording ${input.recordingId} ` +
          `(its key must contain the recording id as a path segment)`,
      );
    }
  }
}

export function makeDeleteRecording(deps: DeleteRecordingDeps) {
  const { s3, context } = deps;
  // Every request of this activity stops when Temporal cancels it.
  const send: S3Client['send'] = ((command: Parameters<S3Client['send']>[0]) =>
    s3.send(command, { abortSignal: context.cancellationSignal })) as S3Client['send'];
  /** Whether a bucket has Object Lock: fixed when a bucket is created, so asked once per bucket. */
  const lockEnabled = new Map<string, boolean>();

  /** Every version and delete marker stored under exactly these keys, all pages, one listing per bucket. */
  async function listPresent(refs: KeyRef[]): Promise<DeletedVersion[]> {
    const found: DeletedVersion[] = [];
    const byBucket = new Map<string, Set<string>>();
    for (const ref of refs) byBucket.set(ref.bucket, (byBucket.get(ref.bucket) ?? new Set()).add(ref.key));
    for (const [bucket, keys] of byBucket) {
      const listed = await versionsOfKeys(s3, bucket, keys, {
        abortSignal: context.cancellationSignal,
        ...(deps.listPageSize !== undefined && { pageSize: deps.listPageSize }),
      });
      // The inventory and the certificate name versions by id; the listing's clock is not part of them.
      found.push(...listed.map(({ lastModified: _lastModified, ...version }) => version));
    }
    return found;
  }

  async function bucketHasObjectLock(bucket: string): Promise<boolean> {
    const known = lockEnabled.get(bucket);
    if (known !== undefined) return known;
    let enabled: boolean;
    try {
      const result = await send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      enabled = result.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (err) {
      // A bucket created without Object Lock has no configuration. Any other error (a cancelled request,
      // an outage) must not be remembered as "no lock", or later calls would skip the lock check.
      if (classifyS3Error(err) !== 'bucket-without-object-lock') throw err;
      enabled = false;
    }
    lockEnabled.set(bucket, enabled);
    return enabled;
  }

  /** Why a version cannot be deleted, or undefined when nothing holds it. Markers cannot be locked. */
  async function lockOn(version: DeletedVersion): Promise<string | undefined> {
    if (version.kind !== 'version' || !(await bucketHasObjectLock(version.bucket))) return undefined;
    const ref = { Bucket: version.bucket, Key: version.key, VersionId: version.versionId };
    const noLock = (err: unknown) => {
      if (classifyS3Error(err) === 'no-lock-on-object' || isNotFound(err)) return undefined;
      throw err;
    };
    const retention = await send(new GetObjectRetentionCommand(ref)).catch(noLock);
    const until = retention?.Retention?.RetainUntilDate;
    if (until && new Date(until).getTime() > Date.now()) {
      return `${retention?.Retention?.Mode ?? 'retention'} until ${new Date(until).toISOString()}`;
    }
    const hold = await send(new GetObjectLegalHoldCommand(ref)).catch(noLock);
    if (hold?.LegalHold?.Status === 'ON') return 'legal hold';
    return undefined;
  }

  function blockedByLock(recordingId: string, locks: string[], deletedSome: boolean): ApplicationFailure {
    return ApplicationFailure.nonRetryable(
      `Refusing to delete recording ${recordingId}: storage holds it under Object Lock (${locks.join('; ')}). ` +
        `Only recordings that are not evidence reach deletion, so this should be impossible and must be ` +
        `investigated: check the recording's custody log for who locked it and why. ` +
        (deletedSome
          ? `Versions this or an earlier attempt may have deleted are listed in s3://${deps.auditBucket}/${deletionInventoryKey(recordingId, 1)} (and its supplements).`
          : 'Nothing was deleted.'),
      'DeletionBlockedByLock',
    );
  }

  async function readInventory(recordingId: string): Promise<Inventory> {
    const parts: InventoryPart[] = [];
    for (let part = 1; ; part++) {
      const key = deletionInventoryKey(recordingId, part);
      let text: string;
      try {
        const object = await send(new GetObjectCommand({ Bucket: deps.auditBucket, Key: key }));
        text = await object.Body!.transformToString();
      } catch (err) {
        if (isNotFound(err))
          return { parts, keys: parts.map((_, i) => deletionInventoryKey(recordingId, i + 1)) };
        throw err;
      }
      const parsed = JSON.parse(text) as Partial<InventoryPart>;
      if (
        parsed.format !== INVENTORY_FORMAT ||
        parsed.recordingId !== recordingId ||
        parsed.part !== part ||
        !Array.isArray(parsed.versions)
      ) {
        throw ApplicationFailure.nonRetryable(
          `s3://${deps.auditBucket}/${key} is not an inventory of recording ${recordingId} part ${part}: ` +
            `the deletion record cannot be trusted; investigate before deleting anything more.`,
          'DeletionInventoryCorrupt',
        );
      }
      parts.push(parsed as InventoryPart);
    }
  }

  /** Adds the sha256 tag a version was written with; markers and untagged versions have none. */
  async function withHash(version: DeletedVersion): Promise<DeletedVersion> {
    if (version.kind !== 'version') return version;
    try {
      const sha256 = await readSha256Tag(s3, version, context.cancellationSignal);
      return sha256 ? { ...version, sha256 } : version;
    } catch (err) {
      if (isNotFound(err)) return version; // gone meanwhile: it existed, so it is still recorded
      throw err;
    }
  }

  /** Writes the next inventory part; undefined when another attempt wrote that part first. */
  async function writeInventoryPart(recordingId: string, part: number, versions: DeletedVersion[]) {
    const takenAt = new Date().toISOString();
    const body: InventoryPart = { format: INVENTORY_FORMAT, recordingId, part, takenAt, versions };
    try {
      await send(
        new PutObjectCommand({
          Bucket: deps.auditBucket,
          Key: deletionInventoryKey(recordingId, part),
          Body: JSON.stringify(body, null, 2),
          ContentType: 'application/json',
          IfNoneMatch: '*',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(addDuration(takenAt, deps.auditRetention)),
        }),
      );
      return body;
    } catch (err) {
      if (isPreconditionFailed(err)) return undefined;
      throw err;
    }
  }

  async function deleteVersion(recordingId: string, version: DeletedVersion): Promise<void> {
    try {
      await send(
        new DeleteObjectCommand({ Bucket: version.bucket, Key: version.key, VersionId: version.versionId }),
      );
    } catch (err) {
      if (isNotFound(err)) return; // deleted by an earlier attempt
      if (isAccessDenied(err)) {
        // The version's own retention or hold explains the refusal, or the store's answer names Object Lock.
        const lock = (await lockOn(version)) ?? (isRefusedByObjectLock(err) ? 'object lock' : undefined);
        if (lock) throw blockedByLock(recordingId, [`${describeVersion(version)}: ${lock}`], true);
      }
      throw err;
    }
  }

  /** The listing shows nothing under any key, and every key that held something answers 404 to HeadObject. */
  async function verifyAbsent(keys: KeyRef[], held: Set<string>): Promise<void> {
    const remaining = await listPresent(keys);
    const leftovers = remaining.map((v) => `${describeVersion(v)} (${v.kind})`);
    // A key that never held a version (a derivative of a recording that was not transcoded) has nothing a
    // second look could find; the listing covers it.
    for (const ref of keys.filter((k) => held.has(keyId(k)))) {
      try {
        await send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
        leftovers.push(`s3://${ref.bucket}/${ref.key} still answers HeadObject`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (leftovers.length > 0) {
      // Retryable: the next attempt inventories and deletes whatever is left.
      throw ApplicationFailure.retryable(
        `Deletion not verified, still present: ${leftovers.join(', ')}`,
        'DeletionNotVerified',
      );
    }
  }

  return async function deleteRecording(input: DeleteRecordingInput): Promise<DeleteRecordingResult> {
    validateInput(input);
    const { recordingId } = input;

    let inventory = await readInventory(recordingId);
    const checked = new Set<string>();
    let present: DeletedVersion[] = [];
    let keys: KeyRef[] = [];
    for (let round = 1; ; round++) {
      // The keys of this call plus any an earlier inventory committed to deleting.
      const byId = new Map<string, KeyRef>();
      for (const ref of [...input.objects, ...inventory.parts.flatMap((p) => p.versions)]) {
        byId.set(keyId(ref), { bucket: ref.bucket, key: ref.key });
      }
      keys = [...byId.values()];
      present = await listPresent(keys);

      const locks: string[] = [];
      for (const version of present) {
        // A version checked in an earlier round of this call was free then; a lock placed since is caught
        // by the store's refusal at delete time (deleteVersion).
        if (checked.has(refId(version))) continue;
        const lock = await lockOn(version);
        if (lock) locks.push(`${describeVersion(version)}: ${lock}`);
        checked.add(refId(version));
      }
      if (locks.length > 0) throw blockedByLock(recordingId, locks, inventory.parts.length > 0);

      const recorded = new Set(inventory.parts.flatMap((p) => p.versions).map(refId));
      const unrecorded = present.filter((version) => !recorded.has(refId(version)));
      if (unrecorded.length === 0) break;
      if (round > MAX_INVENTORY_ROUNDS) {
        throw new Error(
          `Recording ${recordingId} keeps gaining versions while it is being deleted ` +
            `(${unrecorded.map(describeVersion).join(', ')}): something is still writing to it.`,
        );
      }
      const described: DeletedVersion[] = [];
      for (const version of unrecorded) {
        described.push(await withHash(version));
        context.heartbeat({ phase: 'inventory', versions: described.length, of: unrecorded.length });
      }
      const part = await writeInventoryPart(recordingId, inventory.parts.length + 1, described);
      // Ours was written: it is the next part. Otherwise read what a concurrent attempt wrote in its place.
      inventory = part
        ? {
            parts: [...inventory.parts, part],
            keys: [...inventory.keys, deletionInventoryKey(recordingId, inventory.parts.length + 1)],
          }
        : await readInventory(recordingId);
    }

    // Data versions first, markers last: a version hidden behind a delete marker never becomes visible again.
    const order = [
      ...present.filter((v) => v.kind === 'version'),
      ...present.filter((v) => v.kind !== 'version'),
    ];
    let done = 0;
    for (const version of order) {
      await deleteVersion(recordingId, version);
      context.heartbeat({ phase: 'delete', versions: ++done, of: order.length });
    }

    await verifyAbsent(keys, new Set(inventory.parts.flatMap((p) => p.versions).map(keyId)));
    return {
      recordingId,
      deleted: inventory.parts.flatMap((p) => p.versions),
      verifiedAbsentAt: new Date().toISOString(),
      inventory: { bucket: deps.auditBucket, keys: inventory.keys },
    };
  };
}
