/**
 * What the read-only routes read, through the helpers the CLI uses: the status query (then the audit store
 * once Temporal has forgotten the recording), visibility, the custody log, the certificate. Clients open on
 * first use, so the API starts (and answers 401s) while Temporal or the store is still coming up.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from '../workers/config';
import { BackendUnavailableError, createTemporalAccess, type TemporalAccess } from './temporal';
import { awaitReviewReadyUpdate, statusQuery } from '../workflows/messages';
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
  /**
   * The status once the recording is review-ready or stopped short of it (the workflow's awaitReviewReady
   * Update), or `timeout` after `timeoutMs`. `current` is the status the caller read: waits of callers who saw the
   * same log head join one Update (its id), so a client polling again and again adds none.
   */
  awaitReviewReady?(current: RecordingStatus, timeoutMs: number): Promise<RecordingStatus | 'timeout'>;
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

  /** The live status, else the one rebuilt from the audit store once Temporal has forgotten the recording. */
  async function statusOf(recordingId: string): Promise<RecordingStatus | undefined> {
    return (
      (await queryStatus(recordingId)) ??
      (await statusFromAuditStore(store(), config.buckets.audit, recordingId))
    );
  }

  return {
    async awaitReviewReady(current, timeoutMs) {
      const { WorkflowNotFoundError, WorkflowUpdateStage } = await import('@temporalio/client');
      const handle = (await temporal()).workflow.getHandle(workflowIdFor(current.recordingId));
      let timer: NodeJS.Timeout | undefined;
      try {
        const update = await handle.startUpdate(awaitReviewReadyUpdate, {
          updateId: `await-review-ready-${current.custodyLogHead.seq}`,
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        });
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        return await Promise.race([update.result(), timeout]);
      } catch (err) {
        // The run ended meanwhile (a deleted recording's closed workflow): its last status is the answer.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        return (await statusOf(current.recordingId)) ?? current;
      } finally {
        clearTimeout(timer);
      }
    },
    status: statusOf,
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
