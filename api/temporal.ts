/**
 * The API's Temporal client, opened on first use, so the API starts (and answers 401s) while Temporal is still
 * coming up; a failed connection is retried by the next request. Payloads are encrypted as the workers encrypt
 * them (the data converter is built at once: unusable payload keys stop the API at start, not at its first call).
 */
import type { Client, Connection } from '@temporalio/client';
import type { CustodyConfig } from '../workers/config';
import { custodyDataConverter, temporalConnectionOptions } from '../workers/temporal-connection';

/** Raised when Temporal or the store cannot be reached: the API answers 503, naming which. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

export interface TemporalAccess {
  client(): Promise<Client>;
  close(): Promise<void>;
}

export function createTemporalAccess(config: CustodyConfig): TemporalAccess {
  const dataConverter = custodyDataConverter(config);
  let connection: Promise<Connection> | undefined;
  let client: Promise<Client> | undefined;
  return {
    client() {
      client ??= (async () => {
        // Loaded here: the module pulls in gRPC, which the process needs only once a call arrives.
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
    },
    async close() {
      const open = await connection?.catch(() => undefined);
      await open?.close();
    },
  };
}
