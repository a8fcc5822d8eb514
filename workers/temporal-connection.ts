/**
 * How custody talks to Temporal, shared by every client and worker it creates: the connection options, and the
 * data converter that encrypts what it sends (workers/payload-codec.ts).
 */
import { readFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { CustodyConfig } from './config';
import { AesGcmPayloadCodec, loadPayloadKeys, type PayloadKeySet } from './payload-codec';

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

/** The failure converter module (a path: the SDK also bundles it into the workflow code). */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The data converter for a key set: payloads encrypted, failure messages and stack traces among them. */
export function encryptingDataConverter(keySet: PayloadKeySet): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(keySet)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/**
 * The data converter of every Client and Worker custody creates. Reads the key file named by config (throws a
 * PayloadKeyError saying what to fix when it is missing or unsafe). CUSTODY_PAYLOAD_ENCRYPTION=off gives the SDK
 * defaults — plain payloads, for reading data written before encryption only.
 */
export function custodyDataConverter(config: CustodyConfig): DataConverter {
  if (!config.payloadEncryption.enabled) return {};
  return encryptingDataConverter(loadPayloadKeys(config.payloadEncryption.keysFile));
}
