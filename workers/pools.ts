/**
 * Pools split work by the resource it needs: `orchestration` runs workflow tasks and light activities
 * (custody-log appends), `media-io` moves and hashes bytes, `transcode` runs ffmpeg with low concurrency per
 * process. Each pool polls its own task queue, so each scales on its own backlog.
 */
import type { CustodyActivities } from '../activities';
import type { CustodyConfig, PoolName } from './config';

export type WorkerPool = Exclude<PoolName, 'controller'>;

export const POOL_ACTIVITIES: Record<WorkerPool, readonly (keyof CustodyActivities)[]> = {
  orchestration: [
    'appendCustodyEntry',
    'appendCustodyEntries',
    'custodyLogHead',
    'sweepInbox',
    'resolveRulePack',
    'recordingObjectKeys',
    'writeCertificate',
    'selectFixityCandidates',
  ],
  'media-io': [
    'storeOriginal',
    'copyAndHashOriginal',
    'probeMedia',
    'quarantineRecording',
    'removeFromInbox',
    'lockEvidence',
    'deleteRecording',
    'deleteAndCertify',
    'checkRecordingFixity',
  ],
  transcode: ['transcodeRecording'],
};

export interface PoolPlan {
  pool: WorkerPool;
  taskQueue: string;
  runsWorkflows: boolean;
  activities: Partial<CustodyActivities>;
  maxConcurrentActivities: number;
}

export function planPools(config: CustodyConfig, activities: CustodyActivities): PoolPlan[] {
  return (
    config.pools
      .filter((pool): pool is WorkerPool => pool !== 'controller')
      .map((pool) => ({
        pool,
        taskQueue: config.taskQueues[pool],
        runsWorkflows: pool === 'orchestration',
        activities: Object.fromEntries(POOL_ACTIVITIES[pool].map((name) => [name, activities[name]])),
        maxConcurrentActivities: config.concurrency[pool],
      }))
      // A pool with nothing to run (yet) would be rejected by the SDK.
      .filter((plan) => plan.runsWorkflows || Object.keys(plan.activities).length > 0)
  );
}

/** The task queues a lifecycle workflow dispatches to, from config (workflows read no environment). */
export function lifecycleTaskQueues(config: CustodyConfig) {
  return {
    orchestration: config.taskQueues.orchestration,
    mediaIo: config.taskQueues['media-io'],
    transcode: config.taskQueues.transcode,
  };
}
