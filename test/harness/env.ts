/**
 * What an integration test needs to talk to the servers global-setup.ts started: a config with buckets and task
 * queues of its own (so test files running side by side never see each other's work), and clients.
 */
import { randomBytes } from 'node:crypto';
import { Connection, Client } from '@temporalio/client';
import { loadConfig, type CustodyConfig } from '../../workers/config';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { custodyDataConverter, temporalConnectionOptions } from '../../workers/temporal-connection';

export function requireTestServers(): void {
  if (process.env.CUSTODY_TEST_SERVERS !== 'started' || !process.env.TEMPORAL_ADDRESS) {
    throw new Error(
      'The integration servers are not running. Run the tests with `npm test` (its jest globalSetup starts ' +
        'Temporal and versitygw; `bash scripts/install-tools.sh` installs them).',
    );
  }
}

/** A config for one test file: unique bucket names and task-queue prefix, everything else from the env. */
export function testConfig(label: string, overrides: Record<string, string> = {}): CustodyConfig {
  requireTestServers();
  const suffix = `${label}-${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return loadConfig({
    ...process.env,
    CUSTODY_TASK_QUEUE_PREFIX: `t-${suffix}`,
    CUSTODY_BUCKET_INCOMING: `in-${suffix}`,
    CUSTODY_BUCKET_EVIDENCE: `ev-${suffix}`,
    CUSTODY_BUCKET_DERIVATIVES: `dv-${suffix}`,
    CUSTODY_BUCKET_AUDIT: `au-${suffix}`,
    CUSTODY_BUCKET_QUARANTINE: `qu-${suffix}`,
    CUSTODY_HTTP_PORT: '0',
    ...overrides,
  });
}

/** The workflow bundle global-setup.ts built for this run. */
export function testWorkflowBundle(): string {
  requireTestServers();
  const bundle = process.env.CUSTODY_TEST_WORKFLOW_BUNDLE;
  if (!bundle)
    throw new Error('global-setup.ts did not build the workflow bundle; run the tests with `npm test`');
  return bundle;
}

export async function connectTestClients(config: CustodyConfig) {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  // The workers' keys (global-setup.ts exports them): this client reads and writes what they do.
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: custodyDataConverter(config),
  });
  const s3 = createS3Client(config.s3);
  await bootstrapStores(s3, config.buckets);
  return {
    connection,
    client,
    s3,
    async close() {
      s3.destroy();
      await connection.close();
    },
  };
}
