/**
 * Confirms a stored original is a media file and records what it is (codec, resolution, duration), with
 * ffprobe reading a short-lived presigned URL: only the container's index is fetched, never the whole file.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ApplicationFailure } from '@temporalio/common';
import type { MediaInfo, ObjectRef } from './types';
import { MediaError } from './media/errors';

export interface ProbePort {
  probe(input: string): Promise<MediaInfo>;
}

export function makeProbeMedia(deps: { s3: S3Client; media: ProbePort }) {
  return async function probeMedia(input: { object: ObjectRef }): Promise<MediaInfo> {
    const url = await getSignedUrl(
      deps.s3,
      new GetObjectCommand({
        Bucket: input.object.bucket,
        Key: input.object.key,
        ...(input.object.versionId && { VersionId: input.object.versionId }),
      }),
      { expiresIn: 900 },
    );
    try {
      return await deps.media.probe(url);
    } catch (err) {
      // Facts about the input (not media, undecodable) are final; anything else is a passing fault, retried.
      if (err instanceof MediaError && err.nonRetryable) {
        throw ApplicationFailure.create({
          message: err.message,
          type: err.type,
          nonRetryable: true,
          details: [err.details],
        });
      }
      throw err;
    }
  };
}
