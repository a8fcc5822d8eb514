/**
 * WORM JSON records in a bucket with Object Lock: written once (`If-None-Match: *`, COMPLIANCE until a given
 * instant), read back by the FIRST version of each key. Object Lock protects versions, not keys: a later PUT by
 * anyone with write access lays a new version over a record, and a plain GET would return it; a delete marker
 * hides it from plain listings. Readers here take the version as written and report everything laid over it.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { firstAndLater, listVersions, type ListedVersion } from './versions';

export interface WormJsonWrite {
  bucket: string;
  key: string;
  value: unknown;
  /** ISO UTC instant the COMPLIANCE lock lasts until. */
  retainUntil: string;
}

/** Writes `value` as JSON at `key`, locked COMPLIANCE until `retainUntil`; fails when the key already exists. */
export async function putWormJson(s3: S3Client, write: WormJsonWrite): Promise<{ versionId?: string }> {
  const written = await s3.send(
    new PutObjectCommand({
      Bucket: write.bucket,
      Key: write.key,
      Body: JSON.stringify(write.value),
      ContentType: 'application/json',
      IfNoneMatch: '*',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(write.retainUntil),
    }),
  );
  return { ...(written.VersionId && { versionId: written.VersionId }) };
}

/** One record as written, and what was laid over it since. */
export interface FirstVersionRecord {
  key: string;
  versionId: string;
  /** The first version parsed as JSON; undefined when it is not JSON (then `problems` says so). */
  value: unknown;
  /** Later versions and delete markers over the record, oldest first. */
  shadows: Pick<ListedVersion, 'versionId' | 'kind' | 'lastModified'>[];
  /** Empty for an intact record: a shadow, or a first version that is not JSON. */
  problems: string[];
}

export interface FirstVersionQuery {
  /** Only keys for which this holds are read (a time window on the key, say); all when absent. */
  keyFilter?: (key: string) => boolean;
  /** Bodies fetched at once. */
  concurrency?: number;
}

/**
 * Every record under `prefix`, in key order, each read from its first version; shadows are reported on the
 * record they lie over. One listing of the prefix, then one GET per record read.
 */
export async function readFirstVersions(
  s3: S3Client,
  bucket: string,
  prefix: string,
  query: FirstVersionQuery = {},
): Promise<FirstVersionRecord[]> {
  const byKey = new Map<string, ListedVersion[]>();
  for await (const version of listVersions(s3, bucket, prefix)) {
    if (query.keyFilter && !query.keyFilter(version.key)) continue;
    byKey.set(version.key, [...(byKey.get(version.key) ?? []), version]);
  }
  const keys = [...byKey.keys()].sort();
  const read = async (key: string): Promise<FirstVersionRecord> => {
    const { first, later } = firstAndLater(byKey.get(key) ?? []);
    const shadows = later.map((v) => ({
      versionId: v.versionId,
      kind: v.kind,
      ...(v.lastModified && { lastModified: v.lastModified }),
    }));
    const problems = shadows.map(
      (s) =>
        `s3://${bucket}/${key} is shadowed by ${s.kind === 'delete-marker' ? 'a delete marker' : `version ${s.versionId}`}` +
        `${s.lastModified ? ` (${s.lastModified})` : ''}: someone wrote over a WORM record; this is its first version`,
    );
    if (!first) {
      return {
        key,
        versionId: '(none)',
        value: undefined,
        shadows,
        problems: [`s3://${bucket}/${key} has no version, only delete markers`, ...problems],
      };
    }
    const object = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: first.versionId }),
    );
    const text = await object.Body!.transformToString();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      problems.unshift(
        `s3://${bucket}/${key} (version ${first.versionId}) is not JSON: ${(err as Error).message}`,
      );
    }
    return { key, versionId: first.versionId, value, shadows, problems };
  };
  const concurrency = Math.max(1, query.concurrency ?? 8);
  const records: FirstVersionRecord[] = [];
  for (let start = 0; start < keys.length; start += concurrency) {
    records.push(...(await Promise.all(keys.slice(start, start + concurrency).map(read))));
  }
  return records;
}
