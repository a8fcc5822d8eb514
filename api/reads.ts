/**
 * What the read-only routes read, through the helpers the CLI uses: the status query (then the audit store
 * once Temporal has forgotten the recording), visibility, the custody log, the certificate. Clients open on
 * first use, so the API starts (and answers 401s) while Temporal or the store is still coming up.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from '../workers/config';
import { BackendUnavailableError, createTemporalAccess, type TemporalAccess } from './temporal';
import { statusQuery } from '../workflows/messages';
import { workflowIdFor } from '../domain/ids';
import type { RecordingStatus } from '../domain/types';
import { createS3Client } from '../activities/storage/s3';
import { readCustodyLog } from '../activities/custody-log/read';
import type { CustodyEntry } from '../activities/custody-log/chain';
import { statusFromAuditStore } from '../activities/custody-log/status-from-log';
import { readCertificate, type StoredCertificate } from '../activities/write-certificate';
import {
  listRecordingPage,
  recordingListQuery,
  type RecordingFilter,
  type RecordingPage,
} from '../activities/visibility/list-recordings';

export interface RecordingReads {
  status(recordingId: string): Promise<RecordingStatus | undefined>;
  list(filter: RecordingFilter, page: { limit: number; pageToken?: string }): Promise<RecordingPage>;
  /** In chain order; empty when the recording has no log. */
  custodyLog(recordingId: string): Promise<CustodyEntry[]>;
  certificate(recordingId: string): Promise<StoredCertificate | undefined>;
  close(): Promise<void>;
}

export { BackendUnavailableError };

export function createRecordingReads(
  config: CustodyConfig,
  temporalAccess: TemporalAccess = createTemporalAccess(config),
): RecordingReads {
  let s3: S3Client | undefined;
  const store = () => (s3 ??= createS3Client(config.s3));
  const temporal = () => temporalAccess.client();

  async function queryStatus(recordingId: string): Promise<RecordingStatus | undefined> {
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    try {
      return await (await temporal()).workflow.getHandle(workflowIdFor(recordingId)).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  return {
    async status(recordingId) {
      return (
        (await queryStatus(recordingId)) ??
        (await statusFromAuditStore(store(), config.buckets.audit, recordingId))
      );
    },
    async list(filter, page) {
      return listRecordingPage(await temporal(), config.temporal.namespace, recordingListQuery(filter), page);
    },
    async custodyLog(recordingId) {
      const entries = await readCustodyLog(store(), config.buckets.audit, recordingId);
      return entries.sort((a, b) => a.seq - b.seq);
    },
    certificate(recordingId) {
      return readCertificate(store(), config.buckets.audit, recordingId);
    },
    async close() {
      s3?.destroy();
      await temporalAccess.close();
    },
  };
}
