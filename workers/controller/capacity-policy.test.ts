/**
 * The shipped capacity policy loads and keeps its promises (bounds that agree with the chart's autoscaling
 * defaults, measured figures with a source); policies/capacity/capacity.schema.json matches the zod schema; a bad
 * file is refused with the file, the line, the field and the fix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  capacityPolicyJsonSchema,
  CapacityPolicyError,
  loadCapacityPolicy,
  parseCapacityPolicy,
} from './capacity-policy';

const POLICY_DIR = path.join(__dirname, '..', '..', 'policies', 'capacity');
const POLICY_FILE = path.join(POLICY_DIR, 'capacity.yaml');
const SCHEMA_FILE = path.join(POLICY_DIR, 'capacity.schema.json');
const shipped = readFileSync(POLICY_FILE, 'utf8');

function problemsOf(text: string): string[] {
  try {
    parseCapacityPolicy(text, 'capacity.yaml');
  } catch (err) {
    if (err instanceof CapacityPolicyError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the policy to be refused');
}

test('the shipped policy loads; transcode alone may scale to zero', async () => {
  const policy = await loadCapacityPolicy(POLICY_FILE);
  expect(policy.pools.transcode.minReplicas).toBe(0);
  expect(policy.pools.orchestration.minReplicas).toBeGreaterThanOrEqual(1);
  expect(policy.pools['media-io'].minReplicas).toBeGreaterThanOrEqual(1);
  // The measured transcode figure is bench/RESULTS.md's: 60 s of 1080p30 in 33.6 s.
  expect(policy.plan.profiles['1080p30']?.transcodeRealTimeFactor).toMatchObject({
    value: Number((60 / 33.6).toFixed(2)),
    measured: true,
  });
  expect(policy.plan.profiles['1080p30']?.transcodeRealTimeFactor.source).toContain('bench/RESULTS.md');
  expect(policy.plan.throughput.mediaIoMegabytesPerSecond.source).toContain('bench/RESULTS.md');
});

test('the shipped bounds agree with the chart’s autoscaling defaults (KEDA/HPA and the controller alike)', () => {
  const values = parse(
    readFileSync(path.join(__dirname, '..', '..', 'helm', 'custody', 'values.yaml'), 'utf8'),
  ) as {
    pools: Record<string, { autoscaling: { minReplicas: number; maxReplicas: number } }>;
  };
  const policy = parseCapacityPolicy(shipped, POLICY_FILE);
  for (const pool of ['orchestration', 'media-io', 'transcode'] as const) {
    expect({ pool, ...values.pools[pool]!.autoscaling }).toMatchObject({
      pool,
      minReplicas: policy.pools[pool].minReplicas,
      maxReplicas: policy.pools[pool].maxReplicas,
    });
  }
});

test('policies/capacity/capacity.schema.json matches the zod schema', () => {
  const generated = capacityPolicyJsonSchema();
  if (process.env.UPDATE_CAPACITY_SCHEMA === '1')
    writeFileSync(SCHEMA_FILE, `${JSON.stringify(generated, null, 2)}\n`);
  const committed: unknown = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
  if (JSON.stringify(committed) !== JSON.stringify(generated)) {
    throw new Error(
      'policies/capacity/capacity.schema.json is out of date: run UPDATE_CAPACITY_SCHEMA=1 npx jest workers/controller/capacity-policy.test.ts, then npx prettier --write policies/capacity/capacity.schema.json',
    );
  }
  expect(committed).toEqual(generated);
});

test('a wrong value names the file, line, field and what is expected', () => {
  const text = shipped.replace(/(transcode:\n(?:.*\n)*?\s+maxReplicas:) 4/, '$1 four');
  expect(problemsOf(text)).toEqual([
    expect.stringMatching(
      /^capacity\.yaml:\d+ pools\.transcode\.maxReplicas: expected a whole number ≥ 1 \(replicas\)$/,
    ),
  ]);
});

test('min above max, a zero floor outside transcode and a misspelt field are refused with the fix', () => {
  const text = shipped
    .replace(/(orchestration:\n\s+minReplicas:) 2/, '$1 0')
    .replace(/(media-io:\n\s+minReplicas:) 1/, '$1 9')
    .replace('scaleUpCooldownSeconds: 60', 'scaleUpCoolDownSeconds: 60');
  const problems = problemsOf(text);
  expect(problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^capacity\.yaml:\d+ pools\.transcode: unknown field scaleUpCoolDownSeconds; remove it or fix its spelling/,
      ),
      expect.stringMatching(
        /^capacity\.yaml:\d+ pools\.media-io\.minReplicas: is 9, above maxReplicas 8; lower minReplicas or raise maxReplicas$/,
      ),
    ]),
  );
  // The missing scaleUpCooldownSeconds, and the cross-field checks that run once the shape is right.
  expect(problems.join('\n')).toContain('pools.transcode.scaleUpCooldownSeconds: missing');
});

test('the zero-floor rule for orchestration names the pool and the fix', () => {
  const text = shipped.replace(/(orchestration:\n\s+minReplicas:) 2/, '$1 0');
  expect(problemsOf(text)).toEqual([
    expect.stringMatching(
      /^capacity\.yaml:\d+ pools\.orchestration\.minReplicas: is 0, but only transcode may scale to zero .*; set it to 1 or more$/,
    ),
  ]);
});

test('an unreadable file and broken YAML say which file and how to fix it', async () => {
  await expect(loadCapacityPolicy('/nonexistent/capacity.yaml')).rejects.toThrow(
    /invalid capacity policy \/nonexistent\/capacity\.yaml \(CUSTODY_CAPACITY_FILE\):\n {2}cannot read it \(ENOENT.*\); set CUSTODY_CAPACITY_FILE/,
  );
  expect(problemsOf('version: 1\npools: [\n')[0]).toMatch(/^capacity\.yaml:\d+ invalid YAML: /);
  expect(problemsOf('- a list\n')).toEqual([
    'capacity.yaml expected a YAML mapping with version, pools and plan',
  ]);
});

test('the default profile must exist', () => {
  expect(problemsOf(shipped.replace('defaultProfile: 1080p30', 'defaultProfile: 4k60'))).toEqual([
    expect.stringMatching(
      /plan\.defaultProfile: names 4k60, which is not in plan\.profiles \(1080p30, 720p30\)$/,
    ),
  ]);
});
