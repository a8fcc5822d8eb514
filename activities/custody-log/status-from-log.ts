/**
 * A recording's status rebuilt from the audit store, for when Temporal no longer knows it: the custody log
 * and the certificate outlive the recording and its workflow history. Read by `custody status` and the API.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { RecordingStatus } from '../../domain/types';
import { readCertificate } from '../write-certificate';
import { readCustodyLog } from './read';

export async function statusFromAuditStore(
  s3: S3Client,
  auditBucket: string,
  recordingId: string,
): Promise<RecordingStatus | undefined> {
  const entries = (await readCustodyLog(s3, auditBucket, recordingId)).sort((a, b) => a.seq - b.seq);
  if (entries.length === 0) return undefined;
  const find = (action: string) =>
    [...entries].reverse().find((e) => e.action === action)?.details as Record<string, unknown> | undefined;
  const received = find('recording.received') as
    | {
        originalName?: string;
        declared?: { deviceId?: string; unit?: string; recordedAt?: string };
        policy?: string;
      }
    | undefined;
  const stored = find('original.stored') as { sha256?: string; bytes?: number } | undefined;
  const certificate = await readCertificate(s3, auditBucket, recordingId);
  const head = entries.at(-1)!;
  return {
    recordingId,
    state: find('recording.deleted') ? 'deleted' : find('recording.quarantined') ? 'quarantined' : 'retained',
    originalName: received?.originalName ?? '',
    ingestedAt: entries[0]!.time,
    policy: received?.policy ?? '',
    reviewReady: false,
    ...(stored?.sha256 && { sha256: stored.sha256 }),
    ...(stored?.bytes !== undefined && { bytes: stored.bytes }),
    ...(received?.declared?.deviceId && { deviceId: received.declared.deviceId }),
    ...(received?.declared?.unit && { unit: received.declared.unit }),
    ...(received?.declared?.recordedAt && { recordedAt: received.declared.recordedAt }),
    ...(certificate?.certificate && {
      certificate: { key: certificate.key, certificateHash: certificate.certificate.certificateHash },
    }),
    custodyLogHead: { seq: head.seq, hash: head.hash },
  };
}

/** The unit a recording's log declares at receipt (undefined: none, or no log). */
export function unitFromLog(entries: readonly { action: string; details: unknown }[]): string | undefined {
  const received = entries.find((e) => e.action === 'recording.received')?.details as
    { declared?: { unit?: unknown } } | undefined;
  const unit = received?.declared?.unit;
  return typeof unit === 'string' ? unit : undefined;
}
