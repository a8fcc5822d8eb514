/**
 * Starts the lifecycle of a recording uploaded through the API (issue 15 item 7): from the completed object in
 * the incoming store under `uploads/`, whose metadata the API wrote when the upload began (who uploaded it,
 * its name, what the uploader declared, and the SHA-256 the uploader computed).
 *
 * The recording id comes from that SHA-256 and the size (domain/ids.ts), so the same bytes twice meet the same
 * id and Temporal refuses a second start. What then happens to the second arrival depends on the first:
 *
 *   - the first's stored bytes are verified and have that hash: the second arrival's bytes are hashed here and,
 *     when they are the same, removed from the incoming store: answered with the first recording's id, no second
 *     life, no second deadline (when the first is already deleted, the same bytes are not taken in again);
 *   - the first is still being verified: `pending` — nothing is decided, the object stays, ask again later;
 *   - the first turned out to hold other bytes (its uploader declared a hash its bytes did not have), or this
 *     arrival's bytes are not what its uploader declared: this arrival gets its own lifecycle, keyed by the
 *     object (it is then quarantined as a hash mismatch, or kept as the recording it is). Nothing is deleted on
 *     an uploader's word alone.
 *
 * The same object again (a completion retried after a lost answer) finds its own lifecycle: `started`, not new.
 * Used by the API when an upload completes, and by the inbox sweep for an upload whose completion never started
 * anything (the API stopped in between): either way no upload is left without a lifecycle and a deadline.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { workflowIdFor } from '../domain/ids';
import {
  RECORDING_STATUS_QUERY,
  type DeclaredFacts,
  type LifecycleInput,
  type RecordingStatus,
} from '../domain/types';
import { isNotFound } from './storage/errors';
import { readObjectInto } from './storage/object-reader';
import { contentRecordingIdFor, startRecordingLifecycle, type ContentIdentity } from './start-lifecycle';

/** Where the API's uploads land in the incoming store; the sweep leaves them to the API (see above). */
export const UPLOAD_PREFIX = 'uploads/';

/** What the API writes into the upload's object metadata (one header, base64url JSON: S3 metadata is ASCII). */
export interface UploadFacts {
  version: 1;
  /** The file's own name. */
  originalName: string;
  /** The uploader's SHA-256 of the bytes (the content identity). */
  sha256: string;
  /** The size the uploader announced. */
  bytes: number;
  /** What the uploader declared about the recording (its manifest's hash, when it has one, in `sha256`). */
  declared: DeclaredFacts;
  /** The uploader's verified subject. */
  actor: string;
  /** A rule pack the uploader named: dev mode only (the API refuses it otherwise); absent: the deployment's. */
  policy?: string;
}

export const UPLOAD_FACTS_METADATA = 'custody-upload';
/** S3 allows 2 KB of user metadata per object (names and values together). */
export const UPLOAD_FACTS_MAX_BYTES = 2048;

export function uploadFactsMetadata(facts: UploadFacts): Record<string, string> {
  return { [UPLOAD_FACTS_METADATA]: Buffer.from(JSON.stringify(facts), 'utf8').toString('base64url') };
}

export function parseUploadFacts(
  metadata: Record<string, string> | undefined,
): UploadFacts | { problem: string } {
  const raw = metadata?.[UPLOAD_FACTS_METADATA];
  if (raw === undefined) return { problem: `the upload has no ${UPLOAD_FACTS_METADATA} metadata` };
  try {
    const facts = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<UploadFacts>;
    if (
      facts.version !== 1 ||
      typeof facts.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(facts.sha256) ||
      typeof facts.originalName !== 'string' ||
      typeof facts.actor !== 'string' ||
      typeof facts.bytes !== 'number' ||
      typeof facts.declared !== 'object' ||
      facts.declared === null ||
      (facts.policy !== undefined && typeof facts.policy !== 'string')
    ) {
      return { problem: `the upload's ${UPLOAD_FACTS_METADATA} metadata is incomplete` };
    }
    return facts as UploadFacts;
  } catch {
    return { problem: `the upload's ${UPLOAD_FACTS_METADATA} metadata is not base64url JSON` };
  }
}

export interface StartUploadInput {
  bucket: string;
  key: string;
  policy: string;
  taskQueues: LifecycleInput['taskQueues'];
  transcode?: boolean;
  /** What the uploader said the bytes are (the API's ticket): finds the lifecycle once the object is gone. */
  expected?: ContentIdentity;
}

export type UploadStart =
  /** `fresh`: this call started it; otherwise a retry found the lifecycle of this very object. */
  | { kind: 'started'; recordingId: string; fresh: boolean }
  /** The same bytes were already recording `recordingId`; this arrival's object is removed. */
  | { kind: 'duplicate'; recordingId: string; state: RecordingStatus['state'] }
  /** Recording `recordingId` has the same claimed hash and is not verified yet: ask again later. */
  | { kind: 'pending'; recordingId: string }
  /** No such object (and no lifecycle of it): the upload was never completed, or was taken away. */
  | { kind: 'missing' };

/** Whether a recording without a hash yet may still get one: being taken in, or parked on the way. */
export function stillVerifying(state: RecordingStatus['state']): boolean {
  return state === 'ingesting' || state === 'needs-attention';
}

interface Deps {
  s3: S3Client;
  client: Client;
}

/** Memo of an upload's lifecycle: which object it was started from (a retry recognises its own start). */
const UPLOAD_KEY_MEMO = 'uploadKey';

export async function startUploadedRecording(deps: Deps, input: StartUploadInput): Promise<UploadStart> {
  let head;
  try {
    head = await deps.s3.send(new HeadObjectCommand({ Bucket: input.bucket, Key: input.key }));
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // Asked again after the lifecycle took the object into the evidence store: it is the answer.
    const recordingId = input.expected && contentRecordingIdFor(input.expected);
    if (recordingId && (await startedFrom(deps.client, recordingId)) === input.key) {
      return { kind: 'started', recordingId, fresh: false };
    }
    return { kind: 'missing' };
  }
  const size = head.ContentLength ?? 0;
  const source = { bucket: input.bucket, key: input.key, etag: head.ETag ?? '', size };
  const common = {
    source,
    policy: input.policy,
    taskQueues: input.taskQueues,
    via: 'api' as const,
    ...(input.transcode === false && { transcode: false }),
  };
  const facts = parseUploadFacts(head.Metadata);
  if ('problem' in facts) {
    // Not written by the API as it writes uploads: quarantined with the reason, never dropped.
    const started = await startRecordingLifecycle(deps.client, {
      ...common,
      originalName: input.key.split('/').pop() ?? input.key,
      declared: {},
      manifestProblem: `${facts.problem}; it was not uploaded as the custody API uploads`,
      actor: 'unknown',
    });
    return { kind: 'started', recordingId: started.recordingId, fresh: started.started };
  }
  const lifecycle = {
    ...common,
    ...(facts.policy !== undefined && { policy: facts.policy }),
    originalName: facts.originalName,
    // Without a declared hash, the uploader's own hash guards the copy into the evidence store.
    declared: { ...facts.declared, sha256: facts.declared.sha256 ?? facts.sha256 },
    actor: facts.actor,
  };
  const content = { sha256: facts.sha256, size };
  const started = await startRecordingLifecycle(deps.client, lifecycle, content, {
    [UPLOAD_KEY_MEMO]: input.key,
  });
  if (started.started) return { kind: 'started', recordingId: started.recordingId, fresh: true };

  if ((await startedFrom(deps.client, started.recordingId)) === input.key) {
    return { kind: 'started', recordingId: started.recordingId, fresh: false };
  }
  const first = deps.client.workflow.getHandle(workflowIdFor(started.recordingId));

  const ownLifecycle = async (): Promise<UploadStart> => {
    const own = await startRecordingLifecycle(deps.client, lifecycle);
    return { kind: 'started', recordingId: own.recordingId, fresh: own.started };
  };
  const status = await first.query<RecordingStatus>(RECORDING_STATUS_QUERY).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  // Closed and forgotten by Temporal: its bytes were verified at ingest (or it would not have closed as a
  // recording), and it is deleted — the certificate says so — so the same bytes are not taken in again.
  const verified = status ? status.sha256 : facts.sha256;
  const state = status?.state ?? 'deleted';
  if (verified === undefined) {
    return stillVerifying(state) ? { kind: 'pending', recordingId: started.recordingId } : ownLifecycle();
  }
  if (verified !== facts.sha256) return ownLifecycle();
  // With the store's own reader (the one re-hashes use); an object changed since its HEAD counts as other bytes.
  const hash = createHash('sha256');
  const read = await readObjectInto(deps.s3, { bucket: input.bucket, key: input.key }, (chunk) =>
    hash.update(chunk),
  );
  const unquoted = (etag: string | undefined) => etag?.replace(/"/g, '');
  const same =
    hash.digest('hex') === facts.sha256 && read.bytes === size && unquoted(read.etag) === unquoted(head.ETag);
  if (!same) return ownLifecycle();
  await deps.s3.send(new DeleteObjectCommand({ Bucket: input.bucket, Key: input.key }));
  return { kind: 'duplicate', recordingId: started.recordingId, state };
}

/** The upload key a recording's lifecycle was started from (its memo), if it was started from an upload. */
async function startedFrom(client: Client, recordingId: string): Promise<unknown> {
  const description = await client.workflow
    .getHandle(workflowIdFor(recordingId))
    .describe()
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  return description?.memo?.[UPLOAD_KEY_MEMO];
}
