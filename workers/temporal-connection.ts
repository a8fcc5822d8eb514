/** Connection options for Temporal from config, shared by the CLI's client and the workers' connection. */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { CustodyConfig } from './config';

export function temporalConnectionOptions(config: CustodyConfig): {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
} {
  const { tls, apiKey, address } = config.temporal;
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`Cannot read ${what} at ${file}: ${(err as Error).message}`);
    }
  };
  const crt = read(tls?.clientCertPath, 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = read(tls?.clientKeyPath, 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  const ca = read(tls?.serverCaCertPath, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  return {
    address,
    ...(tls && {
      tls: {
        ...(tls.serverName && { serverNameOverride: tls.serverName }),
        ...(ca && { serverRootCACertificate: ca }),
        ...(crt && key && { clientCertPair: { crt, key } }),
      },
    }),
    ...(apiKey && { apiKey }),
  };
}
