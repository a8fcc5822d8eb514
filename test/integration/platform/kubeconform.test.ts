/**
 * Schema validation of every rendered manifest with kubeconform -strict (unknown fields are errors) against the
 * offline Kubernetes schemas of scripts/install-kube-tools.sh, for the oldest Kubernetes the chart supports and
 * the one the test API server runs. Any attempt to reach the network goes to a dead proxy, so the test proves
 * the schemas are offline.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  hasTool,
  helmTemplate,
  kustomizeBuild,
  OVERLAY_DIR,
  parseManifests,
  requireTool,
  run,
  VALUE_SETS,
  type KubeObject,
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
  resources: { filename: string; kind: string; name: string; status: string; msg: string }[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

/** One kubeconform run over several files (schemas load once per run, the slow part). */
function kubeconform(files: string[], kubernetesVersion: string): KubeconformResult {
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
      ...files,
    ],
    {
      env: {
        ...process.env,
        HTTPS_PROXY: 'http://127.0.0.1:9',
        HTTP_PROXY: 'http://127.0.0.1:9',
        NO_PROXY: '',
      },
    },
  );
  try {
    return JSON.parse(result.stdout) as KubeconformResult;
  } catch {
    throw new Error(
      `kubeconform did not answer with JSON (exit ${result.status}): ${result.stderr}${result.stdout}`,
    );
  }
}

let workDir: string;
/** Rendered manifests by name: each value set and the example overlay. */
const inputs = new Map<string, { file: string; objects: KubeObject[] }>();
const results = new Map<string, KubeconformResult>();

beforeAll(() => {
  requireTool('kubeconform');
  requireTool('kubeconform-offline');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-kubeconform-'));
  const rendered: [string, string][] = [
    ...VALUE_SETS.map((set): [string, string] => [set.name, helmTemplate(set.files)]),
    // Without kustomize the overlay cases below fail on their own, with the install hint.
    ...(hasTool('kustomize') ? [['overlay', kustomizeBuild(OVERLAY_DIR)] as [string, string]] : []),
  ];
  for (const [name, text] of rendered) {
    const file = path.join(workDir, `${name}.yaml`);
    writeFileSync(file, text);
    inputs.set(name, { file, objects: parseManifests(text) });
  }
  for (const version of KUBERNETES_VERSIONS) {
    results.set(
      version,
      kubeconform(
        [...inputs.values()].map((i) => i.file),
        version,
      ),
    );
  }
}, 60_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('kubeconform -strict (offline schemas)', () => {
  const cases = [...VALUE_SETS.map((s) => s.name), 'overlay'].flatMap((name) =>
    KUBERNETES_VERSIONS.map((version) => [name, version] as const),
  );
  test.each(cases)('accepts every object of %s for Kubernetes %s', (name, version) => {
    if (name === 'overlay') requireTool('kustomize');
    const input = inputs.get(name)!;
    const resources = results.get(version)!.resources.filter((r) => r.filename === input.file);
    const problems = resources.filter((r) => r.status !== 'statusValid' && r.status !== 'statusSkipped');
    expect(problems.map((p) => `${p.kind}/${p.name}: ${p.status} ${p.msg}`)).toEqual([]);
    const custom = input.objects.filter((o) => CUSTOM_RESOURCES.includes(`${o.apiVersion}/${o.kind}`));
    expect(resources.filter((r) => r.status === 'statusValid')).toHaveLength(
      input.objects.length - custom.length,
    );
    expect(resources.filter((r) => r.status === 'statusSkipped')).toHaveLength(custom.length);
  });

  test('rejects an unknown field and a wrong type, so the schemas are really applied', () => {
    const rendered = readFileSync(inputs.get('default')!.file, 'utf8');
    const withTypo = rendered.replace(
      'terminationGracePeriodSeconds: 80',
      'terminationGracePeriodSecond: 80',
    );
    const withWrongType = rendered.replace('revisionHistoryLimit: 5', 'revisionHistoryLimit: five');
    expect(withTypo).not.toBe(rendered);
    expect(withWrongType).not.toBe(rendered);
    const typoFile = path.join(workDir, 'typo.yaml');
    const wrongTypeFile = path.join(workDir, 'wrong-type.yaml');
    writeFileSync(typoFile, withTypo);
    writeFileSync(wrongTypeFile, withWrongType);
    const result = kubeconform([typoFile, wrongTypeFile], '1.35.0');
    // kubeconform checks files in parallel: its output order varies from run to run.
    const invalid = result.resources
      .filter((r) => r.status === 'statusInvalid')
      .sort((a, b) => a.filename.localeCompare(b.filename));
    expect(invalid.map((r) => path.basename(r.filename))).toEqual(['typo.yaml', 'wrong-type.yaml']);
    expect(invalid[0]?.msg).toMatch(/terminationGracePeriodSecond/);
    expect(invalid[1]?.msg).toMatch(/revisionHistoryLimit/);
  });
});
