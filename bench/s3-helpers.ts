/** Small S3 chores shared by cases: put an input in place and remove every version a run left behind. */
import { createReadStream } from 'node:fs';
import { DeleteObjectCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { MiB } from './runner';

export async function putFile(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
): Promise<{ etag: string; versionId?: string }> {
  const result = await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
    partSize: 16 * MiB,
  }).done();
  if (!result.ETag) throw new Error(`no ETag for s3://${bucket}/${key}`);
  return { etag: result.ETag, ...(result.VersionId && { versionId: result.VersionId }) };
}

/** Deletes every version and delete marker under `prefix` (the bench buckets carry no retention). */
export async function deleteAllVersions(client: S3Client, bucket: string, prefix: string): Promise<void> {
  for (;;) {
    const listing = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    const all = [...(listing.Versions ?? []), ...(listing.DeleteMarkers ?? [])];
    if (all.length === 0) return;
    for (const version of all) {
      await client.send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: version.Key,
          ...(version.VersionId && version.VersionId !== 'null' && { VersionId: version.VersionId }),
        }),
      );
    }
    if (!listing.IsTruncated) return;
  }
}
