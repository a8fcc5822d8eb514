/**
 * The workflow tier's servers: the Temporal dev server only (no versitygw, no ffmpeg — the activities are stubs),
 * and the workflow bundle, built once per run. Its own environment variables, so it can run in the same
 * `jest` run as the integration project's servers without either seeing the other's.
 */
import { trustedKeysBundlerHook } from '../../../workers/workflow-bundle';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startTemporalDevServer, type RunningServer } from '../../harness/servers';
import { quietLogger } from '../../harness/quiet-logger';
import { FAILURE_CONVERTER_PATH } from '../../../workers/temporal-connection';
import { generateAssertionKeyPair, loadTrustedAssertionKeys } from '../../../workers/assertion-keys';

declare global {
  var __CUSTODY_WORKFLOW_TIER__: { server: RunningServer; dataDir: string } | undefined;
}

/**
 * Temporal suggests continue-as-new after this many history events. Low, so the continue-as-new tests reach it
 * with a few Updates; high enough that the other tests' recordings stay in one run (a retained recording has
 * about 40 events, the busiest other tests reach about 100; one that crossed it would still pass).
 */
export const SUGGEST_CONTINUE_AS_NEW_AFTER = 120;

export default async function workflowTierSetup(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'custody-workflow-tier-'));
  // The tier plays the custody API: it signs people's actions with this key; the bundle trusts its public half.
  const signingKeyFile = path.join(dataDir, 'assertion-keys', 'signing.json');
  const publicKeysFile = path.join(dataDir, 'assertion-keys', 'public.json');
  generateAssertionKeyPair(signingKeyFile, publicKeysFile);
  const [server, bundle] = await Promise.all([
    startTemporalDevServer({
      dataDir,
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_CONTINUE_AS_NEW_AFTER },
    }),
    // The workflows exactly as workers register them: through workflows/index.ts, never a file behind it.
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../../workflows'),
      // As production bundles it: failures raised in workflow code are encoded like every payload.
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: quietLogger,
      webpackConfigHook: trustedKeysBundlerHook(loadTrustedAssertionKeys(publicKeysFile)),
    }),
  ]);
  globalThis.__CUSTODY_WORKFLOW_TIER__ = { server, dataDir };
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  process.env.CUSTODY_WORKFLOW_TIER_TEMPORAL_ADDRESS = server.address;
  process.env.CUSTODY_WORKFLOW_TIER_BUNDLE = bundlePath;
  // Under names of its own: in one `jest` run with the integration project, both global setups share one
  // environment, and the integration's API processes must keep the integration's key. setup.ts maps them per file.
  process.env.CUSTODY_WORKFLOW_TIER_SIGNING_KEY_FILE = signingKeyFile;
  process.env.CUSTODY_WORKFLOW_TIER_PUBLIC_KEYS_FILE = publicKeysFile;
}
