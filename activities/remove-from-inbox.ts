/**
 * Removes a recording's file (and its manifest) from the inbox once the evidence copy is verified, so the
 * incoming store never holds a recording past its deadline. Deleting what is already gone is success.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectRef } from '../domain/types';

export function makeRemoveFromInbox(deps: { s3: S3Client }) {
  return async function removeFromInbox(input: { source: ObjectRef; manifestKey?: string }): Promise<void> {
    // A versioned source (a recording released from quarantine) loses exactly the version that was ingested:
    // a delete marker would leave the bytes behind, past the recording's deadline.
    await deps.s3.send(
      new DeleteObjectCommand({
        Bucket: input.source.bucket,
        Key: input.source.key,
        ...(input.source.versionId && { VersionId: input.source.versionId }),
      }),
    );
    if (input.manifestKey) {
      await deps.s3.send(new DeleteObjectCommand({ Bucket: input.source.bucket, Key: input.manifestKey }));
    }
  };
}
