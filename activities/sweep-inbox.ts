/**
 * One pass over the inbox: every file becomes one recordingLifecycle. A file's sidecar manifest `<file>.json`
 * supplies what the dock knows; a file without one waits the manifest grace period (docks upload the media
 * first), then starts without it. Starting is idempotent (start-lifecycle.ts), so overlapping sweeps are
 * harmless. Files younger than the grace are left alone also because `custody ingest` starts its own.
 */
import { ListObjectsV2Command, GetObjectCommand, type S3Client, type _Object } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { parseManifest } from './manifest';
import { startRecordingLifecycle } from './start-lifecycle';
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
}

export interface SweepReport {
  listed: number;
  started: string[];
  alreadyKnown: number;
  waitingForManifest: number;
}

const MANIFEST_SUFFIX = '.json';

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
        if (!object.Key || object.Key.endsWith(MANIFEST_SUFFIX) || object.Key.endsWith('/')) continue;
        report.listed++;
        const ageSeconds = (now - (object.LastModified?.getTime() ?? now)) / 1000;
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
    return report;
  };

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
