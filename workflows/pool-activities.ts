/**
 * The activities of one pool, as a type: a proxy on a pool's task queue is typed with exactly these
 * (domain/pools.ts), so calling an activity on a queue whose workers do not run it is a type error.
 */
import type { CustodyActivities } from '../activities';
import type { PoolActivityName, WorkerPool } from '../domain/pools';

export type PoolActivities<P extends WorkerPool> = Pick<CustodyActivities, PoolActivityName<P>>;
