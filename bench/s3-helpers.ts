/** Small S3 chores shared by cases: put an input in place and remove every version a run left behind. */
import { createReadStream } from 'node:fs';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { MiB } from './runner';
import { listVersions, type ListedVersion } from '../activities/storage/versions';

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
  // Listed in full first: a listing resumed after its marker was deleted may end early.
  const all: ListedVersion[] = [];
  for await (const version of listVersions(client, bucket, prefix)) all.push(version);
  for (const version of all) {
    await client.send(
      new DeleteObjectCommand({
        Bucket: bucket,
        Key: version.key,
        // 'null': the version of an object written before versioning was enabled, deleted by its key.
        ...(version.versionId !== 'null' && { VersionId: version.versionId }),
      }),
    );
  }
}
