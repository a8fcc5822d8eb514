/**
 * What each pool process registers: its task queue, whether it runs workflow tasks, and exactly the activities
 * domain/pools.ts assigns to it.
 */
import type { CustodyActivities } from '../activities';
import { POOL_ACTIVITIES, type WorkerPool } from '../domain/pools';
import type { CustodyConfig } from './config';

export type { WorkerPool };

export interface PoolPlan {
  pool: WorkerPool;
  taskQueue: string;
  runsWorkflows: boolean;
  activities: Partial<CustodyActivities>;
  maxConcurrentActivities: number;
}

/** `activitiesOf(pool)`: the activities a pool's worker runs (built with that pool's store client). */
export function planPools(
  config: CustodyConfig,
  activitiesOf: (pool: WorkerPool) => CustodyActivities,
): PoolPlan[] {
  return (
    config.pools
      .filter((pool): pool is WorkerPool => pool !== 'controller')
      .map((pool) => {
        const activities = activitiesOf(pool);
        return {
          pool,
          taskQueue: config.taskQueues[pool],
          runsWorkflows: pool === 'orchestration',
          activities: Object.fromEntries(
            POOL_ACTIVITIES[pool].map((name: keyof CustodyActivities) => [name, activities[name]]),
          ),
          maxConcurrentActivities: config.concurrency[pool],
        };
      })
      // A pool with nothing to run (yet) would be rejected by the SDK.
      .filter((plan) => plan.runsWorkflows || Object.keys(plan.activities).length > 0)
  );
}

export { lifecycleTaskQueues } from './config';
