/**
 * The exact ffmpeg command for one recording: ONE decode feeding three outputs through a split filter
 * graph, so the sprite and poster ride on the proxy's decode instead of reading the file again.
 *
 *   [0:v] ─ (autorotate) ─ scale ─ setsar ─ yuv420p ─ split ─┬─ proxy.mp4   H.264 + AAC, +faststart
 *                                                            ├─ sprite.jpg  a small tile every N s, C×R mosaic
 *                                                            └─ poster.jpg  first frame at min(2 s, 10 %)
 *
 * Pure and deterministic: the same profile, media and paths give the same arguments, which are recorded
 * with every derivative. Sizes are computed here from the probed display size rather than left to ffmpeg
 * expressions, so the recorded arguments say exactly what was made.
 */
import path from 'node:path';
import type { MediaInfo } from './media-info';
import type { TranscodeProfile } from './profile';

export const OUTPUT_FILE_NAMES = { proxy: 'proxy.mp4', sprite: 'sprite.jpg', poster: 'poster.jpg' } as const;
export type DerivativeKind = keyof typeof OUTPUT_FILE_NAMES;

/** The arguments grouped the way fluent-ffmpeg assembles a command line (see ffmpeg.ts). */
export interface FfmpegInvocation {
  /** Global options; ffmpeg reads global options in any position, fluent-ffmpeg only offers this one. */
  beforeInput: string[];
  input: string;
  filterComplex: string;
  outputs: { kind: DerivativeKind; options: string[]; target: string }[];
}

export interface SpriteLayout {
  /** Seconds of recording between tiles: tile i (row by row) shows the frame nearest i × intervalS. */
  intervalS: number;
  tiles: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

export interface TranscodePlan {
  /** The exact argument list given to ffmpeg (without the program name). */
  args: string[];
  /** `args` with paths replaced by <input>, <proxy>, <sprite>, <poster>: stable across attempts, for the record. */
  recordedArgs: string[];
  invocation: FfmpegInvocation;
  inputPath: string;
  outputs: Record<DerivativeKind, string>;
  /** The probed duration, for progress and to notice a truncated decode. */
  expectedDurationS: number;
  hasAudio: boolean;
  proxy: { width: number; height: number };
  sprite: SpriteLayout;
  poster: { atS: number };
}

// JPEG cannot exceed 65535 px a side; stay far below so sprites remain easy to load in a browser.
const MAX_SPRITE_HEIGHT = 16_000;

export function buildTranscodePlan(
  profile: TranscodeProfile,
  media: MediaInfo,
  paths: { inputPath: string; outputDir: string },
): TranscodePlan {
  for (const [name, value] of Object.entries(paths)) {
    // ffmpeg reads a leading "name:" as a protocol (concat:, http:); absolute paths never look like one.
    if (!path.isAbsolute(value)) throw new Error(`${name} must be an absolute path, got "${value}"`);
  }
  const outputs: Record<DerivativeKind, string> = {
    proxy: path.join(paths.outputDir, OUTPUT_FILE_NAMES.proxy),
    sprite: path.join(paths.outputDir, OUTPUT_FILE_NAMES.sprite),
    poster: path.join(paths.outputDir, OUTPUT_FILE_NAMES.poster),
  };
  if (Object.values(outputs).includes(path.normalize(paths.inputPath))) {
    throw new Error(
      `input ${paths.inputPath} would be overwritten by an output; name it other than proxy/sprite/poster`,
    );
  }
  const proxy = proxySize(media.width, media.height, profile.maxShortSide);
  const sprite = spriteLayout(profile, media.durationS, proxy);
  const posterAtS = roundMs(Math.min(profile.posterAtS, media.durationS * 0.1));

  const filterComplex = [
    // ffmpeg 5.1 autorotates decoded frames before this graph and then drops the rotation tag, so the
    // sizes below are display sizes and the proxy plays upright everywhere.
    `[0:${media.videoStreamIndex}]scale=${proxy.width}:${proxy.height},setsar=1,format=yuv420p,` +
      `split=3[proxy][sprite_src][poster_src]`,
    sprite.filter,
    // The second trim ends the branch after one frame, so split stops feeding it (no frames pile up).
    `[poster_src]trim=start=${posterAtS},trim=end_frame=1[poster]`,
  ].join(';');

  // AAC only when the source has audio; without a -map for it the proxy simply has no audio stream.
  const audioMap = media.audioStreamIndex !== null ? ['-map', `0:${media.audioStreamIndex}`] : [];
  const audioCodec =
    media.audioStreamIndex !== null ? ['-c:a', 'aac', '-b:a', `${profile.audioBitrateK}k`] : [];
  const jpeg = ['-c:v', 'mjpeg', '-q:v', String(profile.imageQuality)];
  const invocation: FfmpegInvocation = {
    beforeInput: ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1'],
    input: paths.inputPath,
    filterComplex,
    outputs: [
      {
        kind: 'proxy',
        options: [
          '-map',
          '[proxy]',
          ...audioMap,
          '-c:v',
          'libx264',
          '-preset',
          profile.preset,
          '-crf',
          String(profile.crf),
          ...audioCodec,
          // Keep the source's frame timing (variable frame rate stays variable; no duplicated frames).
          '-fps_mode:v',
          'vfr',
          '-movflags',
          '+faststart',
          '-f',
          'mp4',
        ],
        target: outputs.proxy,
      },
      // Each new sprite mosaic overwrites the file (-update 1); the last one is complete.
      {
        kind: 'sprite',
        options: ['-map', '[sprite]', ...jpeg, '-update', '1', '-f', 'image2'],
        target: outputs.sprite,
      },
      {
        kind: 'poster',
        options: ['-map', '[poster]', '-frames:v', '1', ...jpeg, '-f', 'image2'],
        target: outputs.poster,
      },
    ],
  };
  const args = flattenInvocation(invocation);
  const placeholders = new Map<string, string>([
    [paths.inputPath, '<input>'],
    [outputs.proxy, '<proxy>'],
    [outputs.sprite, '<sprite>'],
    [outputs.poster, '<poster>'],
  ]);
  return {
    args,
    recordedArgs: args.map((arg) => placeholders.get(arg) ?? arg),
    invocation,
    inputPath: paths.inputPath,
    outputs,
    expectedDurationS: media.durationS,
    hasAudio: media.hasAudio,
    proxy,
    sprite: spriteLayoutOnly(sprite),
    poster: { atS: posterAtS },
  };
}

/** The argument order fluent-ffmpeg produces: input options, -i, -y (file outputs), graph, outputs. */
export function flattenInvocation(invocation: FfmpegInvocation): string[] {
  return [
    ...invocation.beforeInput,
    '-i',
    invocation.input,
    '-y',
    '-filter_complex',
    invocation.filterComplex,
    ...invocation.outputs.flatMap((output) => [...output.options, output.target]),
  ];
}

/** Fit the shorter displayed side into maxShortSide, keep the aspect, never upscale, even sizes. */
export function proxySize(width: number, height: number, maxShortSide: number) {
  const factor = Math.min(1, maxShortSide / Math.min(width, height));
  return { width: even(width * factor), height: even(height * factor) };
}

function spriteLayout(
  profile: TranscodeProfile,
  durationS: number,
  proxy: { width: number; height: number },
): SpriteLayout & { filter: string } {
  const tileWidth = Math.min(profile.spriteTileWidth, proxy.width);
  const tileHeight = even((tileWidth * proxy.height) / proxy.width);
  const maxRows = Math.max(1, Math.floor(MAX_SPRITE_HEIGHT / tileHeight));
  const maxTiles = Math.min(profile.spriteMaxTiles, maxRows * profile.spriteColumns);
  // fps=1/N:eof_action=pass yields the frames nearest 0, N, 2N, …: ceil(d/N) ≤ floor(d/N)+1 of them
  // (without eof_action=pass a clip shorter than N/2 yields none). Long recordings widen N so that the
  // count stays within maxTiles (N > d/maxTiles).
  const intervalS = Math.max(profile.spriteIntervalS, Math.floor(durationS / maxTiles) + 1);
  const tiles = Math.floor(durationS / intervalS) + 1;
  const columns = Math.min(tiles, profile.spriteColumns);
  const rows = Math.ceil(tiles / columns);
  const cells = columns * rows;
  // ffmpeg writes no progress report before every output has started, and a plain tile filter starts
  // its output only when the mosaic is full, at the very end. So the mosaic rolls instead: it starts
  // with cells-1 empty cells and emits after every frame (overlap), and exactly `cells` frames go in
  // (the real ones, then black padding, cut at `cells`), which leaves the last mosaic laid out from the
  // top left like a plain tile, with black cells after the end of the recording.
  const filter =
    `[sprite_src]fps=1/${intervalS}:eof_action=pass,scale=${tileWidth}:${tileHeight},` +
    `tpad=stop=${cells}:color=black,trim=end_frame=${cells},` +
    `tile=${columns}x${rows}:overlap=${cells - 1}:init_padding=${cells - 1}[sprite]`;
  return { intervalS, tiles, columns, rows, tileWidth, tileHeight, filter };
}

function spriteLayoutOnly({
  intervalS,
  tiles,
  columns,
  rows,
  tileWidth,
  tileHeight,
}: SpriteLayout): SpriteLayout {
  return { intervalS, tiles, columns, rows, tileWidth, tileHeight };
}

function even(value: number): number {
  return Math.max(2, 2 * Math.round(value / 2));
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
