/** Every object key a recording has in the evidence and derivatives stores: what deletion must remove. */
import { evidenceOriginalKey, derivativeKey } from './storage/keys';
import { OUTPUT_FILE_NAMES } from './media/plan';

export const DERIVATIVES_MANIFEST = 'derivatives.json';

export function makeRecordingObjectKeys(deps: { evidenceBucket: string; derivativesBucket: string }) {
  return function recordingObjectKeys(input: {
    recordingId: string;
  }): Promise<{ bucket: string; key: string }[]> {
    return Promise.resolve([
      { bucket: deps.evidenceBucket, key: evidenceOriginalKey(input.recordingId) },
      ...[...Object.values(OUTPUT_FILE_NAMES), DERIVATIVES_MANIFEST].map((name) => ({
        bucket: deps.derivativesBucket,
        key: derivativeKey(input.recordingId, name),
      })),
    ]);
  };
}
