/**
 * The capacity controller's metrics (custody_controller_*), on the registry the caller passes (the workers'
 * own, served at /metrics). Labels are bounded: pool, direction, kind.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export function createControllerMetrics(registry: Registry) {
  return {
    leader: new Gauge({
      name: 'custody_controller_leader',
      help: '1 while this replica holds the capacity controller Lease and acts, 0 on standby.',
      registers: [registry],
    }),
    desiredReplicas: new Gauge({
      name: 'custody_controller_desired_replicas',
      help: 'Replicas the controller last decided for a pool (set by the leader only).',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
    backlog: new Gauge({
      name: 'custody_controller_backlog_tasks',
      help: 'Approximate task-queue backlog of a pool, as the leader last read it from Temporal.',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
    scalePatches: new Counter({
      name: 'custody_controller_scale_patches_total',
      help: 'Scale subresource patches the controller made, by pool and direction (up, down).',
      labelNames: ['pool', 'direction'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'custody_controller_errors_total',
      help: 'Failed controller steps, by kind (rbac, kubernetes, temporal, policy).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
