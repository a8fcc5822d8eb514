/**
 * Object keys derive from the recording id alone — never from a file name a person chose — so a retry at any
 * point finds what an earlier attempt wrote. Pure: safe to import from workflow code.
 */
export const evidenceOriginalKey = (recordingId: string) => `recordings/${recordingId}/original`;
export const derivativeKey = (recordingId: string, name: string) => `recordings/${recordingId}/${name}`;
export const quarantineObjectKey = (recordingId: string) => `${recordingId}/original`;
export const quarantineReasonKey = (recordingId: string) => `${recordingId}/reason.json`;
export const quarantineManifestKey = (recordingId: string) => `${recordingId}/manifest.json`;
export const custodyLogPrefix = (recordingId: string) => `custody-log/${recordingId}/`;
/** Zero-padded so that a plain listing returns entries in order. */
export const custodyLogEntryKey = (recordingId: string, seq: number) =>
  `${custodyLogPrefix(recordingId)}${String(seq).padStart(10, '0')}.json`;
export const certificateKey = (recordingId: string) => `certificates/${recordingId}.json`;
