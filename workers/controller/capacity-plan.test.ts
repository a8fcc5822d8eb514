import path from 'node:path';
import { loadCapacityPolicy, type CapacityPolicy } from './capacity-policy';
import { planCapacity, PlanInputError } from './capacity-plan';

let policy: CapacityPolicy;
beforeAll(async () => {
  policy = await loadCapacityPolicy(
    path.join(__dirname, '..', '..', 'policies', 'capacity', 'capacity.yaml'),
  );
});

test('BW-sized load: 1,350 cameras × 60 min/day at 8 Mbit/s, with every step shown', () => {
  const plan = planCapacity(policy, { cameras: 1350, minutesPerDay: 60 });
  expect(plan.input).toEqual({ cameras: 1350, minutesPerDay: 60, bitrateMbps: 8, profile: '1080p30' });
  // 1350 × 60 × 60 = 4,860,000 s of video a day.
  expect(plan.videoSecondsPerDay).toBe(4_860_000);
  // × 8 Mbit/s ÷ 8 = 4.86 TB a day.
  expect(plan.bytesPerDay).toBe(4.86e12);
  // 1350 × 60 ÷ 10 min = 8,100 recordings a day.
  expect(plan.recordingsPerDay).toBe(8100);
  const byPool = Object.fromEntries(plan.pools.map((p) => [p.pool, p]));
  // transcode: 4,860,000 ÷ (1.79 × 28,800) = 94.27 → × 1.5 = 141.41 → 142 (above max 4).
  expect(byPool.transcode).toMatchObject({ needed: 94.2737, replicas: 142, exceedsMax: true });
  expect(byPool.transcode?.steps).toEqual([
    '1350 cameras × 60 min/day × 60 = 4,860,000 s of video/day',
    '÷ (1.79× real time per worker × 28,800 s window) = 94.27 workers',
    '× headroom 1.5 = 141.41 → 142 (above maxReplicas 4: raise it in the policy)',
  ]);
  // media-io: 4.86e12 ÷ (283e6 × 28,800) = 0.5963 → × 1.5 = 0.89 → 1.
  expect(byPool['media-io']).toMatchObject({ needed: 0.5963, replicas: 1, exceedsMax: false });
  expect(byPool['media-io']?.steps[0]).toBe('4,860,000 s × 8 Mbit/s ÷ 8 = 4,860 GB/day');
  // orchestration: 8,100 ÷ (36,000 × 8) = 0.0281 → × 1.5 = 0.04 → 1 → minReplicas 2.
  expect(byPool.orchestration).toMatchObject({ needed: 0.0281, replicas: 2 });
  expect(byPool.orchestration?.source.measured).toBe(true);
});

test('a small KOD pilot: the pools’ minimums cover it; transcode needs one worker', () => {
  const plan = planCapacity(policy, { cameras: 10, minutesPerDay: 30, bitrateMbps: 6, profile: '720p30' });
  const byPool = Object.fromEntries(plan.pools.map((p) => [p.pool, p]));
  // 10 × 30 × 60 = 18,000 s ÷ (1.79 × 28,800) = 0.349 → × 1.5 = 0.52 → 1.
  expect(byPool.transcode).toMatchObject({ needed: 0.3492, replicas: 1 });
  // 18,000 s × 6 Mbit/s ÷ 8 = 13.5 GB ÷ (283 MB/s × 28,800 s) = 0.0017 → 1, which is media-io's minimum.
  expect(byPool['media-io']).toMatchObject({ replicas: 1 });
  // orchestration: 30 recordings ÷ (36,000 × 8) = 0.0001 → 1 → minReplicas 2.
  expect(byPool.orchestration?.replicas).toBe(2);
  expect(byPool.orchestration?.steps.at(-1)).toBe('× headroom 1.5 = 0 → 1 → minReplicas 2');
});

test('bad input is refused with the flag and the expected form', () => {
  expect(() => planCapacity(policy, { cameras: 0, minutesPerDay: 2000, profile: '4k' })).toThrow(
    PlanInputError,
  );
  expect(() => planCapacity(policy, { cameras: 0, minutesPerDay: 2000, profile: '4k' })).toThrow(
    /--cameras 0: expected a whole number ≥ 1; --minutes-per-day 2000: .*≤ 1440; --profile 4k: not in .*capacity\.yaml \(plan\.profiles: 1080p30, 720p30\)/,
  );
});
