/**
 * Typed failures of the media layer. `type` is meant to become the Temporal ApplicationFailure type
 * (ApplicationFailure.create({ type: err.type, nonRetryable: err.nonRetryable, message: err.message,
 * details: [err.details] })); the media layer itself stays free of Temporal imports.
 */

export type MediaErrorType =
  'NotMedia' | 'CorruptMedia' | 'InsufficientTempSpace' | 'FfmpegFailed' | 'TranscodeCancelled';

export abstract class MediaError extends Error {
  abstract readonly type: MediaErrorType;
  /** false = a retry may succeed (resources, crashes); true = the input itself is the problem. */
  abstract readonly nonRetryable: boolean;
  constructor(
    message: string,
    /** Machine-readable facts for the custody log and for Temporal failure details. */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The file is not a video recording at all (random bytes, text, still image, audio only). */
export class NotMediaError extends MediaError {
  readonly type = 'NotMedia';
  readonly nonRetryable = true;
}

/** The file is a recording, but it cannot be decoded (truncated before its index, broken bitstream). */
export class CorruptMediaError extends MediaError {
  readonly type = 'CorruptMedia';
  readonly nonRetryable = true;
}

/** Not enough free space where the attempt would write; retryable, other attempts may free space. */
export class InsufficientTempSpaceError extends MediaError {
  readonly type = 'InsufficientTempSpace';
  readonly nonRetryable = false;
}

/** ffmpeg failed for a reason that is not the input's fault (disk full, killed, crashed). */
export class FfmpegFailedError extends MediaError {
  readonly type = 'FfmpegFailed';
  readonly nonRetryable = false;
}

/** Thrown after a cancelled run's ffmpeg process has exited, when the AbortSignal gave no Error reason. */
export class TranscodeCancelledError extends MediaError {
  readonly type = 'TranscodeCancelled';
  readonly nonRetryable = true;
}
