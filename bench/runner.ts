/**
 * The common runner every benchmark case uses: warm-up, repetitions in rotating order (so a neighbour's load
 * or a warming cache hits subject and baseline alike), robust statistics and the ratio against a target.
 * A case is one small module (bench/cases/<name>.ts) that builds variants and turns their samples into rows.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CustodyConfig } from '../workers/config';

export type Unit = 'MB/s' | 's' | 'ms' | 'MiB' | 'rec/s';

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  /** First and third quartile (linear interpolation), for the spread when n ≥ 4. */
  q1: number;
  q3: number;
  samples: number[];
}

export function stats(samples: number[]): Stats {
  if (samples.length === 0) throw new Error('no samples: the case ran no repetitions');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => {
    const index = (sorted.length - 1) * p;
    const low = Math.floor(index);
    const high = Math.ceil(index);
    return sorted[low]! + (sorted[high]! - sorted[low]!) * (index - low);
  };
  return {
    n: sorted.length,
    median: at(0.5),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    q1: at(0.25),
    q3: at(0.75),
    samples,
  };
}

/**
 * What one run of a variant measured: one value (seconds, MB/s, MiB …), or several named values when one run
 * measures several things (they are kept as "<label> <name>").
 */
export type Measurement = number | Record<string, number>;

/** One thing measured: `run` does it once and returns what it measured. */
export interface Variant {
  label: string;
  run(repetition: number): Promise<Measurement>;
  /** Untimed, after every run (warm-up included): delete what the run wrote, so disk use stays flat. */
  cleanup?(): Promise<void>;
}

let clockTicksPerSecond: number | undefined;

function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/**
 * CPU seconds (user + system) a process has used, from /proc/<pid>/stat; with `waitedChildren`, plus those of
 * its children that have exited and been waited for (openssl, ffmpeg, probe processes). 0 when unreadable.
 */
export function cpuSecondsOf(pid: number | 'self', waitedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = (fields[11] ?? 0) + (fields[12] ?? 0);
    const children = waitedChildren ? (fields[13] ?? 0) + (fields[14] ?? 0) : 0;
    return (own + children) / clockTicks();
  } catch {
    return 0;
  }
}

export interface RepeatOptions {
  warmup: number;
  repetitions: number;
  log: (message: string) => void;
  /** How a value prints in the progress log, e.g. v => `${v.toFixed(0)} MB/s`. */
  show: (value: number) => string;
  /**
   * Other processes whose CPU time a run costs (the S3 server, worker processes; this process is counted
   * anyway). Every run records "<label> cpu": CPU seconds of this process, these and the children either
   * waited for, which shared-machine load disturbs less than wall time.
   */
  cpuPids?: () => number[];
}

/**
 * Runs every variant `warmup` + `repetitions` times. Repetition r starts with variant r mod k, so with two
 * variants the order alternates (A B, B A, A B …) and neither always runs on a cache the other warmed.
 */
export async function repeatInRotation(
  variants: Variant[],
  options: RepeatOptions,
): Promise<Map<string, Stats>> {
  const samples = new Map<string, number[]>();
  const record = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
  const cpuNow = () =>
    cpuSecondsOf('self', true) +
    (options.cpuPids?.() ?? [])
      .filter((pid) => pid !== process.pid)
      // With their waited-for children: a transcode worker's ffmpeg counts as the worker's work.
      .reduce((sum, pid) => sum + cpuSecondsOf(pid, true), 0);
  const total = options.warmup + options.repetitions;
  for (let round = 0; round < total; round++) {
    const warm = round < options.warmup;
    const offset = round % variants.length;
    const order = [...variants.slice(offset), ...variants.slice(0, offset)];
    for (const variant of order) {
      const cpuBefore = cpuNow();
      const measured = await variant.run(round);
      const cpu = cpuNow() - cpuBefore;
      await variant.cleanup?.();
      const values: [string, number][] =
        typeof measured === 'number'
          ? [[variant.label, measured]]
          : Object.entries(measured).map(([name, value]) => [`${variant.label} ${name}`, value]);
      if (!warm) record(`${variant.label} cpu`, cpu);
      const phase = warm ? 'warm-up' : `rep ${round - options.warmup + 1}/${options.repetitions}`;
      for (const [key, value] of values) {
        options.log(`  ${phase} ${key}: ${options.show(value)}`);
        if (!warm) record(key, value);
      }
    }
  }
  return new Map([...samples].map(([key, values]) => [key, stats(values)]));
}

/** The stats of one measured key; a missing key is a bug in the case, so it throws. */
export function statsOf(samples: Map<string, Stats>, key: string): Stats {
  const found = samples.get(key);
  if (!found) throw new Error(`no samples named "${key}" (have: ${[...samples.keys()].join(', ')})`);
  return found;
}

export async function timeSeconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** CPU seconds per GB (10^9 bytes) of each run of `label`, from the "<label> cpu" samples. */
export function cpuPerGigabyte(samples: Map<string, Stats>, label: string, bytes: number): Stats {
  return stats(statsOf(samples, `${label} cpu`).samples.map((seconds) => seconds / (bytes / 1e9)));
}

/** Throughput in MB/s (10^6 bytes per second), the unit of the targets. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

export interface Target {
  /** ratio must be ≥ (at least) or ≤ (at most) the value. */
  op: '>=' | '<=';
  value: number;
}

export interface Measured {
  label: string;
  stats: Stats;
}

/** One line of the results table. */
export interface ResultRow {
  case: string;
  measure: string;
  unit: Unit;
  subject: Measured;
  /** What the ratio divides by; absent for rows that only report a value. */
  baseline?: Measured;
  ratio?: number;
  /** How to read the ratio, e.g. "custody MB/s ÷ baseline MB/s". */
  ratioMeaning?: string;
  target?: Target;
  /**
   * What the target applies to: the ratio (default), or the custody figure itself in the row's unit, for
   * targets the issue states as absolute numbers (≥ 20 recordings/s, ≤ 600 s).
   */
  targetOn?: 'ratio' | 'value';
  /** undefined when the row has no target (report only). */
  pass?: boolean;
  /** CPU used per run (this process, its children and the S3 server), e.g. in s/GB: the cost behind the speed. */
  cpu?: { unit: string; subject: Stats; baseline?: Stats };
  note?: string;
}

export function compareRow(row: Omit<ResultRow, 'ratio' | 'pass'>): ResultRow {
  const ratio = row.baseline ? row.subject.stats.median / row.baseline.stats.median : undefined;
  const judged = row.targetOn === 'value' ? row.subject.stats.median : ratio;
  const pass =
    row.target && judged !== undefined
      ? row.target.op === '>='
        ? judged >= row.target.value
        : judged <= row.target.value
      : undefined;
  return { ...row, ...(ratio !== undefined && { ratio }), ...(pass !== undefined && { pass }) };
}

/**
 * The median of the per-repetition ratios subject[i] ÷ baseline[i]: the two ran back to back in the same
 * round, so a load change between rounds cancels out. undefined when the samples do not pair up.
 */
export function pairedRatio(row: ResultRow): number | undefined {
  const subject = row.subject.stats.samples;
  const baseline = row.baseline?.stats.samples;
  if (!baseline || baseline.length !== subject.length || subject.length < 2) return undefined;
  return stats(subject.map((value, i) => value / baseline[i]!)).median;
}

/** The run's shared surroundings a case may use; S3 is started only when a selected case needs it. */
export interface BenchContext {
  quick: boolean;
  /** Overrides every case's repetition count (--reps). */
  repetitions?: number;
  /** Git-ignored bench/out: cached inputs live in inputs/, this run's scratch in runDir. */
  outDir: string;
  runDir: string;
  log: (message: string) => void;
  /** The configuration from the environment (ffmpeg paths, transcode profile); S3 fields: see s3(). */
  config: CustodyConfig;
  /** A file of `bytes` pseudo-random bytes, generated once and cached by size. */
  randomFile(bytes: number): Promise<string>;
  /** A camera-like H.264+AAC clip (testsrc2 + sine), generated once and cached by its parameters. */
  clip(params: { durationS: number; width: number; height: number; fps: number }): Promise<string>;
  /** The config pointing at this run's versitygw and bench buckets (created on first use). */
  s3(): Promise<{ config: CustodyConfig; client: S3Client }>;
  /** Environment for a child process that should use the same S3 config. */
  childEnv(): Promise<NodeJS.ProcessEnv>;
  /** The S3 server's pid once it runs (its CPU time counts towards S3 variants), else none. */
  serverPids: () => number[];
}

export interface BenchCase {
  /** The name --only takes. */
  name: string;
  title: string;
  /** About how long the full and the --quick run take, for the plan printed at the start. */
  estimate: { full: string; quick: string };
  run(context: BenchContext): Promise<ResultRow[]>;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function humanSize(bytes: number): string {
  return bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`;
}
