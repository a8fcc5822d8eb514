/**
 * A lifecycle proxy offers exactly the activities its pool's workers register (domain/pools.ts): an activity
 * called on another pool's queue would wait for ever for a worker, so it must not compile. `npm run lint` runs
 * tsc over this file; the @ts-expect-error lines fail it if a wrong-queue call ever type-checks.
 */
import { POOL_ACTIVITIES, poolOf } from '../../domain/pools';
import type { LifecycleProxies } from '../../workflows/recording-lifecycle/proxies';
import type { PoolActivities } from '../../workflows/pool-activities';

type Transcoder = LifecycleProxies['transcoder'];
type MediaIo = LifecycleProxies['mediaIo'];

export type WrongQueueCalls = [
  // @ts-expect-error storeOriginal runs on media-io, not on the transcode queue
  Transcoder['storeOriginal'],
  // @ts-expect-error transcodeRecording runs on the transcode queue, not on media-io
  MediaIo['transcodeRecording'],
  // @ts-expect-error appendCustodyEntry runs on orchestration, not on media-io
  PoolActivities<'media-io'>['appendCustodyEntry'],
];
export type RightQueueCalls = [Transcoder['transcodeRecording'], MediaIo['storeOriginal']];

test('every activity belongs to exactly one pool', () => {
  const names = Object.values(POOL_ACTIVITIES).flat();
  expect(new Set(names).size).toBe(names.length);
  expect(poolOf('transcodeRecording')).toBe('transcode');
  expect(poolOf('deleteAndCertify')).toBe('media-io');
  expect(poolOf('resolveRulePack')).toBe('orchestration');
});
