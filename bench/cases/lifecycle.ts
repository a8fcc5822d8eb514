/**
 * The whole lifecycle of a 60 s 1080p30 clip through the real stack: `custody ingest --wait` (the CLI process) →
 * workflow: copy + hash into evidence, probe, deadline, transcode (real worker processes, one per pool) →
 * review-ready (derivatives stored, state retained). Baseline in the same run: a naive script doing the same
 * useful work with raw tools — `aws s3 cp` (Debian awscli) of the original, `sha256sum`, the same ffmpeg
 * command on the local file, `aws s3 cp` of the three outputs. Target: wall ≤ 1.0×.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildTranscodePlan, createMediaTools, resolveTranscodeProfile } from '../../activities/media/ffmpeg';
import { REPO_ROOT } from '../../test/harness/servers';
import type { RecordingStatus } from '../../domain/types';
import { workflowIdFor } from '../../domain/ids';
import { readCustodyLog } from '../../activities/custody-log/read';
import { CpuMonitor, builtFile, describeProfile, startBenchStack, type CpuProfile } from '../stack';
import { compareRow, repeatInRotation, stats, statsOf, type BenchCase, type Stats } from '../runner';

/** Per-repetition differences a[i] − b[i] of two sample sets from the same rounds. */
const minus = (a: Stats, b: Stats): Stats => stats(a.samples.map((value, i) => value - (b.samples[i] ?? 0)));

const execFileAsync = promisify(execFile);

/** Debian's awscli; a pip-installed `aws` earlier on PATH (pyenv) would be another program. */
export const DEBIAN_AWS = '/usr/bin/aws';

/** Installs awscli with apt-get when it is missing (idempotent; needs root or sudo). */
async function ensureAwsCli(log: (m: string) => void): Promise<void> {
  if (existsSync(DEBIAN_AWS)) return;
  log(`  ${DEBIAN_AWS} missing: running scripts/install-bench-tools.sh`);
  await execFileAsync('bash', [path.join(REPO_ROOT, 'scripts', 'install-bench-tools.sh')]).catch(
    (error: Error) => {
      throw new Error(
        `the lifecycle case needs Debian's awscli at ${DEBIAN_AWS} for its baseline, and installing it failed ` +
          `(${error.message}). Run \`bash scripts/install-bench-tools.sh\` as root (apt-get install awscli).`,
      );
    },
  );
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(
            new Error(
              `${path.basename(command)} ${args[0] ?? ''} exited with ${code}: ${stderr.slice(-2000)}`,
            ),
          ),
    );
  });
}

export const lifecycleCase: BenchCase = {
  name: 'lifecycle',
  title: 'whole lifecycle of a 60 s 1080p30 clip, ingest → review-ready, vs aws s3 cp + sha256sum + ffmpeg',
  estimate: { full: '8 min', quick: '3 min' },
  async run(context) {
    await ensureAwsCli(context.log);
    const media = context.config.media;
    const durationS = context.quick ? 20 : 60;
    const clip = await context.clip({ durationS, width: 1920, height: 1080, fps: 30 });
    const { config: s3Config, client: s3 } = await context.s3();
    const stack = await startBenchStack(context, {
      label: 'lifecycle',
      pools: ['orchestration', 'media-io', 'transcode'],
      env: { CUSTODY_TRANSCODE_ENABLED: 'true' },
    });
    const tools = createMediaTools({ ffmpegPath: media.ffmpegPath, ffprobePath: media.ffprobePath });
    const profile = resolveTranscodeProfile({
      preset: media.preset,
      crf: media.crf,
      spriteIntervalS: media.spriteIntervalSeconds,
    });
    const naiveDir = path.join(context.runDir, 'lifecycle-naive');
    const plan = buildTranscodePlan(profile, await tools.probe(clip), {
      inputPath: clip,
      outputDir: naiveDir,
    });
    const awsEnv = { ...stack.env, AWS_PAGER: '', AWS_DEFAULT_REGION: s3Config.s3.region };
    const aws = (...args: string[]) =>
      run(DEBIAN_AWS, ['--endpoint-url', s3Config.s3.endpoint, '--only-show-errors', ...args], awsEnv);
    const profiles: CpuProfile[] = [];
    try {
      const samples = await repeatInRotation(
        [
          {
            label: 'custody',
            run: async () => {
              const monitor = new CpuMonitor(stack.processes, 1000);
              const startedAt = Date.now();
              const started = performance.now();
              // One command, as an operator would run it: upload, start, and wait (an Update, not polling)
              // until the derivatives are stored and logged.
              const stdout = await run(
                process.execPath,
                [builtFile('cli/main.js'), 'ingest', clip, '--wait', '--json'],
                stack.env,
              );
              const { recordingId, status } = JSON.parse(stdout) as {
                recordingId: string;
                status: RecordingStatus;
              };
              if (!status.reviewReady || status.state !== 'retained')
                throw new Error(
                  `recording ${recordingId} ended in ${status.state}: ${JSON.stringify(status)}`,
                );
              const wall = (performance.now() - started) / 1000;
              profiles.push(monitor.stop());
              if (wall > 1.5 * (status.derivatives?.elapsedS ?? 0) + 10) {
                // An outlier: keep its history beside the results, to see which step waited.
                const history = await stack.client.workflow
                  .getHandle(workflowIdFor(recordingId))
                  .fetchHistory();
                const file = path.join(context.runDir, `lifecycle-outlier-${recordingId}.json`);
                await writeFile(file, JSON.stringify(history, null, 1));
                context.log(`  custody took ${wall.toFixed(1)} s: its workflow history is in ${file}`);
              }
              const ffmpeg = status.derivatives?.elapsedS ?? Number.NaN;
              const ffmpegAlone = status.derivatives?.ffmpegElapsedS ?? Number.NaN;
              // Where the time went, from the custody log's own timestamps (workflow time of each append).
              const entries = await readCustodyLog(s3, stack.config.buckets.audit, recordingId);
              // The workflow stamps recording.received when it starts: the CLI's upload and start end there.
              const uploadAndStart = (Date.parse(entries[0]!.time) - startedAt) / 1000;
              const steps: Record<string, number> = {};
              for (let i = 1; i < entries.length; i++) {
                const gap = (Date.parse(entries[i]!.time) - Date.parse(entries[i - 1]!.time)) / 1000;
                steps[`step ${entries[i - 1]!.action} → ${entries[i]!.action}`] = gap;
              }
              return {
                wall,
                'CLI upload+start': uploadAndStart,
                'ffmpeg in the activity': ffmpeg,
                'ffmpeg alone': ffmpegAlone,
                ...steps,
              };
            },
          },
          {
            label: 'naive',
            run: async (round) => {
              const key = `naive/r${round}/${path.basename(clip)}`;
              const started = performance.now();
              await aws('s3', 'cp', clip, `s3://${s3Config.buckets.incoming}/${key}`);
              await run('sha256sum', [clip], process.env);
              const uploaded = performance.now();
              await rm(naiveDir, { recursive: true, force: true });
              await mkdir(naiveDir, { recursive: true });
              await run(media.ffmpegPath, plan.args, process.env);
              const transcoded = performance.now();
              await aws(
                's3',
                'cp',
                '--recursive',
                naiveDir,
                `s3://${s3Config.buckets.derivatives}/naive/r${round}/`,
              );
              const wall = (performance.now() - started) / 1000;
              return {
                wall,
                'upload+sha256sum': (uploaded - started) / 1000,
                ffmpeg: (transcoded - uploaded) / 1000,
              };
            },
            cleanup: () => rm(naiveDir, { recursive: true, force: true }),
          },
        ],
        {
          warmup: 0,
          repetitions: context.repetitions ?? (context.quick ? 1 : 3),
          log: context.log,
          show: (v) => `${v.toFixed(1)} s`,
          cpuPids: () => Object.values(stack.processes()),
        },
      );
      const custodyWall = statsOf(samples, 'custody wall');
      const transcodeActivity = statsOf(samples, 'custody ffmpeg in the activity').median;
      const cliPart = statsOf(samples, 'custody CLI upload+start').median;
      const naiveFfmpeg = statsOf(samples, 'naive ffmpeg').median;
      const steps = [...samples.keys()]
        .filter((key) => key.startsWith('custody step '))
        .map((key) => `${key.slice('custody step '.length)} ${statsOf(samples, key).median.toFixed(2)} s`);
      const median = profiles.slice().sort((a, b) => a.seconds - b.seconds)[Math.floor(profiles.length / 2)];
      return [
        compareRow({
          case: 'lifecycle',
          measure: `wall time, ${durationS} s 1080p30 clip (${plan.proxy.width}x${plan.proxy.height} ${profile.preset} CRF ${profile.crf}): ingest → review-ready`,
          unit: 's',
          subject: { label: 'custody ingest → retained + reviewReady', stats: custodyWall },
          baseline: {
            label: 'aws s3 cp + sha256sum + ffmpeg + aws s3 cp',
            stats: statsOf(samples, 'naive wall'),
          },
          ratioMeaning: 'custody s ÷ naive script s',
          target: { op: '<=', value: 1.0 },
          cpu: {
            unit: 'CPU s',
            subject: statsOf(samples, 'custody cpu'),
            baseline: statsOf(samples, 'naive cpu'),
          },
          note:
            `custody: CLI upload+start ${cliPart.toFixed(1)} s, ffmpeg inside the transcode activity ` +
            `${transcodeActivity.toFixed(1)} s, the rest (copy + hash into evidence, probe, custody-log appends, ` +
            `download for ffmpeg, output hashes and uploads, scheduling) ` +
            `${(custodyWall.median - cliPart - transcodeActivity).toFixed(1)} s; naive: ffmpeg ` +
            `${naiveFfmpeg.toFixed(1)} s. Real worker processes (one per pool), the CLI as a process, Temporal dev ` +
            `server. Between custody-log entries (medians): ${steps.join('; ')}. ` +
            `${median ? `CPU of the median custody run ${describeProfile(median)}` : ''}`,
        }),
        compareRow({
          case: 'lifecycle',
          measure: 'the same runs without ffmpeg: wall time minus the ffmpeg run of each',
          unit: 's',
          subject: {
            label: 'custody wall − ffmpeg',
            stats: minus(custodyWall, statsOf(samples, 'custody ffmpeg in the activity')),
          },
          baseline: {
            label: 'naive wall − ffmpeg',
            stats: minus(statsOf(samples, 'naive wall'), statsOf(samples, 'naive ffmpeg')),
          },
          ratioMeaning: 'custody s ÷ naive s, both without ffmpeg',
          note:
            'report only: what each side adds around the same ffmpeg command; less disturbed by the neighbours ' +
            'than the wall-time ratio, where ffmpeg is 80–90 % of the time',
        }),
      ];
    } finally {
      await stack.stop();
    }
  },
};
