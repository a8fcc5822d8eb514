/**
 * The media layer against real ffmpeg 5.1 on camera-like inputs: probe answers, one-run transcodes checked
 * independently with ffprobe, typed failures, and cancellation that leaves no process and no files behind.
 * Needs ffmpeg and ffprobe only (no Temporal, no S3).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  buildTranscodePlan,
  CorruptMediaError,
  createMediaTools,
  DEFAULT_TRANSCODE_PROFILE,
  NotMediaError,
  resolveTranscodeProfile,
  TranscodeCancelledError,
  withAttemptTempDir,
  type MediaInfo,
  type MediaTools,
  type TranscodeProgress,
  type TranscodeResult,
} from '../../../activities/media/ffmpeg';
import {
  cameraFixtures,
  FFMPEG,
  FFPROBE,
  requireFfmpeg,
  syntheticClip,
  type CameraFixtures,
} from '../../fixtures/media';

const execFileAsync = promisify(execFile);

let fixtures: CameraFixtures;
let tools: MediaTools;
let scratch: string;

beforeAll(async () => {
  requireFfmpeg();
  fixtures = await cameraFixtures();
  tools = createMediaTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
  scratch = await mkdtemp(path.join(tmpdir(), 'custody-media-it-'));
}, 240_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// --------------------------------------------------------------------------- independent checks

interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}
interface Probed {
  streams: ProbedStream[];
  format: { duration?: string; format_name: string };
}

/** ffprobe's JSON, read here without the code under test. */
async function ffprobeJson(file: string): Promise<Probed> {
  const { stdout } = await execFileAsync(FFPROBE, [
    ...['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file],
  ]);
  return JSON.parse(stdout) as Probed;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

function rotationOf(stream: ProbedStream): number {
  const fromMatrix = stream.side_data_list?.find((s) => s.rotation !== undefined)?.rotation;
  return Number(fromMatrix ?? stream.tags?.rotate ?? 0);
}

/** Processes (other than jest) whose command line mentions text: leftovers of a run in that directory. */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${entry}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

/** Average luma (0–255) of a region of an image, measured by ffmpeg's signalstats. */
async function meanLuma(image: string, crop: string): Promise<number> {
  const { stdout } = await execFileAsync(FFMPEG, [
    ...['-v', 'error', '-i', image, '-vf', `${crop},signalstats,metadata=print:file=-`, '-f', 'null', '-'],
  ]);
  const match = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(stdout);
  if (!match) throw new Error(`no YAVG in ${stdout}`);
  return Number(match[1]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// --------------------------------------------------------------------------------------- probe

describe('probe', () => {
  it.each<[keyof CameraFixtures, Partial<MediaInfo>]>([
    [
      'h264Aac1080p',
      {
        videoCodec: 'h264',
        audioCodec: 'aac',
        hasAudio: true,
        width: 1920,
        height: 1080,
        rotation: 0,
        fps: 30,
      },
    ],
    ['hevcAac', { videoCodec: 'hevc', audioCodec: 'aac', width: 1280, height: 720, durationS: 4 }],
    ['h264NoAudio', { videoCodec: 'h264', audioCodec: null, audioStreamIndex: null, hasAudio: false }],
    [
      'portraitRotated',
      { width: 1080, height: 1920, codedWidth: 1920, codedHeight: 1080, rotation: 90, hasAudio: true },
    ],
    [
      'mjpegAvi',
      { container: 'avi', videoCodec: 'mjpeg', audioCodec: 'pcm_s16le', width: 1280, height: 720 },
    ],
    // The index survived at the front, so the container still declares the full 6 s.
    ['truncatedMidStream', { videoCodec: 'h264', durationS: 6 }],
  ])('%s', async (name, expected) => {
    const info = await tools.probe(fixtures[name]);
    expect(info).toMatchObject(expected);
    expect(info.durationS).toBeGreaterThan(3);
  });

  it('variable frame rate: the average rate is below the 30 fps base rate', async () => {
    const info = await tools.probe(fixtures.variableFrameRate);
    expect(info.fps).toBeGreaterThan(10);
    expect(info.fps).toBeLessThan(25);
    expect(info.durationS).toBeCloseTo(6, 0);
  });

  it('random bytes named .mp4 are NotMedia with ffprobe’s reason', async () => {
    const error = await tools.probe(fixtures.randomBytesAsMp4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotMediaError);
    expect(error).toMatchObject({ type: 'NotMedia', nonRetryable: true });
    expect((error as Error).message).toMatch(/ffprobe cannot read it as media: Invalid data found/);
  });

  it('a text file and a still image named .mp4 are NotMedia', async () => {
    const text = path.join(scratch, 'notes.mp4');
    await writeFile(text, 'Einsatzbericht 2024-05-01\nnothing to see here\n'.repeat(50));
    await expect(tools.probe(text)).rejects.toThrow(NotMediaError);
    const still = path.join(scratch, 'still.mp4');
    await execFileAsync(FFMPEG, [
      ...[
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240',
        '-frames:v',
        '1',
        '-f',
        'image2',
        still,
      ],
    ]);
    await expect(tools.probe(still)).rejects.toThrow(/still image/);
  });

  it('an MP4 cut off before its index was written is CorruptMedia naming the missing moov', async () => {
    const error = await tools.probe(fixtures.truncatedBeforeIndex).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptMediaError);
    expect(error).toMatchObject({ type: 'CorruptMedia', nonRetryable: true });
    expect((error as Error).message).toMatch(/index \(moov atom\).*cut off/);
  });

  it('a missing file is a plain error (a caller bug), not NotMedia', async () => {
    const error = await tools.probe(path.join(scratch, 'absent.mp4')).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(NotMediaError);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('ffmpeg version comes from the binary', async () => {
    const { stdout } = await execFileAsync(FFMPEG, ['-version']);
    expect(stdout.split('\n')[0]).toContain(`ffmpeg version ${await tools.version()} `);
  });
});

// ----------------------------------------------------------------------------------- transcode

interface Run {
  info: MediaInfo;
  result: TranscodeResult;
  proxy: Probed;
  sprite: Probed;
  poster: Probed;
  progress: TranscodeProgress[];
  attemptDir: string;
}

async function transcodeFixture(input: string): Promise<Run> {
  const info = await tools.probe(input);
  const progress: TranscodeProgress[] = [];
  let attemptDir = '';
  const run = await withAttemptTempDir(scratch, async (dir) => {
    attemptDir = dir;
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, info, { inputPath: input, outputDir: dir });
    const result = await tools.transcode(plan, { onProgress: (p) => progress.push(p) });
    expect(result.args).toEqual(plan.recordedArgs);
    for (const file of [result.proxy, result.sprite, result.poster]) {
      expect(file.sha256).toBe(await sha256(file.path));
    }
    return {
      result,
      proxy: await ffprobeJson(result.proxy.path),
      sprite: await ffprobeJson(result.sprite.path),
      poster: await ffprobeJson(result.poster.path),
    };
  });
  return { info, progress, attemptDir, ...run };
}

function video(probed: Probed): ProbedStream {
  const stream = probed.streams.find((s) => s.codec_type === 'video');
  if (!stream) throw new Error('no video stream in output');
  return stream;
}

describe('transcode: one ffmpeg run gives proxy, sprite and poster', () => {
  it.each<keyof CameraFixtures>([
    'h264Aac1080p',
    'hevcAac',
    'h264NoAudio',
    'portraitRotated',
    'variableFrameRate',
    'mjpegAvi',
  ])(
    '%s',
    async (name) => {
      const input = fixtures[name];
      const { info, result, proxy, sprite, poster, progress, attemptDir } = await transcodeFixture(input);

      const proxyVideo = video(proxy);
      expect(proxyVideo.codec_name).toBe('h264');
      expect(proxyVideo.pix_fmt).toBe('yuv420p');
      const width = proxyVideo.width!;
      const height = proxyVideo.height!;
      expect([width % 2, height % 2]).toEqual([0, 0]);
      expect(Math.min(width, height)).toBeLessThanOrEqual(720);
      expect(Math.abs(width / height - info.width / info.height)).toBeLessThan(0.01);
      expect(rotationOf(proxyVideo)).toBe(0); // rotation applied to the pixels, tag gone
      if (info.rotation === 90) expect(height).toBeGreaterThan(width);
      const proxyAudio = proxy.streams.filter((s) => s.codec_type === 'audio');
      expect(proxyAudio.map((s) => s.codec_name)).toEqual(info.hasAudio ? ['aac'] : []);
      expect(Math.abs(Number(proxy.format.duration) - info.durationS)).toBeLessThan(0.25);
      expect(result.proxy).toMatchObject({ width, height, videoCodec: 'h264', contentType: 'video/mp4' });
      expect(result.proxy.audioCodec).toBe(info.hasAudio ? 'aac' : null);

      for (const image of [sprite, poster]) {
        expect(image.format.format_name).toMatch(/image2|jpeg_pipe/);
        expect(video(image).codec_name).toBe('mjpeg');
      }
      const { layout } = result.sprite;
      expect([video(sprite).width, video(sprite).height]).toEqual([
        layout.columns * layout.tileWidth,
        layout.rows * layout.tileHeight,
      ]);
      expect([video(poster).width, video(poster).height]).toEqual([width, height]);
      // The facts the transcode read in-process (proxy index, JPEG frame headers) are ffprobe's.
      expect(result.proxy.durationS).toBeCloseTo(Number(proxy.format.duration), 6);
      expect([result.sprite.width, result.sprite.height]).toEqual([
        video(sprite).width,
        video(sprite).height,
      ]);
      expect([result.poster.width, result.poster.height]).toEqual([width, height]);

      expect(result.inputSha256).toBe(await sha256(input));
      expect(result.ffmpegVersion).toBe(await tools.version());
      expect(result.partial).toBeNull();
      expect(result.ffmpegElapsedS).toBeGreaterThan(0);
      expect(result.ffmpegElapsedS).toBeLessThanOrEqual(result.elapsedS);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)?.fraction).toBe(1);
      const fractions = progress.map((p) => p.fraction);
      expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
      expect(existsSync(attemptDir)).toBe(false);
    },
    120_000,
  );

  it('sprite layout: tiles fill from the top left, cells after the end stay black', async () => {
    const input = fixtures.h264Aac1080p; // 6 s: frames at 0, 2 and 4 s fill 3 of the 3x2 cells
    const info = await tools.probe(input);
    const profile = resolveTranscodeProfile({ spriteIntervalS: 2, spriteColumns: 3 });
    const luma = await withAttemptTempDir(scratch, async (dir) => {
      const plan = buildTranscodePlan(profile, info, { inputPath: input, outputDir: dir });
      expect(plan.sprite).toMatchObject({ intervalS: 2, tiles: 4, columns: 3, rows: 2 });
      const { sprite } = await tools.transcode(plan);
      expect([sprite.width, sprite.height]).toEqual([3 * 160, 2 * 90]);
      const cells = [0, 1, 2, 3, 4, 5].map((i) => ({ x: (i % 3) * 160, y: Math.floor(i / 3) * 90 }));
      return Promise.all(cells.map(({ x, y }) => meanLuma(sprite.path, `crop=160:90:${x}:${y}`)));
    });
    expect(luma.slice(0, 3).every((y) => y > 40)).toBe(true);
    expect(luma.slice(3).every((y) => y < 20)).toBe(true);
  }, 120_000);

  it('a file truncated mid-stream gives a proxy of the readable part, flagged partial', async () => {
    const { result, proxy, attemptDir } = await transcodeFixture(fixtures.truncatedMidStream);
    expect(video(proxy).codec_name).toBe('h264');
    expect(result.partial).not.toBeNull();
    expect(result.partial!.declaredS).toBe(6);
    expect(result.partial!.decodedS).toBeGreaterThan(2);
    expect(result.partial!.decodedS).toBeLessThan(4);
    expect(result.partial!.reason).toMatch(/appears truncated/);
    expect(result.decoderMessages.join('\n')).toMatch(/partial file|corrupt/i);
    expect(existsSync(attemptDir)).toBe(false);
  }, 120_000);

  it('a readable index over an undecodable bitstream is CorruptMedia, and the attempt dir is gone', async () => {
    const info = await tools.probe(fixtures.garbledPayload);
    let attemptDir = '';
    const error = await withAttemptTempDir(scratch, (dir) => {
      attemptDir = dir;
      const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, info, {
        inputPath: fixtures.garbledPayload,
        outputDir: dir,
      });
      return tools.transcode(plan);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptMediaError);
    expect(error).toMatchObject({ type: 'CorruptMedia', nonRetryable: true });
    expect((error as CorruptMediaError).message).toMatch(/undecodable recording/);
    expect((error as CorruptMediaError).details.stderrTail).toEqual(expect.any(String));
    expect(existsSync(attemptDir)).toBe(false);
  }, 120_000);
});

// -------------------------------------------------------------------------------- cancellation

describe('cancellation', () => {
  let longClip: string;
  let longInfo: MediaInfo;
  beforeAll(async () => {
    longClip = await syntheticClip({ durationS: 60 }); // ~40 s to transcode here: plenty of time to abort
    longInfo = await tools.probe(longClip);
  }, 240_000);

  async function abortMidway(reason?: Error) {
    const controller = new AbortController();
    let attemptDir = '';
    let pid = 0;
    let lastFraction = 0;
    const error = await withAttemptTempDir(scratch, (dir) => {
      attemptDir = dir;
      const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, longInfo, {
        inputPath: longClip,
        outputDir: dir,
      });
      return tools.transcode(plan, {
        signal: controller.signal,
        onSpawn: (spawned) => (pid = spawned),
        onProgress: (p) => {
          lastFraction = p.fraction;
          if (p.fraction > 0.02 && !controller.signal.aborted) controller.abort(reason);
        },
      });
    }).catch((e: unknown) => e);
    return { error, attemptDir, pid, lastFraction };
  }

  it('kills ffmpeg mid-way, rejects only after it exited, leaves no process and no temp dir', async () => {
    const { error, attemptDir, pid, lastFraction } = await abortMidway();
    expect(error).toBeInstanceOf(TranscodeCancelledError);
    expect(error).toMatchObject({ type: 'TranscodeCancelled' });
    expect(lastFraction).toBeGreaterThan(0.02);
    expect(lastFraction).toBeLessThan(0.9);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(attemptDir)).toEqual([]);
    expect(existsSync(attemptDir)).toBe(false);
  }, 120_000);

  it('rejects with the signal’s own Error reason (how Temporal passes CancelledFailure)', async () => {
    const reason = new Error('activity cancelled by the workflow');
    const { error, attemptDir } = await abortMidway(reason);
    expect(error).toBe(reason);
    expect(await processesMentioning(attemptDir)).toEqual([]);
  }, 120_000);

  it('escalates to SIGKILL when ffmpeg does not exit on SIGTERM', async () => {
    // A stopped process cannot act on SIGTERM, so only the SIGKILL after the grace period ends it. Stopped,
    // it reports no progress either: abort by time.
    const controller = new AbortController();
    let pid = 0;
    let attemptDir = '';
    const started = Date.now();
    const error = await withAttemptTempDir(scratch, (dir) => {
      attemptDir = dir;
      const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, longInfo, {
        inputPath: longClip,
        outputDir: dir,
      });
      return tools.transcode(plan, {
        signal: controller.signal,
        killGraceMs: 500,
        onSpawn: (spawned) => {
          pid = spawned;
          process.kill(spawned, 'SIGSTOP');
          setTimeout(() => controller.abort(), 300);
        },
      });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranscodeCancelledError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800); // 300 ms until abort + 500 ms grace
    expect(isAlive(pid)).toBe(false);
    expect(await processesMentioning(attemptDir)).toEqual([]);
    expect(existsSync(attemptDir)).toBe(false);
  }, 60_000);

  it('an already aborted signal rejects without starting ffmpeg', async () => {
    const controller = new AbortController();
    controller.abort();
    let spawned = false;
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, longInfo, {
      inputPath: longClip,
      outputDir: path.join(scratch, 'never'),
    });
    await expect(
      tools.transcode(plan, { signal: controller.signal, onSpawn: () => (spawned = true) }),
    ).rejects.toBeInstanceOf(TranscodeCancelledError);
    expect(spawned).toBe(false);
  });
});
