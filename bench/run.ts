/**
 * `npm run bench`: runs the benchmark cases against their raw baselines on this machine and writes the
 * results (bench/out/run-<stamp>/ every time; bench/RESULTS.md + bench/results.json unless --no-publish).
 *
 *   node dist/bench/run.js [--quick] [--only <case>[,<case>…]] [--reps <n>] [--no-publish] [--keep-s3]
 *   node dist/bench/run.js --render | --list | --help
 *
 * Exit code: 0 when every case ran and met its target, 2 when a target was missed, 1 when a case failed.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { bootstrapStores, createS3Client } from '../activities/storage/s3';
import { REPO_ROOT, startVersityGw, type S3Server } from '../test/harness/servers';
import { loadConfig, type CustodyConfig } from '../workers/config';
import { CASES } from './cases';
import { checkFreeDisk, gitRevision, machineInfo, toolVersions } from './environment';
import { randomFile, syntheticClip } from './inputs';
import { mergeResults, readResults, writeResults, type CaseRecord, type RunInfo } from './report';
import { pairedRatio, type BenchCase, type BenchContext } from './runner';

const USAGE = `usage: node dist/bench/run.js [options]   (npm run bench -- [options])
  --quick            smaller inputs and fewer repetitions (a few minutes; does not replace full results)
  --only <cases>     run only these cases, comma-separated or repeated: ${CASES.map((c) => c.name).join(', ')}
  --reps <n>         repetitions per variant, overriding each case's default
  --no-publish       write bench/out/ only, leave bench/RESULTS.md and bench/results.json alone
  --keep-s3          keep the versitygw data directory of the run (for inspection)
  --render           rewrite bench/RESULTS.md from bench/results.json without running anything
  --list             print the cases and exit`;

class UsageError extends Error {}

/** The hand-written analysis that RESULTS.md carries below the generated table. */
function readFindings(): string | undefined {
  const file = path.join(REPO_ROOT, 'bench', 'FINDINGS.md');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

function parseOptions(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        reps: { type: 'string' },
        'no-publish': { type: 'boolean', default: false },
        'keep-s3': { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        render: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  const wanted = (values.only ?? [])
    .flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean);
  const unknown = wanted.filter((name) => !CASES.some((c) => c.name === name));
  if (unknown.length) {
    throw new UsageError(
      `unknown case ${unknown.join(', ')}: --only takes ${CASES.map((c) => c.name).join(', ')}`,
    );
  }
  let repetitions: number | undefined;
  if (values.reps !== undefined) {
    repetitions = Number(values.reps);
    if (!Number.isInteger(repetitions) || repetitions < 1) {
      throw new UsageError(`--reps ${values.reps} is not a positive integer`);
    }
  }
  return {
    quick: values.quick,
    cases: wanted.length ? CASES.filter((c) => wanted.includes(c.name)) : [...CASES],
    repetitions,
    publish: !values['no-publish'],
    keepS3: values['keep-s3'],
    list: values.list,
    render: values.render,
    help: values.help,
  };
}

function timestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** Fixed bucket names of the bench's own versitygw: the server is fresh, so nothing else uses them. */
const BENCH_S3_ENV = {
  CUSTODY_BUCKET_INCOMING: 'bench-incoming',
  CUSTODY_BUCKET_EVIDENCE: 'bench-evidence',
  CUSTODY_BUCKET_DERIVATIVES: 'bench-derivatives',
  CUSTODY_BUCKET_AUDIT: 'bench-audit',
  CUSTODY_BUCKET_QUARANTINE: 'bench-quarantine',
};

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help || options.list) {
    process.stdout.write(options.help ? `${USAGE}\n` : '');
    if (options.list) for (const c of CASES) process.stdout.write(`${c.name.padEnd(10)} ${c.title}\n`);
    return 0;
  }

  if (options.render) {
    const committedJson = path.join(REPO_ROOT, 'bench', 'results.json');
    await writeResults(
      committedJson,
      path.join(REPO_ROOT, 'bench', 'RESULTS.md'),
      readResults(committedJson),
      undefined,
      readFindings(),
    );
    process.stderr.write('rewrote bench/RESULTS.md from bench/results.json\n');
    return 0;
  }

  const started = new Date();
  const outDir = path.join(REPO_ROOT, 'bench', 'out');
  const runDir = path.join(outDir, `run-${timestamp(started)}`);
  mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, 'bench.log');
  const log = (message: string) => {
    const line = `[bench ${new Date().toISOString().slice(11, 19)}] ${message}`;
    process.stderr.write(`${line}\n`);
    appendFileSync(logFile, `${line}\n`);
  };

  const free = checkFreeDisk(outDir);
  const envConfig = loadConfig(process.env);
  const run: RunInfo = {
    id: timestamp(started),
    date: started.toISOString(),
    mode: options.quick ? 'quick' : 'full',
    args: process.argv.slice(2),
    revision: gitRevision(),
    machine: machineInfo(),
    versions: toolVersions(envConfig.media.ffmpegPath),
    loadAverage: { atStart: os.loadavg() },
  };
  log(`run ${run.id} (${run.mode}) in ${runDir}; ${(free / 1e9).toFixed(0)} GB free`);
  log(
    `machine: ${run.machine.cores} cores, ${run.machine.cpuModel}, ${run.machine.memoryGiB} GiB; ` +
      `load average ${run.loadAverage.atStart.map((l) => l.toFixed(1)).join(' ')}`,
  );
  for (const c of options.cases)
    log(`plan: ${c.name} — ${c.title} (~${options.quick ? c.estimate.quick : c.estimate.full})`);

  let server: S3Server | undefined;
  let serverStarting: Promise<S3Server> | undefined;
  let s3: Promise<{ config: CustodyConfig; client: S3Client }> | undefined;
  const s3Env = async (): Promise<Record<string, string>> => {
    // One server per run, however many cases and child processes ask for it.
    serverStarting ??= startVersityGw({ dataDir: path.join(runDir, 's3') }).then(
      (started) => (server = started),
    );
    const running = await serverStarting;
    return {
      ...BENCH_S3_ENV,
      AWS_ENDPOINT_URL_S3: running.endpoint,
      AWS_ACCESS_KEY_ID: running.accessKeyId,
      AWS_SECRET_ACCESS_KEY: running.secretAccessKey,
      CUSTODY_LOG_LEVEL: 'warn',
    };
  };
  const context: BenchContext = {
    quick: options.quick,
    ...(options.repetitions !== undefined && { repetitions: options.repetitions }),
    outDir,
    runDir,
    log,
    config: envConfig,
    randomFile: async (bytes) => {
      log(`input: ${bytes} pseudo-random bytes (generated once, then cached in bench/out/inputs)`);
      return randomFile(path.join(outDir, 'inputs'), bytes);
    },
    clip: async (params) => {
      log(
        `input: ${params.durationS} s ${params.width}x${params.height}p${params.fps} clip (cached in bench/out/inputs)`,
      );
      return syntheticClip(path.join(outDir, 'inputs'), envConfig.media.ffmpegPath, params);
    },
    s3: () =>
      (s3 ??= (async () => {
        const config = loadConfig({ ...process.env, ...(await s3Env()) });
        const client = createS3Client(config.s3);
        await bootstrapStores(client, config.buckets);
        log(
          `versitygw ${server!.endpoint} (pid ${server!.pid}), buckets ${Object.values(config.buckets).join(', ')}`,
        );
        return { config, client };
      })()),
    childEnv: async () => ({ ...process.env, ...(await s3Env()) }),
    serverPids: () => (server ? [server.pid] : []),
  };

  const records: CaseRecord[] = [];
  const committedJson = path.join(REPO_ROOT, 'bench', 'results.json');
  try {
    for (const benchCase of options.cases) {
      const record = await runCase(benchCase, context, run);
      records.push(record);
      // Published case by case: an interrupted long run keeps the cases it finished.
      if (options.publish && !record.error) {
        run.loadAverage.atEnd = os.loadavg();
        await writeResults(
          committedJson,
          path.join(REPO_ROOT, 'bench', 'RESULTS.md'),
          mergeResults(readResults(committedJson), [record]),
          undefined,
          readFindings(),
        );
        log(`${record.case}: published to bench/RESULTS.md`);
      }
    }
  } finally {
    if (s3) (await s3.catch(() => undefined))?.client.destroy();
    if (server) {
      await server.stop();
      if (!options.keepS3) await rm(path.join(runDir, 's3'), { recursive: true, force: true });
      log(`versitygw stopped${options.keepS3 ? '' : ', its data removed'}`);
    }
  }

  run.loadAverage.atEnd = os.loadavg();
  const thisRun = mergeResults({ about: '', cases: {} }, records);
  await writeResults(
    path.join(runDir, 'results.json'),
    path.join(runDir, 'RESULTS.md'),
    thisRun,
    `Benchmark run ${run.id}`,
  );
  log(`wrote ${path.relative(REPO_ROOT, runDir)}/RESULTS.md and results.json`);
  if (options.publish) {
    const merged = mergeResults(readResults(committedJson), records);
    await writeResults(
      committedJson,
      path.join(REPO_ROOT, 'bench', 'RESULTS.md'),
      merged,
      undefined,
      readFindings(),
    );
    log('updated bench/RESULTS.md and bench/results.json');
  }

  for (const record of records) {
    if (record.error) log(`${record.case}: ERROR ${record.error.split('\n')[0]}`);
    for (const row of record.rows) {
      const paired = pairedRatio(row);
      const ratio =
        row.ratio === undefined
          ? ''
          : ` ratio ${row.ratio.toFixed(2)}${paired === undefined ? '' : ` (paired ${paired.toFixed(2)})`}`;
      const target = row.target
        ? ` (target ${row.target.op} ${row.target.value}) ${row.pass ? 'PASS' : 'FAIL'}`
        : '';
      log(
        `${row.case}: ${row.measure}: ${row.subject.label} ${row.subject.stats.median.toFixed(1)} ${row.unit}${ratio}${target}`,
      );
    }
  }
  if (records.some((r) => r.error)) return 1;
  return records.some((r) => r.rows.some((row) => row.pass === false)) ? 2 : 0;
}

async function runCase(benchCase: BenchCase, context: BenchContext, run: RunInfo): Promise<CaseRecord> {
  context.log(`case ${benchCase.name}: ${benchCase.title}`);
  const started = performance.now();
  const base = { case: benchCase.name, title: benchCase.title, run };
  try {
    const rows = await benchCase.run(context);
    return { ...base, seconds: Math.round((performance.now() - started) / 1000), rows };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    context.log(`case ${benchCase.name} failed: ${message}`);
    return { ...base, seconds: Math.round((performance.now() - started) / 1000), rows: [], error: message };
  }
}

// Ctrl-C or a kill: exit through process.exit, so bench/stack.ts stops the worker processes it started (the
// servers have watchdogs of their own).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    else process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
