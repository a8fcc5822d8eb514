/**
 * Many recordings at once, the way `custody ingest` brings one: upload + SHA-256 in one pass into the incoming
 * store, then start the lifecycle with the upload's hash declared. Used by the orchestration and deletion-sweep
 * cases; `waitForCount` polls Temporal visibility until enough recordings reached a state.
 */
import type { Client } from '@temporalio/client';
import { uploadAndHash } from './s3-helpers';
import { startRecordingLifecycle } from '../activities/start-lifecycle';
import { lifecycleTaskQueues } from '../workers/pools';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from '../workers/config';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work(i)` for i in 0..n-1 with at most `parallel` at a time. */
export async function inParallel(n: number, parallel: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

export interface IngestMany {
  client: Client;
  s3: S3Client;
  config: CustodyConfig;
  file: string;
  count: number;
  /** Uploads in flight at once (docking cameras). */
  parallel: number;
  /** Key prefix, unique per repetition: a recording's id derives from its key. */
  prefix: string;
  policy: string;
  recordedAt?: string;
  onProgress?: (started: number) => void;
}

/** Uploads and starts `count` recordings; resolves when all are started (not finished). */
export async function ingestMany(options: IngestMany): Promise<string[]> {
  const ids: string[] = [];
  await inParallel(options.count, options.parallel, async (i) => {
    const key = `${options.prefix}/${String(i).padStart(6, '0')}.mp4`;
    const uploaded = await uploadAndHash(options.s3, options.config.buckets.incoming, key, options.file);
    const outcome = await startRecordingLifecycle(options.client, {
      source: { bucket: options.config.buckets.incoming, key, etag: uploaded.etag, size: uploaded.bytes },
      originalName: `${String(i).padStart(6, '0')}.mp4`,
      declared: { sha256: uploaded.sha256, ...(options.recordedAt && { recordedAt: options.recordedAt }) },
      // As `custody ingest` passes it: the workflow skips the transcode stage when the switch is off.
      ...(!options.config.media.transcode && { transcode: false }),
      via: 'cli',
      actor: 'bench',
      policy: options.policy,
      taskQueues: lifecycleTaskQueues(options.config),
    });
    ids.push(outcome.recordingId);
    if (ids.length % 100 === 0) options.onProgress?.(ids.length);
  });
  return ids;
}

/**
 * Polls a visibility count until it reaches `wanted`; returns the time it first did (performance.now()).
 * Throws with the last count after `timeoutMs`.
 */
export async function waitForCount(
  client: Client,
  query: string,
  wanted: number,
  options: { timeoutMs: number; everyMs?: number; log?: (count: number) => void; logEveryMs?: number },
): Promise<number> {
  const deadline = performance.now() + options.timeoutMs;
  let lastLog = performance.now();
  let count = 0;
  while (performance.now() < deadline) {
    count = (await client.workflow.count(query)).count;
    if (count >= wanted) return performance.now();
    if (options.log && performance.now() - lastLog >= (options.logEveryMs ?? 15_000)) {
      options.log(count);
      lastLog = performance.now();
    }
    await sleep(options.everyMs ?? 500);
  }
  throw new Error(
    `only ${count} of ${wanted} recordings matched within ${options.timeoutMs / 1000} s: ${query}`,
  );
}

/** Recordings (of one repetition: started since `since`) in one of `states`. */
export function stateQuery(states: string[], since?: Date): string {
  return (
    `WorkflowType = 'recordingLifecycle'` +
    (since ? ` AND StartTime >= '${since.toISOString()}'` : '') +
    ` AND (${states.map((s) => `CustodyState = '${s}'`).join(' OR ')})`
  );
}

/**
 * Recordings of a repetition that will not move on by themselves: parked, quarantined, or whose workflow
 * failed or was terminated. A wait for N recordings counts these too, so one failure cannot hang the bench;
 * the case reports them.
 */
export function stuckQuery(since?: Date): string {
  return (
    `WorkflowType = 'recordingLifecycle'` +
    (since ? ` AND StartTime >= '${since.toISOString()}'` : '') +
    ` AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut' ` +
    `OR CustodyState = 'needs-attention' OR CustodyState = 'quarantined')`
  );
}

/** States, or stuck (see stuckQuery), in one visibility query. */
export function settledQuery(states: string[], since?: Date): string {
  return (
    `WorkflowType = 'recordingLifecycle'` +
    (since ? ` AND StartTime >= '${since.toISOString()}'` : '') +
    ` AND (${states.map((s) => `CustodyState = '${s}'`).join(' OR ')} OR ExecutionStatus = 'Failed' ` +
    `OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut' OR CustodyState = 'needs-attention' ` +
    `OR CustodyState = 'quarantined')`
  );
}

/** The first failure message of up to `limit` stuck recordings, e.g. for a note: "3× CustodyLogConflict: …". */
export async function describeStuck(client: Client, since?: Date, limit = 20): Promise<string> {
  const reasons = new Map<string, number>();
  let seen = 0;
  for await (const execution of client.workflow.list({ query: stuckQuery(since) })) {
    if (seen++ >= limit) break;
    let reason = `${execution.status.name}`;
    if (execution.status.name === 'FAILED') {
      try {
        await client.workflow.getHandle(execution.workflowId).result();
      } catch (error) {
        const cause = (error as { cause?: { message?: string } }).cause;
        reason = (cause?.message ?? (error as Error).message).replace(/[0-9a-f]{20,}/g, '…').slice(0, 160);
      }
    }
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return [...reasons].map(([reason, n]) => `${n}× ${reason}`).join('; ');
}
