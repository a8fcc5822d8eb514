/**
 * What the read-only routes read, through the helpers the CLI uses: the status query (then the audit store
 * once Temporal has forgotten the recording), visibility, the custody log, the certificate. Clients open on
 * first use, so the API starts (and answers 401s) while Temporal or the store is still coming up.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client, Connection } from '@temporalio/client';
import type { CustodyConfig } from '../workers/config';
import { custodyDataConverter, temporalConnectionOptions } from '../workers/temporal-connection';
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

/** Raised when Temporal or the store cannot be reached: the API answers 503, naming which. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

/**
 * The reads of one API process. The data converter is custody's own (payloads encrypted as the workers encrypt
 * them), built here at once so that unusable payload keys stop the API at start, not at its first read.
 */
export function createRecordingReads(config: CustodyConfig): RecordingReads {
  const dataConverter = custodyDataConverter(config);
  let connection: Promise<Connection> | undefined;
  let client: Promise<Client> | undefined;
  let s3: S3Client | undefined;
  const store = () => (s3 ??= createS3Client(config.s3));

  const temporal = (): Promise<Client> => {
    client ??= (async () => {
      // Loaded here: the module pulls in gRPC, which the process needs only once a read arrives.
      const { Connection, Client } = await import('@temporalio/client');
      connection = Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 5000 });
      return new Client({
        connection: await connection,
        namespace: config.temporal.namespace,
        dataConverter,
      });
    })().catch((err: unknown) => {
      client = undefined;
      connection = undefined;
      throw new BackendUnavailableError(
        `cannot reach Temporal at ${config.temporal.address} (${(err as Error).message})`,
      );
    });
    return client;
  };

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
      const open = await connection?.catch(() => undefined);
      await open?.close();
    },
  };
}
