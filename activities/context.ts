/**
 * The little of Temporal's activity context that activities use, as a port, so the same activity code runs
 * inside a worker (Context.current()) and in benchmarks or unit tests of pure logic.
 */
import { Context } from '@temporalio/activity';

export interface ActivityContextPort {
  heartbeat(details?: unknown): void;
  readonly cancellationSignal: AbortSignal;
  /** 1 on the first attempt. */
  readonly attempt: number;
  readonly heartbeatDetails: unknown;
  /** The heartbeat timeout the caller set; undefined when none (or outside Temporal). */
  readonly heartbeatTimeoutMs?: number | undefined;
}

export const temporalActivityContext: ActivityContextPort = {
  heartbeat: (details) => Context.current().heartbeat(details),
  get cancellationSignal() {
    return Context.current().cancellationSignal;
  },
  get attempt() {
    return Context.current().info.attempt;
  },
  get heartbeatDetails() {
    return Context.current().info.heartbeatDetails as unknown;
  },
  get heartbeatTimeoutMs() {
    return Context.current().info.heartbeatTimeoutMs;
  },
};

/** A context outside Temporal (benchmarks, tools): heartbeats go nowhere, cancellation via the given signal. */
export function standaloneContext(signal: AbortSignal = new AbortController().signal): ActivityContextPort {
  return { heartbeat: () => undefined, cancellationSignal: signal, attempt: 1, heartbeatDetails: undefined };
}

/** The longest gap between heartbeats of work in progress, whatever the heartbeat timeout. */
export const MAX_HEARTBEAT_INTERVAL_MS = 5000;

/**
 * A heartbeat for work that reports progress often (bytes arriving, ffmpeg's progress lines): call it on every
 * step; it sends one once the last is MAX_HEARTBEAT_INTERVAL_MS old, or a quarter of the heartbeat timeout if
 * that is shorter, so a slow step never lets the timeout pass. `details` is built only when one goes out.
 */
export function throttledHeartbeat(
  context: ActivityContextPort,
  now: () => number = Date.now,
): (details: () => unknown) => void {
  const timeoutMs = context.heartbeatTimeoutMs;
  const intervalMs = timeoutMs
    ? Math.min(MAX_HEARTBEAT_INTERVAL_MS, timeoutMs / 4)
    : MAX_HEARTBEAT_INTERVAL_MS;
  let last = now();
  return (details) => {
    const at = now();
    if (at - last < intervalMs) return;
    last = at;
    context.heartbeat(details());
  };
}
