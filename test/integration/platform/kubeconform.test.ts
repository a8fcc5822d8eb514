/**
 * Schema validation of every rendered manifest with kubeconform -strict (unknown fields are errors) against the
 * offline Kubernetes schemas of scripts/install-kube-tools.sh, for the oldest Kubernetes the chart supports and
 * the one the test API server runs. Any attempt to reach the network goes to a dead proxy, so the test proves
 * the schemas are offline.
 */
import {
  helmTemplate,
  kustomizeBuild,
  OVERLAY_DIR,
  parseManifests,
  requireTool,
  run,
  VALUE_SETS,
} from './platform';

/**
 * Custom resources have no schema in kubernetes-validate, and no offline CRD schema package exists on PyPI or npm
 * (the npm @kubernetes-models packages ship compiled validators, not JSON schemas). They are skipped here and
 * validated instead by the real API server against CRDs under crds/ (apiserver.test.ts).
 */
const CUSTOM_RESOURCES = [
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
  'keda.sh/v1alpha1/ScaledObject',
  'keda.sh/v1alpha1/TriggerAuthentication',
];
/** helm/custody Chart.yaml kubeVersion's lower bound, and the test kube-apiserver's release. */
const KUBERNETES_VERSIONS = ['1.27.0', '1.35.0'];

interface KubeconformResult {
  resources: { kind: string; name: string; status: string; msg: string }[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

function kubeconform(manifests: string, kubernetesVersion: string): KubeconformResult {
  const result = run(
    requireTool('kubeconform-offline'),
    [
      '-strict',
      '-summary',
      '-verbose',
      '-output',
      'json',
      '-kubernetes-version',
      kubernetesVersion,
      '-skip',
      CUSTOM_RESOURCES.join(','),
      '-',
    ],
    {
      input: manifests,
      env: {
        ...process.env,
        HTTPS_PROXY: 'http://127.0.0.1:9',
        HTTP_PROXY: 'http://127.0.0.1:9',
        NO_PROXY: '',
      },
    },
  );
  let parsed: KubeconformResult;
  try {
    parsed = JSON.parse(result.stdout) as KubeconformResult;
  } catch {
    throw new Error(
      `kubeconform did not answer with JSON (exit ${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
  return parsed;
}

function expectAllValid(manifests: string, kubernetesVersion: string): void {
  const objects = parseManifests(manifests);
  const result = kubeconform(manifests, kubernetesVersion);
  const problems = result.resources.filter((r) => r.status !== 'statusValid' && r.status !== 'statusSkipped');
  expect(problems.map((p) => `${p.kind}/${p.name}: ${p.status} ${p.msg}`)).toEqual([]);
  const custom = objects.filter((o) => CUSTOM_RESOURCES.includes(`${o.apiVersion}/${o.kind}`));
  expect(result.summary).toEqual({
    valid: objects.length - custom.length,
    invalid: 0,
    errors: 0,
    skipped: custom.length,
  });
}

beforeAll(() => {
  requireTool('kubeconform');
  requireTool('kubeconform-offline');
});

describe('kubeconform -strict (offline schemas)', () => {
  for (const set of VALUE_SETS) {
    test.each(KUBERNETES_VERSIONS)(
      `accepts every object of the ${set.name} values for Kubernetes %s`,
      (version) => {
        expectAllValid(helmTemplate(set.files), version);
      },
    );
  }

  test.each(KUBERNETES_VERSIONS)('accepts the example kustomize overlay for Kubernetes %s', (version) => {
    expectAllValid(kustomizeBuild(OVERLAY_DIR), version);
  });

  test('rejects an unknown field and a wrong type, so the schemas are really applied', () => {
    const rendered = helmTemplate([]);
    const withTypo = rendered.replace(
      'terminationGracePeriodSeconds: 80',
      'terminationGracePeriodSecond: 80',
    );
    const withWrongType = rendered.replace('revisionHistoryLimit: 5', 'revisionHistoryLimit: five');
    expect(withTypo).not.toBe(rendered);
    expect(withWrongType).not.toBe(rendered);
    const typo = kubeconform(withTypo, '1.35.0');
    expect(typo.summary.invalid).toBe(1);
    expect(typo.resources.find((r) => r.status === 'statusInvalid')?.msg).toMatch(
      /terminationGracePeriodSecond/,
    );
    expect(kubeconform(withWrongType, '1.35.0').summary.invalid).toBe(1);
  });
});
