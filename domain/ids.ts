/**
 * The ids a recording carries from dock to certificate. The recording id derives from the incoming object's
 * identity (store, key, ETag, size) — hashed by activities/start-lifecycle.ts, since hashing needs Node's crypto —
 * and everything else derives from it: the workflow id here, object keys in activities/storage/keys.ts.
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
