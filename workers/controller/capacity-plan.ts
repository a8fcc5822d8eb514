/**
 * `custody capacity plan`, pure: workers per pool for a site's recording load, from the capacity policy's
 * measured throughputs, with headroom, and every step of the arithmetic as text a person can check.
 *
 *   seconds of video a day  = cameras × minutes per camera a day × 60
 *   transcode workers       = seconds ÷ (real-time factor × window seconds) × headroom
 *   media-io workers        = bytes (seconds × Mbit/s ÷ 8) ÷ (MB/s × 10⁶ × window seconds) × headroom
 *   orchestration replicas  = recordings a day ÷ (recordings per hour × window hours) × headroom
 * each rounded up and raised to the pool's minReplicas.
 */
import { CAPACITY_POOLS, type CapacityPolicy, type CapacityPool } from './capacity-policy';

export interface PlanInput {
  cameras: number;
  minutesPerDay: number;
  /** Overrides the profile's bitrate. */
  bitrateMbps?: number;
  /** A profile of the policy's plan.profiles; default plan.defaultProfile. */
  profile?: string;
}

export interface PoolPlan {
  pool: CapacityPool;
  /** Replicas the load needs before headroom (unrounded). */
  needed: number;
  /** ceil(needed × headroom), at least minReplicas. */
  replicas: number;
  minReplicas: number;
  maxReplicas: number;
  /** True when replicas is above the policy's maxReplicas: raise it, or the backlog will grow. */
  exceedsMax: boolean;
  /** The arithmetic, one line per step. */
  steps: string[];
  /** Where the throughput figure comes from, and whether it was measured. */
  source: { value: number; unit: string; measured: boolean; text: string };
}

export interface CapacityPlan {
  input: Required<PlanInput>;
  headroom: number;
  processingWindowHours: number;
  videoSecondsPerDay: number;
  bytesPerDay: number;
  recordingsPerDay: number;
  pools: PoolPlan[];
}

export class PlanInputError extends Error {
  override name = 'PlanInputError';
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));
const fmt = (value: number) => round(value).toLocaleString('en-US', { maximumFractionDigits: 2 });

export function planCapacity(policy: CapacityPolicy, input: PlanInput): CapacityPlan {
  const problems: string[] = [];
  if (!Number.isInteger(input.cameras) || input.cameras < 1)
    problems.push(`--cameras ${input.cameras}: expected a whole number ≥ 1`);
  if (!Number.isFinite(input.minutesPerDay) || input.minutesPerDay <= 0 || input.minutesPerDay > 1440)
    problems.push(
      `--minutes-per-day ${input.minutesPerDay}: expected minutes per camera a day, > 0 and ≤ 1440`,
    );
  if (input.bitrateMbps !== undefined && !(input.bitrateMbps > 0 && input.bitrateMbps <= 200))
    problems.push(`--bitrate-mbps ${input.bitrateMbps}: expected Mbit/s > 0 and ≤ 200`);
  const profileName = input.profile ?? policy.plan.defaultProfile;
  const profile = policy.plan.profiles[profileName];
  if (!profile) {
    problems.push(
      `--profile ${profileName}: not in ${policy.file} (plan.profiles: ${Object.keys(policy.plan.profiles).join(', ')})`,
    );
  }
  if (problems.length > 0 || !profile) throw new PlanInputError(problems.join('; '));

  const { headroom, processingWindowHours } = policy.plan;
  const windowSeconds = processingWindowHours * 3600;
  const bitrateMbps = input.bitrateMbps ?? profile.bitrateMbps;
  const videoSecondsPerDay = input.cameras * input.minutesPerDay * 60;
  const bytesPerDay = (videoSecondsPerDay * bitrateMbps * 1e6) / 8;
  const recordingsPerDay = Math.ceil((input.cameras * input.minutesPerDay) / profile.averageRecordingMinutes);
  const load = `${input.cameras} cameras × ${fmt(input.minutesPerDay)} min/day × 60 = ${fmt(videoSecondsPerDay)} s of video/day`;

  const finish = (
    pool: CapacityPool,
    needed: number,
    steps: string[],
    source: PoolPlan['source'],
  ): PoolPlan => {
    const rules = policy.pools[pool];
    const withHeadroom = needed * headroom;
    // round() first, so that 2.0000000001 from floating point does not become 3.
    const rounded = Math.ceil(round(withHeadroom, 6));
    const replicas = Math.max(rules.minReplicas, rounded);
    const bounded = rounded < rules.minReplicas ? ` → minReplicas ${rules.minReplicas}` : '';
    return {
      pool,
      needed: round(needed, 4),
      replicas,
      minReplicas: rules.minReplicas,
      maxReplicas: rules.maxReplicas,
      exceedsMax: replicas > rules.maxReplicas,
      steps: [
        ...steps,
        `× headroom ${headroom} = ${fmt(withHeadroom)} → ${rounded}${bounded}` +
          (replicas > rules.maxReplicas
            ? ` (above maxReplicas ${rules.maxReplicas}: raise it in the policy)`
            : ''),
      ],
      source,
    };
  };

  const rtf = profile.transcodeRealTimeFactor;
  const transcodeNeeded = videoSecondsPerDay / (rtf.value * windowSeconds);
  const io = policy.plan.throughput.mediaIoMegabytesPerSecond;
  const mediaIoNeeded = bytesPerDay / (io.value * 1e6 * windowSeconds);
  const orch = policy.plan.throughput.orchestrationRecordingsPerHour;
  const orchestrationNeeded = recordingsPerDay / (orch.value * processingWindowHours);

  const plans: Record<CapacityPool, PoolPlan> = {
    transcode: finish(
      'transcode',
      transcodeNeeded,
      [
        load,
        `÷ (${rtf.value}× real time per worker × ${fmt(windowSeconds)} s window) = ${fmt(transcodeNeeded)} workers`,
      ],
      { value: rtf.value, unit: '× real time per 2-core worker', measured: rtf.measured, text: rtf.source },
    ),
    'media-io': finish(
      'media-io',
      mediaIoNeeded,
      [
        `${fmt(videoSecondsPerDay)} s × ${fmt(bitrateMbps)} Mbit/s ÷ 8 = ${fmt(bytesPerDay / 1e9)} GB/day`,
        `÷ (${io.value} MB/s per worker × ${fmt(windowSeconds)} s window) = ${fmt(mediaIoNeeded)} workers`,
      ],
      { value: io.value, unit: 'MB/s per worker', measured: io.measured, text: io.source },
    ),
    orchestration: finish(
      'orchestration',
      orchestrationNeeded,
      [
        `${input.cameras} cameras × ${fmt(input.minutesPerDay)} min/day ÷ ${profile.averageRecordingMinutes} min per recording = ${recordingsPerDay} recordings/day`,
        `÷ (${orch.value} recordings/h per replica × ${processingWindowHours} h window) = ${fmt(orchestrationNeeded)} replicas`,
      ],
      { value: orch.value, unit: 'recordings/h per replica', measured: orch.measured, text: orch.source },
    ),
  };
  return {
    input: { cameras: input.cameras, minutesPerDay: input.minutesPerDay, bitrateMbps, profile: profileName },
    headroom,
    processingWindowHours,
    videoSecondsPerDay,
    bytesPerDay,
    recordingsPerDay,
    pools: CAPACITY_POOLS.map((pool) => plans[pool]),
  };
}
