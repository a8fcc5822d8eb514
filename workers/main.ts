#!/usr/bin/env node
/**
 * The workers' entry point: reads config once, bootstraps the stores, runs the pools named in CUSTODY_POOLS and
 * serves /healthz, /readyz and /metrics. SIGTERM/SIGINT: readiness drops first, then workers drain.
 */
import { Runtime, DefaultLogger, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfigOrExit } from './config';
import { createMetrics } from './metrics';
import { startHttpServer } from './http';
import { startCustodyWorkers } from './run';
import { PayloadKeyError } from './payload-codec';
import { AssertionKeyError } from './assertion-keys';
import { createS3Client, bootstrapStores } from '../activities/storage/s3';
import { createMediaTools } from '../activities/media/ffmpeg';
import { freeLoopbackPort } from './ports';
import { startCapacityController, ControllerSetupError, type RunningCapacityController } from './controller';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const level = config.logLevel.toUpperCase() as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  const sdkMetricsPort = config.http.sdkMetricsPort || (await freeLoopbackPort());
  Runtime.install({
    logger: new DefaultLogger(level),
    shutdownSignals: [], // handled below, so readiness drops before the workers drain
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level === 'DEBUG' ? 'DEBUG' : 'WARN' }) },
      metrics: {
        prometheus: {
          bindAddress: `127.0.0.1:${sdkMetricsPort}`,
          countersTotalSuffix: true,
          unitSuffix: true,
          useSecondsForDurations: true,
        },
      },
    },
  });
  const metrics = createMetrics();
  const workerPools = config.pools.filter((pool) => pool !== 'controller');
  // A controller-only pod needs neither the stores nor ffmpeg (and its NetworkPolicy may not reach S3).
  const s3 = workerPools.length > 0 ? createS3Client(config.s3) : undefined;
  if (s3) {
    const bootstrap = await bootstrapStores(s3, config.buckets);
    if (bootstrap.created.length) console.log(`created stores: ${bootstrap.created.join(', ')}`);
    if (bootstrap.unchecked.length) {
      console.log(
        `not checked with this process's storage identity (least privilege; the pools that write them check them): ${bootstrap.unchecked
          .map((u) => `${u.bucket} (${u.check})`)
          .join(', ')}`,
      );
    }
  }
  const media = createMediaTools({
    ffmpegPath: config.media.ffmpegPath,
    ffprobePath: config.media.ffprobePath,
  });

  const workers = s3 ? await startCustodyWorkers({ config, s3, media, metrics }) : undefined;
  let controller: RunningCapacityController | undefined;
  if (config.pools.includes('controller')) {
    try {
      controller = await startCapacityController({
        config,
        registry: metrics.registry,
        env: config.kubernetesEnv,
      });
    } catch (err) {
      // A bad capacity policy or missing settings: say what to fix and exit as a configuration error.
      if (!(err instanceof ControllerSetupError)) throw err;
      process.stderr.write(`${err.message}\n`);
      await workers?.shutdown();
      process.exit(78);
    }
  }
  const http = await startHttpServer(config.http.port, {
    registry: metrics.registry,
    isReady: () => !stopping && (workers?.isReady() ?? true) && (controller?.isReady() ?? true),
    sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
  });
  console.log(
    `custody workers running: pools ${[...(workers?.pools ?? []), ...(controller ? ['controller'] : [])].join(', ')} · Temporal ${config.temporal.address} · ` +
      `${s3 ? `S3 ${config.s3.endpoint} · ` : ''}http :${http.port} (/healthz /readyz /metrics)`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: draining (grace ${config.shutdownGraceSeconds}s)`);
    void workers?.shutdown();
    void controller?.shutdown();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await Promise.all([workers?.done, controller?.done]);
  http.server.close();
  s3?.destroy();
  console.log('custody workers stopped');
}

main().catch((err: unknown) => {
  // No usable payload or assertion keys: a configuration error, with the fix in the message.
  if (err instanceof PayloadKeyError || err instanceof AssertionKeyError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
