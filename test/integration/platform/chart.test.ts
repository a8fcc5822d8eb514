/**
 * The Helm chart with the real helm binary: lint (values.schema.json included) for every value set, refusals of
 * bad values with messages that name the fix, and what the rendered manifests promise: each pod's environment
 * is a configuration workers/config.ts accepts, the rule packs load with the project's own loader, pods are
 * locked down, drain within their termination grace, and the controller's Role grants exactly its two jobs. The
 * custody API: its own Deployment and Service with HTTPS, the issuer and the signing key only it holds, while
 * every worker holds the public keys that verify it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig, VARIABLES } from '../../../workers/config';
import { loadRulePacks } from '../../../activities/policy/load';
import { parseCapacityPolicy } from '../../../workers/controller/capacity-policy';
import { parseRoleMapping } from '../../../api/roles-file';
import {
  CHART_DIR,
  REPO_ROOT,
  VALUE_SETS,
  helmTemplate,
  objectsOfKind,
  parseManifests,
  requireTool,
  run,
  valuesArgs,
  type KubeObject,
} from './platform';

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  startupProbe?: { httpGet: { path: string; port: string; scheme?: string } };
  livenessProbe?: { httpGet: { path: string; port: string; scheme?: string } };
  readinessProbe?: { httpGet: { path: string; port: string; scheme?: string } };
}
interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  configMap?: { name: string };
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  volumes?: Volume[];
}
type Deployment = KubeObject & {
  spec: {
    replicas?: number;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
};
type ConfigMap = KubeObject & { data: Record<string, string> };
interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
type Role = KubeObject & { rules: PolicyRule[] };

type Service = KubeObject & {
  spec: {
    type: string;
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: string | number; appProtocol?: string }[];
  };
};
interface NetworkPolicyPeer {
  ipBlock?: { cidr: string };
  namespaceSelector?: unknown;
  podSelector?: unknown;
}
type NetworkPolicy = KubeObject & {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress?: { from: NetworkPolicyPeer[]; ports: { protocol: string; port: string | number }[] }[];
    egress?: { to: NetworkPolicyPeer[]; ports: { protocol: string; port: string | number }[] }[];
  };
};

const API = 'custody-api';
const isApi = (deployment: Deployment) => deployment.metadata.name === API;

/** Set for the OS rather than for custody: os.tmpdir() then points at the writable emptyDir. */
const OS_VARIABLES = ['TMPDIR'];
/** The worker force-stops this long after its shutdown grace (workers/run.ts shutdownForceTime). */
const WORKER_FORCE_STOP_SECONDS = 10;

const rendered = new Map<string, KubeObject[]>();
function manifests(valueSet: string): KubeObject[] {
  let objects = rendered.get(valueSet);
  if (!objects) {
    const set = VALUE_SETS.find((s) => s.name === valueSet);
    if (!set) throw new Error(`unknown value set ${valueSet}`);
    objects = parseManifests(helmTemplate(set.files));
    rendered.set(valueSet, objects);
  }
  return objects;
}

function helmLint(args: string[]) {
  return run(requireTool('helm'), ['lint', '--strict', CHART_DIR, ...args]);
}

/** The environment a container starts with: its ConfigMap, then its own env (Secrets and fieldRefs as stand-ins). */
function containerEnvironment(container: Container, configMaps: ConfigMap[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const configMap = configMaps.find((c) => c.metadata.name === name);
    if (!configMap) throw new Error(`envFrom names ConfigMap ${name}, which the chart does not render`);
    Object.assign(env, configMap.data);
  }
  for (const variable of container.env ?? []) {
    env[variable.name] = variable.value ?? `from-${Object.keys(variable.valueFrom ?? {}).join('')}`;
  }
  return env;
}

/** The volume mount holding `file` in a container, and the pod volume behind it. */
function mountOf(deployment: Deployment, container: Container, file: string | undefined) {
  const mount = container.volumeMounts?.find((m) => file?.startsWith(`${m.mountPath}/`));
  const volume = deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  return { mount, volume };
}

/** Renders the chart with extra `--set` arguments (default values otherwise). */
function renderWith(...sets: string[]): KubeObject[] {
  return parseManifests(
    helmTemplate(
      [],
      sets.flatMap((value) => ['--set', value]),
    ),
  );
}

beforeAll(() => {
  requireTool('helm');
});

describe('helm lint', () => {
  test.each(VALUE_SETS.map((s) => [s.name, s.files] as const))(
    'passes with --strict and values.schema.json for %s values',
    (_name, files) => {
      const result = helmLint(valuesArgs(files));
      expect({ status: result.status, output: result.stdout + result.stderr }).toMatchObject({ status: 0 });
      expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    },
  );

  test.each([
    [
      'a wrong type',
      ['--set', 'pools.transcode.replicas=two'],
      /pools\/transcode\/replicas.*got string, want integer/s,
    ],
    ['a misspelt key', ['--set', 'pools.transcode.replica=1'], /additional properties 'replica' not allowed/],
    [
      'an unknown autoscaling engine',
      ['--set', 'autoscaling.engine=vpa'],
      /autoscaling\/engine.*value must be one of/s,
    ],
    [
      'a malformed Temporal address',
      ['--set', 'temporal.address=temporal'],
      /temporal\/address.*does not match pattern/s,
    ],
    [
      'the same bucket for two stores',
      ['--set', 's3.buckets.audit=custody-evidence'],
      /"custody-evidence" is used for more than one store/,
    ],
    [
      'a network policy without Temporal peers',
      ['--set-json', 'networkPolicy.temporal.selectors=[]'],
      /networkPolicy.temporal has neither cidrs nor selectors.*Set networkPolicy.temporal.cidrs/,
    ],
    [
      'Temporal without TLS, unless allowInsecure is set as well',
      ['--set', 'temporal.tls.enabled=false'],
      /temporal\/allowInsecure.*value must be true/s,
    ],
    [
      'KEDA and the controller scaling the same pool',
      ['--set', 'autoscaling.engine=keda', '--set', 'controller.enabled=true'],
      /pools.orchestration is scaled both by autoscaling.engine=keda and by the capacity controller/,
    ],
    [
      'an HPA asked to scale to zero',
      ['--set', 'autoscaling.engine=hpa'],
      /pools.transcode.autoscaling.minReplicas is 0, but a HorizontalPodAutoscaler cannot scale to zero/,
    ],
    [
      'no S3 credentials Secret',
      ['--set', 's3.existingSecret='],
      /s3\/existingSecret.*minLength|s3.existingSecret is empty/s,
    ],
    [
      'no payload encryption keys Secret',
      ['--set', 'payloadEncryption.existingSecret='],
      /payloadEncryption\/existingSecret.*minLength/s,
    ],
    [
      'no assertion public keys Secret',
      ['--set', 'assertionKeys.publicKeys.existingSecret='],
      /assertionKeys\/publicKeys\/existingSecret.*minLength/s,
    ],
    [
      'no assertion public keys Secret (schema skipped: the template says how to create it)',
      ['--skip-schema-validation', '--set', 'assertionKeys.publicKeys.existingSecret='],
      /assertionKeys.publicKeys.existingSecret is empty.*kubectl create secret generic custody-assertion-public-keys --from-file=public.json=public.json/,
    ],
    [
      'an API without an issuer',
      ['--set', 'api.oidc.issuer='],
      /api.oidc.issuer is empty: the API verifies every access token against your OpenID Provider. Set api.oidc.issuer/,
    ],
    [
      'an issuer that is not https',
      ['--set', 'api.oidc.issuer=http://keycloak.example.org/realms/police'],
      /api\/oidc\/issuer.*does not match pattern/s,
    ],
    [
      'an API without a TLS certificate',
      ['--set', 'api.tls.existingSecret='],
      /api.tls.existingSecret is empty: the API serves HTTPS only.*kubectl create secret tls custody-api-tls/,
    ],
    [
      'an API without its signing key',
      ['--set', 'api.signingKey.existingSecret='],
      /api.signingKey.existingSecret is empty.*kubectl create secret generic custody-assertion-signing-key --from-file=signing.json=signing.json/,
    ],
    [
      'an API without its pseudonym key',
      ['--set', 'api.pseudonymKey.existingSecret='],
      /api.pseudonymKey.existingSecret is empty.*kubectl create secret generic custody-api-pseudonym-key/,
    ],
    [
      'a symmetric token algorithm',
      ['--set', 'api.oidc.algorithms={HS256}'],
      /api\/oidc\/algorithms\/0.*value must be one of/s,
    ],
    [
      'a network policy without a way to the OpenID Provider',
      ['--set-json', 'networkPolicy.oidc.selectors=[]'],
      /networkPolicy.oidc has neither cidrs nor selectors, but the API must reach the OpenID Provider/,
    ],
    [
      'a network policy that would let anyone reach the API',
      ['--set-json', 'api.ingressFrom.selectors=[]'],
      /api.ingressFrom has neither cidrs nor selectors; an empty peer list would let anyone reach the API/,
    ],
    [
      'dev mode through an extraEnv',
      ['--set', 'pools.orchestration.extraEnv.CUSTODY_DEV_MODE=true'],
      /CUSTODY_DEV_MODE is set in an extraEnv: dev mode lets the demo rule pack/,
    ],
    [
      'the capacity controller managing the API',
      ['--set', 'controller.enabled=true', '--set', 'controller.managedPools={api}'],
      /controller\/managedPools\/0.*value must be one of/s,
    ],
  ])('helm template refuses %s with a message naming it', (_what, args, message) => {
    // helm lint only logs a template's `fail` as INFO; template (like install) stops on it.
    const result = run(requireTool('helm'), ['template', 'custody', CHART_DIR, ...args]);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(message);
  });

  test('helm lint applies values.schema.json', () => {
    const result = helmLint(['--set', 'pools.media-io.concurrency=0']);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/pools\/media-io\/concurrency.*minimum/s);
  });
});

describe('helm template', () => {
  test.each(VALUE_SETS.map((s) => [s.name]))('renders the expected kinds for %s values', (valueSet) => {
    const kinds = manifests(valueSet).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining(['Deployment/custody-orchestration', 'Deployment/custody-media-io']),
    );
    expect(kinds).toContain('Deployment/custody-transcode');
    expect(kinds).toContain('ConfigMap/custody-config');
    expect(kinds).toContain('ConfigMap/custody-policies');
    expect(new Set(kinds).size).toBe(kinds.length);
    // Namespaced objects all land in the release namespace; nothing cluster-wide is created.
    for (const object of manifests(valueSet))
      expect([object.kind, object.metadata.namespace]).toEqual([object.kind, 'custody']);
    expect(kinds.filter((k) => /^Cluster/.test(k))).toEqual([]);
  });

  test('the packaged chart (helm package) renders the same, rule packs included', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custody-helm-package-'));
    try {
      run(requireTool('helm'), ['package', CHART_DIR, '--destination', dir]);
      const archive = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')) ?? 'missing.tgz');
      const fromArchive = run(requireTool('helm'), [
        'template',
        'custody',
        archive,
        '--namespace',
        'custody',
      ]);
      expect(fromArchive.status).toBe(0);
      expect(fromArchive.stdout).toBe(helmTemplate([]));
      expect(fromArchive.stdout).toContain('bw-polg-44.yaml: |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('s3.identities gives each pool and the API an S3 Secret of its own; unnamed ones share s3.existingSecret', () => {
    const secretOfEach = (objects: KubeObject[]) =>
      Object.fromEntries(
        objectsOfKind<Deployment>(objects, 'Deployment').map((d) => {
          const env = d.spec.template.spec.containers[0]?.env ?? [];
          const key = env.find((e) => e.name === 'AWS_ACCESS_KEY_ID')?.valueFrom as
            { secretKeyRef: { name: string } } | undefined;
          return [d.metadata.name, key?.secretKeyRef.name];
        }),
      );
    expect(
      secretOfEach(
        renderWith(
          's3.identities.orchestration=s3-orchestration',
          's3.identities.media-io=s3-media-io',
          's3.identities.api=s3-api',
        ),
      ),
    ).toEqual({
      'custody-orchestration': 's3-orchestration',
      'custody-media-io': 's3-media-io',
      'custody-transcode': 'custody-s3',
      [API]: 's3-api',
    });
  });

  test('the default values render the plain pools, the API, their NetworkPolicies and nothing optional', () => {
    const kinds = new Set(manifests('default').map((o) => o.kind));
    expect([...kinds].sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const replicas = objectsOfKind<Deployment>(manifests('default'), 'Deployment').map((d) => [
      d.metadata.name,
      d.spec.replicas,
    ]);
    expect(Object.fromEntries(replicas)).toEqual({
      'custody-orchestration': 2,
      'custody-media-io': 2,
      'custody-transcode': 1,
      [API]: 2,
    });
  });

  test('all-features values render every optional object', () => {
    const kinds = manifests('all-features').map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Deployment/custody-controller',
        'ConfigMap/custody-capacity',
        'ServiceAccount/custody-controller',
        'Role/custody-controller',
        'RoleBinding/custody-controller',
        'PodDisruptionBudget/custody-controller',
        'NetworkPolicy/custody',
        'NetworkPolicy/custody-controller',
        'Service/custody-metrics',
        'ServiceMonitor/custody',
        'PrometheusRule/custody',
        'TriggerAuthentication/custody-temporal',
        'ScaledObject/custody-orchestration',
        'ScaledObject/custody-transcode',
        'Deployment/custody-api',
        'Service/custody-api',
        'ConfigMap/custody-api',
        'ConfigMap/custody-roles',
        'PodDisruptionBudget/custody-api',
        'NetworkPolicy/custody-api',
      ]),
    );
    // media-io is the controller's, so KEDA leaves it alone, and no replica count is rendered for scaled pools.
    expect(kinds).not.toContain('ScaledObject/custody-media-io');
    for (const deployment of objectsOfKind<Deployment>(manifests('all-features'), 'Deployment')) {
      if (deployment.metadata.name === 'custody-controller') continue;
      // The API is not a pool: its own count, whatever scales the pools.
      if (isApi(deployment)) expect(deployment.spec.replicas).toBe(3);
      else expect(deployment.spec.replicas).toBeUndefined();
    }
    const hpas = objectsOfKind(manifests('hpa'), 'HorizontalPodAutoscaler').map((o) => o.metadata.name);
    expect(hpas).toEqual(['custody-orchestration', 'custody-media-io', 'custody-transcode']);
  });

  test('KEDA scales each pool on its own task queue; transcode may scale to zero', () => {
    type ScaledObject = KubeObject & {
      spec: {
        minReplicaCount: number;
        triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
      };
    };
    const scaled = objectsOfKind<ScaledObject>(manifests('all-features'), 'ScaledObject');
    const byName = Object.fromEntries(scaled.map((s) => [s.metadata.name, s.spec]));
    expect(byName['custody-transcode']?.minReplicaCount).toBe(0);
    expect(byName['custody-transcode']?.triggers[0]).toMatchObject({
      type: 'temporal',
      metadata: {
        taskQueue: 'custody-transcode',
        queueTypes: 'activity',
        namespace: 'custody-prod',
        endpoint: 'temporal.example.internal:7233',
      },
      authenticationRef: { name: 'custody-temporal' },
    });
    expect(byName['custody-orchestration']?.triggers[0]?.metadata.queueTypes).toBe('workflow,activity');
    // Trigger metadata is map[string]string in KEDA: every value must be a string.
    for (const spec of Object.values(byName)) {
      for (const value of Object.values(spec.triggers[0]?.metadata ?? {}))
        expect(typeof value).toBe('string');
    }
  });
});

describe('each pod', () => {
  test.each(VALUE_SETS.map((s) => [s.name]))(
    'starts with an environment workers/config.ts accepts, for %s values',
    (valueSet) => {
      const objects = manifests(valueSet);
      const configMaps = objectsOfKind<ConfigMap>(objects, 'ConfigMap');
      const known = new Set([...Object.keys(VARIABLES), ...OS_VARIABLES]);
      // The ConfigMaps carry only custody's own variables: a typo would be silently ignored by the processes.
      for (const name of ['custody-config', API]) {
        const config = configMaps.find((c) => c.metadata.name === name);
        expect(config).toBeDefined();
        expect(Object.keys(config?.data ?? {}).filter((variable) => !(variable in VARIABLES))).toEqual([]);
      }

      for (const deployment of objectsOfKind<Deployment>(objects, 'Deployment')) {
        if (isApi(deployment)) continue; // the API's own test is below
        const [container] = deployment.spec.template.spec.containers;
        if (!container) throw new Error(`${deployment.metadata.name} has no container`);
        const env = containerEnvironment(container, configMaps);
        expect({
          deployment: deployment.metadata.name,
          unknown: Object.keys(env).filter((n) => !known.has(n)),
        }).toEqual({
          deployment: deployment.metadata.name,
          unknown: [],
        });
        const parsed = loadConfig(env);
        const pool = deployment.metadata.labels?.['app.kubernetes.io/component'];
        expect(parsed.pools).toEqual([pool]);
        // The credentials come from the Secret, never the development defaults.
        expect(parsed.s3.accessKeyId).toBe('from-secretKeyRef');
        expect(parsed.s3.secretAccessKey).toBe('from-secretKeyRef');
        // Probes and the container port use the port the worker serves on.
        expect(container.ports?.find((p) => p.name === 'http')?.containerPort).toBe(parsed.http.port);
        expect(container.startupProbe?.httpGet.path).toBe('/healthz');
        expect(container.livenessProbe?.httpGet.path).toBe('/healthz');
        expect(container.readinessProbe?.httpGet.path).toBe('/readyz');
        // SIGKILL comes only after the worker's drain: grace, then its force-stop, then a margin.
        const termination = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
        expect(termination).toBeGreaterThan(parsed.shutdownGraceSeconds + WORKER_FORCE_STOP_SECONDS);
        // ffmpeg's temp files go to a writable emptyDir mounted at CUSTODY_TMP_DIR.
        const tmpMount = container.volumeMounts?.find((m) => m.mountPath === parsed.media.tmpDir);
        const tmpVolume = deployment.spec.template.spec.volumes?.find((v) => v.name === tmpMount?.name);
        expect(tmpVolume?.emptyDir).toBeDefined();
        expect(env.TMPDIR).toBe(parsed.media.tmpDir);
        // The payload keys come from their Secret, read-only, owner-read, where CUSTODY_PAYLOAD_KEYS_FILE points.
        const keysFile = parsed.payloadEncryption.keysFile;
        const keysMount = container.volumeMounts?.find((m) => keysFile?.startsWith(`${m.mountPath}/`));
        expect(keysMount?.readOnly).toBe(true);
        const keysVolume = deployment.spec.template.spec.volumes?.find((v) => v.name === keysMount?.name) as
          { secret?: { secretName?: string; defaultMode?: number } } | undefined;
        expect(keysVolume?.secret).toMatchObject({ secretName: 'custody-payload-keys', defaultMode: 0o400 });
        // The rule packs come from the policies ConfigMap, mounted where CUSTODY_POLICY_DIR points.
        const policyMount = container.volumeMounts?.find((m) => m.mountPath === parsed.policy.dir);
        expect(policyMount?.readOnly).toBe(true);
        expect(
          deployment.spec.template.spec.volumes?.find((v) => v.name === policyMount?.name)?.configMap?.name,
        ).toBe('custody-policies');
        // Never dev mode, and never a generated assertion key pair: the public keys are the API's.
        expect(parsed.policy.devMode).toBe(false);
        expect(parsed.assertions.generateIfMissing).toBe(false);
      }
    },
  );

  test('a per-pool shutdown grace reaches that pool and its termination grace (all-features)', () => {
    const objects = manifests('all-features');
    const configMaps = objectsOfKind<ConfigMap>(objects, 'ConfigMap');
    const graces = Object.fromEntries(
      objectsOfKind<Deployment>(objects, 'Deployment')
        .filter((d) => !isApi(d))
        .map((d) => {
          const env = containerEnvironment(d.spec.template.spec.containers[0]!, configMaps);
          return [
            d.metadata.name,
            [loadConfig(env).shutdownGraceSeconds, d.spec.template.spec.terminationGracePeriodSeconds],
          ];
        }),
    );
    expect(graces).toEqual({
      'custody-orchestration': [90, 110],
      'custody-media-io': [90, 110],
      'custody-transcode': [300, 320],
      'custody-controller': [90, 110],
    });
  });

  test.each(VALUE_SETS.map((s) => [s.name]))(
    'is non-root, read-only, without capabilities, for %s values',
    (valueSet) => {
      for (const deployment of objectsOfKind<Deployment>(manifests(valueSet), 'Deployment')) {
        const pod = deployment.spec.template.spec;
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
        for (const container of pod.containers) {
          expect(container.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            runAsNonRoot: true,
          });
        }
        // Only the controller holds a Kubernetes API token.
        expect(pod.automountServiceAccountToken).toBe(deployment.metadata.name === 'custody-controller');
      }
    },
  );
});

describe('rule packs', () => {
  const statutePacks = readdirSync(path.join(REPO_ROOT, 'policies'))
    .filter((name) => name.endsWith('.yaml'))
    .filter(
      (name) =>
        (parseYaml(readFileSync(path.join(REPO_ROOT, 'policies', name), 'utf8')) as { kind?: string })
          .kind === 'statute',
    )
    .sort();

  test('the chart carries exactly the statute packs of policies/, byte for byte (not the demo pack)', () => {
    expect(statutePacks.length).toBeGreaterThan(0);
    const inChart = readdirSync(path.join(CHART_DIR, 'policies')).sort();
    expect({ inChart, hint: 'run: bash scripts/render-k8s.sh' }).toEqual({
      inChart: statutePacks,
      hint: 'run: bash scripts/render-k8s.sh',
    });
    for (const name of statutePacks) {
      const copy = readFileSync(path.join(CHART_DIR, 'policies', name), 'utf8');
      const source = readFileSync(path.join(REPO_ROOT, 'policies', name), 'utf8');
      expect({ name, same: copy === source }).toEqual({ name, same: true });
    }
    expect(inChart).not.toContain('demo.yaml');
  });

  test.each(VALUE_SETS.map((s) => [s.name]))(
    'the policies ConfigMap loads with the project loader and has the default pack, for %s values',
    async (valueSet) => {
      const objects = manifests(valueSet);
      const policies = objectsOfKind<ConfigMap>(objects, 'ConfigMap').find(
        (c) => c.metadata.name === 'custody-policies',
      );
      const config = objectsOfKind<ConfigMap>(objects, 'ConfigMap').find(
        (c) => c.metadata.name === 'custody-config',
      );
      for (const name of statutePacks) {
        expect(policies?.data[name]).toBe(readFileSync(path.join(REPO_ROOT, 'policies', name), 'utf8'));
      }
      const dir = mkdtempSync(path.join(tmpdir(), 'custody-chart-policies-'));
      try {
        mkdirSync(dir, { recursive: true });
        for (const [name, text] of Object.entries(policies?.data ?? {}))
          writeFileSync(path.join(dir, name), text);
        const registry = await loadRulePacks(dir);
        expect(registry.getPack(config!.data.CUSTODY_DEFAULT_POLICY!).kind).toBe('statute');
        if (valueSet === 'all-features') expect(registry.ids()).toContain('example-extra');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('the capacity controller', () => {
  test('is off by default: no Role, RoleBinding or token anywhere', () => {
    const kinds = manifests('default').map((o) => o.kind);
    expect(kinds).not.toContain('Role');
    expect(kinds).not.toContain('RoleBinding');
  });

  test('its Role allows only get/patch of the managed Deployments’ scale and its one Lease', () => {
    const objects = manifests('all-features');
    const roles = objectsOfKind<Role>(objects, 'Role');
    expect(roles.map((r) => r.metadata.name)).toEqual(['custody-controller']);
    const controller = objectsOfKind<Deployment>(objects, 'Deployment').find(
      (d) => d.metadata.name === 'custody-controller',
    );
    const env = Object.fromEntries(
      (controller?.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? '']),
    );
    const managed = (env.CUSTODY_CONTROLLER_DEPLOYMENTS ?? '').split(',').map((pair) => pair.split('=')[1]);
    expect(managed).toEqual(['custody-media-io']);

    expect(roles[0]!.rules).toEqual([
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: managed,
        verbs: ['get', 'patch'],
      },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [env.CUSTODY_CONTROLLER_LEASE_NAME],
        verbs: ['get', 'update'],
      },
      // create cannot be narrowed by name in RBAC; it is the only unnamed rule, and only for leases.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
    for (const rule of roles[0]!.rules) {
      expect([
        ...rule.apiGroups,
        ...rule.resources,
        ...rule.verbs,
        ...(rule.resourceNames ?? []),
      ]).not.toContain('*');
    }

    type RoleBinding = KubeObject & {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    const bindings = objectsOfKind<RoleBinding>(objects, 'RoleBinding');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.roleRef).toMatchObject({ kind: 'Role', name: 'custody-controller' });
    expect(bindings[0]!.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'custody-controller', namespace: 'custody' },
    ]);
    expect(controller?.spec.template.spec.serviceAccountName).toBe('custody-controller');
    // The workers' own ServiceAccount is bound to nothing.
    for (const deployment of objectsOfKind<Deployment>(objects, 'Deployment')) {
      if (deployment !== controller) expect(deployment.spec.template.spec.serviceAccountName).toBe('custody');
    }
  });
});

describe('the capacity policy', () => {
  const source = readFileSync(path.join(REPO_ROOT, 'policies', 'capacity', 'capacity.yaml'), 'utf8');

  test('the chart carries policies/capacity/capacity.yaml byte for byte', () => {
    const copy = readFileSync(path.join(CHART_DIR, 'capacity', 'capacity.yaml'), 'utf8');
    expect({ same: copy === source, hint: 'run: bash scripts/render-k8s.sh' }).toEqual({
      same: true,
      hint: 'run: bash scripts/render-k8s.sh',
    });
  });

  test('reaches the controller: a ConfigMap mounted where CUSTODY_CAPACITY_FILE points, and it loads', () => {
    const objects = manifests('all-features');
    const configMaps = objectsOfKind<ConfigMap>(objects, 'ConfigMap');
    const controller = objectsOfKind<Deployment>(objects, 'Deployment').find(
      (d) => d.metadata.name === 'custody-controller',
    );
    const container = controller!.spec.template.spec.containers[0]!;
    const parsed = loadConfig(containerEnvironment(container, configMaps));
    expect(parsed.controller.intervalSeconds).toBe(15);
    const mount = container.volumeMounts?.find((m) => parsed.capacityFile.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = controller!.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
    const capacity = configMaps.find((c) => c.metadata.name === volume?.configMap?.name);
    const file = path.basename(parsed.capacityFile);
    expect(capacity?.data[file]).toBe(source);
    const policy = parseCapacityPolicy(capacity!.data[file]!, file);
    // The controller's bounds are the chart's autoscaling bounds for the pool it manages here (media-io).
    expect(policy.pools['media-io']).toMatchObject({ minReplicas: 1, maxReplicas: 8 });
    // Without the controller, no capacity ConfigMap is rendered.
    expect(manifests('default').map((o) => o.metadata.name)).not.toContain('custody-capacity');
  });

  test('controller.capacityPolicy replaces the shipped policy', () => {
    const replaced = source.replace('maxReplicas: 4', 'maxReplicas: 12');
    const dir = mkdtempSync(path.join(tmpdir(), 'custody-capacity-values-'));
    try {
      const values = path.join(dir, 'values.yaml');
      writeFileSync(
        values,
        `controller:\n  enabled: true\n  capacityPolicy: ${JSON.stringify(replaced)}\n` +
          // With the default NetworkPolicy, the controller's way to the Kubernetes API must be named.
          'networkPolicy:\n  kubernetesApi:\n    cidrs: [10.0.0.1/32]\n',
      );
      const capacity = objectsOfKind<ConfigMap>(
        parseManifests(helmTemplate([], ['--values', values])),
        'ConfigMap',
      ).find((c) => c.metadata.name === 'custody-capacity');
      expect(
        parseCapacityPolicy(capacity!.data['capacity.yaml']!, 'capacity.yaml').pools.transcode.maxReplicas,
      ).toBe(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('signed actions', () => {
  test.each(VALUE_SETS.map((s) => [s.name]))(
    'every worker pod mounts the API’s public keys read-only where CUSTODY_ASSERTION_PUBLIC_KEYS_FILE points, for %s values',
    (valueSet) => {
      const objects = manifests(valueSet);
      const configMaps = objectsOfKind<ConfigMap>(objects, 'ConfigMap');
      const workers = objectsOfKind<Deployment>(objects, 'Deployment').filter((d) => !isApi(d));
      expect(workers.length).toBeGreaterThanOrEqual(3);
      for (const deployment of workers) {
        const container = deployment.spec.template.spec.containers[0]!;
        const env = containerEnvironment(container, configMaps);
        expect([deployment.metadata.name, env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE]).toEqual([
          deployment.metadata.name,
          '/etc/custody/assertion-keys/public.json',
        ]);
        const { assertions } = loadConfig(env);
        const { mount, volume } = mountOf(deployment, container, assertions.publicKeysFile);
        expect(mount?.readOnly).toBe(true);
        expect(volume?.secret).toMatchObject({
          secretName: 'custody-assertion-public-keys',
          items: [{ key: 'public.json', path: 'public.json' }],
        });
        // The API's private key is never in a worker pod.
        const secrets = (deployment.spec.template.spec.volumes ?? []).map((v) => v.secret?.secretName);
        expect(secrets).not.toContain('custody-assertion-signing-key');
        expect(env.CUSTODY_ASSERTION_SIGNING_KEY_FILE).toBeUndefined();
      }
    },
  );

  test('the Secret and its key are values', () => {
    const objects = renderWith(
      'assertionKeys.publicKeys.existingSecret=site-api-keys',
      'assertionKeys.publicKeys.key=jwks.json',
    );
    const orchestration = objectsOfKind<Deployment>(objects, 'Deployment').find(
      (d) => d.metadata.name === 'custody-orchestration',
    )!;
    const container = orchestration.spec.template.spec.containers[0]!;
    const file = container.env?.find((e) => e.name === 'CUSTODY_ASSERTION_PUBLIC_KEYS_FILE')?.value;
    expect(file).toBe('/etc/custody/assertion-keys/jwks.json');
    expect(mountOf(orchestration, container, file).volume?.secret).toMatchObject({
      secretName: 'site-api-keys',
      items: [{ key: 'jwks.json', path: 'jwks.json' }],
    });
  });

  test('dev mode is off in every pod, written out rather than left to a default', () => {
    for (const set of VALUE_SETS) {
      const config = objectsOfKind<ConfigMap>(manifests(set.name), 'ConfigMap').find(
        (c) => c.metadata.name === 'custody-config',
      );
      expect([set.name, config?.data.CUSTODY_DEV_MODE]).toEqual([set.name, 'false']);
    }
  });
});

describe('the custody API', () => {
  function apiOf(objects: KubeObject[]) {
    const deployment = objectsOfKind<Deployment>(objects, 'Deployment').find(isApi);
    if (!deployment) throw new Error('no custody-api Deployment rendered');
    const container = deployment.spec.template.spec.containers[0]!;
    const env = containerEnvironment(container, objectsOfKind<ConfigMap>(objects, 'ConfigMap'));
    return { deployment, container, env, config: loadConfig(env) };
  }

  test.each(VALUE_SETS.map((s) => [s.name]))(
    'runs node dist/api/main.js with HTTPS, the issuer, and keys from Secrets, for %s values',
    (valueSet) => {
      const objects = manifests(valueSet);
      const { deployment, container, env, config } = apiOf(objects);
      // args, not command: the image's tini entrypoint stays PID 1.
      expect(container.command).toBeUndefined();
      expect(container.args).toEqual(['node', 'dist/api/main.js']);
      const known = new Set([...Object.keys(VARIABLES), ...OS_VARIABLES]);
      expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);

      // Listens on all interfaces of the pod, on the container port, with HTTPS from the TLS Secret.
      expect(config.api).toMatchObject({ host: '0.0.0.0', port: 8443, insecureHttp: false });
      expect(container.ports).toEqual([{ name: 'api', containerPort: 8443, protocol: 'TCP' }]);
      const certificate = mountOf(deployment, container, config.api.tls?.certPath);
      const key = mountOf(deployment, container, config.api.tls?.keyPath);
      expect(certificate.mount?.readOnly).toBe(true);
      expect(key.volume).toBe(certificate.volume);
      expect(certificate.volume?.secret).toMatchObject({
        secretName: 'custody-api-tls',
        defaultMode: 0o400,
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      });
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe])
        expect(probe?.httpGet).toEqual({ path: '/healthz', port: 'api', scheme: 'HTTPS' });

      const issuer =
        valueSet === 'all-features'
          ? 'https://keycloak.example.internal/realms/police'
          : 'https://oidc.example.invalid/realms/custody';
      expect(config.oidc.issuer).toBe(issuer);

      // The signing key: read-only, owner-read (0400), only in this pod; no dev pair generated.
      const signing = mountOf(deployment, container, config.assertions.signingKeyFile);
      expect(signing.mount?.readOnly).toBe(true);
      expect(signing.volume?.secret).toMatchObject({
        secretName: 'custody-assertion-signing-key',
        defaultMode: 0o400,
        items: [{ key: 'signing.json', path: 'signing.json' }],
      });
      expect(config.assertions.generateIfMissing).toBe(false);
      const pseudonym = mountOf(deployment, container, config.api.pseudonymKey.file);
      expect(pseudonym.mount?.readOnly).toBe(true);
      expect(pseudonym.volume?.secret).toMatchObject({
        secretName: 'custody-api-pseudonym-key',
        defaultMode: 0o400,
      });
      expect(config.api.pseudonymKey.generateIfMissing).toBe(false);
      // Payloads through Temporal are encrypted with the workers' keys; S3 credentials from their Secret.
      expect(
        mountOf(deployment, container, config.payloadEncryption.keysFile).volume?.secret?.secretName,
      ).toBe('custody-payload-keys');
      expect(config.s3.accessKeyId).toBe('from-secretKeyRef');
      expect(config.policy.devMode).toBe(false);

      // Rule packs (policy-change requests list them) and the role mapping, from their ConfigMaps.
      expect(mountOf(deployment, container, `${config.policy.dir}/x`).volume?.configMap?.name).toBe(
        'custody-policies',
      );
      const roles = mountOf(deployment, container, config.api.rolesFile);
      expect(roles.mount?.readOnly).toBe(true);
      expect(roles.volume?.configMap?.name).toBe('custody-roles');
      // No Kubernetes API access, and no scrape annotations for a metrics port it does not serve.
      expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(false);
      expect(deployment.spec.template.metadata.annotations?.['prometheus.io/scrape']).toBeUndefined();
    },
  );

  test('the role mapping ConfigMap is the repository’s roles.yaml, byte for byte, and parses', () => {
    const source = readFileSync(path.join(REPO_ROOT, 'policies', 'roles', 'roles.yaml'), 'utf8');
    const copy = readFileSync(path.join(CHART_DIR, 'roles', 'roles.yaml'), 'utf8');
    expect({ same: copy === source, hint: 'run: bash scripts/render-k8s.sh' }).toEqual({
      same: true,
      hint: 'run: bash scripts/render-k8s.sh',
    });
    const rendered = objectsOfKind<ConfigMap>(manifests('default'), 'ConfigMap').find(
      (c) => c.metadata.name === 'custody-roles',
    );
    expect(rendered?.data['roles.yaml']).toBe(source);
    expect(parseRoleMapping(source, 'roles.yaml').roles.approver).toEqual(['approver']);
    // api.roleMapping replaces it (all-features maps a site's realm roles).
    const site = objectsOfKind<ConfigMap>(manifests('all-features'), 'ConfigMap').find(
      (c) => c.metadata.name === 'custody-roles',
    );
    expect(parseRoleMapping(site!.data['roles.yaml']!, 'roles.yaml').roles).toMatchObject({
      'polizei-dienstgruppenleitung': ['approver', 'viewer'],
    });
  });

  test('a ClusterIP Service on 443 forwards to the API port of the API pods only', () => {
    const objects = manifests('default');
    const services = objectsOfKind<Service>(objects, 'Service');
    expect(services.map((s) => s.metadata.name)).toEqual([API]);
    const service = services[0]!;
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'api', protocol: 'TCP', appProtocol: 'https' },
    ]);
    const selected = objectsOfKind<Deployment>(objects, 'Deployment').filter((d) => {
      const labels = d.spec.template.metadata.labels;
      return Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v);
    });
    expect(selected.map((d) => d.metadata.name)).toEqual([API]);
  });

  test('a PodDisruptionBudget keeps all but one API pod through a node drain', () => {
    type Budget = KubeObject & { spec: { maxUnavailable: number; selector: { matchLabels: object } } };
    const budget = objectsOfKind<Budget>(manifests('default'), 'PodDisruptionBudget').find(
      (b) => b.metadata.name === API,
    );
    expect(budget?.spec).toEqual({
      maxUnavailable: 1,
      selector: {
        matchLabels: {
          'app.kubernetes.io/name': 'custody',
          'app.kubernetes.io/instance': 'custody',
          'app.kubernetes.io/component': 'api',
        },
      },
    });
  });

  test('is scaled by api.replicas only: no autoscaler or controller ever targets it', () => {
    for (const set of VALUE_SETS) {
      const objects = manifests(set.name);
      const targets = [
        ...objectsOfKind(objects, 'ScaledObject'),
        ...objectsOfKind(objects, 'HorizontalPodAutoscaler'),
      ].map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name);
      expect(targets).not.toContain(API);
      const role = objectsOfKind<Role>(objects, 'Role')[0];
      expect(role?.rules.flatMap((r) => r.resourceNames ?? []) ?? []).not.toContain(API);
    }
  });

  test('api.insecureHttp (dev only) serves plain HTTP: no certificate mounted, probes over HTTP', () => {
    const objects = renderWith('api.insecureHttp=true');
    const { deployment, container, config } = apiOf(objects);
    expect(config.api.insecureHttp).toBe(true);
    expect(config.api.tls).toBeUndefined();
    expect(deployment.spec.template.spec.volumes?.map((v) => v.name)).not.toContain('api-tls');
    expect(container.readinessProbe?.httpGet.scheme).toBe('HTTP');
    const service = objectsOfKind<Service>(objects, 'Service')[0]!;
    expect(service.spec.ports[0]).toMatchObject({ name: 'http', appProtocol: 'http' });
  });

  test('api.enabled=false renders no API object and needs no issuer or OpenID Provider peers', () => {
    const objects = renderWith(
      'api.enabled=false',
      'api.oidc.issuer=',
      'networkPolicy.enabled=true',
      'networkPolicy.temporal.cidrs={10.0.0.0/8}',
      'networkPolicy.s3.cidrs={10.0.0.0/8}',
    );
    const names = objects.map((o) => o.metadata.name);
    expect(names.filter((n) => n === API || n === 'custody-roles')).toEqual([]);
    expect(objectsOfKind(objects, 'Deployment')).toHaveLength(3);
  });

  test('its NetworkPolicy admits only api.ingressFrom on the API port, and lets it reach the OpenID Provider', () => {
    const objects = manifests('all-features');
    const policies = objectsOfKind<NetworkPolicy>(objects, 'NetworkPolicy');
    const api = policies.find((p) => p.metadata.name === API)!;
    expect(api.spec.podSelector.matchLabels).toMatchObject({ 'app.kubernetes.io/component': 'api' });
    expect(api.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(api.spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 'api' }],
      },
    ]);
    expect(api.spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '10.40.0.5/32' } }], ports: [{ protocol: 'TCP', port: 443 }] },
    ]);
    // The policy over every custody pod opens only the metrics port, which the API container does not have: the
    // monitoring namespace cannot reach the API through it.
    const common = policies.find((p) => p.metadata.name === 'custody')!;
    const commonPorts = common.spec.ingress!.flatMap((rule) => rule.ports.map((port) => port.port));
    const { container } = apiOf(objects);
    expect(commonPorts).toEqual(['http']);
    expect(container.ports?.map((p) => p.name)).not.toContain('http');
  });
});

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const runtimeStage = instructions.slice(
    instructions.lastIndexOf(instructions.filter((l) => l.startsWith('FROM ')).at(-1)!),
  );

  test('runs the worker under tini as the non-root user the chart expects', () => {
    const values = parseYaml(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as {
      podSecurityContext: { runAsUser: number; runAsGroup: number };
    };
    expect(runtimeStage[0]).toBe('FROM node:24-bookworm-slim');
    expect(runtimeStage).toContain(
      `USER ${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}`,
    );
    expect(runtimeStage).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(runtimeStage).toContain('CMD ["node", "dist/workers/main.js"]');
    expect(runtimeStage.find((l) => l.startsWith('RUN apt-get'))).toMatch(/install .*\bffmpeg\b.*\btini\b/);
  });

  test('copies only compiled code, production node_modules and the rule packs into the runtime image', () => {
    const copied = runtimeStage.filter((l) => l.startsWith('COPY')).map((l) => l.split(/\s+/).at(-1));
    expect(copied.sort()).toEqual(
      [
        './dist/domain',
        './dist/activities',
        './dist/api',
        './dist/cli',
        './dist/workers',
        './dist/workflows',
        './node_modules',
        './policies',
      ].sort(),
    );
    expect(instructions.join('\n')).toMatch(/npm prune --omit=dev/);
  });

  test('every module the entry points load is inside the copied dist/ folders', () => {
    const dist = path.join(REPO_ROOT, 'dist');
    const copied = ['domain', 'activities', 'cli', 'workers', 'workflows'].map(
      (dir) => path.join(dist, dir) + path.sep,
    );
    const entryPoints = ['workers/main.js', 'cli/main.js', 'workflows/index.js'].map((p) =>
      path.join(dist, p),
    );
    for (const entry of entryPoints) {
      expect({ entry, built: readdirSync(path.dirname(entry)).includes(path.basename(entry)) }).toEqual({
        entry,
        built: true,
      });
    }
    const seen = new Set<string>();
    const queue = [...entryPoints];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
        const target = path.resolve(path.dirname(file), match[1]!);
        const candidates = [target, `${target}.js`, path.join(target, 'index.js')];
        const found = candidates.find((c) => {
          try {
            return readFileSync(c) !== undefined && !c.endsWith(path.sep);
          } catch {
            return false;
          }
        });
        if (!found) throw new Error(`${file} requires ${match[1]}, which is not built (run npm run build)`);
        queue.push(found);
      }
    }
    const outside = [...seen].filter((file) => !copied.some((dir) => file.startsWith(dir)));
    expect(outside).toEqual([]);
    expect(seen.size).toBeGreaterThan(20);
  });
});
