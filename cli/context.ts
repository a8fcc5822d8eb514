/**
 * What every CLI command needs: validated config, a Temporal client, an S3 client — opened lazily and closed
 * when the command ends. The CLI talks to Temporal, and reads the audit store for logs and certificates.
 */
import type { Connection, Client } from '@temporalio/client';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadConfigOrExit, type CustodyConfig } from '../workers/config';
import { createS3Client } from '../activities/storage/s3';
import { custodyDataConverter, temporalConnectionOptions } from '../workers/temporal-connection';
import { PayloadKeyError } from '../workers/payload-codec';

/**
 * Exit codes: 0 ok, 1 error, 2 unknown recording id, 3 verification failed, 4 rejected by a validator, 5 waited
 * (--wait) and the recording stopped short of review-ready: parked, quarantined or deleted. Configuration errors
 * exit 78 (EX_CONFIG), as loadConfigOrExit does; unusable payload keys are one.
 */
export const EXIT = { ok: 0, error: 1, unknown: 2, mismatch: 3, rejected: 4, notReady: 5 } as const;

const EX_CONFIG = 78;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}

export interface CliContext {
  config: CustodyConfig;
  temporal(): Promise<Client>;
  s3(): S3Client;
  close(): Promise<void>;
}

export function createCliContext(env?: Record<string, string | undefined>): CliContext {
  const config = loadConfigOrExit(env);
  let connection: Connection | undefined;
  let client: Client | undefined;
  let s3: S3Client | undefined;
  return {
    config,
    async temporal() {
      if (!client) {
        // Loaded here, not at the top: commands that never talk to Temporal start without it.
        const { Connection, Client } = await import('@temporalio/client');
        let dataConverter;
        try {
          dataConverter = custodyDataConverter(config);
        } catch (err) {
          if (err instanceof PayloadKeyError) throw new CliError(err.message, EX_CONFIG);
          throw err;
        }
        try {
          connection = await Connection.connect({
            ...temporalConnectionOptions(config),
            connectTimeout: 5000,
          });
        } catch (err) {
          throw new CliError(
            `Cannot reach Temporal at ${config.temporal.address} (${(err as Error).message}). ` +
              'Start the stack with `npm run dev`, or set TEMPORAL_ADDRESS.',
          );
        }
        client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
      }
      return client;
    },
    s3() {
      s3 ??= createS3Client(config.s3);
      return s3;
    },
    async close() {
      s3?.destroy();
      await connection?.close();
    },
  };
}
