/**
 * Every version and delete marker stored under a prefix, page by page. ListObjectVersions answers at most
 * MaxKeys entries (1000 by default) per call: a key with more versions, or a folder with more keys, continues
 * on the next page from KeyMarker/VersionIdMarker, and a loop that reads only the first page silently misses the
 * rest. Collect what a listing yields before deleting any of it: a listing resumed from a marker that was
 * deleted meanwhile may end early (versitygw answers an empty, finished page).
 *
 * The markers are exclusive in S3, but versitygw (1.7, versity/versitygw#2178) starts the next page with the
 * marker's entry again when it is the latest version of its key: that repeat is dropped here. With one entry
 * per page versitygw then never advances, which the listing reports instead of looping.
 */
import { ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ListedVersion {
  bucket: string;
  key: string;
  versionId: string;
  kind: 'version' | 'delete-marker';
  /** 0 for a delete marker. */
  bytes: number;
  /** Without quotes; versions only. */
  etag?: string;
  /** When the store wrote it (ISO UTC), as listed; orders the versions of one key. */
  lastModified?: string;
}

export interface ListVersionsOptions {
  /** MaxKeys of each page; the store's own default (1000) when absent. Small values (≥ 2) exist for tests. */
  pageSize?: number;
  abortSignal?: AbortSignal;
}

/** Yields each version and delete marker under `prefix` (all keys that start with it), all pages. */
export async function* listVersions(
  s3: S3Client,
  bucket: string,
  prefix: string,
  options: ListVersionsOptions = {},
): AsyncGenerator<ListedVersion, void, undefined> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        ...(options.pageSize !== undefined && { MaxKeys: options.pageSize }),
        ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
        ...(versionIdMarker !== undefined && { VersionIdMarker: versionIdMarker }),
      }),
      { ...(options.abortSignal && { abortSignal: options.abortSignal }) },
    );
    const isMarker = (key: string, versionId: string) => key === keyMarker && versionId === versionIdMarker;
    for (const version of page.Versions ?? []) {
      if (!version.Key || !version.VersionId || isMarker(version.Key, version.VersionId)) continue;
      yield {
        bucket,
        key: version.Key,
        versionId: version.VersionId,
        kind: 'version',
        bytes: version.Size ?? 0,
        ...(version.ETag && { etag: version.ETag.replace(/"/g, '') }),
        ...(version.LastModified && { lastModified: version.LastModified.toISOString() }),
      };
    }
    for (const marker of page.DeleteMarkers ?? []) {
      if (!marker.Key || !marker.VersionId || isMarker(marker.Key, marker.VersionId)) continue;
      yield {
        bucket,
        key: marker.Key,
        versionId: marker.VersionId,
        kind: 'delete-marker',
        bytes: 0,
        ...(marker.LastModified && { lastModified: marker.LastModified.toISOString() }),
      };
    }
    if (!page.IsTruncated) return;
    // A truncated page must say where the next one starts, and somewhere other than where this one did;
    // otherwise the loop would never end or would re-read the same page forever.
    if (
      !page.NextKeyMarker ||
      (page.NextKeyMarker === keyMarker && page.NextVersionIdMarker === versionIdMarker)
    ) {
      throw new Error(
        `ListObjectVersions of s3://${bucket}/${prefix} does not advance (truncated, next key marker ` +
          `${JSON.stringify(page.NextKeyMarker)}, version marker ${JSON.stringify(page.NextVersionIdMarker)}): ` +
          `the store does not page as S3 does.`,
      );
    }
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}

/** The folder all keys share (up to and including its last `/`); '' when they share none. */
export function commonFolder(keys: readonly string[]): string {
  let prefix = keys[0] ?? '';
  for (const key of keys) while (!key.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

/**
 * Every version and delete marker of exactly these keys in one bucket, in listing order. One listing for a
 * single key (its own prefix) or for keys that share a folder (a recording's keys share `recordings/<id>/`);
 * keys with nothing in common are listed one by one rather than the whole bucket. A prefix also matches longer
 * keys (`original.bak`): only the exact keys are returned.
 */
export async function versionsOfKeys(
  s3: S3Client,
  bucket: string,
  keys: Iterable<string>,
  options: ListVersionsOptions = {},
): Promise<ListedVersion[]> {
  const wanted = new Set(keys);
  const folder = wanted.size > 1 ? commonFolder([...wanted]) : '';
  const prefixes = folder ? [folder] : [...wanted];
  const found: ListedVersion[] = [];
  for (const prefix of prefixes) {
    for await (const version of listVersions(s3, bucket, prefix, options)) {
      if (wanted.has(version.key)) found.push(version);
    }
  }
  return found;
}

/**
 * The versions of ONE key split into its first version — the object as written — and everything laid over it
 * later (versions and delete markers), oldest first. Object Lock protects versions, not keys: a reader of a WORM
 * record takes `first` and treats `later` as tampering. Listings give a key's versions newest first, which breaks
 * a tie of equal timestamps.
 */
export function firstAndLater(versions: readonly ListedVersion[]): {
  first: ListedVersion | undefined;
  later: ListedVersion[];
} {
  const ordered = versions
    .map((version, index) => ({ version, index }))
    .sort(
      (a, b) =>
        (a.version.lastModified ?? '').localeCompare(b.version.lastModified ?? '') || b.index - a.index,
    )
    .map(({ version }) => version);
  const first = ordered.find((v) => v.kind === 'version');
  return { first, later: ordered.filter((v) => v !== first) };
}
