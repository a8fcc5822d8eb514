/**
 * Creates and runs the Temporal workers of the pools named in config, in one process. Used by the entry point
 * (main.ts) and by integration tests, which run real workers in-process against the real dev server.
 */
import { trustedKeysBundlerHook } from './workflow-bundle';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Connection, Client } from '@temporalio/client';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from './config';
import { createActivities, type ActivityDeps } from '../activities';
import { planPools, type WorkerPool } from './pools';
import type { CustodyMetrics } from './metrics';
import { custodyDataConverter, temporalConnectionOptions } from './temporal-connection';
import { ensureInboxSchedule, ensureFixitySchedule } from './schedules';
import { startVisibilityGauges } from './visibility-gauges';
import { ensureDevAssertionKeys, loadTrustedAssertionKeys } from './assertion-keys';

export interface RunningWorkers {
  pools: WorkerPool[];
  /** True while every worker of this process polls. */
  isReady(): boolean;
  /** Resolves when every worker has stopped; rejects if one failed. */
  done: Promise<void>;
  /** Stops polling; in-flight activities get the shutdown grace, then are cancelled. */
  shutdown(): Promise<void>;
}

export interface StartWorkersOptions {
  config: CustodyConfig;
  s3: S3Client;
  /**
   * The store client of each pool, when the pools of this process act as different storage identities (tests of
   * least privilege; in the chart each pool is a Deployment with its own credentials, and this is not needed).
   * Default: `s3` for every pool.
   */
  s3ForPool?: (pool: WorkerPool) => S3Client;
  media: ActivityDeps['media'];
  metrics?: CustodyMetrics;
  connection?: NativeConnection;
  /** A prebuilt workflow bundle (tests build one per run); otherwise workflows/ is bundled at start. */
  workflowBundlePath?: string;
  /**
   * Create/update the Schedules (inbox watcher, fixity) when this process runs the orchestration pool (default
   * true; tests drive sweeps and fixity runs themselves).
   */
  schedules?: boolean;
}

export async function startCustodyWorkers(opts: StartWorkersOptions): Promise<RunningWorkers> {
  const { config } = opts;
  // Before connecting: without usable payload keys the process must not start (PayloadKeyError says the fix).
  const dataConverter = custodyDataConverter(config);
  // Likewise without the API's public keys, when this process runs workflows: none of a person's actions could be
  // verified (AssertionKeyError says which file). A prebuilt bundle has its keys built in already.
  const bundlerOptions =
    config.pools.includes('orchestration') && !opts.workflowBundlePath
      ? { webpackConfigHook: trustedKeysBundlerHook(trustedAssertionKeys(config)) }
      : undefined;
  const ownConnection = !opts.connection;
  const connection = opts.connection ?? (await NativeConnection.connect(temporalConnectionOptions(config)));
  // Activities that start workflows need a client; it connects on first use only.
  let client: Promise<Client> | undefined;
  const temporal = () =>
    (client ??= Connection.connect(temporalConnectionOptions(config)).then(
      (c) => new Client({ connection: c, namespace: config.temporal.namespace, dataConverter }),
    ));
  const activitiesWith = (s3: S3Client) =>
    createActivities({
      config,
      s3,
      media: opts.media,
      temporal,
      ...(opts.metrics && { metrics: opts.metrics }),
    });
  const shared = activitiesWith(opts.s3);
  const s3ForPool = opts.s3ForPool;
  const plans = planPools(config, s3ForPool ? (pool) => activitiesWith(s3ForPool(pool)) : () => shared);
  const workers = await Promise.all(
    plans.map((plan) =>
      Worker.create({
        connection,
        namespace: config.temporal.namespace,
        dataConverter,
        taskQueue: plan.taskQueue,
        identity: `${plan.pool}@${config.hostName}:${process.pid}`,
        ...(plan.runsWorkflows &&
          (opts.workflowBundlePath
            ? { workflowBundle: { codePath: opts.workflowBundlePath } }
            : { workflowsPath: require.resolve('../workflows'), bundlerOptions })),
        activities: plan.activities,
        maxConcurrentActivityTaskExecutions: plan.maxConcurrentActivities,
        // SIGTERM: stop polling, let in-flight activities finish within the grace, then cancel them.
        shutdownGraceTime: `${config.shutdownGraceSeconds}s`,
        shutdownForceTime: `${config.shutdownGraceSeconds + 10}s`,
      }),
    ),
  );
  const runsWorkflows = plans.some((p) => p.runsWorkflows);
  if (opts.schedules !== false && runsWorkflows) {
    await ensureInboxSchedule(await temporal(), config);
    await ensureFixitySchedule(await temporal(), config);
  }
  const gauges = runsWorkflows && opts.metrics ? startVisibilityGauges(temporal, opts.metrics) : undefined;
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    gauges?.stop();
    if (client) await (await client).connection.close();
    if (ownConnection) await connection.close();
  });
  for (const plan of plans) opts.metrics?.ready.set({ pool: plan.pool }, 1);
  return {
    pools: plans.map((p) => p.pool),
    isReady: () => workers.every((w) => w.getState() === 'RUNNING'),
    done,
    async shutdown() {
      for (const plan of plans) opts.metrics?.ready.set({ pool: plan.pool }, 0);
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

function trustedAssertionKeys(config: CustodyConfig) {
  if (ensureDevAssertionKeys(config.assertions))
    console.log(`generated the dev assertion key pair ${config.assertions.signingKeyFile} (dev default)`);
  return loadTrustedAssertionKeys(config.assertions.publicKeysFile);
}
