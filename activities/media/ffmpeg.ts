/**
 * The media layer's front door and the ONLY module that imports fluent-ffmpeg (archived upstream): if it
 * has to go, this file is what changes. Everything the rest of custody needs from ffmpeg is here:
 * probe a file, run a transcode plan with progress and cancellation, tell the ffmpeg version.
 *
 * fluent-ffmpeg keeps the binary paths (and its capability cache) per process, not per command, so one
 * process uses one ffmpeg; createMediaTools refuses a second, different pair of paths.
 */
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import { CorruptMediaError, FfmpegFailedError, TranscodeCancelledError } from './errors';
import { classifyProbeFailure, mediaInfoFromProbe, type MediaInfo, type ProbeData } from './media-info';
import { classifyFfmpegFailure, detectPartialDecode, type PartialDecode } from './outcome';
import { mediaInfoFromMp4 } from './mp4-probe';
import { jpegDimensions, withFileReader } from './output-facts';
import type { DerivativeKind, SpriteLayout, TranscodePlan } from './plan';

export * from './errors';
export { buildTranscodePlan, OUTPUT_FILE_NAMES, type TranscodePlan, type SpriteLayout } from './plan';
export type { MediaInfo } from './media-info';
export { DEFAULT_TRANSCODE_PROFILE, resolveTranscodeProfile, type TranscodeProfile } from './profile';
export {
  checkFreeSpace,
  estimateAttemptBytes,
  removeStaleAttemptDirs,
  withAttemptTempDir,
} from './temp-space';
export type { PartialDecode } from './outcome';

export interface MediaToolsConfig {
  /** CUSTODY_FFMPEG_PATH */
  ffmpegPath: string;
  /** CUSTODY_FFPROBE_PATH */
  ffprobePath: string;
}

export interface TranscodeProgress {
  /** Share of the probed duration written so far, 0…1. */
  fraction: number;
  outTimeS: number;
  /** Frames per second ffmpeg currently processes; null before the first frame. */
  fps: number | null;
  /** Processing speed relative to real time (2 = twice as fast as playback); null when unknown. */
  speed: number | null;
}

export interface TranscodeOptions {
  /** Aborting kills ffmpeg (SIGTERM, then SIGKILL after killGraceMs); the promise settles after it exited. */
  signal?: AbortSignal;
  onProgress?: (progress: TranscodeProgress) => void;
  /** Called once ffmpeg runs (logs, tests that watch the process). */
  onSpawn?: (pid: number) => void;
  killGraceMs?: number;
  /**
   * The input's SHA-256 when the caller already verified it on the way in (the transcode activity hashes the
   * original while downloading it): skips a second full read of the input before ffmpeg starts.
   */
  inputSha256?: string;
}

export interface DerivativeFile {
  kind: DerivativeKind;
  path: string;
  sha256: string;
  bytes: number;
  contentType: 'video/mp4' | 'image/jpeg';
  width: number;
  height: number;
}

export interface TranscodeResult {
  /** What every derivative records besides its own hash: input hash, tool version, arguments, duration. */
  inputSha256: string;
  ffmpegVersion: string;
  /** The plan's recordedArgs: paths replaced by placeholders. */
  args: string[];
  /** The whole call: input hash, ffmpeg, output checks and hashes. */
  elapsedS: number;
  /** The ffmpeg process alone. */
  ffmpegElapsedS: number;
  proxy: DerivativeFile & { videoCodec: string; audioCodec: string | null; durationS: number };
  sprite: DerivativeFile & { layout: SpriteLayout };
  poster: DerivativeFile & { atS: number };
  /** Set when the recording decoded only partly (truncated file); the proxy covers the readable part. */
  partial: PartialDecode | null;
  /** First error-level lines ffmpeg wrote although it finished: damage it concealed. */
  decoderMessages: string[];
}

export interface MediaTools {
  /** ffprobe a file: MediaInfo, or NotMediaError / CorruptMediaError naming the problem. */
  probe(input: string): Promise<MediaInfo>;
  /** Runs the plan's exact arguments once, then checks and hashes the three outputs. */
  transcode(plan: TranscodePlan, options?: TranscodeOptions): Promise<TranscodeResult>;
  /** "5.1.9-0+deb12u1": the version token of `ffmpeg -version`'s first line, read once. */
  version(): Promise<string>;
}

const execFileAsync = promisify(execFile);
const MAX_DECODER_MESSAGES = 20;
const STDERR_TAIL_LINES = 100;
let configuredPaths: MediaToolsConfig | null = null;

export function createMediaTools(config: MediaToolsConfig): MediaTools {
  if (
    configuredPaths &&
    (configuredPaths.ffmpegPath !== config.ffmpegPath || configuredPaths.ffprobePath !== config.ffprobePath)
  ) {
    throw new Error(
      `fluent-ffmpeg holds one ffmpeg per process; already using ${configuredPaths.ffmpegPath} and ` +
        `${configuredPaths.ffprobePath}, refusing ${config.ffmpegPath} and ${config.ffprobePath}`,
    );
  }
  configuredPaths = { ...config };
  ffmpeg.setFfmpegPath(config.ffmpegPath);
  ffmpeg.setFfprobePath(config.ffprobePath);

  let versionPromise: Promise<string> | null = null;
  const version = () => {
    versionPromise ??= readFfmpegVersion(config.ffmpegPath).catch((error: unknown) => {
      versionPromise = null; // a fixed installation should be picked up by the next call
      throw error;
    });
    return versionPromise;
  };

  return {
    version,
    probe: (input) => probeMedia(input),
    transcode: async (plan, options = {}) => {
      const ffmpegVersion = await version();
      return runTranscode(plan, options, ffmpegVersion);
    },
  };
}

async function readFfmpegVersion(ffmpegPath: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(ffmpegPath, ['-version'], { timeout: 10_000 }));
  } catch (error) {
    // Retryable: another worker (or this one, once fixed) may run it; when retries run out the stage parks.
    throw new FfmpegFailedError(
      `cannot run ffmpeg at ${ffmpegPath} (${(error as Error).message}); install it (Debian: apt-get install ffmpeg) ` +
        'or set CUSTODY_FFMPEG_PATH to the ffmpeg binary',
      { ffmpegPath },
    );
  }
  const firstLine = stdout.split('\n')[0] ?? '';
  const match = /^ffmpeg version (\S+)/.exec(firstLine);
  if (!match?.[1]) throw new Error(`unexpected first line of ${ffmpegPath} -version: "${firstLine}"`);
  return match[1];
}

// ---------------------------------------------------------------------------------------------- probe

/** The first bytes and the size of a local file or an http(s) URL (e.g. a presigned S3 URL). */
async function headAndSize(input: string, length: number): Promise<{ head: Buffer; size: number }> {
  if (!/^https?:\/\//.test(input)) {
    const [head, info] = await Promise.all([readHead(input, length), stat(input)]);
    return { head, size: info.size };
  }
  const response = await fetch(input, { headers: { range: `bytes=0-${length - 1}` } });
  const head = Buffer.from(await response.arrayBuffer()).subarray(0, length);
  const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
  return { head, size: total ? Number(total) : head.length };
}

async function probeMedia(input: string): Promise<MediaInfo> {
  const isUrl = /^https?:\/\//.test(input);
  // A missing file is the caller's bug, not "not media": let ENOENT through. (URLs are checked by ffprobe.)
  if (!isUrl) await stat(input);
  let data: ProbeData;
  try {
    data = await ffprobe(input);
  } catch (error) {
    if (!(error instanceof Error) || !/ffprobe exited with code/.test(error.message)) {
      throw new Error(
        `cannot run ffprobe (${String(error)}); install it (Debian: apt-get install ffmpeg) ` +
          'or set CUSTODY_FFPROBE_PATH to the ffprobe binary',
      );
    }
    const { head, size } = await headAndSize(input, 16);
    throw classifyProbeFailure(error.message, head, size);
  }
  return mediaInfoFromProbe(data);
}

function ffprobe(file: string): Promise<ProbeData> {
  return new Promise((resolve, reject) => {
    // -v error: stderr then carries only the reason, which becomes the error message.
    ffmpeg(file).ffprobe(['-v', 'error'], (error: unknown, data: ffmpeg.FfprobeData) => {
      if (error) reject(error instanceof Error ? error : new Error('ffprobe failed without a message'));
      else resolve(data);
    });
  });
}

async function readHead(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

// ------------------------------------------------------------------------------------------ transcode

/** ffmpeg's JPEGs put the frame header within the first few hundred bytes (after the JFIF and tables). */
const JPEG_HEADER_BYTES = 64 * 1024;

/** Builds the fluent-ffmpeg command for a plan. Exported for the unit test of the exact arguments. */
export function fluentCommandFor(plan: TranscodePlan): ffmpeg.FfmpegCommand {
  const { invocation } = plan;
  const command = ffmpeg({ stdoutLines: STDERR_TAIL_LINES }).input(invocation.input);
  command.inputOptions(...verbatim(invocation.beforeInput));
  command.complexFilter(invocation.filterComplex);
  for (const output of invocation.outputs) {
    command.output(output.target).outputOptions(...verbatim(output.options));
  }
  return command;
}

/** fluent-ffmpeg splits a lone option at its space ("-a b" → "-a", "b"); it keeps lists of two or more. */
function verbatim(options: string[]): string[] {
  if (options.length === 1 && options[0]?.includes(' ')) {
    throw new Error(`option "${options[0]}" would be split by fluent-ffmpeg; pass it with its value`);
  }
  return options;
}

interface RunOutcome {
  stderrTail: string;
  firstStderrLines: string[];
  /** From spawn until ffmpeg exited and its output streams closed. */
  ffmpegElapsedS: number;
}

async function runTranscode(
  plan: TranscodePlan,
  options: TranscodeOptions,
  ffmpegVersion: string,
): Promise<TranscodeResult> {
  const { signal } = options;
  if (signal?.aborted) throw cancellationError(signal);
  const startedAt = performance.now();
  // Hash what ffmpeg is about to read (it also warms the page cache for the decode) — unless the caller did.
  const inputSha256 =
    options.inputSha256 ??
    (await sha256File(plan.inputPath, signal).catch((error: unknown) => {
      throw signal?.aborted ? cancellationError(signal) : error;
    }));
  const outcome = await runFfmpeg(plan, options);

  // The three outputs are checked side by side, in-process where possible (output-facts.ts).
  const [proxy, spriteFile, posterFile] = await Promise.all([
    describeProxy(plan.outputs.proxy, outcome),
    describeImage('sprite', plan.outputs.sprite, outcome),
    describeImage('poster', plan.outputs.poster, outcome),
  ]);
  const partial = detectPartialDecode(plan.expectedDurationS, proxy.durationS, outcome.firstStderrLines[0]);
  return {
    inputSha256,
    ffmpegVersion,
    args: plan.recordedArgs,
    elapsedS: (performance.now() - startedAt) / 1000,
    ffmpegElapsedS: outcome.ffmpegElapsedS,
    proxy,
    sprite: { ...spriteFile, layout: plan.sprite },
    poster: { ...posterFile, atS: plan.poster.atS },
    partial,
    decoderMessages: outcome.firstStderrLines,
  };
}

/** Runs ffmpeg with exactly plan.args; settles only after the process has exited. */
function runFfmpeg(plan: TranscodePlan, options: TranscodeOptions): Promise<RunOutcome> {
  const { signal, onProgress, onSpawn, killGraceMs = 2_000 } = options;
  if (signal?.aborted) return Promise.reject(cancellationError(signal));
  const command = fluentCommandFor(plan);
  const built = command._getArguments();
  if (!sameArgs(built, plan.args)) {
    // Only a changed fluent-ffmpeg can get here; running unrecorded arguments would falsify the record.
    throw new Error(`fluent-ffmpeg builds other arguments than the plan: ${JSON.stringify(built)}`);
  }

  return new Promise<RunOutcome>((resolve, reject) => {
    const firstStderrLines: string[] = [];
    let child: ChildProcess | undefined;
    let stopReason: { error: Error } | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnedAt = 0;

    // SIGTERM lets ffmpeg close its files; SIGKILL follows if it does not exit within the grace period.
    const terminate = () => {
      if (!child || killTimer) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child?.kill('SIGKILL'), killGraceMs);
    };
    const stop = (error: Error) => {
      stopReason ??= { error };
      terminate(); // before spawn this does nothing; 'start' terminates then
    };
    const onAbort = () => stop(cancellationError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (finish: () => void) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      finish();
    };

    command.on('stderr', (line: string) => {
      if (firstStderrLines.length < MAX_DECODER_MESSAGES && line.trim()) firstStderrLines.push(line.trim());
    });
    command.on('start', (commandLine: string) => {
      spawnedAt = performance.now();
      child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (commandLine !== ['ffmpeg', ...plan.args].join(' ')) {
        stop(new Error(`fluent-ffmpeg started other arguments than the plan: ${commandLine}`));
      }
      if (stopReason) return terminate();
      if (child?.pid !== undefined) onSpawn?.(child.pid);
      if (onProgress && child?.stdout) {
        const parse = progressParser(plan.expectedDurationS, (progress) => {
          if (stopReason) return; // a stopping run reports nothing more (its last block says "end")
          try {
            onProgress(progress);
          } catch (error) {
            stop(error instanceof Error ? error : new Error(`onProgress threw ${String(error)}`));
          }
        });
        child.stdout.on('data', (chunk: Buffer | string) => parse(chunk.toString()));
      }
    });
    command.on('error', (error: Error, _stdout: string | null, stderr: string | null) => {
      settle(() => {
        if (stopReason) return reject(stopReason.error);
        const exit = exitOf(error);
        if (exit.exitCode === null && exit.signal === null) {
          // Never ran: missing binary or unreadable capabilities.
          return reject(
            new FfmpegFailedError(`cannot run ffmpeg: ${error.message}; check CUSTODY_FFMPEG_PATH`),
          );
        }
        reject(classifyFfmpegFailure({ ...exit, stderrTail: stderr ?? '' }));
      });
    });
    command.on('end', (_stdout: string | null, stderr: string | null) => {
      settle(() => {
        if (stopReason) return reject(stopReason.error);
        resolve({
          stderrTail: stderr ?? '',
          firstStderrLines,
          ffmpegElapsedS: (performance.now() - spawnedAt) / 1000,
        });
      });
    });
    command.run();
  });
}

function exitOf(error: Error): { exitCode: number | null; signal: string | null } {
  const code = /ffmpeg exited with code (\d+)/.exec(error.message);
  const killed = /ffmpeg was killed with signal (\w+)/.exec(error.message);
  return { exitCode: code ? Number(code[1]) : null, signal: killed?.[1] ?? null };
}

function sameArgs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

/** The AbortSignal's own reason when it is an Error (Temporal passes its CancelledFailure), else ours. */
function cancellationError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason;
  return new TranscodeCancelledError(
    'transcode cancelled; ffmpeg was stopped and has exited',
    {},
    { cause: reason },
  );
}

/** Parses `-progress pipe:1` blocks (key=value lines ending in progress=continue|end). */
export function progressParser(expectedDurationS: number, emit: (progress: TranscodeProgress) => void) {
  let pending = '';
  let block: Record<string, string> = {};
  return (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const separator = line.indexOf('=');
      if (separator < 0) continue;
      const key = line.slice(0, separator).trim();
      const value = line.slice(separator + 1).trim();
      block[key] = value;
      if (key !== 'progress') continue;
      const outTimeUs = Number(block.out_time_us ?? block.out_time_ms);
      const outTimeS = Number.isFinite(outTimeUs) && outTimeUs > 0 ? outTimeUs / 1e6 : 0;
      const fps = Number(block.fps);
      const speed = Number.parseFloat(block.speed ?? '');
      const fraction = value === 'end' ? 1 : Math.min(1, outTimeS / expectedDurationS);
      emit({
        fraction,
        outTimeS,
        fps: Number.isFinite(fps) && fps > 0 ? fps : null,
        speed: Number.isFinite(speed) ? speed : null,
      });
      block = {};
    }
  };
}

// --------------------------------------------------------------------------------------------- outputs

/** The proxy's codecs, size and duration: from its MP4 index (our own ffmpeg wrote it), else from ffprobe. */
async function describeProxy(file: string, outcome: RunOutcome): Promise<TranscodeResult['proxy']> {
  const parsed = await withFileReader(file, mediaInfoFromMp4).catch(() => undefined);
  let facts: {
    videoCodec: string;
    audioCodec: string | null;
    durationS: number;
    width?: number;
    height?: number;
  };
  if (parsed) {
    facts = {
      videoCodec: parsed.videoCodec,
      audioCodec: parsed.audioCodec,
      durationS: parsed.durationS,
      width: parsed.codedWidth,
      height: parsed.codedHeight,
    };
  } else {
    const probed = await ffprobe(file).catch(() => null);
    const video = probed?.streams.find((s) => s.codec_type === 'video');
    if (!probed || !video) {
      throw new CorruptMediaError(
        'no decodable video frames: ffmpeg finished without writing a picture to the proxy',
        { decoderMessages: outcome.firstStderrLines },
      );
    }
    const audio = probed.streams.find((s) => s.codec_type === 'audio');
    const durationS = Number(probed.format.duration);
    facts = {
      videoCodec: video.codec_name ?? 'unknown',
      audioCodec: audio ? (audio.codec_name ?? 'unknown') : null,
      durationS: Number.isFinite(durationS) ? durationS : 0,
      ...(video.width !== undefined && { width: video.width }),
      ...(video.height !== undefined && { height: video.height }),
    };
  }
  const described = await describeOutput('proxy', file, 'video/mp4', facts);
  return {
    ...described,
    videoCodec: facts.videoCodec,
    audioCodec: facts.audioCodec,
    durationS: facts.durationS,
  };
}

async function describeImage(kind: 'sprite' | 'poster', file: string, outcome: RunOutcome) {
  const head = await readHead(file, JPEG_HEADER_BYTES).catch(() => Buffer.alloc(0));
  const picture =
    jpegDimensions(head) ??
    (await ffprobe(file).catch(() => null))?.streams.find((s) => s.codec_type === 'video');
  if (!picture) {
    throw new CorruptMediaError(`no decodable frame for the ${kind} image`, {
      decoderMessages: outcome.firstStderrLines,
    });
  }
  return describeOutput(kind, file, 'image/jpeg', picture);
}

async function describeOutput(
  kind: DerivativeKind,
  file: string,
  contentType: DerivativeFile['contentType'],
  picture: { width?: number; height?: number },
): Promise<DerivativeFile> {
  const [sha256, info] = await Promise.all([sha256File(file), stat(file)]);
  return {
    kind,
    path: file,
    sha256,
    bytes: info.size,
    contentType,
    width: picture.width ?? 0,
    height: picture.height ?? 0,
  };
}

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash, { signal });
  return hash.digest('hex');
}
