/**
 * What an ffmpeg run's end means. Pure, so the rules are unit-tested without binaries.
 *
 * Truncated recordings (the issue asks us to choose): a file cut off mid-stream whose index is readable
 * (MP4 with the moov at the front, fragmented MP4, AVI, MPEG-TS) gives a proxy of the readable part that
 * is flagged `partial` with the decoded and the declared duration. Reviewers can watch what exists; the
 * original stays untouched in the evidence store. An MP4 cut off before its index was written has nothing
 * decodable and fails as CorruptMedia already at probe time (see media-info.ts).
 */
import { CorruptMediaError, FfmpegFailedError, type MediaError } from './errors';

// Failures of the machine, not of the input: a retry elsewhere or later may succeed.
const ENVIRONMENT_FAILURE =
  /No space left on device|Cannot allocate memory|Input\/output error|Too many open files|Permission denied|Read-only file system|Resource temporarily unavailable/i;
// Messages of demuxers and decoders meeting data they cannot use.
const UNDECODABLE_INPUT =
  /Invalid data found when processing input|moov atom not found|Error while decoding stream|error while decoding MB|Invalid NAL unit|corrupt (input )?packet|Packet corrupt|partial file|no frame!|decode_slice_header error|Decoding error rate|does not contain any stream/i;
/** ffmpeg's exit code when more than -max_error_rate (2/3) of the frames failed to decode. */
const EXIT_TOO_MANY_DECODE_ERRORS = 69;

export interface FfmpegExit {
  exitCode: number | null;
  signal: string | null;
  /** The last lines ffmpeg wrote to stderr. */
  stderrTail: string;
}

export function classifyFfmpegFailure(exit: FfmpegExit): MediaError {
  const lastLine = lastLineOf(exit.stderrTail);
  const details = {
    exitCode: exit.exitCode,
    signal: exit.signal,
    stderrTail: tailLines(exit.stderrTail, 20),
  };
  if (exit.signal) {
    return new FfmpegFailedError(
      `ffmpeg was killed by ${exit.signal} from outside the worker (out of memory?)`,
      details,
    );
  }
  if (ENVIRONMENT_FAILURE.test(exit.stderrTail)) {
    return new FfmpegFailedError(`ffmpeg failed on the machine, not on the input: ${lastLine}`, details);
  }
  if (exit.exitCode === EXIT_TOO_MANY_DECODE_ERRORS) {
    return new CorruptMediaError(
      `undecodable recording: more than 2/3 of its frames failed to decode (${lastLine})`,
      details,
    );
  }
  if (UNDECODABLE_INPUT.test(exit.stderrTail)) {
    return new CorruptMediaError(`undecodable recording: ${lastLine}`, details);
  }
  return new FfmpegFailedError(`ffmpeg exited with code ${String(exit.exitCode)}: ${lastLine}`, details);
}

export interface PartialDecode {
  declaredS: number;
  decodedS: number;
  reason: string;
}

/**
 * A proxy noticeably shorter than the container declares means ffmpeg hit the end of readable data
 * early. The tolerance absorbs audio/video length differences and the last frame's duration.
 */
export function detectPartialDecode(
  declaredS: number,
  decodedS: number,
  firstErrorLine: string | undefined,
): PartialDecode | null {
  const toleranceS = Math.max(0.5, declaredS * 0.02);
  if (decodedS >= declaredS - toleranceS) return null;
  const ffmpegSaid = firstErrorLine ? ` (ffmpeg: ${stripContext(firstErrorLine)})` : '';
  return {
    declaredS,
    decodedS,
    reason:
      `decoded ${decodedS.toFixed(2)} s of the ${declaredS.toFixed(2)} s the container declares: ` +
      `the recording appears truncated${ffmpegSaid}`,
  };
}

function stripContext(line: string): string {
  // "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55…] stream 1, offset 0x59dc94: partial file" → "stream 1, …: partial file"
  return line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').trim();
}

function lastLineOf(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return stripContext(lines.at(-1) ?? 'no message on stderr');
}

function tailLines(text: string, count: number): string {
  return text.split(/\r?\n/).slice(-count).join('\n');
}
