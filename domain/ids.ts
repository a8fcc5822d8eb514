/**
 * The ids a recording carries from dock to certificate. The recording id derives from the incoming object's
 * identity (store, key, ETag, size) — or, for an upload through the API, from its content (SHA-256 and size),
 * so that the same bytes uploaded twice are one recording — hashed by activities/start-lifecycle.ts, since
 * hashing needs Node's crypto; everything else derives from it: the workflow id here, object keys in
 * activities/storage/keys.ts.
 */

export interface ObjectIdentity {
  bucket: string;
  key: string;
  etag: string;
  size: number;
}

/** The text whose SHA-256 the recording id is: quotes around the ETag are not part of the object's identity. */
export function recordingIdentityText(identity: ObjectIdentity): string {
  const etag = identity.etag.replace(/"/g, '');
  return `${identity.bucket}\n${identity.key}\n${etag}\n${identity.size}`;
}

/** What an upload's recording is: its bytes, as the uploader hashed them (the workflow verifies the hash). */
export interface ContentIdentity {
  sha256: string;
  size: number;
}

/** A text no object identity can have (a bucket name holds no colon), so the two kinds of id never meet. */
export function contentIdentityText(identity: ContentIdentity): string {
  return `content:sha256\n${identity.sha256.toLowerCase()}\n${identity.size}`;
}

/** 20 lowercase hex characters (80 bits of SHA-256): stable, short enough to read aloud. */
export const RECORDING_ID_PATTERN = /^[0-9a-f]{20}$/;
export const RECORDING_ID_LENGTH = 20;

export function isRecordingId(text: string): boolean {
  return RECORDING_ID_PATTERN.test(text);
}

const WORKFLOW_ID_PREFIX = 'rec-';

export const workflowIdFor = (recordingId: string) => `${WORKFLOW_ID_PREFIX}${recordingId}`;

export const recordingIdFromWorkflowId = (workflowId: string) =>
  workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
