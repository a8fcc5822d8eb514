/**
 * The built-in capacity controller (CUSTODY_POOLS=controller), for clusters without KEDA. Two loops:
 *   - the lease loop acquires or renews the leader Lease every few seconds (lease.ts);
 *   - the decision loop, every CUSTODY_CONTROLLER_INTERVAL_SECONDS and only on the leader, reads each managed
 *     pool's backlog from Temporal and its scale from Kubernetes, decides (decide.ts) and patches the scale
 *     subresource when the decision differs.
 * Failures never end the process: each is logged once (and again when it changes or every 5 minutes), counted
 * in custody_controller_errors_total, and a missing RBAC permission makes /readyz fail until it is granted, so a
 * misconfigured controller shows as NotReady with the rule to add in its log instead of crash-looping.
 */
import os from 'node:os';
import { Connection } from '@temporalio/client';
import type { Registry } from 'prom-client';
import type * as k8s from '@kubernetes/client-node';
import type { CustodyConfig } from '../config';
import { temporalConnectionOptions } from '../temporal-connection';
import {
  CAPACITY_POOLS,
  loadCapacityPolicy,
  type CapacityPolicy,
  type CapacityPool,
} from './capacity-policy';
import { readQueueBacklog, type BacklogSource } from './backlog';
import { decideReplicas, recordDecision, type PoolHistory } from './decide';
import { createScaleClient, KubePermissionError, resolveKubeConfig, type ScaleClient } from './kube';
import { createLeaderElector, type LeaderElector } from './lease';
import { createControllerMetrics } from './metrics';

export interface CapacityControllerOptions {
  config: CustodyConfig;
  /** custody_controller_* metrics are registered here (the workers' registry, served at /metrics). */
  registry: Registry;
  /** Default: from `env` as kubectl finds it (KUBECONFIG, in-cluster ServiceAccount, ~/.kube/config). */
  kubeConfig?: k8s.KubeConfig;
  /** Where KUBECONFIG / KUBERNETES_SERVICE_HOST are read from when no kubeConfig is given. */
  env?: Record<string, string | undefined>;
  /** Default: loaded from config.capacityFile. */
  policy?: CapacityPolicy;
  /** Default: a connection to Temporal from config (opened lazily, closed on shutdown). */
  backlogSource?: BacklogSource;
  /** How long a Lease is valid without renewal (default 15 s); the leader renews every third of it. */
  leaseDurationSeconds?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export interface RunningCapacityController {
  identity: string;
  /** False while a missing RBAC permission stops it from working (the log names the rule to add). */
  isReady(): boolean;
  isLeader(): boolean;
  /** The errors that currently stand, by place ('lease' or a pool name). */
  problems(): Record<string, string>;
  /** Resolves once both loops have stopped after shutdown(). */
  done: Promise<void>;
  /** Stops deciding, releases the Lease if held, closes its own Temporal connection. */
  shutdown(): Promise<void>;
}

const REPEAT_ERROR_LOG_MS = 5 * 60_000;

/** The controller cannot start as configured (policy, namespace, Deployments, kubeconfig): the message says why. */
export class ControllerSetupError extends Error {
  override name = 'ControllerSetupError';
}

export async function startCapacityController(
  opts: CapacityControllerOptions,
): Promise<RunningCapacityController> {
  const { config } = opts;
  const log = opts.log ?? ((line: string) => console.log(line));
  const now = opts.now ?? Date.now;
  const namespace = config.controller.namespace;
  if (!namespace) {
    throw new ControllerSetupError(
      'the capacity controller needs CUSTODY_CONTROLLER_NAMESPACE (the namespace of the pool Deployments)',
    );
  }
  const managed = CAPACITY_POOLS.flatMap((pool) => {
    const deployment = config.controller.deployments[pool];
    return deployment ? [{ pool, deployment }] : [];
  });
  if (managed.length === 0) {
    throw new ControllerSetupError(
      'the capacity controller manages no pool: set CUSTODY_CONTROLLER_DEPLOYMENTS to pool=deployment pairs, ' +
        'e.g. transcode=custody-transcode,media-io=custody-media-io',
    );
  }
  let policy: CapacityPolicy;
  try {
    policy = opts.policy ?? (await loadCapacityPolicy(config.capacityFile));
  } catch (err) {
    throw new ControllerSetupError((err as Error).message, { cause: err });
  }
  let kubeConfig = opts.kubeConfig;
  if (!kubeConfig) {
    const resolved = resolveKubeConfig(opts.env ?? {});
    if (!resolved.kubeConfig) {
      throw new ControllerSetupError(`the capacity controller needs the Kubernetes API: ${resolved.missing}`);
    }
    kubeConfig = resolved.kubeConfig;
  }
  const identity = config.controller.identity ?? `${os.hostname()}-${process.pid}`;
  const leaseDurationSeconds = opts.leaseDurationSeconds ?? 15;
  const renewEveryMs = (leaseDurationSeconds * 1000) / 3;

  let connection: Connection | undefined;
  const backlogSource =
    opts.backlogSource ?? (connection = Connection.lazy(temporalConnectionOptions(config))).workflowService;
  const scaler: ScaleClient = createScaleClient(kubeConfig, namespace, 'custody-capacity-controller');
  const elector: LeaderElector = createLeaderElector({
    kubeConfig,
    namespace,
    name: config.controller.leaseName,
    identity,
    leaseDurationSeconds,
    renewDeadlineSeconds: (leaseDurationSeconds * 2) / 3,
    now,
  });
  const metrics = createControllerMetrics(opts.registry);

  // --- errors: logged once per change (or every 5 minutes), counted, and RBAC ones fail readiness ----------
  const problems = new Map<string, { message: string; permission: boolean; loggedAt: number }>();
  function failed(place: string, kind: string, err: unknown) {
    const permission = err instanceof KubePermissionError;
    const message = err instanceof Error ? err.message : String(err);
    metrics.errors.inc({ kind: permission ? 'rbac' : kind });
    const previous = problems.get(place);
    const at = now();
    if (!previous || previous.message !== message || at - previous.loggedAt >= REPEAT_ERROR_LOG_MS) {
      log(`capacity controller ${identity}: ${place}: ${message}`);
      problems.set(place, { message, permission, loggedAt: at });
    } else problems.set(place, { ...previous, permission });
  }
  function succeeded(place: string) {
    if (problems.delete(place)) log(`capacity controller ${identity}: ${place}: working again`);
  }

  // --- stopping: every sleep ends early once shutdown() is called ---------------------------------------------
  let stopping = false;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      void stopped.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  // --- the lease loop -----------------------------------------------------------------------------------------
  let leading = false;
  let lastHolderLogged: string | undefined;
  const history = new Map<CapacityPool, PoolHistory>();
  async function leaseStep() {
    try {
      const state = await elector.tryAcquireOrRenew();
      succeeded('lease');
      if (state.leader && !leading) {
        // A new leader knows nothing of the last changes: no scale-down for one down-cooldown from now.
        for (const { pool } of managed) history.set(pool, { lastChangeAt: now() });
        log(`capacity controller ${identity}: leader (Lease ${namespace}/${config.controller.leaseName})`);
      } else if (!state.leader && state.holder !== lastHolderLogged) {
        log(`capacity controller ${identity}: standby, leader is ${state.holder || '(none)'}`);
      }
      lastHolderLogged = state.holder;
    } catch (err) {
      failed('lease', 'kubernetes', err);
    }
    const nowLeading = elector.isLeader();
    if (leading && !nowLeading) log(`capacity controller ${identity}: no longer leader`);
    leading = nowLeading;
    metrics.leader.set(leading ? 1 : 0);
  }
  const leaseLoop = (async () => {
    while (!stopping) {
      await leaseStep();
      await sleep(renewEveryMs);
    }
  })();

  // --- the decision loop --------------------------------------------------------------------------------------
  async function decide(pool: CapacityPool, deployment: string) {
    let backlog: number;
    try {
      backlog = (await readQueueBacklog(backlogSource, config.temporal.namespace, config.taskQueues[pool]))
        .backlog;
    } catch (err) {
      return failed(
        pool,
        'temporal',
        new Error(`reading the backlog of ${config.taskQueues[pool]}: ${String(err)}`),
      );
    }
    try {
      const scale = await scaler.readScale(deployment);
      const at = now();
      const rules = policy.pools[pool];
      const decision = decideReplicas({
        rules,
        backlog,
        current: scale.desired,
        now: at,
        history: history.get(pool) ?? {},
      });
      metrics.backlog.set({ pool }, backlog);
      metrics.desiredReplicas.set({ pool }, decision.desired);
      // Leadership may have lapsed while we read: only the leader writes.
      if (decision.desired !== scale.desired && elector.isLeader() && !stopping) {
        await scaler.patchScale(deployment, decision.desired);
        history.set(pool, recordDecision(history.get(pool) ?? {}, scale.desired, decision.desired, at));
        const direction = decision.desired > scale.desired ? 'up' : 'down';
        metrics.scalePatches.inc({ pool, direction });
        log(
          `capacity controller ${identity}: scaled ${pool} (Deployment ${namespace}/${deployment}) ` +
            `${scale.desired} → ${decision.desired}: backlog ${backlog}, ${rules.targetBacklogPerReplica} per replica ` +
            `wants ${decision.wanted} (${decision.reason}, min ${rules.minReplicas}, max ${rules.maxReplicas})`,
        );
      }
      succeeded(pool);
    } catch (err) {
      failed(pool, 'kubernetes', err);
    }
  }
  const decisionLoop = (async () => {
    while (!stopping) {
      if (elector.isLeader()) {
        for (const { pool, deployment } of managed) {
          if (stopping) break;
          await decide(pool, deployment);
        }
      }
      await sleep(config.controller.intervalSeconds * 1000);
    }
  })();

  log(
    `capacity controller ${identity}: started; pools ${managed.map((m) => `${m.pool}=${m.deployment}`).join(', ')} ` +
      `in namespace ${namespace}; policy ${policy.file}; every ${config.controller.intervalSeconds}s`,
  );

  const done = Promise.all([leaseLoop, decisionLoop]).then(async () => {
    try {
      await elector.release();
    } catch (err) {
      log(
        `capacity controller ${identity}: releasing the Lease failed (it expires by itself): ${String(err)}`,
      );
    }
    metrics.leader.set(0);
    await connection?.close();
  });
  let shuttingDown: Promise<void> | undefined;
  return {
    identity,
    isReady: () => !stopping && ![...problems.values()].some((p) => p.permission),
    isLeader: () => elector.isLeader(),
    problems: () => Object.fromEntries([...problems].map(([place, p]) => [place, p.message])),
    done,
    shutdown() {
      if (!shuttingDown) {
        stopping = true;
        wake();
        shuttingDown = done;
      }
      return shuttingDown;
    },
  };
}
