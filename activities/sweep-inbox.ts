/**
 * One pass over the inbox: every file becomes one recordingLifecycle. A file's sidecar manifest `<file>.json`
 * supplies what the dock knows; a file without one waits the manifest grace period (docks upload the media
 * first), then starts without it. Starting is idempotent (start-lifecycle.ts), so overlapping sweeps are
 * harmless. Files younger than the grace are left alone also because `custody ingest` starts its own.
 *
 * Uploads through the API (`uploads/`) are the API's to start, as they complete; the sweep starts one only when
 * it has lain for UPLOAD_ORPHAN_SECONDS without a lifecycle (the API stopped between completing and starting,
 * and the uploader never asked again), and aborts multipart uploads older than their ticket: no upload stays
 * in the store without a lifecycle and a deadline.
 */
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  GetObjectCommand,
  type S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { parseManifest } from './manifest';
import { startRecordingLifecycle } from './start-lifecycle';
import { startUploadedRecording, UPLOAD_PREFIX } from './start-uploaded-recording';
import type { ActivityContextPort } from './context';
import type { DeclaredFacts, LifecycleInput } from '../domain/types';

export interface SweepInboxInput {
  bucket: string;
  manifestGraceSeconds: number;
  policy: string;
  taskQueues: LifecycleInput['taskQueues'];
  /** False when CUSTODY_TRANSCODE_ENABLED=false. */
  transcode?: boolean;
  /** Stop after this many files per sweep; the next sweep continues. */
  maxFiles?: number;
  /** Default UPLOAD_ORPHAN_SECONDS; tests shorten it. */
  uploadOrphanSeconds?: number;
  /** Default UPLOAD_ABANDONED_SECONDS; tests shorten it. */
  uploadAbandonedSeconds?: number;
}

export interface SweepReport {
  listed: number;
  started: string[];
  alreadyKnown: number;
  waitingForManifest: number;
  /** Abandoned multipart uploads aborted (begun more than UPLOAD_ABANDONED_SECONDS ago). */
  uploadsAborted?: number;
}

const MANIFEST_SUFFIX = '.json';

/** An upload completed this long ago without a lifecycle is started by the sweep. */
export const UPLOAD_ORPHAN_SECONDS = 900;
/** A multipart upload begun this long ago is abandoned (its ticket is valid for a day): its parts are aborted. */
export const UPLOAD_ABANDONED_SECONDS = 26 * 3600;

export function makeSweepInbox(deps: {
  s3: S3Client;
  temporal: () => Promise<Client>;
  context: ActivityContextPort;
}) {
  async function readManifest(
    bucket: string,
    key: string,
  ): Promise<{ declared: DeclaredFacts } | { problem: string }> {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const parsed = parseManifest(await object.Body!.transformToString('utf8'), key);
    return parsed.ok ? { declared: parsed.declared } : { problem: parsed.problem };
  }

  return async function sweepInbox(input: SweepInboxInput): Promise<SweepReport> {
    const client = await deps.temporal();
    const report: SweepReport = { listed: 0, started: [], alreadyKnown: 0, waitingForManifest: 0 };
    const maxFiles = input.maxFiles ?? 1000;
    const now = Date.now();
    let token: string | undefined;
    do {
      const page = await deps.s3.send(
        new ListObjectsV2Command({ Bucket: input.bucket, ...(token && { ContinuationToken: token }) }),
      );
      const objects = page.Contents ?? [];
      const keys = new Set(objects.map((o) => o.Key));
      for (const object of objects) {
        if (report.listed >= maxFiles) return report;
        if (!object.Key || object.Key.endsWith('/')) continue;
        const ageSeconds = (now - (object.LastModified?.getTime() ?? now)) / 1000;
        if (object.Key.startsWith(UPLOAD_PREFIX)) {
          if (ageSeconds < (input.uploadOrphanSeconds ?? UPLOAD_ORPHAN_SECONDS)) continue;
          report.listed++;
          const outcome = await startUploadedRecording(
            { s3: deps.s3, client },
            {
              bucket: input.bucket,
              key: object.Key,
              policy: input.policy,
              taskQueues: input.taskQueues,
              ...(input.transcode === false && { transcode: false }),
            },
          );
          if (outcome.kind === 'started' && outcome.fresh) report.started.push(outcome.recordingId);
          else report.alreadyKnown++;
          deps.context.heartbeat({ listed: report.listed });
          continue;
        }
        if (object.Key.endsWith(MANIFEST_SUFFIX)) continue;
        report.listed++;
        const manifestKey = `${object.Key}${MANIFEST_SUFFIX}`;
        // A manifest on the next page is found by the next sweep; S3 lists keys in order, so it is rare.
        const hasManifest = keys.has(manifestKey);
        if (ageSeconds < input.manifestGraceSeconds && !hasManifest) {
          report.waitingForManifest++;
          continue;
        }
        if (hasManifest && ageSeconds < 2) continue; // still being written by the dock
        const outcome = await startOne(client, input, object, hasManifest ? manifestKey : undefined);
        if (outcome.started) report.started.push(outcome.recordingId);
        else report.alreadyKnown++;
        deps.context.heartbeat({ listed: report.listed });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    report.uploadsAborted = await abortAbandonedUploads(
      input.bucket,
      now,
      input.uploadAbandonedSeconds ?? UPLOAD_ABANDONED_SECONDS,
    );
    return report;
  };

  async function abortAbandonedUploads(
    bucket: string,
    now: number,
    abandonedSeconds: number,
  ): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await deps.s3.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: UPLOAD_PREFIX,
          ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
          ...(uploadIdMarker !== undefined && { UploadIdMarker: uploadIdMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) {
        const begun = upload.Initiated?.getTime() ?? now;
        if ((now - begun) / 1000 < abandonedSeconds || !upload.Key || !upload.UploadId) continue;
        await deps.s3.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
        );
        aborted++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return aborted;
  }

  async function startOne(client: Client, input: SweepInboxInput, object: _Object, manifestKey?: string) {
    const manifest = manifestKey ? await readManifest(input.bucket, manifestKey) : undefined;
    const key = object.Key!;
    return startRecordingLifecycle(client, {
      source: { bucket: input.bucket, key, etag: object.ETag ?? '', size: object.Size ?? 0 },
      originalName: key.split('/').pop() ?? key,
      declared: manifest && 'declared' in manifest ? manifest.declared : {},
      ...(manifest && 'problem' in manifest && { manifestProblem: manifest.problem }),
      ...(manifestKey && { manifestKey }),
      via: 'inbox',
      actor: 'system',
      policy: input.policy,
      taskQueues: input.taskQueues,
      ...(input.transcode === false && { transcode: false }),
    });
  }
}
