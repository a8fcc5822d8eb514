/**
 * `custody capacity status | scale | plan` as an operator runs them (the built CLI as a child process) against a
 * real kube-apiserver and the real Temporal dev server: the backlog shown is real (workflows queued on a task
 * queue nobody polls), replicas are read from and written to the Deployments' scale subresource, the capacity
 * policy's bounds are enforced, and RBAC refusals and a missing kubeconfig are reported with what to do.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Connection, Client } from '@temporalio/client';
import { requireKubeTool, startKubeApiServer, type KubeApiServer } from '../../harness/kube';
import { testConfig } from '../../harness/env';
import { custodyDataConverter } from '../../../workers/temporal-connection';
import { builtEntryPoint, envFor, runNode } from '../../harness/processes';
import type { CustodyConfig } from '../../../workers/config';

const NAMESPACE = 'custody-ops';
const POOLS = ['orchestration', 'media-io', 'transcode'] as const;
const cli = builtEntryPoint('cli/main.js');

let server: KubeApiServer | undefined;
let workDir: string;
let apps: k8s.AppsV1Api;
let rbac: k8s.RbacAuthorizationV1Api;
let connection: Connection;
let config: CustodyConfig;
let env: NodeJS.ProcessEnv;

const custody = (args: string[], extra: Record<string, string | undefined> = {}) => {
  const childEnv: NodeJS.ProcessEnv = { ...env, ...extra };
  for (const [name, value] of Object.entries(extra)) if (value === undefined) delete childEnv[name];
  return runNode(cli, args, childEnv, 60_000);
};

interface StatusJson {
  kubernetes: { available: boolean; namespace?: string; reason?: string };
  pools: {
    pool: string;
    taskQueue: string;
    backlog?: number;
    pollers?: number;
    deployment?: string;
    desiredReplicas?: number;
    currentReplicas?: number;
    minReplicas: number;
    maxReplicas: number;
  }[];
}

async function replicasOf(name: string): Promise<number | undefined> {
  return (await apps.readNamespacedDeploymentScale({ name, namespace: NAMESPACE })).spec?.replicas;
}

beforeAll(async () => {
  requireKubeTool('etcd');
  requireKubeTool('kube-apiserver');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-capacity-cli-'));
  server = await startKubeApiServer({ workDir });
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(server.kubeconfigPath);
  apps = admin.makeApiClient(k8s.AppsV1Api);
  rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
  for (const pool of POOLS) {
    const labels = { app: `custody-${pool}` };
    await apps.createNamespacedDeployment({
      namespace: NAMESPACE,
      body: {
        metadata: { name: `custody-${pool}`, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'worker', image: 'registry.local/custody:1' }] },
          },
        },
      },
    });
  }
  // Operators may read and set the pools' scale; nothing else.
  await rbac.createNamespacedRole({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'capacity-operator' },
      rules: [
        {
          apiGroups: ['apps'],
          resources: ['deployments/scale'],
          resourceNames: POOLS.map((p) => `custody-${p}`),
          verbs: ['get', 'patch'],
        },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'capacity-operators' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'capacity-operator' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'custody-operators' }],
    },
  });
  const operatorKubeconfig = await server.createUserKubeconfig({
    user: 'olga',
    groups: ['custody-operators'],
  });

  config = testConfig('capacity-cli');
  env = envFor({
    TEMPORAL_ADDRESS: config.temporal.address,
    CUSTODY_TASK_QUEUE_PREFIX: config.taskQueues.orchestration.replace(/-orchestration$/, ''),
    CUSTODY_CONTROLLER_NAMESPACE: NAMESPACE,
    CUSTODY_CONTROLLER_DEPLOYMENTS: POOLS.map((p) => `${p}=custody-${p}`).join(','),
    KUBECONFIG: operatorKubeconfig,
  });
  connection = await Connection.connect({ address: config.temporal.address });
  // Three workflow tasks on the orchestration queue, which nobody polls: a real backlog of 3.
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: custodyDataConverter(config),
  });
  const run = randomBytes(3).toString('hex');
  await Promise.all(
    [0, 1, 2].map((i) =>
      client.workflow.start('capacityProbe', {
        taskQueue: config.taskQueues.orchestration,
        workflowId: `capacity-cli-${run}-${i}`,
      }),
    ),
  );
}, 180_000);

afterAll(async () => {
  await connection?.close();
  await server?.stop();
  if (workDir && !process.env.CUSTODY_KEEP_TEST_DATA) rmSync(workDir, { recursive: true, force: true });
});

describe('custody capacity status', () => {
  test('shows each pool’s backlog and pollers beside its Deployment’s replicas and the policy bounds', async () => {
    let status: StatusJson | undefined;
    // The server refreshes task-queue stats every few seconds.
    for (let attempt = 0; attempt < 40; attempt++) {
      const result = await custody(['capacity', 'status', '--json']);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      status = JSON.parse(result.stdout) as StatusJson;
      if (status.pools.find((p) => p.pool === 'orchestration')?.backlog === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(status?.kubernetes).toMatchObject({ available: true, namespace: NAMESPACE });
    expect(status?.pools).toEqual([
      {
        pool: 'orchestration',
        taskQueue: config.taskQueues.orchestration,
        backlog: 3,
        workflowBacklog: 3,
        activityBacklog: 0,
        oldestTaskAgeSeconds: expect.any(Number) as number,
        pollers: 0,
        deployment: 'custody-orchestration',
        desiredReplicas: 1,
        currentReplicas: 0,
        minReplicas: 2,
        maxReplicas: 6,
      },
      expect.objectContaining({
        pool: 'media-io',
        backlog: 0,
        desiredReplicas: 1,
        minReplicas: 1,
        maxReplicas: 8,
      }),
      expect.objectContaining({
        pool: 'transcode',
        backlog: 0,
        desiredReplicas: 1,
        minReplicas: 0,
        maxReplicas: 4,
      }),
    ]);

    const table = await custody(['capacity', 'status']);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^POOL\s+TASK QUEUE\s+BACKLOG\s+OLDEST\s+POLLERS\s+DEPLOYMENT\s+DESIRED\s+CURRENT\s+MIN\s+MAX$/,
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^orchestration\\s+${config.taskQueues.orchestration}\\s+3\\s+[\\d.]+s\\s+0\\s+custody-orchestration\\s+1\\s+0\\s+2\\s+6$`,
      ),
    );
    expect(table.stdout).toContain(`Kubernetes namespace ${NAMESPACE}`);
  });

  test('without a kubeconfig it still shows the Temporal half and says why replicas are missing', async () => {
    const emptyHome = mkdtempSync(path.join(workDir, 'home-'));
    const result = await custody(['capacity', 'status'], {
      KUBECONFIG: undefined,
      KUBERNETES_SERVICE_HOST: undefined,
      HOME: emptyHome,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(
      /^POOL\s+TASK QUEUE\s+BACKLOG\s+OLDEST\s+POLLERS\s+MIN\s+MAX$/,
    );
    expect(result.stdout).toMatch(
      new RegExp(`^orchestration\\s+${config.taskQueues.orchestration}\\s+3\\s`, 'm'),
    );
    expect(result.stdout).toContain(
      'Kubernetes: replicas not shown: no Kubernetes configuration: KUBECONFIG is not set, ~/.kube/config does not exist ' +
        'and this is not a pod; set KUBECONFIG to a kubeconfig file',
    );
    const json = await custody(['capacity', 'status', '--json'], { KUBECONFIG: undefined, HOME: emptyHome });
    expect((JSON.parse(json.stdout) as StatusJson).kubernetes).toMatchObject({ available: false });
  });
});

describe('custody capacity scale', () => {
  test('patches the scale subresource and prints the change with who made it, as the API server authenticated them', async () => {
    const result = await custody(['capacity', 'scale', 'transcode', '3']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      new RegExp(
        `^scaled transcode: Deployment ${NAMESPACE}/custody-transcode 1 → 3 replicas by olga at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\n$`,
      ),
    );
    expect(await replicasOf('custody-transcode')).toBe(3);

    const json = await custody(['capacity', 'scale', 'media-io', '2', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      pool: 'media-io',
      namespace: NAMESPACE,
      deployment: 'custody-media-io',
      previous: 1,
      replicas: 2,
      by: 'olga',
      at: expect.any(String) as string,
    });
    expect(await replicasOf('custody-media-io')).toBe(2);
  });

  test('refuses replicas outside the capacity policy’s bounds, and changes nothing', async () => {
    const above = await custody(['capacity', 'scale', 'transcode', '5']);
    expect(above.code).toBe(4);
    expect(above.stderr).toMatch(
      /^custody: refused: transcode must have between 0 and 4 replicas \(pools\.transcode\.minReplicas\/maxReplicas in .*capacity\.yaml\); 5 is outside\. /,
    );
    const below = await custody(['capacity', 'scale', 'orchestration', '1']);
    expect(below.code).toBe(4);
    expect(below.stderr).toContain('refused: orchestration must have between 2 and 6 replicas');
    expect(await replicasOf('custody-transcode')).toBe(3);
    expect(await replicasOf('custody-orchestration')).toBe(1);

    const unknown = await custody(['capacity', 'scale', 'controller', '1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown pool controller: one of orchestration, media-io, transcode');
    const named = await custody(['capacity', 'scale', 'transcode', '2', '--by', 'olga']);
    expect(named.code).not.toBe(0);
    expect(named.stderr).toContain("unknown option '--by'"); // who acts is whom the API server authenticates
  });

  test('a user without the RBAC rule is told which verb, resource and rule', async () => {
    if (!server) throw new Error('the API server did not start');
    await rbac.createNamespacedRole({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'capacity-viewer' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'capacity-viewers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'capacity-viewer' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'vera' }],
      },
    });
    const viewer = await server.createUserKubeconfig({ user: 'vera' });
    const result = await custody(['capacity', 'scale', 'transcode', '2'], {
      KUBECONFIG: viewer,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `custody: RBAC: the API server refused to patch deployments.apps/scale "custody-transcode" in namespace ${NAMESPACE} ` +
        `(deployments.apps "custody-transcode" is forbidden: User "vera" cannot patch resource "deployments/scale" ` +
        `in API group "apps" in the namespace "${NAMESPACE}"). Add this rule to the Role bound to this identity ` +
        '(helm/custody/templates/controller.yaml renders it): ' +
        '{apiGroups: ["apps"], resources: [deployments/scale], resourceNames: [custody-transcode], verbs: [patch]}\n',
    );
    expect(await replicasOf('custody-transcode')).toBe(3);
    // Status still shows everything this user may read.
    const status = await custody(['capacity', 'status', '--json'], { KUBECONFIG: viewer });
    expect(status.code).toBe(0);
  });
});

describe('custody capacity plan', () => {
  test('shows workers per pool with the arithmetic and the source of each figure', async () => {
    const result = await custody(['capacity', 'plan', '--cameras', '200', '--minutes-per-day', '90']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    // 200 × 90 × 60 = 1,080,000 s ÷ (1.79 × 28,800) = 20.95 → × 1.5 = 31.42 → 32 transcode workers (> max 4).
    expect(result.stdout).toContain('1,080,000 s of video/day');
    expect(result.stdout).toContain('÷ (1.79× real time per worker × 28,800 s window) = 20.95 workers');
    expect(result.stdout).toContain(
      '× headroom 1.5 = 31.42 → 32 (above maxReplicas 4: raise it in the policy)',
    );
    expect(result.stdout).toMatch(
      /^transcode\s+32 \(> max\)\s+0\s+4\s+1\.79 × real time per 2-core worker \(measured\)$/m,
    );
    expect(result.stdout).toContain('bench/RESULTS.md, transcode case, run 20261123T013920Z');

    const json = await custody([
      'capacity',
      'plan',
      '--cameras',
      '200',
      '--minutes-per-day',
      '90',
      '--bitrate-mbps',
      '4',
      '--json',
    ]);
    const plan = JSON.parse(json.stdout) as { input: unknown; pools: { pool: string; replicas: number }[] };
    expect(plan.input).toEqual({ cameras: 200, minutesPerDay: 90, bitrateMbps: 4, profile: '1080p30' });
    // media-io: 1,080,000 s × 4 Mbit/s ÷ 8 = 540 GB ÷ (283 MB/s × 28,800 s) = 0.066 → × 1.5 = 0.1 → 1.
    expect(Object.fromEntries(plan.pools.map((p) => [p.pool, p.replicas]))).toEqual({
      orchestration: 2,
      'media-io': 1,
      transcode: 32,
    });
  });

  test('bad flags and a bad capacity file are refused with what to fix', async () => {
    const badProfile = await custody([
      'capacity',
      'plan',
      '--cameras',
      '10',
      '--minutes-per-day',
      '30',
      '--profile',
      '4k',
    ]);
    expect(badProfile.code).toBe(1);
    expect(badProfile.stderr).toMatch(
      /--profile 4k: not in .*capacity\.yaml \(plan\.profiles: 1080p30, 720p30\)/,
    );

    const broken = path.join(workDir, 'capacity.yaml');
    const shipped = readFileSync(
      path.join(__dirname, '..', '..', '..', 'policies', 'capacity', 'capacity.yaml'),
      'utf8',
    );
    writeFileSync(broken, shipped.replace('headroom: 1.5', 'headroom: 0.5'));
    const result = await custody(['capacity', 'plan', '--cameras', '10', '--minutes-per-day', '30'], {
      CUSTODY_CAPACITY_FILE: broken,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^custody: invalid capacity policy ${broken} \\(CUSTODY_CAPACITY_FILE\\):\\n {2}${broken}:\\d+ plan\\.headroom: expected a factor ≥ 1, e.g\\. 1\\.5 \\(50 % spare capacity\\)\\n` +
          'Fix the file \\(policies/capacity/capacity\\.schema\\.json describes every field\\)',
      ),
    );
  });
});
