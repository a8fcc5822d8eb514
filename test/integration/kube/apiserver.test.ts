/**
 * Proves the Kubernetes test harness is a real API server: objects are validated and defaulted, the scale
 * subresource works, RBAC denies what no Role grants (with a 403 that names the verb and resource), and
 * server-side apply honours dry-run. Uses @kubernetes/client-node, as custody's own Kubernetes code will.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { requireKubeTool, startKubeApiServer, type KubeApiServer } from '../../harness/kube';

const NAMESPACE = 'custody-kube-test';
const DEPLOYMENT = 'custody-worker';
const FIELD_MANAGER = 'custody-tests';

let server: KubeApiServer | undefined;
let workDir: string;
let apps: k8s.AppsV1Api;

function deployment(name: string, image: string): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'worker', image }] },
      },
    },
  };
}

function clientFor(kubeconfigPath: string): k8s.AppsV1Api {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config.makeApiClient(k8s.AppsV1Api);
}

function mergePatch() {
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
}

/** The rejection of `promise` as an ApiException (fails the test when it resolves or fails otherwise). */
async function apiError(promise: Promise<unknown>): Promise<k8s.ApiException<unknown>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err as k8s.ApiException<unknown>;
    throw err;
  }
  throw new Error('expected the API server to refuse the request, but it succeeded');
}

/** The Status object the API server sent with a refusal (client-node hands the body over as a string). */
function statusOf(error: k8s.ApiException<unknown>): k8s.V1Status {
  const body = typeof error.body === 'string' ? (JSON.parse(error.body) as unknown) : error.body;
  return body as k8s.V1Status;
}

beforeAll(async () => {
  // Missing binaries fail here, with the install command, before anything starts.
  requireKubeTool('etcd');
  requireKubeTool('kube-apiserver');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-kube-'));
  const started = Date.now();
  server = await startKubeApiServer({ workDir });
  console.log(`kube-apiserver ready at ${server.url} in ${Date.now() - started} ms`);
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(server.kubeconfigPath);
  apps = admin.makeApiClient(k8s.AppsV1Api);
  await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (workDir && !process.env.CUSTODY_KEEP_TEST_DATA) rmSync(workDir, { recursive: true, force: true });
});

describe('a real kube-apiserver', () => {
  test('creates a Deployment, defaulted and validated by the server', async () => {
    const created = await apps.createNamespacedDeployment({
      namespace: NAMESPACE,
      body: deployment(DEPLOYMENT, 'registry.local/custody:1'),
    });
    expect(created.metadata?.uid).toBeTruthy();
    // Defaults only the API server fills in.
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');
    expect(created.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe('IfNotPresent');

    const invalid = deployment('Not_A_Valid_Name', 'registry.local/custody:1');
    const refusal = await apiError(apps.createNamespacedDeployment({ namespace: NAMESPACE, body: invalid }));
    expect(refusal.code).toBe(422);
  });

  test('reads and patches the scale subresource', async () => {
    const before = await apps.readNamespacedDeploymentScale({ name: DEPLOYMENT, namespace: NAMESPACE });
    expect(before.kind).toBe('Scale');
    expect(before.spec?.replicas).toBe(1);

    const scaled = await apps.patchNamespacedDeploymentScale(
      { name: DEPLOYMENT, namespace: NAMESPACE, body: { spec: { replicas: 3 } } },
      mergePatch(),
    );
    expect(scaled.spec?.replicas).toBe(3);
    // No controller-manager runs, so no pods appear; the desired count is what the scale subresource moved.
    const after = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE });
    expect(after.spec?.replicas).toBe(3);
  });

  test('RBAC forbids a user the patch no Role grants, with a clear 403', async () => {
    if (!server) throw new Error('the API server did not start');
    const rbac = new k8s.KubeConfig();
    rbac.loadFromFile(server.kubeconfigPath);
    const rbacApi = rbac.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbacApi.createNamespacedRole({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'deployment-reader' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbacApi.createNamespacedRoleBinding({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'auditors-read-deployments' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployment-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'custody-auditors' }],
      },
    });

    const auditor = clientFor(
      await server.createUserKubeconfig({ user: 'alice', groups: ['custody-auditors'] }),
    );
    // The Role lets the group read ...
    const read = await auditor.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE });
    expect(read.metadata?.name).toBe(DEPLOYMENT);
    // ... but nothing grants patch.
    const refusal = await apiError(
      auditor.patchNamespacedDeployment(
        { name: DEPLOYMENT, namespace: NAMESPACE, body: { metadata: { labels: { tampered: 'yes' } } } },
        mergePatch(),
      ),
    );
    expect(refusal.code).toBe(403);
    expect(statusOf(refusal).reason).toBe('Forbidden');
    expect(statusOf(refusal).message).toBe(
      `deployments.apps "${DEPLOYMENT}" is forbidden: User "alice" cannot patch resource "deployments" ` +
        `in API group "apps" in the namespace "${NAMESPACE}"`,
    );

    // A user in no bound group cannot even read.
    const stranger = clientFor(await server.createUserKubeconfig({ user: 'mallory' }));
    expect(
      (await apiError(stranger.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE }))).code,
    ).toBe(403);
  });

  test('a ServiceAccount token can do exactly what its Role grants', async () => {
    if (!server) throw new Error('the API server did not start');
    const admin = new k8s.KubeConfig();
    admin.loadFromFile(server.kubeconfigPath);
    const rbacApi = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbacApi.createNamespacedRole({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'scaler' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'] }],
      },
    });
    await rbacApi.createNamespacedRoleBinding({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'controller-scales' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scaler' },
        subjects: [{ kind: 'ServiceAccount', name: 'custody-controller', namespace: NAMESPACE }],
      },
    });
    const controller = clientFor(
      await server.createServiceAccountKubeconfig({ namespace: NAMESPACE, name: 'custody-controller' }),
    );

    const scaled = await controller.patchNamespacedDeploymentScale(
      { name: DEPLOYMENT, namespace: NAMESPACE, body: { spec: { replicas: 2 } } },
      mergePatch(),
    );
    expect(scaled.spec?.replicas).toBe(2);
    const refusal = await apiError(
      controller.patchNamespacedDeployment(
        { name: DEPLOYMENT, namespace: NAMESPACE, body: { spec: { paused: true } } },
        mergePatch(),
      ),
    );
    expect(refusal.code).toBe(403);
    expect(statusOf(refusal).message).toContain(
      `User "system:serviceaccount:${NAMESPACE}:custody-controller" cannot patch resource "deployments"`,
    );
  });

  test('server-side apply with dryRun=All answers with the result but stores nothing', async () => {
    const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
    const changed = deployment(DEPLOYMENT, 'registry.local/custody:2');
    const preview = await apps.patchNamespacedDeployment(
      {
        name: DEPLOYMENT,
        namespace: NAMESPACE,
        body: changed,
        fieldManager: FIELD_MANAGER,
        force: true,
        dryRun: 'All',
      },
      apply,
    );
    expect(preview.spec?.template.spec?.containers[0]?.image).toBe('registry.local/custody:2');
    const stored = await apps.readNamespacedDeployment({ name: DEPLOYMENT, namespace: NAMESPACE });
    expect(stored.spec?.template.spec?.containers[0]?.image).toBe('registry.local/custody:1');
    expect(stored.metadata?.managedFields?.map((entry) => entry.manager)).not.toContain(FIELD_MANAGER);

    // Applying an object that does not exist yet: the dry run shows it, but it is not created.
    const fresh = await apps.patchNamespacedDeployment(
      {
        name: 'custody-preview',
        namespace: NAMESPACE,
        body: deployment('custody-preview', 'registry.local/custody:2'),
        fieldManager: FIELD_MANAGER,
        dryRun: 'All',
      },
      apply,
    );
    expect(fresh.metadata?.name).toBe('custody-preview');
    const absent = await apiError(
      apps.readNamespacedDeployment({ name: 'custody-preview', namespace: NAMESPACE }),
    );
    expect(absent.code).toBe(404);
  });
});
