/**
 * Starts the real servers once per `npm test` run and hands their endpoints to the tests through the
 * environment. global-teardown.ts stops them by PID; the watchdogs in servers.ts cover a killed jest.
 */
import { trustedKeysBundlerHook } from '../../workers/workflow-bundle';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startDevIdp, startTemporalDevServer, startVersityGw, type RunningServer } from './servers';
import { buildTestOnlyBundles } from './test-bundles';
import { startProductionTemporal } from './temporal-server';
import { quietLogger } from './quiet-logger';
import { ensurePayloadKeyFile } from '../../workers/payload-codec';
import { FAILURE_CONVERTER_PATH } from '../../workers/temporal-connection';
import { generateAssertionKeyPair, loadTrustedAssertionKeys } from '../../workers/assertion-keys';

declare global {
  var __CUSTODY_TEST_SERVERS__:
    { servers: RunningServer[]; dataDir: string; closers: (() => Promise<void>)[] } | undefined;
}

function requireBinary(name: string, install: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not on PATH. ${install}`);
  }
}

export default async function globalSetup(): Promise<void> {
  requireBinary(
    'ffmpeg',
    'Run `bash scripts/install-tools.sh` (installs Debian ffmpeg) or `apt-get install ffmpeg`.',
  );
  requireBinary(
    'ffprobe',
    'Run `bash scripts/install-tools.sh` (installs Debian ffmpeg) or `apt-get install ffmpeg`.',
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'custody-test-'));
  const servers: RunningServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  globalThis.__CUSTODY_TEST_SERVERS__ = { servers, dataDir, closers };
  // One payload key set for the whole run: every test's clients and workers, and every process they spawn
  // (children inherit the variable), encrypt and decrypt with it.
  const payloadKeysFile = path.join(dataDir, 'payload-keys.json');
  ensurePayloadKeyFile(payloadKeysFile);
  process.env.CUSTODY_PAYLOAD_KEYS_FILE = payloadKeysFile;
  // One assertion key pair likewise: the API processes sign with it, tests that act as the API too
  // (test/harness/signed-actions.ts), and every worker's bundle trusts its public half.
  const assertionKeys = {
    signing: path.join(dataDir, 'assertion-keys', 'signing.json'),
    public: path.join(dataDir, 'assertion-keys', 'public.json'),
  };
  generateAssertionKeyPair(assertionKeys.signing, assertionKeys.public);
  process.env.CUSTODY_ASSERTION_SIGNING_KEY_FILE = assertionKeys.signing;
  process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE = assertionKeys.public;
  // The demo pack (minutes) is what most tests apply: the test workers run in dev mode.
  process.env.CUSTODY_DEV_MODE = 'true';
  // Workflow code is bundled once per run, here: webpack cannot run inside jest's module sandbox, and one
  // bundle for every test file saves a few seconds each.
  const [temporal, productionTemporal, s3, identityProvider, bundle, testOnlyBundles] = await Promise.all([
    startTemporalDevServer({ dataDir }),
    // The security suite and the durability tests run against this one (test/harness/temporal-server.ts).
    startProductionTemporal({ dataDir }),
    startVersityGw({ dataDir }),
    startDevIdp({ dataDir }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      failureConverterPath: FAILURE_CONVERTER_PATH, // workflow failures' messages are encrypted too
      logger: quietLogger,
      webpackConfigHook: trustedKeysBundlerHook(loadTrustedAssertionKeys(assertionKeys.public)),
    }),
    buildTestOnlyBundles(
      dataDir,
      quietLogger,
      trustedKeysBundlerHook(loadTrustedAssertionKeys(assertionKeys.public)),
    ), // fault injection (reset tests), replay-gate self-check
  ]);
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  process.env.CUSTODY_TEST_WORKFLOW_BUNDLE = bundlePath;
  Object.assign(process.env, testOnlyBundles);
  servers.push(temporal, ...productionTemporal.servers, s3, identityProvider);
  closers.push(() => productionTemporal.issuer.close());
  process.env.CUSTODY_TEST_TEMPORAL_CREDENTIALS = productionTemporal.credentialsFile;
  // The API verifies tokens from this issuer; tests sign in there (test/harness/dev-idp-client.ts).
  process.env.CUSTODY_OIDC_ISSUER = identityProvider.issuer;
  process.env.CUSTODY_DEV_IDP_DIR = identityProvider.dir;
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEMPORAL_NAMESPACE = 'default';
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
  process.env.CUSTODY_TEST_DATA_DIR = dataDir;
  process.env.CUSTODY_TEST_SERVERS = 'started';
  // Children run on jest's Node: `npm test` gives them Node 24 (scripts/node.sh), but jest started directly under
  // an older Node would have the AWS SDK's upgrade notice in every child's stderr, which tests assert empty.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
