/**
 * Media through presigned URLs (issue 15 item 7, the read half): the CLI and the console never hold S3
 * credentials. The API checks the permission (media.view) and the unit, writes the access record, and only then
 * signs a GET of exactly the stored version (the one whose SHA-256 the custody log recorded), valid for
 * CUSTODY_API_MEDIA_URL_SECONDS. The store refuses the URL after that; a URL that leaked is good for minutes.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { FastifyInstance } from 'fastify';
import { unitVisible } from '../../domain/roles';
import type { RecordingStatus } from '../../domain/types';
import type { MediaObjectKind, RequestAuditor } from '../access-audit';
import { recordingFacts } from '../access-audit';
import { ApiError } from '../errors';
import type { RecordingReads } from '../reads';
import { authenticatedErrors, errorBody, mediaParams, mediaUrlBody, noQuery } from '../schemas';

export interface MediaUrlSettings {
  /** The client the URLs are signed with: its endpoint is the host in every URL. */
  s3: S3Client;
  /** How long a URL is valid (CUSTODY_API_MEDIA_URL_SECONDS). */
  lifetimeSeconds: number;
}

export interface MediaTarget {
  bucket: string;
  key: string;
  versionId: string;
  sha256: string;
  bytes: number;
  contentType: string;
}

/** States in which a recording's media is gone or never became reviewable. */
const WITHOUT_MEDIA = new Set<RecordingStatus['state']>(['deleting', 'deleted', 'quarantined']);

/**
 * The stored object a URL would fetch, from the recording's status; a reason instead when there is none (the
 * recording is deleted or quarantined, or was never transcoded).
 */
export function mediaTarget(
  status: RecordingStatus,
  kind: MediaObjectKind,
): MediaTarget | { missing: string } {
  if (WITHOUT_MEDIA.has(status.state)) {
    return { missing: `recording ${status.recordingId} is ${status.state}: it has no ${kind} to show` };
  }
  if (kind === 'original') {
    const original = status.original;
    if (!original) return { missing: `recording ${status.recordingId} has no stored original (yet)` };
    return { ...original, contentType: 'application/octet-stream' };
  }
  const derivative = status.derivatives?.derivatives.find((d) => d.kind === kind);
  if (!derivative) {
    return {
      missing: `recording ${status.recordingId} has no ${kind}: it is not (yet) transcoded for review`,
    };
  }
  const { bucket, key, versionId, sha256, bytes, contentType } = derivative;
  return { bucket, key, versionId, sha256, bytes, contentType };
}

export function mediaRoutes(
  app: FastifyInstance,
  reads: RecordingReads,
  auditor: RequestAuditor,
  settings: MediaUrlSettings,
): void {
  app.get<{ Params: { id: string; object: MediaObjectKind } }>(
    '/v1/recordings/:id/media/:object',
    {
      config: { permission: 'media.view' },
      schema: {
        summary:
          'A short-lived presigned URL of a recording’s review proxy, poster, sprite or original; audited before it is issued.',
        tags: ['media'],
        params: mediaParams,
        querystring: noQuery,
        response: { 200: mediaUrlBody, ...authenticatedErrors, 404: errorBody },
      },
    },
    async (request) => {
      const { id, object } = request.params;
      const status = await reads.status(id);
      if (!status || !unitVisible(request.identity!.units, status.unit)) {
        throw new ApiError(404, `no recording ${id} among the recordings of your units`);
      }
      const target = mediaTarget(status, object);
      if ('missing' in target) throw new ApiError(404, target.missing);
      await auditor.granted(request, {
        recordingId: id,
        recording: recordingFacts(status),
        object: {
          kind: object,
          bucket: target.bucket,
          key: target.key,
          versionId: target.versionId,
          sha256: target.sha256,
        },
      });
      // SigV4 dates have whole seconds: the URL expires lifetime seconds after the signing second.
      const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
      const expiresAt = new Date(signingDate.getTime() + settings.lifetimeSeconds * 1000).toISOString();
      const url = await getSignedUrl(
        settings.s3,
        new GetObjectCommand({ Bucket: target.bucket, Key: target.key, VersionId: target.versionId }),
        { expiresIn: settings.lifetimeSeconds, signingDate },
      );
      return {
        url,
        expiresAt,
        sha256: target.sha256,
        contentType: target.contentType,
        bytes: target.bytes,
      };
    },
  );
}
