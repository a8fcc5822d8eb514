/**
 * `custody capacity status | scale | plan`: each pool's task-queue backlog and pollers (Temporal) beside its
 * Deployment's replicas (Kubernetes); setting a pool's replicas by hand within the capacity policy's bounds; and
 * the workers a site's recording load needs, with the arithmetic shown. The pools' Deployments and namespace
 * come from CUSTODY_CONTROLLER_DEPLOYMENTS / CUSTODY_CONTROLLER_NAMESPACE, the kubeconfig from KUBECONFIG (or
 * ~/.kube/config, or the pod's ServiceAccount), the bounds and figures from CUSTODY_CAPACITY_FILE.
 */
import * as k8s from '@kubernetes/client-node';
import {
  CAPACITY_POOLS,
  loadCapacityPolicy,
  type CapacityPolicy,
  type CapacityPool,
} from '../workers/controller/capacity-policy';
import { readQueueBacklog, type QueueBacklog } from '../workers/controller/backlog';
import { createScaleClient, resolveKubeConfig, type DeploymentScale } from '../workers/controller/kube';
import { planCapacity, PlanInputError } from '../workers/controller/capacity-plan';
import { CliError, EXIT, type CliContext } from './context';
import { formatTable, printJson } from './output';

const FIELD_MANAGER = 'custody-cli';

async function policyOf(ctx: CliContext): Promise<CapacityPolicy> {
  try {
    return await loadCapacityPolicy(ctx.config.capacityFile);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

type KubeTarget =
  | { available: true; kubeConfig: k8s.KubeConfig; source: string; namespace: string }
  | { available: false; reason: string };

/** The kubeconfig and namespace: CUSTODY_CONTROLLER_NAMESPACE, else the kubeconfig context's, else default. */
function kubeTarget(ctx: CliContext): KubeTarget {
  // KUBECONFIG keeps kubectl's name and meaning; config (workers/config.ts) reads it like every variable.
  const resolved = resolveKubeConfig(ctx.config.kubernetesEnv);
  if (!resolved.kubeConfig) return { available: false, reason: resolved.missing };
  const contextNamespace = resolved.kubeConfig.getContextObject(
    resolved.kubeConfig.getCurrentContext(),
  )?.namespace;
  return {
    available: true,
    kubeConfig: resolved.kubeConfig,
    source: resolved.source,
    namespace: ctx.config.controller.namespace ?? contextNamespace ?? 'default',
  };
}

function deploymentOf(ctx: CliContext, pool: CapacityPool): string | undefined {
  return ctx.config.controller.deployments[pool];
}

const NO_DEPLOYMENT_HINT = (pool: string) =>
  `CUSTODY_CONTROLLER_DEPLOYMENTS names no Deployment for ${pool}; set pool=deployment pairs, e.g. ${pool}=custody-${pool}`;

// --- status ------------------------------------------------------------------------------------------------------

interface PoolStatus {
  pool: CapacityPool;
  taskQueue: string;
  backlog?: QueueBacklog;
  temporalError?: string;
  deployment?: string;
  scale?: DeploymentScale;
  kubernetesError?: string;
  minReplicas: number;
  maxReplicas: number;
}

export async function capacityStatusCommand(ctx: CliContext, o: { json?: boolean }) {
  const policy = await policyOf(ctx);
  const client = await ctx.temporal();
  const kube = kubeTarget(ctx);
  const scaler = kube.available
    ? createScaleClient(kube.kubeConfig, kube.namespace, FIELD_MANAGER)
    : undefined;
  const rows: PoolStatus[] = await Promise.all(
    CAPACITY_POOLS.map(async (pool) => {
      const row: PoolStatus = {
        pool,
        taskQueue: ctx.config.taskQueues[pool],
        minReplicas: policy.pools[pool].minReplicas,
        maxReplicas: policy.pools[pool].maxReplicas,
      };
      const deployment = deploymentOf(ctx, pool);
      if (deployment) row.deployment = deployment;
      const [backlog, scale] = await Promise.allSettled([
        readQueueBacklog(client.workflowService, ctx.config.temporal.namespace, row.taskQueue),
        scaler && deployment ? scaler.readScale(deployment) : Promise.resolve(undefined),
      ]);
      if (backlog.status === 'fulfilled') row.backlog = backlog.value;
      else row.temporalError = String((backlog.reason as Error).message ?? backlog.reason);
      if (scale.status === 'fulfilled') {
        if (scale.value) row.scale = scale.value;
        else if (kube.available && !deployment) row.kubernetesError = NO_DEPLOYMENT_HINT(pool);
      } else row.kubernetesError = (scale.reason as Error).message;
      return row;
    }),
  );
  const failed = rows.some((r) => r.temporalError || (r.kubernetesError && r.deployment));

  if (o.json) {
    printJson({
      temporal: { address: ctx.config.temporal.address, namespace: ctx.config.temporal.namespace },
      kubernetes: kube.available
        ? { available: true, source: kube.source, namespace: kube.namespace }
        : { available: false, reason: kube.reason },
      policy: policy.file,
      pools: rows.map((r) => ({
        pool: r.pool,
        taskQueue: r.taskQueue,
        ...(r.backlog && {
          backlog: r.backlog.backlog,
          workflowBacklog: r.backlog.workflowBacklog,
          activityBacklog: r.backlog.activityBacklog,
          oldestTaskAgeSeconds: r.backlog.oldestTaskAgeSeconds,
          pollers: r.backlog.pollers,
        }),
        ...(r.temporalError && { temporalError: r.temporalError }),
        ...(r.deployment && { deployment: r.deployment }),
        ...(r.scale && { desiredReplicas: r.scale.desired, currentReplicas: r.scale.current }),
        ...(r.kubernetesError && { kubernetesError: r.kubernetesError }),
        minReplicas: r.minReplicas,
        maxReplicas: r.maxReplicas,
      })),
    });
  } else {
    const kubeColumns = (r: PoolStatus): (string | number | undefined)[] =>
      kube.available ? [r.deployment ?? '-', r.scale?.desired ?? '?', r.scale?.current ?? '?'] : [];
    const table = formatTable(
      [
        'POOL',
        'TASK QUEUE',
        'BACKLOG',
        'OLDEST',
        'POLLERS',
        ...(kube.available ? ['DEPLOYMENT', 'DESIRED', 'CURRENT'] : []),
        'MIN',
        'MAX',
      ],
      rows.map((r) => [
        r.pool,
        r.taskQueue,
        r.backlog?.backlog ?? '?',
        r.backlog ? `${r.backlog.oldestTaskAgeSeconds}s` : '?',
        r.backlog?.pollers ?? '?',
        ...kubeColumns(r),
        r.minReplicas,
        r.maxReplicas,
      ]),
    );
    const notes = [
      `Temporal ${ctx.config.temporal.address} namespace ${ctx.config.temporal.namespace}; backlog is approximate (DescribeTaskQueue stats, cached a few seconds by the server)`,
      kube.available
        ? `Kubernetes namespace ${kube.namespace} (${kube.source}); DESIRED = the Deployment's scale, CURRENT = pods that exist`
        : `Kubernetes: replicas not shown: ${kube.reason}`,
      `bounds from ${policy.file}`,
      ...rows.flatMap((r) => [
        ...(r.temporalError ? [`${r.pool}: Temporal: ${r.temporalError}`] : []),
        ...(r.kubernetesError ? [`${r.pool}: ${r.kubernetesError}`] : []),
      ]),
    ];
    process.stdout.write(`${table}\n\n${notes.join('\n')}\n`);
  }
  if (failed) process.exitCode = EXIT.error;
}

// --- scale -------------------------------------------------------------------------------------------------------

export async function capacityScaleCommand(
  ctx: CliContext,
  poolArg: string,
  replicasArg: string,
  o: { json?: boolean },
) {
  if (!(CAPACITY_POOLS as readonly string[]).includes(poolArg)) {
    throw new CliError(`unknown pool ${poolArg}: one of ${CAPACITY_POOLS.join(', ')}`);
  }
  const pool = poolArg as CapacityPool;
  if (!/^\d+$/.test(replicasArg)) throw new CliError(`replicas ${replicasArg}: expected a whole number ≥ 0`);
  const replicas = Number(replicasArg);
  const policy = await policyOf(ctx);
  const rules = policy.pools[pool];
  if (replicas < rules.minReplicas || replicas > rules.maxReplicas) {
    throw new CliError(
      `refused: ${pool} must have between ${rules.minReplicas} and ${rules.maxReplicas} replicas ` +
        `(pools.${pool}.minReplicas/maxReplicas in ${policy.file}); ${replicas} is outside. ` +
        'Change the capacity policy first if the bounds are wrong.',
      EXIT.rejected,
    );
  }
  const deployment = deploymentOf(ctx, pool);
  if (!deployment) throw new CliError(NO_DEPLOYMENT_HINT(pool));
  const kube = kubeTarget(ctx);
  if (!kube.available) throw new CliError(`capacity scale needs the Kubernetes API: ${kube.reason}`);
  const scaler = createScaleClient(kube.kubeConfig, kube.namespace, FIELD_MANAGER);
  const by = await kubeIdentity(kube.kubeConfig);
  const before = await kubeStep(() => scaler.readScale(deployment));
  const after = await kubeStep(() => scaler.patchScale(deployment, replicas));
  const controller = await controllerHolder(ctx, kube);
  const change = {
    pool,
    namespace: kube.namespace,
    deployment,
    previous: before.desired,
    replicas: after.desired,
    by,
    at: new Date().toISOString(),
    ...(controller && { controllerLeader: controller }),
  };
  if (o.json) return printJson(change);
  process.stdout.write(
    `scaled ${pool}: Deployment ${change.namespace}/${deployment} ${change.previous} → ${change.replicas} replicas ` +
      `by ${change.by} at ${change.at}\n` +
      (controller
        ? `note: the capacity controller (leader ${controller}) also scales this pool and may change it at its next decision\n`
        : ''),
  );
}

/**
 * Who the Kubernetes API server takes this caller for (a SelfSubjectReview, as `kubectl auth whoami`): the identity
 * its RBAC allowed the change to and its audit log records — never a name the caller types.
 */
async function kubeIdentity(kubeConfig: k8s.KubeConfig): Promise<string> {
  const review = await kubeStep(() =>
    kubeConfig.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    }),
  );
  const username = review.status?.userInfo?.username;
  if (!username)
    throw new CliError('the Kubernetes API server did not say who this kubeconfig authenticates as');
  return username;
}

async function kubeStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** The capacity controller's current leader, when its Lease can be read and is held; otherwise undefined. */
async function controllerHolder(
  ctx: CliContext,
  kube: Extract<KubeTarget, { available: true }>,
): Promise<string | undefined> {
  try {
    const lease = await kube.kubeConfig
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ name: ctx.config.controller.leaseName, namespace: kube.namespace });
    const renewed = Date.parse(String(lease.spec?.renewTime ?? ''));
    const validMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    const holder = lease.spec?.holderIdentity;
    return holder && renewed + validMs > Date.now() ? holder : undefined;
  } catch {
    return undefined; // no controller, or no permission to read its Lease: nothing to warn about
  }
}

// --- plan --------------------------------------------------------------------------------------------------------

export interface CapacityPlanOptions {
  cameras: string;
  minutesPerDay: string;
  bitrateMbps?: string;
  profile?: string;
  json?: boolean;
}

export async function capacityPlanCommand(ctx: CliContext, o: CapacityPlanOptions) {
  const policy = await policyOf(ctx);
  const number = (flag: string, text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new CliError(`${flag} ${text}: expected a number`);
    return value;
  };
  let plan;
  try {
    plan = planCapacity(policy, {
      cameras: number('--cameras', o.cameras),
      minutesPerDay: number('--minutes-per-day', o.minutesPerDay),
      ...(o.bitrateMbps !== undefined && { bitrateMbps: number('--bitrate-mbps', o.bitrateMbps) }),
      ...(o.profile !== undefined && { profile: o.profile }),
    });
  } catch (err) {
    if (err instanceof PlanInputError) throw new CliError(err.message);
    throw err;
  }
  if (o.json) return printJson({ policy: policy.file, ...plan });
  const { input } = plan;
  const lines = [
    `Load: ${input.cameras} cameras × ${input.minutesPerDay} min/day, profile ${input.profile} at ${input.bitrateMbps} Mbit/s; ` +
      `processed within ${plan.processingWindowHours} h, headroom ${plan.headroom} (${policy.file})`,
    '',
    formatTable(
      ['POOL', 'WORKERS', 'MIN', 'MAX', 'FIGURE PER WORKER'],
      plan.pools.map((p) => [
        p.pool,
        `${p.replicas}${p.exceedsMax ? ' (> max)' : ''}`,
        p.minReplicas,
        p.maxReplicas,
        `${p.source.value} ${p.source.unit} (${p.source.measured ? 'measured' : 'estimate'})`,
      ]),
    ),
    ...plan.pools.flatMap((p) => [
      '',
      `${p.pool}:`,
      ...p.steps.map((s) => `  ${s}`),
      `  figure: ${p.source.text}`,
    ]),
  ];
  if (plan.pools.some((p) => p.exceedsMax)) {
    lines.push(
      '',
      'Pools marked (> max) need more workers than their maxReplicas in the capacity policy allows: raise maxReplicas ' +
        '(and the chart’s pools.<pool>.autoscaling.maxReplicas) before this load arrives.',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
