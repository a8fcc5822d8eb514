/**
 * A stage that fails parks the recording instead of failing the workflow: a failed workflow would drop out of the
 * deadline's watch. An administrator's replay runs the stage again from its start.
 */
import { ActivityFailure, ApplicationFailure, condition } from '@temporalio/workflow';
import type { LastError, QuarantineReason, Stage } from '../../domain/types';
import { cancellationPassesThrough } from './legacy';
import { replays, type RecordingRun } from './state';

/** Errors that are facts about the input, not passing faults: at ingest, the recording goes to quarantine. */
export const QUARANTINE_ERRORS: Record<string, QuarantineReason> = {
  NotMedia: 'not-media',
  CorruptMedia: 'unreadable',
};

export function quarantineReasonOf(err: unknown): QuarantineReason | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return QUARANTINE_ERRORS[err.cause.type ?? ''];
  }
  return undefined;
}

/**
 * Runs one stage; when its retries run out, parks the recording in needs-attention (never a failed
 * workflow) until an administrator's replay, then runs the stage again from its start.
 */
export async function runStage<T>(run: RecordingRun, stage: Stage, body: () => Promise<T>): Promise<T> {
  for (let replayed = false; ; replayed = true) {
    try {
      const result = await body();
      if (replayed) {
        replays.add(1, { stage, outcome: 'succeeded' });
        delete run.status.lastError; // what failed before is in the custody log, not the current status
      }
      return result;
    } catch (err) {
      if (replayed) replays.add(1, { stage, outcome: 'failed-again' });
      // A cancelled stage (deletion came first) is not a failure; at ingest, facts about the input go to
      // quarantine (the caller handles them), not to a replay queue.
      const failure = stageFailure(err);
      if (!failure) throw err;
      if (err instanceof ActivityFailure && cancellationPassesThrough(err)) throw err;
      if (stage === 'ingest' && quarantineReasonOf(err)) throw err;
      const lastError: LastError = { stage, ...failure, at: new Date().toISOString() };
      run.status.lastError = lastError;
      const before = run.status.state;
      run.setState('needs-attention', stage);
      await run.log.append('system', 'stage.failed', { ...lastError });
      await condition(() => run.replayRequested);
      run.replayRequested = false;
      run.setState(
        before === 'needs-attention' ? (stage === 'ingest' ? 'ingesting' : 'transcoding') : before,
      );
    }
  }
}

/**
 * What failed, when `err` is an activity's failure (an ActivityFailure around its cause; local activities' failures
 * are wrapped the same way by proxies.ts). Anything else is the workflow's own error and fails the workflow.
 */
function stageFailure(err: unknown): Pick<LastError, 'type' | 'message' | 'attempts'> | undefined {
  if (!(err instanceof ActivityFailure)) return undefined;
  const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
  return {
    type: cause?.type ?? err.cause?.name ?? 'ActivityFailure',
    message: err.cause?.message ?? err.message,
    attempts: attemptOf(cause),
  };
}

/** The attempt number activities attach to their failures (activities/index.ts). */
function attemptOf(failure: ApplicationFailure | undefined): number {
  const details = (failure?.details ?? []) as { attempt?: unknown }[];
  const attempt = details.map((d) => d?.attempt).find((a) => typeof a === 'number');
  return typeof attempt === 'number' ? attempt : 1;
}
