/**
 * The capacity controller against a real kube-apiserver (test/harness/kube.ts) and the real Temporal dev server:
 * backlog is real (workflows started on the pool's task queue, which nobody polls, then drained by completing
 * their tasks), the controller runs with a ServiceAccount token bound to the Role the Helm chart renders, and
 * every change is read back from the API server. No pods ever run (there is no controller-manager), but the
 * Deployment's scale subresource is the real one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Connection, Client } from '@temporalio/client';
import { Registry } from 'prom-client';
import { requireKubeTool, startKubeApiServer, type KubeApiServer } from '../../harness/kube';
import { testConfig } from '../../harness/env';
import { custodyDataConverter } from '../../../workers/temporal-connection';
import { builtEntryPoint, envFor, startNode } from '../../harness/processes';
import {
  CHART_DIR,
  parseManifests,
  RawKubeClient,
  requireTool,
  runOk,
  type KubeObject,
} from '../platform/platform';
import { startCapacityController, type RunningCapacityController } from '../../../workers/controller';
import type { CustodyConfig } from '../../../workers/config';

const NAMESPACE = 'custody-capacity';
const TRANSCODE = 'custody-transcode';
const MEDIA_IO = 'custody-media-io';
const LEASE = 'custody-controller';
const DOWN_COOLDOWN_S = 5;
// Wire values of temporal.api.enums.v1 (the test plays a worker that completes the queued workflows).
const TASK_QUEUE_KIND_NORMAL = 1;
const COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION = 4;
// Scheduling slack between the controller's clock and our 200 ms reads of the scale.
const SLACK_MS = 600;

let server: KubeApiServer | undefined;
let workDir: string;
let admin: RawKubeClient;
let adminApps: k8s.AppsV1Api;
let adminLeases: k8s.CoordinationV1Api;
let controllerKubeconfig: string;
let connection: Connection;
let client: Client;
let config: CustodyConfig;
let policyFile: string;
const running: RunningCapacityController[] = [];

function deployment(name: string, replicas: number): KubeObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'worker', image: 'registry.local/custody:1' }] },
      },
    },
  };
}

async function applyOrThrow(object: KubeObject): Promise<void> {
  const answer = await admin.apply(object, { dryRun: false });
  if (answer.status !== 200 && answer.status !== 201)
    throw new Error(
      `applying ${object.kind}/${object.metadata.name} failed: ${answer.status} ${answer.body}`,
    );
}

async function replicasOf(name: string): Promise<number> {
  const scale = await adminApps.readNamespacedDeploymentScale({ name, namespace: NAMESPACE });
  return scale.spec?.replicas ?? 0;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Queues `count` workflow tasks on the transcode queue; nobody polls it, so they stay in its backlog. */
async function queueBacklog(count: number): Promise<void> {
  const run = randomBytes(3).toString('hex');
  // All at once, so that the controller's reading sees the whole backlog rather than part of it.
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.workflow.start('capacityProbe', {
        taskQueue: config.taskQueues.transcode,
        workflowId: `capacity-probe-${run}-${i}`,
      }),
    ),
  );
}

/** Takes `count` tasks off the transcode queue and completes their workflows: the backlog drains for real. */
async function drainBacklog(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const task = await connection.withDeadline(Date.now() + 30_000, () =>
      connection.workflowService.pollWorkflowTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: config.taskQueues.transcode, kind: TASK_QUEUE_KIND_NORMAL },
        identity: 'capacity-test-drainer',
      }),
    );
    if (!task.taskToken?.length) throw new Error('the transcode queue had fewer tasks than expected');
    await connection.workflowService.respondWorkflowTaskCompleted({
      namespace: config.temporal.namespace,
      taskToken: task.taskToken,
      identity: 'capacity-test-drainer',
      commands: [
        {
          commandType: COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
          completeWorkflowExecutionCommandAttributes: {},
        },
      ],
    });
  }
}

async function metric(registry: Registry, line: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const escaped = line.replace(/[{}"=,.]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

async function startController(
  identity: string,
  kubeconfigPath: string,
  overrides: Record<string, string> = {},
  leaseDurationSeconds = 3,
) {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const registry = new Registry();
  const lines: string[] = [];
  const controllerConfig = {
    ...config,
    controller: {
      ...config.controller,
      identity,
      ...(overrides.leaseName && { leaseName: overrides.leaseName }),
    },
  };
  const controller = await startCapacityController({
    config: controllerConfig,
    registry,
    kubeConfig,
    leaseDurationSeconds,
    log: (line) => lines.push(`${new Date().toISOString()} ${line}`),
  });
  running.push(controller);
  return { controller, registry, lines };
}

beforeAll(async () => {
  requireKubeTool('etcd');
  requireKubeTool('kube-apiserver');
  requireTool('helm');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-controller-'));
  server = await startKubeApiServer({ workDir });
  admin = await RawKubeClient.fromKubeconfig(server.kubeconfigPath);
  const adminConfig = new k8s.KubeConfig();
  adminConfig.loadFromFile(server.kubeconfigPath);
  adminApps = adminConfig.makeApiClient(k8s.AppsV1Api);
  adminLeases = adminConfig.makeApiClient(k8s.CoordinationV1Api);
  await applyOrThrow({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });

  // The controller's ServiceAccount, Role and RoleBinding exactly as the chart renders them.
  const rendered = parseManifests(
    runOk(requireTool('helm'), [
      'template',
      'custody',
      CHART_DIR,
      '--namespace',
      NAMESPACE,
      '--set',
      'controller.enabled=true',
      '--set',
      'controller.managedPools={transcode}',
      // The chart's NetworkPolicy is on by default: the controller's way to the Kubernetes API must be named.
      '--set',
      'networkPolicy.kubernetesApi.cidrs={10.0.0.1/32}',
      '--show-only',
      'templates/controller.yaml',
    ]),
  );
  for (const object of rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind)))
    await applyOrThrow(object);
  expect(rendered.find((o) => o.kind === 'Role')).toBeDefined();
  await applyOrThrow(deployment(TRANSCODE, 0));
  await applyOrThrow(deployment(MEDIA_IO, 1));
  controllerKubeconfig = await server.createServiceAccountKubeconfig({
    namespace: NAMESPACE,
    name: 'custody-controller',
  });

  policyFile = path.join(workDir, 'capacity.yaml');
  const shipped = readFileSync(
    path.join(__dirname, '..', '..', '..', 'policies', 'capacity', 'capacity.yaml'),
    'utf8',
  );
  // transcode: 2 queued tasks per replica, 0..3, +2/−1 a step, no up cooldown, 5 s down cooldown.
  writeFileSync(
    policyFile,
    shipped.replace(
      /( {2}transcode:\n)(?: {4}.*\n)+/,
      `$1    minReplicas: 0\n    maxReplicas: 3\n    targetBacklogPerReplica: 2\n    maxStepUp: 2\n    maxStepDown: 1\n` +
        `    scaleUpCooldownSeconds: 0\n    scaleDownCooldownSeconds: ${DOWN_COOLDOWN_S}\n`,
    ),
  );
  config = testConfig('controller', {
    CUSTODY_POOLS: 'controller',
    CUSTODY_CONTROLLER_NAMESPACE: NAMESPACE,
    CUSTODY_CONTROLLER_DEPLOYMENTS: `transcode=${TRANSCODE}`,
    CUSTODY_CONTROLLER_LEASE_NAME: LEASE,
    CUSTODY_CONTROLLER_INTERVAL_SECONDS: '1',
    CUSTODY_CAPACITY_FILE: policyFile,
  });
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: custodyDataConverter(config),
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((c) => c.shutdown()));
  await connection?.close();
  await server?.stop();
  if (workDir && !process.env.CUSTODY_KEEP_TEST_DATA) rmSync(workDir, { recursive: true, force: true });
});

describe('the capacity controller', () => {
  let leader: Awaited<ReturnType<typeof startController>>;
  let upPatchesOfA = 0;

  test('scales up on backlog, never beyond max, and down one step per cooldown once the queue drains', async () => {
    leader = await startController('controller-a', controllerKubeconfig);
    await waitFor('controller-a leading', () => leader.controller.isLeader());
    expect(await replicasOf(TRANSCODE)).toBe(0);

    // 9 queued tasks ÷ 2 per replica = 5 wanted, clamped to max 3; +2 per step: 0 → 2 → 3.
    await queueBacklog(9);
    const seen: { replicas: number; at: number }[] = [];
    await waitFor('3 replicas', async () => {
      const replicas = await replicasOf(TRANSCODE);
      if (seen.at(-1)?.replicas !== replicas) seen.push({ replicas, at: Date.now() });
      return replicas === 3;
    });
    // Upwards in steps of at most maxStepUp (2): 0 → 2 → 3 when the first reading sees all 9 tasks.
    const steps = seen.map((s) => s.replicas);
    expect(steps[0]).toBe(0);
    for (let i = 1; i < steps.length; i++) expect(steps[i]! - steps[i - 1]!).toBeGreaterThan(0);
    for (let i = 1; i < steps.length; i++) expect(steps[i]! - steps[i - 1]!).toBeLessThanOrEqual(2);
    const reachedMax = seen.at(-1)!.at;

    // The backlog still wants 5: it stays at max.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await replicasOf(TRANSCODE)).toBe(3);
    expect(await metric(leader.registry, 'custody_controller_desired_replicas{pool="transcode"}')).toBe(3);
    expect(
      await metric(
        leader.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="up"}',
      ),
    ).toBe(steps.length - 1);
    const upPatches = steps.length - 1;

    // Drain the queue; the controller then steps down 3 → 2 → 1 → 0, each step a full cooldown after the last.
    await drainBacklog(9);
    const downs: { replicas: number; at: number }[] = [{ replicas: 3, at: reachedMax }];
    await waitFor(
      '0 replicas',
      async () => {
        const replicas = await replicasOf(TRANSCODE);
        if (downs.at(-1)?.replicas !== replicas) downs.push({ replicas, at: Date.now() });
        return replicas === 0;
      },
      60_000,
    );
    expect(downs.map((d) => d.replicas)).toEqual([3, 2, 1, 0]);
    for (let i = 1; i < downs.length; i++) {
      expect(downs[i]!.at - downs[i - 1]!.at).toBeGreaterThanOrEqual(DOWN_COOLDOWN_S * 1000 - SLACK_MS);
    }
    expect(
      await metric(
        leader.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="down"}',
      ),
    ).toBe(3);
    expect(await metric(leader.registry, 'custody_controller_leader')).toBe(1);
    expect(leader.lines.join('\n')).toMatch(
      /scaled transcode \(Deployment custody-capacity\/custody-transcode\) \d → 3: backlog 9, 2 per replica wants 3 \(scale-up, min 0, max 3\)/,
    );
    expect(leader.lines.join('\n')).toMatch(
      /scaled transcode \(Deployment custody-capacity\/custody-transcode\) 1 → 0: backlog 0, 2 per replica wants 0 \(scale-down, min 0, max 3\)/,
    );
    upPatchesOfA = upPatches;
    // It only ever touched the Deployment it manages.
    expect(await replicasOf(MEDIA_IO)).toBe(1);
    expect(leader.controller.problems()).toEqual({});
    expect(leader.controller.isReady()).toBe(true);
  }, 120_000);

  test('two controllers on one Lease: only the leader patches; on shutdown it hands over at once', async () => {
    const standby = await startController('controller-b', controllerKubeconfig);
    await waitFor('controller-b to see the leader', () =>
      standby.lines.some((l) => l.includes('standby, leader is controller-a')),
    );
    await queueBacklog(2);
    await waitFor('1 replica', async () => (await replicasOf(TRANSCODE)) === 1);
    const lease = await adminLeases.readNamespacedLease({ name: LEASE, namespace: NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe('controller-a');
    expect(standby.controller.isLeader()).toBe(false);
    expect(await metric(standby.registry, 'custody_controller_leader')).toBe(0);
    expect(
      await metric(
        standby.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="up"}',
      ),
    ).toBeUndefined();
    expect(
      await metric(
        leader.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="up"}',
      ),
    ).toBe(upPatchesOfA + 1);

    // The leader releases the Lease on shutdown: the standby takes over well within the 3 s lease duration.
    const stoppedAt = Date.now();
    await leader.controller.shutdown();
    const released = await adminLeases.readNamespacedLease({ name: LEASE, namespace: NAMESPACE });
    expect(released.spec?.holderIdentity).toBeUndefined();
    await waitFor('controller-b leading', () => standby.controller.isLeader(), 5_000);
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);

    // The new leader acts: a larger backlog (4 more tasks, 6 queued → 3 wanted) scales up again.
    await queueBacklog(4);
    await waitFor('3 replicas by controller-b', async () => (await replicasOf(TRANSCODE)) === 3);
    expect(
      await metric(
        standby.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="up"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    // The old leader made no change after it stopped.
    expect(
      await metric(
        leader.registry,
        'custody_controller_scale_patches_total{pool="transcode",direction="up"}',
      ),
    ).toBe(upPatchesOfA + 1);
    await drainBacklog(6);
    await standby.controller.shutdown();
  }, 120_000);

  test('respects a holder that stopped renewing until its lease duration has passed', async () => {
    // A leader that died without releasing: its record stays, renewed "now", valid for 4 s.
    await adminLeases.deleteNamespacedLease({ name: LEASE, namespace: NAMESPACE }).catch(() => undefined);
    await adminLeases.createNamespacedLease({
      namespace: NAMESPACE,
      body: {
        metadata: { name: LEASE, namespace: NAMESPACE },
        spec: {
          holderIdentity: 'crashed-controller',
          leaseDurationSeconds: 4,
          renewTime: new k8s.V1MicroTime(),
          acquireTime: new k8s.V1MicroTime(),
          leaseTransitions: 2,
        },
      },
    });
    const startedAt = Date.now();
    const successor = await startController('controller-c', controllerKubeconfig);
    await waitFor('controller-c leading', () => successor.controller.isLeader(), 15_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(4_000);
    expect(successor.lines.join('\n')).toContain('standby, leader is crashed-controller');
    const lease = await adminLeases.readNamespacedLease({ name: LEASE, namespace: NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe('controller-c');
    // Taking over from another holder starts a new term.
    expect(lease.spec?.leaseTransitions).toBe(3);
    await successor.controller.shutdown();
  });

  test('without RBAC it reports the verb, resource, namespace and the rule to add, and is not ready', async () => {
    if (!server) throw new Error('the API server did not start');
    const unbound = await server.createServiceAccountKubeconfig({ namespace: NAMESPACE, name: 'no-rbac' });
    const denied = await startController('controller-norbac', unbound);
    await waitFor('the RBAC problem', () => denied.controller.problems().lease);
    expect(denied.controller.problems().lease).toBe(
      `RBAC: the API server refused to get leases.coordination.k8s.io "${LEASE}" in namespace ${NAMESPACE} ` +
        `(leases.coordination.k8s.io "${LEASE}" is forbidden: User "system:serviceaccount:${NAMESPACE}:no-rbac" ` +
        `cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "${NAMESPACE}"). ` +
        'Add this rule to the Role bound to this identity (helm/custody/templates/controller.yaml renders it): ' +
        `{apiGroups: ["coordination.k8s.io"], resources: [leases], resourceNames: [${LEASE}], verbs: [get]}`,
    );
    expect(denied.controller.isReady()).toBe(false);
    // It keeps trying (no crash loop) but logs the same problem once, not every attempt.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(
      await metric(denied.registry, 'custody_controller_errors_total{kind="rbac"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(denied.lines.filter((l) => l.includes('RBAC:'))).toHaveLength(1);
    await denied.controller.shutdown();
  });

  test('a controller that may hold its Lease but not scale names the scale rule, and recovers once granted', async () => {
    await applyOrThrow({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'lease-only', namespace: NAMESPACE },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          resourceNames: ['lease-only'],
          verbs: ['get', 'update'],
        },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      ],
    });
    await applyOrThrow({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'lease-only', namespace: NAMESPACE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lease-only' },
      subjects: [{ kind: 'ServiceAccount', name: 'lease-only', namespace: NAMESPACE }],
    });
    const kubeconfig = await server!.createServiceAccountKubeconfig({
      namespace: NAMESPACE,
      name: 'lease-only',
    });
    const partial = await startController('controller-lease-only', kubeconfig, { leaseName: 'lease-only' });
    await waitFor('the scale problem', () => partial.controller.problems().transcode);
    expect(partial.controller.isLeader()).toBe(true);
    expect(partial.controller.isReady()).toBe(false);
    expect(partial.controller.problems().transcode).toMatch(
      new RegExp(
        `^RBAC: the API server refused to get deployments\\.apps/scale "${TRANSCODE}" in namespace ${NAMESPACE} .*` +
          `\\{apiGroups: \\["apps"\\], resources: \\[deployments/scale\\], resourceNames: \\[${TRANSCODE}\\], verbs: \\[get\\]\\}$`,
      ),
    );
    // Granting the rules fixes it without a restart.
    await applyOrThrow({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'lease-only', namespace: NAMESPACE },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          resourceNames: ['lease-only'],
          verbs: ['get', 'update'],
        },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        {
          apiGroups: ['apps'],
          resources: ['deployments/scale'],
          resourceNames: [TRANSCODE],
          verbs: ['get', 'patch'],
        },
      ],
    });
    await waitFor(
      'recovery',
      () => partial.controller.isReady() && partial.controller.problems().transcode === undefined,
    );
    expect(partial.lines.join('\n')).toContain('transcode: working again');
    await partial.controller.shutdown();
  });
});

describe('the workers entry point with CUSTODY_POOLS=controller', () => {
  test('leads, serves custody_controller_* on /metrics and releases the Lease on SIGTERM', async () => {
    if (!server) throw new Error('the API server did not start');
    const env = envFor({
      TEMPORAL_ADDRESS: config.temporal.address,
      CUSTODY_TASK_QUEUE_PREFIX: config.taskQueues.transcode.replace(/-transcode$/, ''),
      CUSTODY_POOLS: 'controller',
      CUSTODY_CONTROLLER_NAMESPACE: NAMESPACE,
      CUSTODY_CONTROLLER_IDENTITY: 'controller-process',
      CUSTODY_CONTROLLER_LEASE_NAME: LEASE,
      CUSTODY_CONTROLLER_DEPLOYMENTS: `transcode=${TRANSCODE}`,
      CUSTODY_CONTROLLER_INTERVAL_SECONDS: '1',
      CUSTODY_CAPACITY_FILE: policyFile,
      CUSTODY_HTTP_PORT: '0',
      CUSTODY_LOG_LEVEL: 'info',
      KUBECONFIG: controllerKubeconfig,
    });
    const child = startNode(builtEntryPoint('workers/main.js'), env);
    try {
      const port = await waitFor('the http port', () => /http :(\d+)/.exec(child.output())?.[1], 60_000);
      await waitFor('leadership', () => child.output().includes('controller-process: leader'), 30_000);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^custody_controller_leader 1$/m);
      // It needs no S3: a controller-only pod does not bootstrap the stores.
      expect(child.output()).not.toContain('created stores');
      child.kill('SIGTERM');
      await waitFor('exit', () => child.exitCode !== null || undefined, 30_000);
      expect(child.exitCode).toBe(0);
      const lease = await adminLeases.readNamespacedLease({ name: LEASE, namespace: NAMESPACE });
      expect(lease.spec?.holderIdentity).toBeUndefined();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  test('a bad capacity policy stops it with exit 78 and a message naming file, field and fix', async () => {
    const broken = path.join(workDir, 'broken-capacity.yaml');
    writeFileSync(broken, readFileSync(policyFile, 'utf8').replace('maxReplicas: 3', 'maxReplicas: -1'));
    const child = startNode(
      builtEntryPoint('workers/main.js'),
      envFor({
        TEMPORAL_ADDRESS: config.temporal.address,
        CUSTODY_POOLS: 'controller',
        CUSTODY_CONTROLLER_NAMESPACE: NAMESPACE,
        CUSTODY_CONTROLLER_DEPLOYMENTS: `transcode=${TRANSCODE}`,
        CUSTODY_CAPACITY_FILE: broken,
        CUSTODY_HTTP_PORT: '0',
        KUBECONFIG: controllerKubeconfig,
      }),
    );
    await waitFor('exit', () => child.exitCode !== null || undefined, 60_000);
    expect(child.exitCode).toBe(78);
    expect(child.output()).toMatch(
      new RegExp(
        `invalid capacity policy ${broken.replace(/[.]/g, '\\.')} \\(CUSTODY_CAPACITY_FILE\\):\\n {2}${broken.replace(/[.]/g, '\\.')}:\\d+ pools\\.transcode\\.maxReplicas: expected a whole number ≥ 1`,
      ),
    );
  }, 90_000);
});
