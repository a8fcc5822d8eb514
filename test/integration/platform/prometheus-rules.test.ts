/**
 * The chart's PrometheusRule with Prometheus' own tool: `promtool check rules` on the rendered spec (PromQL,
 * durations, annotation templates) and `promtool test rules` (alerts.promtool.yaml) for when each alert fires and
 * with which labels, on synthetic series named as custody and the Temporal SDK export them.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createMetrics } from '../../../workers/metrics';
import {
  helmTemplate,
  objectsOfKind,
  parseManifests,
  requireTool,
  runOk,
  VALUE_SETS,
  type KubeObject,
} from './platform';

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
type PrometheusRule = KubeObject & { spec: { groups: { name: string; rules: Rule[] }[] } };

const EXPECTED_ALERTS = [
  'CustodyDeletionOverdue',
  'CustodyLifecycleAbandoned',
  'CustodyFixityMismatch',
  'CustodyNeedsAttentionGrowing',
  'CustodyWorkflowNonDeterminism',
  'CustodyTranscodeBacklog',
];

let workDir: string;
let rule: PrometheusRule;

beforeAll(() => {
  requireTool('promtool');
  requireTool('helm');
  workDir = mkdtempSync(path.join(tmpdir(), 'custody-promtool-'));
  const allFeatures = VALUE_SETS.find((s) => s.name === 'all-features')!;
  const rules = objectsOfKind<PrometheusRule>(
    parseManifests(helmTemplate(allFeatures.files)),
    'PrometheusRule',
  );
  expect(rules).toHaveLength(1);
  rule = rules[0]!;
}, 30_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('the rendered rules pass promtool check rules', () => {
  const file = path.join(workDir, 'rendered-rules.yaml');
  writeFileSync(file, toYaml(rule.spec));
  const output = runOk(requireTool('promtool'), ['check', 'rules', file]);
  expect(output).toContain(`SUCCESS: ${EXPECTED_ALERTS.length} rules found`);
  const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
  expect(alerts).toEqual(EXPECTED_ALERTS);
  // Every alert says what happened and what to do.
  for (const r of rule.spec.groups.flatMap((g) => g.rules)) {
    expect(Object.keys(r.annotations ?? {}).sort()).toEqual(['description', 'summary']);
    expect(['critical', 'warning']).toContain(r.labels?.severity);
  }
});

test('each alert fires when it should, with its labels, and stays silent otherwise (promtool test rules)', () => {
  const withoutAnnotations = {
    groups: rule.spec.groups.map((group) => ({
      ...group,
      rules: group.rules.map(({ annotations: _annotations, ...rest }) => rest),
    })),
  };
  writeFileSync(path.join(workDir, 'custody-rules.yaml'), toYaml(withoutAnnotations));
  copyFileSync(path.join(__dirname, 'alerts.promtool.yaml'), path.join(workDir, 'alerts.promtool.yaml'));
  const output = runOk(requireTool('promtool'), [
    'test',
    'rules',
    path.join(workDir, 'alerts.promtool.yaml'),
  ]);
  expect(output).toContain('SUCCESS');
});

test('promtool test rules fails when an alert does not fire as expected (the cases can fail)', () => {
  const broken = {
    groups: rule.spec.groups.map((group) => ({
      ...group,
      rules: group.rules.map(({ annotations: _annotations, ...rest }) =>
        rest.alert === 'CustodyFixityMismatch' ? { ...rest, expr: `(${rest.expr}) > 1e9` } : rest,
      ),
    })),
  };
  writeFileSync(path.join(workDir, 'custody-rules.yaml'), toYaml(broken));
  copyFileSync(path.join(__dirname, 'alerts.promtool.yaml'), path.join(workDir, 'alerts.promtool.yaml'));
  expect(() =>
    runOk(requireTool('promtool'), ['test', 'rules', path.join(workDir, 'alerts.promtool.yaml')]),
  ).toThrow(/CustodyFixityMismatch/);
});

test('every custody_* metric an alert uses is one the workers export (workers/metrics.ts)', async () => {
  const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  const used = new Set(
    rule.spec.groups.flatMap((g) =>
      g.rules.flatMap((r) => [...r.expr.matchAll(/\bcustody_[a-z_]+\b/g)].map((m) => m[0])),
    ),
  );
  expect([...used].sort()).toEqual([
    'custody_abandoned_recordings',
    'custody_fixity_mismatches_total',
    'custody_needs_attention_recordings',
    'custody_overdue_recordings',
  ]);
  const unknown = [...used].filter((name) => !exported.has(name));
  expect(unknown).toEqual([]);
});

/** The custody_fixity_mismatches_total samples of one scrape of a worker's registry, by label set. */
async function fixityMismatchSamples(
  metrics: ReturnType<typeof createMetrics>,
): Promise<Map<string, number>> {
  const text = await metrics.registry.metrics();
  return new Map(
    [...text.matchAll(/^custody_fixity_mismatches_total(\{[^}]*\}) (\S+)$/gm)].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
}

/** Runs promtool on one alert test: the fixity series as a worker exposes them before and after a mismatch. */
function fixityAlertFires(before: Map<string, number>, after: Map<string, number>): boolean {
  const labelSets = [...new Set([...before.keys(), ...after.keys()])];
  const series = labelSets.map((labels) => ({
    series: `custody_fixity_mismatches_total${labels.replace('}', ',pod="orchestration-a"}')}`,
    // 30 scrapes of the fresh worker, then 30 after the mismatch; `_` is a scrape without the series.
    values: `${before.has(labels) ? `${before.get(labels)}x29` : '_x29'} ${after.get(labels) ?? '_'}x30`,
  }));
  const withoutAnnotations = {
    groups: rule.spec.groups.map((group) => ({
      ...group,
      rules: group.rules.map(({ annotations: _annotations, ...rest }) => rest),
    })),
  };
  writeFileSync(path.join(workDir, 'custody-rules.yaml'), toYaml(withoutAnnotations));
  const testFile = path.join(workDir, 'first-mismatch.promtool.yaml');
  writeFileSync(
    testFile,
    toYaml({
      rule_files: ['custody-rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          alert_rule_test: [
            {
              eval_time: '35m',
              alertname: 'CustodyFixityMismatch',
              exp_alerts: [{ exp_labels: { severity: 'critical' } }],
            },
          ],
        },
      ],
    }),
  );
  try {
    runOk(requireTool('promtool'), ['test', 'rules', testFile]);
    return true;
  } catch {
    return false;
  }
}

test('the first fixity mismatch of a fresh worker fires the alert: every series exists at 0 from the start', async () => {
  const metrics = createMetrics();
  const before = await fixityMismatchSamples(metrics);
  expect(before.get('{kind="original",problem="hash-mismatch"}')).toBe(0);
  expect(before.get('{kind="custody-log",problem="chain-broken"}')).toBe(0);
  metrics.fixityMismatches.inc({ kind: 'original', problem: 'hash-mismatch' });
  const after = await fixityMismatchSamples(metrics);
  expect(after.get('{kind="original",problem="hash-mismatch"}')).toBe(1);
  expect(fixityAlertFires(before, after)).toBe(true);
  // The same first mismatch on a series that was absent until then (a registry without the 0 series):
  // increase() has nothing to compare with, and the alert would stay silent.
  expect(fixityAlertFires(new Map(), after)).toBe(false);
});
