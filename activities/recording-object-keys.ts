/**
 * Every object key a recording can have in the evidence, derivatives and quarantine stores: what deletion must
 * remove (keys that never held anything are listed, found empty and skipped). The quarantine's reason and manifest
 * copies stay after a release from quarantine, so they go with the recording too.
 */
import {
  evidenceOriginalKey,
  derivativeKey,
  quarantineManifestKey,
  quarantineObjectKey,
  quarantineReasonKey,
} from './storage/keys';
import { OUTPUT_FILE_NAMES } from './media/plan';

export const DERIVATIVES_MANIFEST = 'derivatives.json';

export function makeRecordingObjectKeys(deps: {
  evidenceBucket: string;
  derivativesBucket: string;
  quarantineBucket: string;
}) {
  return function recordingObjectKeys(input: {
    recordingId: string;
  }): Promise<{ bucket: string; key: string }[]> {
    return Promise.resolve([
      { bucket: deps.evidenceBucket, key: evidenceOriginalKey(input.recordingId) },
      ...[...Object.values(OUTPUT_FILE_NAMES), DERIVATIVES_MANIFEST].map((name) => ({
        bucket: deps.derivativesBucket,
        key: derivativeKey(input.recordingId, name),
      })),
      ...[quarantineObjectKey, quarantineReasonKey, quarantineManifestKey].map((key) => ({
        bucket: deps.quarantineBucket,
        key: key(input.recordingId),
      })),
    ]);
  };
}
