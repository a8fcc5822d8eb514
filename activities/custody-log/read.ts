/**
 * Reading a recording's custody log back from the audit store, and the on-demand verification behind
 * `custody verify`: the chain must be intact, and the stored original must still hash to what was recorded.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { custodyLogPrefix } from '../storage/keys';
import { readObjectInto, type ObjectReaderOptions } from '../storage/object-reader';
import { isNotFound } from '../storage/errors';
import { firstAndLater, listVersions, type ListedVersion } from '../storage/versions';
import { verifyChain, type CustodyEntry, type ChainVerdict } from './chain';

/**
 * A custody-log key with more than its one entry. Object Lock protects versions, not keys: a later PUT by anyone
 * with write access to the audit store lays a new version over a locked entry, and a plain GET returns that
 * shadow. Readers take each key's first version — the entry as written — and report every other version.
 */
export interface ShadowedEntry {
  key: string;
  /** The first version: the entry as the workflow wrote it. */
  entryVersionId: string;
  /** Later versions and delete markers over it, oldest first. */
  shadows: { versionId: string; kind: 'version' | 'delete-marker'; lastModified?: string }[];
}

export interface CustodyLogRead {
  entries: CustodyEntry[];
  shadowed: ShadowedEntry[];
}

/** Every entry of a recording's custody log, each from the first version of its key, and every shadow. */
export async function readCustodyLogVersions(
  s3: S3Client,
  auditBucket: string,
  recordingId: string,
): Promise<CustodyLogRead> {
  const byKey = new Map<string, ListedVersion[]>();
  for await (const version of listVersions(s3, auditBucket, custodyLogPrefix(recordingId))) {
    byKey.set(version.key, [...(byKey.get(version.key) ?? []), version]);
  }
  const entries: CustodyEntry[] = [];
  const shadowed: ShadowedEntry[] = [];
  for (const [key, versions] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    const { first, later: rest } = firstAndLater(versions);
    if (first) {
      const body = await s3.send(
        new GetObjectCommand({ Bucket: auditBucket, Key: key, VersionId: first.versionId }),
      );
      entries.push(JSON.parse(await body.Body!.transformToString()) as CustodyEntry);
    }
    if (rest.length > 0) {
      shadowed.push({
        key,
        entryVersionId: first?.versionId ?? '(none)',
        shadows: rest.map((v) => ({
          versionId: v.versionId,
          kind: v.kind,
          ...(v.lastModified && { lastModified: v.lastModified }),
        })),
      });
    }
  }
  return { entries, shadowed };
}

/** What a shadowed entry means, for `custody verify` and fixity: the key, and what lies over its entry. */
export function describeShadow(shadow: ShadowedEntry): string {
  const over = shadow.shadows
    .map(
      (s) =>
        `${s.kind === 'delete-marker' ? 'a delete marker' : `version ${s.versionId}`}${s.lastModified ? ` (${s.lastModified})` : ''}`,
    )
    .join(', ');
  return `custody-log entry ${shadow.key} (version ${shadow.entryVersionId}) is shadowed by ${over}: someone wrote to the audit store over a WORM entry — the entry is read from its first version`;
}

/** The entries of a recording's custody log, each read from its first version (see readCustodyLogVersions). */
export async function readCustodyLog(
  s3: S3Client,
  auditBucket: string,
  recordingId: string,
): Promise<CustodyEntry[]> {
  return (await readCustodyLogVersions(s3, auditBucket, recordingId)).entries;
}

/**
 * SHA-256 of an object (one version of it). The bytes come through readObjectInto's direct GET (the SDK's
 * GetObject only for what that does not handle): the re-hash of a large original is bound by receiving, not
 * hashing, and the SDK's body stream cost 3–5× openssl's time (bench/FINDINGS.md, "rehash").
 */
export async function hashStoredObject(
  s3: S3Client,
  ref: { bucket: string; key: string; versionId?: string },
  signal?: AbortSignal,
  options?: ObjectReaderOptions,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const { bytes } = await readObjectInto(s3, ref, (chunk) => hash.update(chunk), signal, options);
  return { sha256: hash.digest('hex'), bytes };
}

export interface OriginalCheck {
  object: { bucket: string; key: string; versionId?: string };
  expectedSha256: string;
  actualSha256?: string;
  ok: boolean;
  problem?: string;
}

export interface VerifyReport {
  recordingId: string;
  ok: boolean;
  entries: number;
  chain: ChainVerdict;
  original?: OriginalCheck;
  /** Set when the log shows the recording was deleted: there is no original left to re-hash. */
  deleted?: boolean;
  problems: string[];
}

/** The last entry recording where the original was stored, and its recorded hash. */
export function recordedOriginal(entries: CustodyEntry[]) {
  const stored = [...entries].reverse().find((e) => e.action === 'original.stored');
  if (!stored) return undefined;
  const d = stored.details as { key?: string; versionId?: string; sha256?: string };
  if (!d.key || !d.sha256) return undefined;
  return { key: d.key, sha256: d.sha256, ...(d.versionId && { versionId: d.versionId }) };
}

export async function verifyRecording(
  s3: S3Client,
  buckets: { audit: string; evidence: string },
  recordingId: string,
  /** Re-hash this copy instead of the recorded evidence version (a restored backup, an exported file). */
  copy?: { bucket: string; key: string },
): Promise<VerifyReport | undefined> {
  const { entries, shadowed } = await readCustodyLogVersions(s3, buckets.audit, recordingId);
  if (entries.length === 0) return undefined;
  const entriesInOrder = [...entries].sort((a, b) => a.seq - b.seq);
  const chain = verifyChain(entries, { recordingId });
  const problems = chain.ok ? [] : chain.problems.map((p) => p.message);
  problems.push(...shadowed.map(describeShadow));
  const deleted = entriesInOrder.some((e) => e.action === 'recording.deleted');
  const recorded = recordedOriginal(entriesInOrder);
  let original: OriginalCheck | undefined;
  if (recorded && (!deleted || copy)) {
    const object: OriginalCheck['object'] = copy ?? {
      bucket: buckets.evidence,
      key: recorded.key,
      ...(recorded.versionId && { versionId: recorded.versionId }),
    };
    const where = `s3://${object.bucket}/${object.key}${object.versionId ? ` (version ${object.versionId})` : ''}`;
    try {
      const { sha256 } = await hashStoredObject(s3, object);
      original = {
        object,
        expectedSha256: recorded.sha256,
        actualSha256: sha256,
        ok: sha256 === recorded.sha256,
      };
      if (!original.ok) {
        problems.push(
          `original ${where} hashes to ${sha256}, but the custody log recorded ${recorded.sha256}`,
        );
      }
    } catch (err) {
      const problem = isNotFound(err)
        ? `original ${where} is missing from storage although the log says it is kept`
        : `original could not be read: ${(err as Error).message}`;
      original = { object, expectedSha256: recorded.sha256, ok: false, problem };
      problems.push(problem);
    }
  }
  return {
    recordingId,
    ok: problems.length === 0,
    entries: entries.length,
    chain,
    ...(original && { original }),
    ...(deleted && { deleted }),
    problems,
  };
}

/** A stored object and the hash the custody log recorded when it was written. */
export interface RecordedObject {
  kind: 'original' | 'proxy' | 'sprite' | 'poster';
  bucket: string;
  key: string;
  versionId?: string;
  sha256: string;
}

/**
 * Every object a recording still keeps, as its custody log recorded it: the last stored original and the last
 * stored derivative set. Empty once the log shows the recording deleted. The log, not the workflow's state, is
 * the reference: it is WORM and hash-chained, so a fixity check cannot be fooled by rewriting what it compares to.
 */
export function recordedObjects(
  entries: CustodyEntry[],
  buckets: { evidence: string; derivatives: string },
): RecordedObject[] {
  const inOrder = [...entries].sort((a, b) => a.seq - b.seq);
  if (inOrder.some((e) => e.action === 'recording.deleted')) return [];
  const objects: RecordedObject[] = [];
  const original = recordedOriginal(inOrder);
  if (original) objects.push({ kind: 'original', bucket: buckets.evidence, ...original });
  const stored = [...inOrder].reverse().find((e) => e.action === 'derivatives.stored');
  const derivatives = (stored?.details as { derivatives?: unknown } | undefined)?.derivatives;
  if (Array.isArray(derivatives)) {
    for (const d of derivatives as { kind?: string; key?: string; versionId?: string; sha256?: string }[]) {
      if (!d.key || !d.sha256 || !['proxy', 'sprite', 'poster'].includes(d.kind ?? '')) continue;
      objects.push({
        kind: d.kind as RecordedObject['kind'],
        bucket: buckets.derivatives,
        key: d.key,
        sha256: d.sha256,
        ...(d.versionId && { versionId: d.versionId }),
      });
    }
  }
  return objects;
}
