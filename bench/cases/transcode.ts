/**
 * The transcode stage on a 60 s 1080p30 clip: MediaTools.transcode as transcodeRecording calls it (input hash
 * known from the verified download; it probes and hashes the three outputs) against raw ffmpeg run with the
 * plan's exact arguments. Target: wall ≤ 1.05×.
 * A third variant runs ffmpeg for the proxy alone: all three outputs ÷ proxy only ≈ 1 shows that the
 * sprite and poster ride the proxy's single decode.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  buildTranscodePlan,
  createMediaTools,
  sha256File,
  resolveTranscodeProfile,
  type TranscodePlan,
} from '../../activities/media/ffmpeg';
import { flattenInvocation } from '../../activities/media/plan';
import { compareRow, repeatInRotation, statsOf, timeSeconds, type BenchCase } from '../runner';

function runFfmpeg(ffmpegPath: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume(); // -progress pipe:1 writes here; drain it as transcode() does
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg exited with ${code ?? signal}: ${stderr.trim().slice(-2000)}`));
    });
  });
}

/**
 * The plan reduced to its proxy: the same input options, scale chain and encoder settings, without the split
 * into sprite and poster branches.
 */
export function proxyOnlyArgs(plan: TranscodePlan): string[] {
  const { invocation } = plan;
  const chain = invocation.filterComplex.split(';')[0] ?? '';
  const proxyChain = chain.replace(/,split=\d+\[[^\]]+\](\[[^\]]+\])*$/, '[proxy]');
  if (proxyChain === chain) throw new Error(`cannot find the split in the plan's filter graph: ${chain}`);
  return flattenInvocation({
    ...invocation,
    filterComplex: proxyChain,
    outputs: invocation.outputs.filter((output) => output.kind === 'proxy'),
  });
}

export const transcodeCase: BenchCase = {
  name: 'transcode',
  title: 'transcode stage: MediaTools.transcode vs raw ffmpeg with the plan’s arguments',
  estimate: { full: '8 min', quick: '2 min' },
  async run(context) {
    const media = context.config.media;
    const durationS = context.quick ? 20 : 60;
    const clip = await context.clip({ durationS, width: 1920, height: 1080, fps: 30 });
    const tools = createMediaTools({ ffmpegPath: media.ffmpegPath, ffprobePath: media.ffprobePath });
    const profile = resolveTranscodeProfile({
      preset: media.preset,
      crf: media.crf,
      spriteIntervalS: media.spriteIntervalSeconds,
    });
    const outputDir = path.join(context.runDir, 'transcode');
    await mkdir(outputDir, { recursive: true });
    const plan = buildTranscodePlan(profile, await tools.probe(clip), { inputPath: clip, outputDir });
    const inputSha256 = await sha256File(clip);
    const emptyOutputs = () => rm(outputDir, { recursive: true, force: true }).then(() => mkdir(outputDir));

    // fluent-ffmpeg asks ffmpeg for its formats and encoders before the first command of a process (≈ 0.3–0.5 s)
    // and caches them: a worker pays that once, so a tiny transcode pays it here, outside the measurements.
    const tiny = await context.clip({ durationS: 2, width: 320, height: 240, fps: 30 });
    const tinyPlan = buildTranscodePlan(profile, await tools.probe(tiny), { inputPath: tiny, outputDir });
    const firstCall = await timeSeconds(() => tools.transcode(tinyPlan));
    context.log(
      `  first transcode() of this process (2 s 240p clip, capability probe included): ${firstCall.toFixed(2)} s`,
    );
    await emptyOutputs();

    const samples = await repeatInRotation(
      [
        {
          label: 'transcode()',
          run: () =>
            timeSeconds(async () => {
              // As transcodeRecording calls it: the input's hash is known from the verified download.
              const result = await tools.transcode(plan, { inputSha256 });
              if (result.partial)
                throw new Error(`the clip decoded only partly: ${JSON.stringify(result.partial)}`);
            }),
          cleanup: emptyOutputs,
        },
        {
          label: 'ffmpeg',
          run: () => timeSeconds(() => runFfmpeg(media.ffmpegPath, plan.args)),
          cleanup: emptyOutputs,
        },
        {
          label: 'ffmpeg proxy only',
          run: () => timeSeconds(() => runFfmpeg(media.ffmpegPath, proxyOnlyArgs(plan))),
          cleanup: emptyOutputs,
        },
      ],
      {
        warmup: 0,
        repetitions: context.repetitions ?? (context.quick ? 1 : 3),
        log: context.log,
        show: (v) => `${v.toFixed(1)} s`,
        cpuPids: context.serverPids,
      },
    );
    const clipName = `${durationS} s 1080p30 H.264+AAC clip → ${plan.proxy.width}x${plan.proxy.height} ${profile.preset} CRF ${profile.crf}`;
    const raw = { label: 'ffmpeg with the plan’s args', stats: statsOf(samples, 'ffmpeg') };
    return [
      compareRow({
        case: 'transcode',
        measure: `wall time, ${clipName}`,
        unit: 's',
        subject: { label: 'MediaTools.transcode', stats: statsOf(samples, 'transcode()') },
        baseline: raw,
        ratioMeaning: 'custody s ÷ raw ffmpeg s',
        cpu: {
          unit: 'CPU s',
          subject: statsOf(samples, 'transcode() cpu'),
          baseline: statsOf(samples, 'ffmpeg cpu'),
        },
        target: { op: '<=', value: 1.05 },
        note:
          'transcode() is called as transcodeRecording calls it (input hash given); it also probes and hashes ' +
          'proxy, sprite and poster',
      }),
      compareRow({
        case: 'transcode',
        measure: `wall time, ${clipName}: proxy+sprite+poster vs proxy alone`,
        unit: 's',
        subject: raw,
        baseline: { label: 'ffmpeg, proxy output only', stats: statsOf(samples, 'ffmpeg proxy only') },
        ratioMeaning: 'three outputs s ÷ proxy-only s',
        cpu: {
          unit: 'CPU s',
          subject: statsOf(samples, 'ffmpeg cpu'),
          baseline: statsOf(samples, 'ffmpeg proxy only cpu'),
        },
        note: `≈ 1 means sprite (${plan.sprite.tiles} tiles) and poster ride the proxy's single decode; report only`,
      }),
    ];
  },
};
