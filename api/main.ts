#!/usr/bin/env node
/**
 * The custody API's entry point (`npm run api`, `node dist/api/main.js`): its own process, not a worker pool
 * — it faces people rather than task queues, needs none of the worker runtime, and is exposed, scaled and
 * fenced on the network differently. Reads config once; refuses to start without an issuer, without HTTPS (or
 * an explicit CUSTODY_API_INSECURE_HTTP=true), with an invalid role mapping or an unreadable pseudonym key —
 * exit 78 (EX_CONFIG) with what to set. SIGTERM/SIGINT: stop accepting, finish what is in flight, exit 0.
 */
import { readFileSync } from 'node:fs';
import { lifecycleTaskQueues, loadConfigOrExit, type CustodyConfig } from '../workers/config';
import { createOidcVerifier } from './auth/oidc';
import { loadRoleMapping, RoleMappingError } from './roles-file';
import { createPseudonymiser, loadPseudonymKey, PseudonymKeyError } from './pseudonym';
import { createRecordingReads, type RecordingReads } from './reads';
import { PayloadKeyError } from '../workers/payload-codec';
import { buildApiServer } from './server';
import { createAccessAudit } from './access-audit';
import { createS3Client } from '../activities/storage/s3';
import { createTemporalAccess, type TemporalAccess } from './temporal';
import { createRecordingActions } from './actions';
import { createAssertionSigner } from './assertions';
import { createUploadTickets } from './uploads';
import { ConsoleSessions } from './console/sessions';
import {
  AssertionKeyError,
  ensureDevAssertionKeys,
  loadAssertionSigningKey,
  type AssertionSigningKey,
} from '../workers/assertion-keys';

const EX_CONFIG = 78;

function refuse(message: string): never {
  process.stderr.write(`${message}\nSee docs/api.md and docs/configuration.md.\n`);
  process.exit(EX_CONFIG);
}

function readTls(config: CustodyConfig): { key: Buffer; cert: Buffer } | undefined {
  const { tls, insecureHttp } = config.api;
  if (insecureHttp) return undefined;
  if (!tls) {
    refuse(
      'The API serves HTTPS only: set CUSTODY_API_TLS_CERT_PATH and CUSTODY_API_TLS_KEY_PATH ' +
        '(or CUSTODY_API_INSECURE_HTTP=true for dev and tests on this machine).',
    );
  }
  try {
    return { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) };
  } catch (err) {
    refuse(`Cannot read the API's TLS certificate or key: ${(err as Error).message}`);
  }
}

/** The console's sign-in settings; its client secret from its file (a start without it is refused). */
function consoleOptions(
  settings: NonNullable<CustodyConfig['api']['console']>,
  issuer: string,
): NonNullable<Parameters<typeof buildApiServer>[0]['console']> {
  let clientSecret: string;
  try {
    clientSecret = readFileSync(settings.clientSecretFile, 'utf8').trim();
  } catch (err) {
    refuse(
      `Cannot read the console's client secret (CUSTODY_CONSOLE_CLIENT_SECRET_FILE): ${(err as Error).message}`,
    );
  }
  if (!clientSecret) refuse(`CUSTODY_CONSOLE_CLIENT_SECRET_FILE ${settings.clientSecretFile} is empty`);
  return {
    issuer,
    clientId: settings.clientId,
    clientSecret,
    origin: settings.origin,
    sessions: new ConsoleSessions({
      absoluteMs: settings.sessionHours * 3_600_000,
      idleMs: settings.idleMinutes * 60_000,
      maxSessions: 10_000,
      maxPending: 10_000,
    }),
    // What the browser sees decides: an https origin (even with TLS ended at an ingress) gets Secure cookies.
    secureCookies: new URL(settings.origin).protocol === 'https:',
  };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const { issuer } = config.oidc;
  if (!issuer) {
    refuse(
      'CUSTODY_OIDC_ISSUER is not set: the API verifies every access token against an OpenID Provider. Set it ' +
        "to the provider's issuer URL (e.g. https://keycloak.example.org/realms/police), or to the embedded dev " +
        "provider's http://127.0.0.1:<port>.",
    );
  }
  const tls = readTls(config);
  // One after the other: a start refused for its role mapping leaves no generated key behind.
  const roleMapping = await loadRoleMapping(config.api.rolesFile).catch((err: unknown) => {
    if (err instanceof RoleMappingError) refuse(err.message);
    throw err;
  });
  const pseudonymKey = await loadPseudonymKey(config.api.pseudonymKey).catch((err: unknown) => {
    if (err instanceof PseudonymKeyError) refuse(err.message);
    throw err;
  });
  if (pseudonymKey.generated) {
    console.log(`generated the access-log pseudonym key ${config.api.pseudonymKey.file} (dev default)`);
  }
  let reads: RecordingReads;
  let temporal: TemporalAccess;
  try {
    temporal = createTemporalAccess(config);
    reads = createRecordingReads(config, temporal);
  } catch (err) {
    if (err instanceof PayloadKeyError) refuse(err.message);
    throw err;
  }
  let signingKey: AssertionSigningKey;
  try {
    if (ensureDevAssertionKeys(config.assertions))
      console.log(`generated the dev assertion key pair ${config.assertions.signingKeyFile} (dev default)`);
    signingKey = loadAssertionSigningKey(config.assertions.signingKeyFile);
  } catch (err) {
    if (err instanceof AssertionKeyError) refuse(err.message);
    throw err;
  }
  const actions = createRecordingActions(temporal, createAssertionSigner(signingKey));
  // One client for the access records and the media URLs (its endpoint is the host of every URL).
  const store = createS3Client(config.s3);
  const app = await buildApiServer({
    verifier: createOidcVerifier({ ...config.oidc, issuer }),
    claims: config.oidc.claims,
    roleMapping: roleMapping.roles,
    pseudonyms: createPseudonymiser(pseudonymKey.key),
    reads,
    actions,
    policyDir: config.policy.dir,
    rateLimit: config.api.rateLimit,
    trustedProxies: config.api.trustedProxies,
    logLevel: config.logLevel,
    ...(tls && { tls }),
    accessAudit: {
      audit: createAccessAudit({ s3: store, bucket: config.buckets.audit, retention: config.auditRetention }),
      media: { s3: store, lifetimeSeconds: config.api.mediaUrlSeconds },
    },
    uploads: {
      s3: store,
      bucket: config.buckets.incoming,
      policy: config.policy.defaultPack,
      devMode: config.policy.devMode,
      policyDir: config.policy.dir,
      taskQueues: lifecycleTaskQueues(config),
      transcode: config.media.transcode,
      temporal: () => temporal.client(),
      tickets: createUploadTickets(signingKey),
    },
    ...(config.api.console && { console: consoleOptions(config.api.console, issuer) }),
  });
  const address = await app.listen({ port: config.api.port, host: config.api.host });
  console.log(
    `custody API listening on ${address} (${tls ? 'HTTPS' : 'plain HTTP: dev only'}) · issuer ${issuer} · ` +
      `audience ${config.oidc.audience} · Temporal ${config.temporal.address} · OpenAPI ${address}/openapi.json`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing`);
    void app
      .close()
      .then(() => reads.close())
      .then(() => store.destroy())
      .then(() => console.log('custody API stopped'));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
