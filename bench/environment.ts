/**
 * What a result means depends on where it was measured: the machine, the tool versions, and a fresh
 * versitygw of our own on a free loopback port. Also the preflight check that there is disk for the inputs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, toolsBinDir } from '../test/harness/servers';

export const MIN_FREE_DISK_BYTES = 15e9;

export function checkFreeDisk(dir: string): number {
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_DISK_BYTES) {
    throw new Error(
      `Only ${(free / 1e9).toFixed(1)} GB free under ${dir}; the benchmark needs at least ` +
        `${MIN_FREE_DISK_BYTES / 1e9} GB (4 GiB input, its copies in S3 and multipart staging). Free some space ` +
        '(old runs: rm -rf bench/out/run-*) and run it again.',
    );
  }
  return free;
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  /** Whether the CPU has the SHA extensions (hashing speed depends on it more than on anything else). */
  shaExtensions: boolean;
  memoryGiB: number;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux: fall back to os.cpus() */
  }
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cores: os.availableParallelism(),
    cpuModel: model,
    shaExtensions: /^flags\s*:.*\bsha_ni\b/m.test(cpuinfo),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
  };
}

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return 'not installed';
  }
}

/** The module@version install-tools.sh stamped next to a Go-built tool. */
function toolPin(name: string): string {
  const stamp = path.join(toolsBinDir(), `.${name}.version`);
  return existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : 'not installed';
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'not installed';
  }
}

export type Versions = Record<string, string>;

export function toolVersions(ffmpegPath: string): Versions {
  return {
    node: process.version,
    ffmpeg: firstLine(ffmpegPath, ['-version']).replace(/ Copyright.*$/, ''),
    openssl: firstLine('openssl', ['version']),
    sha256sum: firstLine('sha256sum', ['--version']),
    versitygw: toolPin('versitygw'),
    temporal: toolPin('temporal'),
    '@aws-sdk/client-s3': packageVersion('@aws-sdk/client-s3'),
    '@aws-sdk/lib-storage': packageVersion('@aws-sdk/lib-storage'),
  };
}

/** The commit the measured code is on, with "+dirty" when the tree has changes. */
export function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}
