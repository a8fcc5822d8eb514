/**
 * What ingest records about a recording, derived from ffprobe's answer. Pure: the ffprobe run lives in
 * ffmpeg.ts; this file decides what the answer means, so it is unit-tested without binaries.
 */
import { CorruptMediaError, NotMediaError, type MediaError } from './errors';

import type { MediaInfo } from '../../domain/types';
export type { MediaInfo };

/** The part of ffprobe's -show_streams -show_format answer we read (fluent-ffmpeg's parse of it). */
export interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: number | string;
  /** fluent-ffmpeg flattens the display-matrix side data block into the stream. */
  rotation?: number | string;
  tags?: Record<string, string | number | undefined>;
  disposition?: Record<string, number | undefined>;
}
export interface ProbeData {
  streams: ProbeStream[];
  format: { format_name?: string; duration?: number | string; bit_rate?: number | string };
}

// Formats and codecs ffprobe will happily "decode" that are not recordings.
const STILL_IMAGE_FORMAT = /(^|,)(image2|[a-z0-9]+_pipe)(,|$)/;
const TEXT_FORMATS = new Set(['tty']);
const TEXT_CODECS = new Set(['ansi', 'bintext', 'xbin', 'idf']);

export function mediaInfoFromProbe(data: ProbeData): MediaInfo {
  const container = data.format.format_name ?? 'unknown';
  const video = data.streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (!video) {
    const found = data.streams.map((s) => `${s.codec_type ?? '?'} ${s.codec_name ?? '?'}`).join(', ');
    throw new NotMediaError(`no video stream (container ${container}; streams: ${found || 'none'})`, {
      container,
    });
  }
  const videoCodec = video.codec_name ?? 'unknown';
  if (TEXT_FORMATS.has(container) || TEXT_CODECS.has(videoCodec)) {
    throw new NotMediaError(`text file, not a recording (ffprobe reads it as ${container}/${videoCodec})`, {
      container,
    });
  }
  if (STILL_IMAGE_FORMAT.test(container)) {
    throw new NotMediaError(`still image, not a recording (ffprobe reads it as ${container}/${videoCodec})`, {
      container,
    });
  }
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) {
    throw new NotMediaError(`video stream ${video.index} (${videoCodec}) has no picture size`, { container });
  }
  const durationS = firstPositive(data.format.duration, video.duration);
  if (durationS === null) {
    throw new NotMediaError(
      `no duration: neither the ${container} container nor its video stream declares one`,
      {
        container,
      },
    );
  }
  const audio = data.streams.find((s) => s.codec_type === 'audio');
  const rotation = normaliseRotation(video);
  const storedAspect = parseRatio(video.sample_aspect_ratio);
  // Non-square pixels (anamorphic sources): the displayed width is stretched, the height is kept.
  const unrotatedWidth =
    storedAspect !== null && storedAspect !== 1 ? Math.round(codedWidth * storedAspect) : codedWidth;
  const quarterTurn = rotation === 90 || rotation === 270;
  return {
    container,
    durationS,
    videoStreamIndex: video.index,
    videoCodec,
    audioStreamIndex: audio ? audio.index : null,
    audioCodec: audio ? (audio.codec_name ?? 'unknown') : null,
    hasAudio: audio !== undefined,
    width: quarterTurn ? codedHeight : unrotatedWidth,
    height: quarterTurn ? unrotatedWidth : codedHeight,
    codedWidth,
    codedHeight,
    rotation,
    fps: parseRatio(video.avg_frame_rate) ?? parseRatio(video.r_frame_rate),
    bitRate: firstPositive(data.format.bit_rate),
  };
}

/**
 * Why ffprobe could not open a file. An MP4 that starts like one (an `ftyp` box) but lacks its index
 * (`moov`) is a recording cut off before the camera finalised it: corrupt, not "not media". Anything
 * else ffprobe cannot open is not media.
 */
export function classifyProbeFailure(stderr: string, head: Buffer, sizeBytes: number): MediaError {
  if (sizeBytes === 0) return new NotMediaError('empty file (0 bytes)', { sizeBytes });
  const looksLikeIsoMedia = head.length >= 8 && head.subarray(4, 8).toString('latin1') === 'ftyp';
  const lastLine = lastMeaningfulLine(stderr);
  if (looksLikeIsoMedia && /moov atom not found/i.test(stderr)) {
    return new CorruptMediaError(
      'MP4 without its index (moov atom): the recording was cut off before the camera finalised it; ' +
        'nothing is decodable without the index (a repair tool with a reference file from the same camera may help)',
      { sizeBytes, ffprobe: lastLine },
    );
  }
  return new NotMediaError(`ffprobe cannot read it as media: ${lastLine}`, { sizeBytes, ffprobe: lastLine });
}

function lastMeaningfulLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !/^ffprobe exited with code/.test(line));
  // ffprobe prefixes the file path ("/tmp/x.mp4: Invalid data ..."); the path is not part of the reason.
  return (lines.at(-1) ?? 'no message').replace(/^.*?: (?=[A-Z])/, '');
}

function normaliseRotation(stream: ProbeStream): number {
  const raw = stream.rotation ?? stream.tags?.rotate;
  const degrees = Number(raw ?? 0);
  if (!Number.isFinite(degrees)) return 0;
  // ffmpeg's autorotate only acts within 1° of a quarter turn and ignores other angles; report what it applies.
  const quarter = Math.round(degrees / 90) * 90;
  if (Math.abs(degrees - quarter) >= 1) return 0;
  return ((quarter % 360) + 360) % 360;
}

function parseRatio(text: string | undefined): number | null {
  if (!text) return null;
  const match = /^(\d+(?:\.\d+)?)[/:](\d+(?:\.\d+)?)$/.exec(text);
  if (!match) return null;
  const numerator = Number(match[1]);
  const denominator = Number(match[2]);
  return numerator > 0 && denominator > 0 ? numerator / denominator : null;
}

function firstPositive(...values: (number | string | undefined)[]): number | null {
  for (const value of values) {
    const n = typeof value === 'number' ? value : Number(value);
    if (value !== undefined && Number.isFinite(n) && n > 0) return n;
  }
  return null;
}
