/**
 * The whole stack for the end-to-end cases (lifecycle, orchestration, deletion-sweep): a fresh Temporal dev
 * server per case, the run's versitygw, and real worker processes (`node dist/workers/main.js`, one per pool,
 * so each pool's CPU time can be told apart). Also the per-process CPU monitor that says which process
 * saturates the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freeLoopbackPort } from '../workers/ports';
import { loadConfig, type CustodyConfig } from '../workers/config';
import { ensurePayloadKeyFile } from '../workers/payload-codec';
import { custodyDataConverter } from '../workers/temporal-connection';
import { REPO_ROOT, startTemporalDevServer, type TemporalDevServer } from '../test/harness/servers';
import { cpuSecondsOf, type BenchContext } from './runner';

export type Pool = 'orchestration' | 'media-io' | 'transcode';

export interface WorkerProcess {
  pool: Pool;
  pid: number;
  httpPort: number;
  /** The worker's own /metrics text (custody gauges and counters). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface BenchStack {
  config: CustodyConfig;
  /** Environment of every worker process and CLI run of this stack. */
  env: NodeJS.ProcessEnv;
  temporal: TemporalDevServer;
  client: Client;
  workers: WorkerProcess[];
  /** Named pids for the CPU monitor: temporal, versitygw, each worker process. */
  processes: () => Record<string, number>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** A task-queue prefix of its own per case, so nothing from an earlier case runs here. */
  label: string;
  pools: Pool[];
  /** Extra CUSTODY_* variables: concurrency, policy dir, transcode switch. */
  env?: Record<string, string>;
  /** Dynamic config for the dev server. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Worker processes still running: killed when the bench exits, however it exits (run.ts turns signals into exit). */
const liveWorkers = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveWorkers) child.kill('SIGKILL');
});

export function builtFile(relative: string): string {
  const file = path.join(REPO_ROOT, 'dist', relative);
  if (!existsSync(file))
    throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does)`);
  return file;
}

async function waitReady(port: number, child: ChildProcess, logFile: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`worker exited with ${child.exitCode} before it was ready; see ${logFile}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(`worker on :${port} was not ready within ${timeoutMs} ms; see ${logFile}`);
}

function startWorker(
  pool: Pool,
  env: NodeJS.ProcessEnv,
  httpPort: number,
  logDir: string,
): WorkerProcess & { ready(): Promise<void> } {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `worker-${pool}.log`);
  const fd = openSync(logFile, 'a');
  // BENCH_WORKER_NODE_ARGS: node options for the worker processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, builtFile('workers/main.js')], {
    env: { ...env, CUSTODY_POOLS: pool, CUSTODY_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start the ${pool} worker`);
  const pid = child.pid;
  liveWorkers.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      liveWorkers.delete(child);
      resolve();
    }),
  );
  return Object.assign(
    {
      pool,
      pid,
      httpPort,
      async metrics() {
        const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
        return response.text();
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timedOut = await Promise.race([exited.then(() => false), sleep(20_000).then(() => true)]);
        if (timedOut) {
          child.kill('SIGKILL');
          await exited;
        }
      },
    },
    { ready: () => waitReady(httpPort, child, logFile) },
  );
}

export async function startBenchStack(context: BenchContext, options: StackOptions): Promise<BenchStack> {
  const dataDir = path.join(context.runDir, options.label);
  const temporal = await startTemporalDevServer({
    dataDir,
    ...(options.dynamicConfig && { dynamicConfig: options.dynamicConfig }),
  });
  context.log(`  Temporal dev server ${temporal.address} (pid ${temporal.pid})`);
  const env: NodeJS.ProcessEnv = {
    ...(await context.childEnv()),
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    CUSTODY_TASK_QUEUE_PREFIX: `bench-${options.label}`,
    // The bench starts recordings itself; an hourly inbox sweep never races it.
    CUSTODY_INBOX_INTERVAL_SECONDS: '3600',
    CUSTODY_TMP_DIR: path.join(dataDir, 'tmp'),
    CUSTODY_LOG_LEVEL: 'warn',
    // One key set for the case's workers, CLI runs and client: production's encryption is part of what is measured.
    CUSTODY_PAYLOAD_KEYS_FILE: path.join(dataDir, 'payload-keys.json'),
    ...options.env,
  };
  ensurePayloadKeyFile(env.CUSTODY_PAYLOAD_KEYS_FILE!);
  mkdirSync(env.CUSTODY_TMP_DIR!, { recursive: true });
  const config = loadConfig(env);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({
    connection,
    namespace: 'default',
    dataConverter: custodyDataConverter(config),
  });
  const workers: WorkerProcess[] = [];
  const stop = async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close();
    await temporal.stop();
  };
  try {
    for (const pool of options.pools) {
      const worker = startWorker(pool, env, await freeLoopbackPort(), dataDir);
      workers.push(worker);
      // One at a time: each bundles or loads code on start, and two cores are better used one after the other.
      await worker.ready();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  context.log(
    `  workers: ${workers.map((w) => `${w.pool} pid ${w.pid}`).join(', ')}; ` +
      `concurrency orchestration ${config.concurrency.orchestration}, media-io ${config.concurrency['media-io']}, ` +
      `transcode ${config.concurrency.transcode}; transcode ${config.media.transcode ? 'on' : 'off'}`,
  );
  return {
    config,
    env,
    temporal,
    client,
    workers,
    processes: () => ({
      temporal: temporal.pid,
      ...Object.fromEntries(context.serverPids().map((pid) => ['versitygw', pid])),
      ...Object.fromEntries(workers.map((w) => [`worker ${w.pool}`, w.pid])),
      bench: process.pid,
    }),
    stop,
  };
}

/** Counts recordings by visibility query (the same store the overdue gauge reads). */
export async function countWorkflows(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

/** Reads one un-labelled sample from Prometheus text, e.g. custody_overdue_recordings. */
export function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// --- CPU per process ------------------------------------------------------------------------------------

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuProfile {
  seconds: number;
  /** CPU seconds per named process over the window (with its waited-for children: ffmpeg, ffprobe). */
  perProcess: Record<string, number>;
  /** The busiest 10-second stretch of each process, in % of one core. */
  peakPercent: Record<string, number>;
  /** Whole machine, all processes (other engineers' included), in % of all cores. */
  machineBusyPercent: number;
  cores: number;
}

/** Samples /proc every `everyMs` while a measured window runs. */
export class CpuMonitor {
  private readonly started = performance.now();
  private readonly machineStart = machineTicks();
  private readonly series: { at: number; cpu: Record<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly processes: () => Record<string, number>,
    everyMs = 2000,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample() {
    const cpu: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.processes())) cpu[name] = cpuSecondsOf(pid, true);
    this.series.push({ at: performance.now(), cpu });
  }

  stop(cores = os.availableParallelism()): CpuProfile {
    clearInterval(this.timer);
    this.sample();
    const first = this.series[0]!;
    const last = this.series.at(-1)!;
    const seconds = (last.at - this.started) / 1000;
    const perProcess: Record<string, number> = {};
    const peakPercent: Record<string, number> = {};
    for (const name of Object.keys(last.cpu)) {
      perProcess[name] = (last.cpu[name] ?? 0) - (first.cpu[name] ?? 0);
      let peak = 0;
      for (let i = 0; i < this.series.length; i++) {
        const from = this.series[i]!;
        const to = this.series.find((s) => s.at - from.at >= 10_000);
        if (!to) break;
        const used = (to.cpu[name] ?? 0) - (from.cpu[name] ?? 0);
        peak = Math.max(peak, (100 * used) / ((to.at - from.at) / 1000));
      }
      peakPercent[name] = peak;
    }
    const machineEnd = machineTicks();
    const machineBusyPercent =
      (100 * (machineEnd.busy - this.machineStart.busy)) /
      Math.max(1, machineEnd.total - this.machineStart.total);
    return { seconds, perProcess, peakPercent, machineBusyPercent, cores };
  }
}

/** "temporal 61 s (102 %, peak 140 %), …" sorted by CPU, for notes and logs. */
export function describeProfile(profile: CpuProfile): string {
  const parts = Object.entries(profile.perProcess)
    .sort((a, b) => b[1] - a[1])
    .map(
      ([name, seconds]) =>
        `${name} ${seconds.toFixed(0)} CPU-s (${((100 * seconds) / profile.seconds).toFixed(0)} % of a core, ` +
        `peak ${profile.peakPercent[name]?.toFixed(0) ?? '?'} %)`,
    );
  return (
    `over ${profile.seconds.toFixed(0)} s: ${parts.join(', ')}; whole machine ${profile.machineBusyPercent.toFixed(0)} % ` +
    `busy of ${profile.cores} cores (other users included)`
  );
}

/**
 * CPU per item (recording) of each process and what two cores could carry at that cost: a figure that the
 * neighbours' load disturbs far less than wall time on a shared machine.
 */
export function describePerItem(profile: CpuProfile, items: number): string {
  const own = Object.entries(profile.perProcess).sort((a, b) => b[1] - a[1]);
  const total = own.reduce((sum, [, seconds]) => sum + seconds, 0);
  return (
    `CPU per recording: ${own.map(([name, s]) => `${name} ${((1000 * s) / items).toFixed(0)} ms`).join(', ')}; ` +
    `total ${((1000 * total) / items).toFixed(0)} ms, so ${profile.cores} cores carry at most ` +
    `${((profile.cores * items) / total).toFixed(1)} recordings/s`
  );
}
