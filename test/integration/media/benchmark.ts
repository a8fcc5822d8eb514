/**
 * Measures what the one-run transcode costs, on the 60 s 1080p30 H.264+AAC clip of test/fixtures/media.ts:
 *   - transcode() (fluent-ffmpeg, progress parsing, input/output hashing and output probes) against
 *     plain ffmpeg with the identical arguments: the overhead of the wrapper;
 *   - proxy only, against proxy + sprite + poster in one run: what the extra outputs cost when they
 *     share the decode, and the sprite as a run of its own: what they would cost with a decode of their own.
 * Not a test (it takes minutes); call measureTranscodeCosts() from a bench script or a throwaway jest file.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  buildTranscodePlan,
  createMediaTools,
  DEFAULT_TRANSCODE_PROFILE,
  type TranscodePlan,
} from '../../../activities/media/ffmpeg';
import { flattenInvocation, type FfmpegInvocation } from '../../../activities/media/plan';
import { FFMPEG, FFPROBE, syntheticClip } from '../../fixtures/media';

export interface Measurement {
  variant: string;
  wallS: number;
  /** user + system CPU seconds of the ffmpeg process (for transcode() sampled from /proc). */
  cpuS: number;
  /** transcode() only: its time outside the ffmpeg process (hashing, fluent-ffmpeg, output probes). */
  overheadS?: number;
}

export async function measureTranscodeCosts(repetitions = 2): Promise<Measurement[]> {
  const input = await syntheticClip({ durationS: 60, width: 1920, height: 1080, fps: 30, audio: true });
  const tools = createMediaTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
  const info = await tools.probe(input);
  const results: Measurement[] = [];
  for (let round = 0; round < repetitions; round++) {
    // Interleaved, so that load from other work on the machine spreads over all variants.
    for (const variant of ['transcode()', 'ffmpeg, same args', 'ffmpeg, proxy only', 'ffmpeg, sprite only']) {
      const dir = await mkdtemp(path.join(tmpdir(), 'custody-bench-'));
      try {
        const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, info, {
          inputPath: input,
          outputDir: dir,
        });
        if (variant === 'transcode()') {
          const started = performance.now();
          let cpuS = 0;
          let poll: NodeJS.Timeout | undefined;
          const result = await tools.transcode(plan, {
            onSpawn: (pid) => {
              // The last reading before exit; misses at most the final 100 ms.
              poll = setInterval(() => void cpuSecondsOf(pid).then((s) => (cpuS = s ?? cpuS)), 100);
            },
          });
          clearInterval(poll);
          const wallS = (performance.now() - started) / 1000;
          results.push({ variant, wallS, cpuS, overheadS: wallS - result.ffmpegElapsedS });
        } else {
          const args =
            variant === 'ffmpeg, same args'
              ? plan.args
              : variant === 'ffmpeg, proxy only'
                ? onlyOutput(plan, 'proxy')
                : onlyOutput(plan, 'sprite');
          results.push({ variant, ...(await timedFfmpeg(args)) });
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

/** The plan reduced to one output: the shared decode/scale chain feeds only that output's branch. */
export function onlyOutput(plan: TranscodePlan, kind: 'proxy' | 'sprite'): string[] {
  const [head = '', spriteChain = ''] = plan.invocation.filterComplex.split(';');
  const decode = head.replace(/,split=3\[proxy\]\[sprite_src\]\[poster_src\]$/, '');
  const filterComplex = kind === 'proxy' ? `${decode}[proxy]` : `${decode}[sprite_src];${spriteChain}`;
  const invocation: FfmpegInvocation = {
    ...plan.invocation,
    filterComplex,
    outputs: plan.invocation.outputs.filter((output) => output.kind === kind),
  };
  return flattenInvocation(invocation);
}

/** utime + stime of a running process from /proc/<pid>/stat (Linux clock ticks of 1/100 s). */
async function cpuSecondsOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return null;
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs ffmpeg under /usr/bin/time for wall and CPU seconds. */
function timedFfmpeg(args: string[]): Promise<{ wallS: number; cpuS: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'cpu=%U+%S', FFMPEG, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(stderr);
      if (code !== 0 || !cpu)
        return reject(new Error(`ffmpeg failed (${String(code)}): ${stderr.slice(-2000)}`));
      resolve({ wallS: (performance.now() - started) / 1000, cpuS: Number(cpu[1]) + Number(cpu[2]) });
    });
  });
}
