/**
 * The activities a lifecycle calls, one proxy per pool and kind, each typed with exactly the activities of its pool
 * (domain/pools.ts): calling a media-io activity through the transcode proxy is a type error, not a task that no
 * worker polls.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { CustodyActivities } from '../../activities';
import type { LifecycleTaskQueues } from '../../domain/pools';
import type { PoolActivities } from '../pool-activities';
import { lookupsProxy } from './legacy';

/** Read-only orchestration activities that may run locally, in the workflow's own worker. */
export type LookupActivities = Pick<CustodyActivities, 'resolveRulePack' | 'recordingObjectKeys'>;

const lightRetry = { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' };

export function lifecycleProxies(queues: LifecycleTaskQueues) {
  const mediaIoOptions = {
    taskQueue: queues.mediaIo,
    startToCloseTimeout: '4h',
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 5, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  } as const;
  const mediaIo = proxyActivities<PoolActivities<'media-io'>>(mediaIoOptions);
  // The same activities for ingest when its deadline may cancel it: deletion must not start while a copy into
  // the evidence or quarantine store still runs, so a cancellation waits until the activity has really stopped.
  const mediaIoUntilStopped = proxyActivities<PoolActivities<'media-io'>>({
    ...mediaIoOptions,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const transcoder = proxyActivities<PoolActivities<'transcode'>>({
    taskQueue: queues.transcode,
    startToCloseTimeout: '6h',
    heartbeatTimeout: '1m',
    // Deletion must not start while ffmpeg or an upload still runs: wait until the activity has really stopped.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 3, initialInterval: '10s', backoffCoefficient: 3, maximumInterval: '5m' },
  });
  const light = proxyActivities<PoolActivities<'orchestration'>>({
    taskQueue: queues.orchestration,
    startToCloseTimeout: '1m',
    retry: lightRetry,
  });
  // Rule-pack lookups and key listings only read: as local activities they cost no task-queue round trip.
  // (Log appends and the certificate stay regular activities: their inputs must be fixed in history, or a
  // re-run workflow task would write them again with another clock, or in another order.)
  const lookups: LookupActivities = lookupsProxy(
    asActivityFailures(
      proxyLocalActivities<LookupActivities>({ startToCloseTimeout: '1m', retry: lightRetry }),
    ),
    light,
  );
  // The custody log waits out a store outage rather than fail the recording's workflow.
  const log = proxyActivities<Pick<CustodyActivities, 'appendCustodyEntry' | 'appendCustodyEntries'>>({
    taskQueue: queues.orchestration,
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '1m' },
  });
  const logLookups = proxyLocalActivities<Pick<CustodyActivities, 'custodyLogHead'>>({
    startToCloseTimeout: '1m',
    retry: lightRetry,
  });
  // A policy change's pack, resolved by this worker from its own store (only ever called by new Update handlers).
  const policyLookups = asActivityFailures(
    proxyLocalActivities<Pick<CustodyActivities, 'resolvePolicyChange'>>({
      startToCloseTimeout: '1m',
      retry: lightRetry,
    }),
  );
  return { mediaIo, mediaIoUntilStopped, transcoder, light, lookups, log, logLookups, policyLookups };
}

export type LifecycleProxies = ReturnType<typeof lifecycleProxies>;

/**
 * A local activity's failure reaches the workflow as the bare ApplicationFailure its retries ended with, where a
 * regular activity's comes wrapped in an ActivityFailure. Wrapped alike, a failed lookup parks its stage like any
 * activity (stages.ts), while an error of the workflow's own code still fails the workflow.
 */
function asActivityFailures<T extends object>(activities: T): T {
  return new Proxy(activities, {
    get(target, name, receiver) {
      const call = Reflect.get(target, name, receiver) as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) =>
        call(...args).catch((err: unknown) => {
          if (!(err instanceof ApplicationFailure)) throw err;
          throw new ActivityFailure(
            err.message,
            String(name),
            undefined,
            RetryState.MAXIMUM_ATTEMPTS_REACHED,
            undefined,
            err,
          );
        });
    },
  });
}
