/**
 * Pools split work by the resource it needs: `orchestration` runs workflow tasks and light activities
 * (custody-log appends, lookups), `media-io` moves and hashes bytes, `transcode` runs ffmpeg with low concurrency
 * per process; `controller` is the capacity controller (no task queue). Each worker pool polls its own task queue,
 * so each scales on its own backlog.
 *
 * This map is the one list of which activity runs where: workers register exactly these
 * (workers/pools.ts), activities/index.ts checks that every activity it builds is in it, and the lifecycle's
 * proxies are typed per pool from it, so calling a media-io activity on the transcode queue is a type error.
 */
export const POOL_NAMES = ['orchestration', 'media-io', 'transcode', 'controller'] as const;
export type PoolName = (typeof POOL_NAMES)[number];
export type WorkerPool = Exclude<PoolName, 'controller'>;

export const POOL_ACTIVITIES = {
  orchestration: [
    'appendCustodyEntry',
    'appendCustodyEntries',
    'custodyLogHead',
    'sweepInbox',
    'resolveRulePack',
    'resolvePolicyChange',
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
} as const satisfies Record<WorkerPool, readonly string[]>;

/** The activities of one pool, by name. */
export type PoolActivityName<P extends WorkerPool> = (typeof POOL_ACTIVITIES)[P][number];
export type ActivityName = PoolActivityName<WorkerPool>;

/** The pool whose task queue runs an activity. */
export function poolOf(activity: ActivityName): WorkerPool {
  for (const [pool, names] of Object.entries(POOL_ACTIVITIES) as [WorkerPool, readonly string[]][]) {
    if (names.includes(activity)) return pool;
  }
  throw new Error(`activity ${activity} belongs to no pool`);
}

/** The task queue of each pool a lifecycle dispatches to (`<prefix>-<pool>`, from config: workflows read no env). */
export interface LifecycleTaskQueues {
  orchestration: string;
  mediaIo: string;
  transcode: string;
}
