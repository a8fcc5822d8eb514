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
};

/** A context outside Temporal (benchmarks, tools): heartbeats go nowhere, cancellation via the given signal. */
export function standaloneContext(signal: AbortSignal = new AbortController().signal): ActivityContextPort {
  return { heartbeat: () => undefined, cancellationSignal: signal, attempt: 1, heartbeatDetails: undefined };
}
