/**
 * Every rendered manifest against a real kube-apiserver (test/harness/kube.ts): server-side apply with
 * dryRun=All and fieldValidation=Strict for each value set and the example overlay, in namespaces that enforce
 * and warn on the `restricted` Pod Security level, so a pod template that would be refused, an unknown field or
 * a deprecation warning fails the test. Custom resources are checked against the minimal CRDs in crds/.
 * Then the capacity controller's RBAC is exercised for real: with its ServiceAccount's token it can scale its
 * Deployments and hold its Lease, and nothing else.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { requireKubeTool, startKubeApiServer, type KubeApiServer } from '../../harness/kube';
import {
  helmTemplate,
  kustomizeBuild,
  nameOf,
  NAMESPACE,
  OVERLAY_DIR,
  parseManifests,
  RawKubeClient,
  requireTool,
  VALUE_SETS,
  type KubeObject,
} from './platform';

const RBAC_NAMESPACE = 'custody-rbac';
const OVERLAY_NAMESPACE = 'bodycam';
const POD_SECURITY_LABELS = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

let server: KubeApiServer | undefined;
let workDir: string;
let admin: RawKubeClient;

async function applyOrThrow(object: KubeObject): Promise<void> {
  const answer = await admin.apply(object, { dryRun: false });
  if (answer.status !== 200 && answer.status !== 201) {
    throw new Error(`applying ${nameOf(object)} failed: ${answer.status} ${answer.body}`);
  }
}

async function createNamespace(name: string): Promise<void> {
  await applyOrThrow({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: POD_SECURITY_LABELS },
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

/** Installs the test CRDs and waits until the server serves their kinds. */
async function installTestCrds(): Promise<void> {
  const dir = path.join(__dirname, 'crds');
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseManifests(readFileSync(path.join(dir, f), 'utf8')));
  for (const crd of crds) await applyOrThrow(crd);
  for (const crd of crds) {
    const spec = crd.spec as { group: string; names: { kind: string }; versions: { name: string }[] };
    const groupVersion = `${spec.group}/${spec.versions[0]!.name}`;
    await waitFor(`${crd.metadata.name} being served`, async () => {
      const discovery = await admin.request('GET', `/apis/${groupVersion}`);
      return discovery.status === 200 && discovery.body.includes(`"kind":"${spec.names.kind}"`);
    });
  }
}

interface DryRunReport {
  refused: string[];
  warnings: string[];
}

async function dryRunAll(objects: KubeObject[]): Promise<DryRunReport> {
  const report: DryRunReport = { refused: [], warnings: [] };
  for (const object of objects) {
    const answer = await admin.apply(object, { dryRun: true });
    if (answer.status !== 200 && answer.status !== 201)
      report.refused.push(`${nameOf(object)}: ${answer.status} ${answer.body}`);
    for (const warning of answer.warnings) report.warnings.push(`${nameOf(object)}: ${warning}`);
  }
  return report;
}

beforeAll(async () => {
  // Missing binaries fail here, with the install command, before anything starts.
  requireKubeTool('etcd');
  requireKubeTool('kube-apiserver');
  requireTool('helm');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-platform-kube-'));
  const started = Date.now();
  server = await startKubeApiServer({ workDir });
  admin = await RawKubeClient.fromKubeconfig(server.kubeconfigPath);
  await installTestCrds();
  await createNamespace(NAMESPACE);
  console.log(`kube-apiserver with test CRDs ready in ${Date.now() - started} ms`);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  if (workDir && !process.env.CUSTODY_KEEP_TEST_DATA) rmSync(workDir, { recursive: true, force: true });
});

describe('server-side dry-run apply (strict fields, restricted Pod Security)', () => {
  test.each(VALUE_SETS.map((s) => [s.name, s.files] as const))(
    'accepts every object of the %s values without a warning',
    async (_name, files) => {
      const objects = parseManifests(helmTemplate(files));
      expect(objects.length).toBeGreaterThan(5);
      expect(await dryRunAll(objects)).toEqual({ refused: [], warnings: [] });
    },
    30_000,
  );

  test('accepts the example kustomize overlay without a warning', async () => {
    const objects = parseManifests(kustomizeBuild(OVERLAY_DIR));
    // The overlay brings its own Namespace; a dry run of it would not let the rest be checked inside it.
    const namespace = objects.find((o) => o.kind === 'Namespace');
    expect(namespace?.metadata.name).toBe(OVERLAY_NAMESPACE);
    await applyOrThrow(namespace!);
    expect(await dryRunAll(objects)).toEqual({ refused: [], warnings: [] });
  });

  test('would refuse an unknown field, a bad custom resource and flag a pod Pod Security forbids', async () => {
    const objects = parseManifests(helmTemplate([]));
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const spec = deployment.spec as { template: { spec: Record<string, unknown> } };

    const typo = structuredClone(deployment) as KubeObject & {
      spec: { template: { spec: Record<string, unknown> } };
    };
    typo.spec.template.spec.terminationGracePeriodSecond = 80;
    const refusedTypo = await admin.apply(typo, { dryRun: true });
    // Server-side apply answers 500 for a field the schema does not declare; the message names it.
    expect(refusedTypo.status).toBeGreaterThanOrEqual(400);
    expect(refusedTypo.body).toMatch(/field not declared in schema|unknown field/);
    expect(refusedTypo.body).toContain('terminationGracePeriodSecond');

    const badRule: KubeObject = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'bad', namespace: NAMESPACE },
      spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up == 0', for: '15 minutes' }] }] },
    };
    const refusedRule = await admin.apply(badRule, { dryRun: true });
    expect(refusedRule.status).toBe(422);
    expect(refusedRule.body).toContain('spec.groups[0].rules[0].for');

    const allFeatures = VALUE_SETS.find((s) => s.name === 'all-features')!;
    const scaledObject = parseManifests(helmTemplate(allFeatures.files)).find(
      (o) => o.kind === 'ScaledObject',
    )!;
    const misnamed = structuredClone(scaledObject) as KubeObject & { spec: Record<string, unknown> };
    misnamed.spec.minReplicas = 0; // KEDA calls it minReplicaCount
    const refusedScaledObject = await admin.apply(misnamed, { dryRun: true });
    expect(refusedScaledObject.status).toBeGreaterThanOrEqual(400);
    expect(refusedScaledObject.body).toContain('minReplicas');

    const privileged = structuredClone(deployment) as typeof typo;
    privileged.spec.template.spec = { ...spec.template.spec, securityContext: {} };
    (privileged.spec.template.spec.containers as { securityContext?: unknown }[])[0]!.securityContext = {};
    const flagged = await admin.apply(privileged, { dryRun: true });
    expect([200, 201]).toContain(flagged.status);
    expect(flagged.warnings.join('\n')).toMatch(/would violate PodSecurity "restricted:latest"/);
  });
});

describe('the capacity controller’s RBAC, exercised with its own token', () => {
  let controllerApps: k8s.AppsV1Api;
  let controllerLeases: k8s.CoordinationV1Api;
  const leaseName = 'custody-controller';

  async function refusal(promise: Promise<unknown>): Promise<number> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof k8s.ApiException) return err.code;
      throw err;
    }
    throw new Error('expected the API server to refuse the request, but it succeeded');
  }

  const lease = (name: string): k8s.V1Lease => ({
    metadata: { name, namespace: RBAC_NAMESPACE },
    spec: { holderIdentity: 'custody-controller-abc', leaseDurationSeconds: 15 },
  });
  const scalePatch = (replicas: number) => ({ spec: { replicas } });
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  beforeAll(async () => {
    if (!server) throw new Error('the API server did not start');
    await createNamespace(RBAC_NAMESPACE);
    const allFeatures = VALUE_SETS.find((s) => s.name === 'all-features')!;
    const objects = parseManifests(helmTemplate(allFeatures.files, ['--namespace', RBAC_NAMESPACE]));
    for (const object of objects.filter((o) =>
      ['ServiceAccount', 'Role', 'RoleBinding', 'Deployment'].includes(o.kind),
    )) {
      await applyOrThrow(object);
    }
    // Someone else's Deployment in the same namespace.
    await applyOrThrow({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'other-app', namespace: RBAC_NAMESPACE },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'other' } },
        template: {
          metadata: { labels: { app: 'other' } },
          spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'c',
                image: 'registry.example.org/other:1',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    });
    const config = new k8s.KubeConfig();
    config.loadFromFile(
      await server.createServiceAccountKubeconfig({ namespace: RBAC_NAMESPACE, name: 'custody-controller' }),
    );
    controllerApps = config.makeApiClient(k8s.AppsV1Api);
    controllerLeases = config.makeApiClient(k8s.CoordinationV1Api);
  }, 30_000);

  test('reads and patches the scale of the Deployment it manages', async () => {
    const scale = await controllerApps.readNamespacedDeploymentScale({
      name: 'custody-media-io',
      namespace: RBAC_NAMESPACE,
    });
    expect(scale.kind).toBe('Scale');
    const patched = await controllerApps.patchNamespacedDeploymentScale(
      { name: 'custody-media-io', namespace: RBAC_NAMESPACE, body: scalePatch(5) },
      mergePatch,
    );
    expect(patched.spec?.replicas).toBe(5);
  });

  test('cannot scale pools it does not manage, other apps, or change a Deployment itself', async () => {
    for (const name of ['custody-orchestration', 'custody-transcode', 'custody-controller', 'other-app']) {
      expect([
        name,
        await refusal(
          controllerApps.patchNamespacedDeploymentScale(
            { name, namespace: RBAC_NAMESPACE, body: scalePatch(9) },
            mergePatch,
          ),
        ),
      ]).toEqual([name, 403]);
    }
    expect(
      await refusal(
        controllerApps.patchNamespacedDeployment(
          { name: 'custody-media-io', namespace: RBAC_NAMESPACE, body: { spec: { paused: true } } },
          mergePatch,
        ),
      ),
    ).toBe(403);
    expect(
      await refusal(
        controllerApps.readNamespacedDeployment({ name: 'custody-media-io', namespace: RBAC_NAMESPACE }),
      ),
    ).toBe(403);
    expect(await refusal(controllerApps.listNamespacedDeployment({ namespace: RBAC_NAMESPACE }))).toBe(403);
  });

  test('creates, reads and renews its Lease, but cannot read, renew, list or delete another', async () => {
    const created = await controllerLeases.createNamespacedLease({
      namespace: RBAC_NAMESPACE,
      body: lease(leaseName),
    });
    const read = await controllerLeases.readNamespacedLease({ name: leaseName, namespace: RBAC_NAMESPACE });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    const renewed = await controllerLeases.replaceNamespacedLease({
      name: leaseName,
      namespace: RBAC_NAMESPACE,
      body: { ...read, spec: { ...read.spec, renewTime: new k8s.V1MicroTime() } },
    });
    expect(renewed.spec?.renewTime).toBeDefined();

    // create cannot be limited by name in RBAC; everything after creation is.
    await controllerLeases.createNamespacedLease({ namespace: RBAC_NAMESPACE, body: lease('someone-else') });
    expect(
      await refusal(
        controllerLeases.readNamespacedLease({ name: 'someone-else', namespace: RBAC_NAMESPACE }),
      ),
    ).toBe(403);
    expect(
      await refusal(
        controllerLeases.replaceNamespacedLease({
          name: 'someone-else',
          namespace: RBAC_NAMESPACE,
          body: lease('someone-else'),
        }),
      ),
    ).toBe(403);
    expect(await refusal(controllerLeases.listNamespacedLease({ namespace: RBAC_NAMESPACE }))).toBe(403);
    expect(
      await refusal(controllerLeases.deleteNamespacedLease({ name: leaseName, namespace: RBAC_NAMESPACE })),
    ).toBe(403);
  });

  test('the workers’ ServiceAccount can do nothing at all', async () => {
    if (!server) throw new Error('the API server did not start');
    const config = new k8s.KubeConfig();
    config.loadFromFile(
      await server.createServiceAccountKubeconfig({ namespace: RBAC_NAMESPACE, name: 'custody' }),
    );
    const workerApps = config.makeApiClient(k8s.AppsV1Api);
    expect(
      await refusal(
        workerApps.readNamespacedDeploymentScale({ name: 'custody-media-io', namespace: RBAC_NAMESPACE }),
      ),
    ).toBe(403);
    expect(
      await refusal(
        config.makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: RBAC_NAMESPACE }),
      ),
    ).toBe(403);
  });
});
