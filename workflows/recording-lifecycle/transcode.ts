/**
 * The review derivatives (proxy, sprite, poster) from one ffmpeg run, beside the retention wait: a stuck or parked
 * transcode never delays deletion, and deletion cancels it and waits until it has really stopped.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { derivativesStoredDetails } from '../../domain/custody-log';
import type { DerivativeSet } from '../../domain/types';
import { lockToDeadline } from './retention';
import { runStage } from './stages';
import type { RecordingRun } from './state';

export interface RunningTranscode {
  /** Cancels the transcode (if it still runs) and waits until it has stopped. */
  stop(): Promise<void>;
}

export function startTranscode(run: RecordingRun): RunningTranscode {
  const { status, input } = run;
  const scope = new CancellationScope();
  const done =
    status.reviewReady || run.resumed || input.transcode === false
      ? Promise.resolve()
      : scope
          .run(async () => {
            run.setState('transcoding');
            const derivatives: DerivativeSet = await runStage(run, 'transcode', () =>
              run.activities.transcoder.transcodeRecording({
                recordingId: run.recordingId,
                original: status.original!,
                media: status.media!,
              }),
            );
            status.derivatives = derivatives;
            status.reviewReady = true;
            await run.log.append('system', 'derivatives.stored', derivativesStoredDetails(derivatives));
            await lockToDeadline(run); // marked as evidence while transcoding: the derivatives are locked too
            if (run.deletable() && !run.fixityParked())
              run.setState(run.activeHolds().length ? 'held' : 'retained');
          })
          .catch((err: unknown) => {
            if (!isCancellation(err)) throw err;
          });
  return {
    stop: async () => {
      scope.cancel();
      await done;
    },
  };
}
