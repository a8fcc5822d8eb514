/**
 * Reading a recording's custody log back from the audit store, and the on-demand verification behind
 * `custody verify`: the chain must be intact, and the stored original must still hash to what was recorded.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { custodyLogPrefix } from '../storage/keys';
import { readObjectInto, type ObjectReaderOptions } from '../storage/object-reader';
import { isNotFound } from '../storage/errors';
import { verifyChain, type CustodyEntry, type ChainVerdict } from './chain';

export async function readCustodyLog(
  s3: S3Client,
  auditBucket: string,
  recordingId: string,
): Promise<CustodyEntry[]> {
  const entries: CustodyEntry[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: auditBucket,
        Prefix: custodyLogPrefix(recordingId),
        ...(token && { ContinuationToken: token }),
      }),
    );
    for (const object of page.Contents ?? []) {
      const body = await s3.send(new GetObjectCommand({ Bucket: auditBucket, Key: object.Key! }));
      entries.push(JSON.parse(await body.Body!.transformToString()) as CustodyEntry);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return entries;
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
  const entries = await readCustodyLog(s3, buckets.audit, recordingId);
  if (entries.length === 0) return undefined;
  const entriesInOrder = [...entries].sort((a, b) => a.seq - b.seq);
  const chain = verifyChain(entries, { recordingId });
  const problems = chain.ok ? [] : chain.problems.map((p) => p.message);
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
