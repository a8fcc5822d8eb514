/**
 * Confirms a stored original is a media file and records what it is (codec, resolution, duration).
 *
 * MP4/MOV — what bodycams write — is answered in-process: ranged GETs of the exact version read the first
 * 64 KiB, then the index (`moov`) with one more request wherever it sits, and media/mp4-probe.ts reads from
 * it exactly what ffprobe would report. That saves the ffprobe process (~90 ms of CPU per recording on the
 * benchmark machine). Anything the parser is not sure of (other containers, fragmented or truncated files,
 * codecs it does not map, a failed read) goes to ffprobe reading a short-lived presigned URL — only the
 * container's index is fetched, never the whole file — and every NotMedia/CorruptMedia verdict is ffprobe's.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ApplicationFailure } from '@temporalio/common';
import type { MediaInfo, ObjectRef } from '../domain/types';
import { MediaError } from './media/errors';
import { MP4_HEAD_BYTES, probeMp4, type ByteRangeReader } from './media/mp4-probe';

export interface ProbePort {
  probe(input: string): Promise<MediaInfo>;
}

/** How a probe was answered: in-process from the MP4 index, or by ffprobe (with the reason it was needed). */
export type ProbeRoute = { via: 'mp4' } | { via: 'ffprobe'; reason: string };

export interface ProbeMediaDeps {
  s3: S3Client;
  media: ProbePort;
  /** false: always ask ffprobe (comparisons, or to rule the parser out). Default true. */
  inProcessMp4?: boolean;
  /** Told how each probe was answered, e.g. for a metric of how often ffprobe is still needed. */
  onProbed?: (route: ProbeRoute) => void;
}

export function makeProbeMedia(deps: ProbeMediaDeps) {
  return async function probeMedia(input: { object: ObjectRef }): Promise<MediaInfo> {
    let reason = 'in-process MP4 probe disabled';
    if (deps.inProcessMp4 !== false) {
      try {
        const result = await probeMp4(await s3RangeReader(deps.s3, input.object));
        if ('info' in result) {
          deps.onProbed?.({ via: 'mp4' });
          return result.info;
        }
        reason = result.declined;
      } catch (err) {
        // A failed read is not a verdict on the file: ffprobe reads it on its own and decides.
        reason = `reading the index failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    deps.onProbed?.({ via: 'ffprobe', reason });
    return probeWithFfprobe(deps, input.object);
  };
}

async function probeWithFfprobe(deps: ProbeMediaDeps, object: ObjectRef): Promise<MediaInfo> {
  const url = await getSignedUrl(
    deps.s3,
    new GetObjectCommand({
      Bucket: object.bucket,
      Key: object.key,
      ...(object.versionId && { VersionId: object.versionId }),
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
}

/**
 * Ranged GETs of one object version. The first request (the head) also tells the size; without a version
 * id, later requests are pinned to the first one's ETag (as the server spells it) so that an object
 * replaced in between cannot mix two files.
 */
export async function s3RangeReader(s3: S3Client, object: ObjectRef): Promise<ByteRangeReader> {
  let ifMatch: string | undefined;
  const get = async (offset: number, length: number) => {
    const response = await s3.send(
      new GetObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        Range: `bytes=${offset}-${offset + length - 1}`,
        ...(object.versionId && { VersionId: object.versionId }),
        ...(ifMatch && { IfMatch: ifMatch }),
      }),
    );
    // Read the body in any case: an unread one holds its connection.
    const bytes = Buffer.from((await response.Body?.transformToByteArray()) ?? []);
    const total = /^bytes \d+-\d+\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
    if (total === undefined) {
      throw new Error(`ranged GET of ${object.bucket}/${object.key} came back without a byte range`);
    }
    if (!object.versionId) ifMatch ??= response.ETag;
    return { bytes, size: Number(total) };
  };
  const head = await get(0, MP4_HEAD_BYTES);
  return {
    size: head.size,
    read: async (offset, length) => {
      if (offset + length <= head.bytes.length) return head.bytes.subarray(offset, offset + length);
      return (await get(offset, length)).bytes;
    },
  };
}
