import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRulePacks, parseRulePack, RulePackError } from './load';

const GOOD = `id: test-pack
version: 3
kind: statute
title: Test statute
jurisdiction: DE-BW
authority: state-police
citation: § 1 TestG
retention: P28D
deletion:
  earlyDeletionApproval: four-eyes
  holdReleaseApproval: four-eyes
  recordingOfficerDeletion: forbidden
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'custody-policies-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writePacks(files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
}

async function loadError(): Promise<RulePackError> {
  try {
    await loadRulePacks(dir);
  } catch (error) {
    if (error instanceof RulePackError) return error;
    throw error;
  }
  throw new Error('expected loadRulePacks to fail');
}

function problemsOf(text: string): string[] {
  const parsed = parseRulePack(text, 'p.yaml');
  if (parsed.ok) throw new Error('expected the pack to be rejected');
  return parsed.problems;
}

describe('loadRulePacks', () => {
  it('loads good packs, ignores other files, and finds them by id', async () => {
    await writePacks({
      'a.yaml': GOOD,
      'b.yml': GOOD.replace('id: test-pack', 'id: other-pack').replace('retention: P28D', 'retention: P2M'),
      'README.md': '# not a pack',
      'rule-pack.schema.json': '{}',
    });
    const registry = await loadRulePacks(dir);
    expect(registry.ids()).toEqual(['other-pack', 'test-pack']);
    const pack = registry.getPack('test-pack');
    expect(pack).toMatchObject({
      id: 'test-pack',
      version: 3,
      retention: 'P28D',
      file: path.join(dir, 'a.yaml'),
    });
    expect(pack.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(registry.getPack('other-pack').retention).toBe('P2M');
  });

  it('gives the same fingerprint for the same content, whatever the key order or version', () => {
    const first = parseRulePack(GOOD, 'a.yaml');
    const second = parseRulePack(GOOD.replace('version: 3', 'version: 4'), 'b.yaml');
    const changed = parseRulePack(GOOD.replace('P28D', 'P29D'), 'c.yaml');
    if (!first.ok || !second.ok || !changed.ok) throw new Error('expected all three to load');
    expect(second.pack.fingerprint).toBe(first.pack.fingerprint);
    expect(changed.pack.fingerprint).not.toBe(first.pack.fingerprint);
    const keysReordered = parseRulePack(
      GOOD.replace('id: test-pack\n', '').replace('retention: P28D\n', 'retention: P28D\nid: test-pack\n'),
      'd.yaml',
    );
    if (!keysReordered.ok) throw new Error(keysReordered.problems.join('\n'));
    expect(keysReordered.pack.fingerprint).toBe(first.pack.fingerprint);
  });

  it('names the known packs for an unknown id', async () => {
    await writePacks({ 'a.yaml': GOOD });
    const registry = await loadRulePacks(dir);
    expect(() => registry.getPack('bw-polg-99')).toThrow('unknown rule pack bw-polg-99; known: test-pack');
  });

  it('rejects duplicate ids, naming both files', async () => {
    await writePacks({ 'a.yaml': GOOD, 'b.yaml': GOOD });
    const error = await loadError();
    expect(error.problems).toEqual([
      `${path.join(dir, 'b.yaml')} id: duplicate id test-pack, already defined in ${path.join(dir, 'a.yaml')}`,
    ]);
  });

  it('rejects derivedFrom naming a pack that is not there', async () => {
    await writePacks({ 'a.yaml': `${GOOD}derivedFrom: nrw-polg-15c\n` });
    const error = await loadError();
    expect(error.problems).toEqual([
      `${path.join(dir, 'a.yaml')} derivedFrom: unknown rule pack nrw-polg-15c; known: test-pack`,
    ]);
  });

  it('reports every bad file at once', async () => {
    await writePacks({
      'a.yaml': GOOD.replace('P28D', '4 weeks'),
      'b.yaml': GOOD.replace('version: 3', 'version: 0'),
    });
    const error = await loadError();
    expect(error.message).toContain(`invalid rule packs in ${dir}:`);
    expect(error.problems).toEqual([
      expect.stringContaining(
        `${path.join(dir, 'a.yaml')}:8 retention: invalid duration "4 weeks"`,
      ) as string,
      `${path.join(dir, 'b.yaml')}:2 version: expected a whole number ≥ 1`,
    ]);
  });

  it('explains a missing or empty directory', async () => {
    await expect(loadRulePacks(path.join(dir, 'nope'))).rejects.toThrow(
      /cannot read the rule pack directory .*nope .*set CUSTODY_POLICY_DIR/,
    );
    await expect(loadRulePacks(dir)).rejects.toThrow(`no rule packs (*.yaml) in ${dir}`);
  });
});

describe('parseRulePack problems name the file, line, field and expected form', () => {
  const cases: [text: string, expected: string][] = [
    [GOOD.replace('retention: P28D', 'retention: 28 days'), 'p.yaml:8 retention: invalid duration "28 days"'],
    [GOOD.replace('retention: P28D', 'retention: P0D'), 'p.yaml:8 retention: must be longer than zero'],
    [
      GOOD.replace('retention: P28D', 'retention: 28'),
      'p.yaml:8 retention: expected an ISO 8601 duration such as P28D or P2M',
    ],
    [
      GOOD.replace('retention: P28D\n', ''),
      'p.yaml retention: missing; expected an ISO 8601 duration such as P28D or P2M',
    ],
    [
      GOOD.replace('id: test-pack', 'id: Test Pack'),
      'p.yaml:1 id: expected a lower-case id of letters, digits and dashes, e.g. bw-polg-44',
    ],
    [GOOD.replace('version: 3', 'version: 1.0.0'), 'p.yaml:2 version: expected a whole number ≥ 1'],
    [GOOD.replace('kind: statute', 'kind: law'), 'p.yaml:3 kind: expected statute or demo'],
    [
      GOOD.replace('DE-BW', 'Baden-Württemberg'),
      'p.yaml:5 jurisdiction: expected an ISO 3166-2 code such as DE-BW, or DE for federal law',
    ],
    [GOOD.replace('citation: § 1 TestG\n', ''), 'p.yaml citation: missing; a statute pack must name it'],
    [
      GOOD.replace('recordingOfficerDeletion: forbidden', 'recordingOfficerDeletion: maybe'),
      'p.yaml:12 deletion.recordingOfficerDeletion: expected forbidden, with-supervisor-consent or not-specified',
    ],
    [
      GOOD.replace('earlyDeletionApproval: four-eyes', 'earlyDeletionApproval: single'),
      'p.yaml:10 deletion.earlyDeletionApproval: expected four-eyes (two different people must agree)',
    ],
    [
      `${GOOD}retentoin: P30D\n`,
      'p.yaml:13 (top level): unknown field retentoin; see policies/rule-pack.schema.json for the allowed fields',
    ],
    [
      `${GOOD}sourceUrl: lxgesetze.de/polg/44\n`,
      'p.yaml:13 sourceUrl: expected an http(s) URL of the statute text',
    ],
    [`${GOOD}inForceSince: 1.7.2021\n`, 'p.yaml:13 inForceSince: expected a date YYYY-MM-DD'],
    [`${GOOD}preRecordingBuffer:\n  max: 60s\n`, 'p.yaml:14 preRecordingBuffer.max: invalid duration "60s"'],
    [
      `${GOOD}keepLongerWhen: [forever]\n`,
      'p.yaml:13 keepLongerWhen.0: expected evidence, prosecution or legal-claims',
    ],
    [`${GOOD}retention: P30D\n`, 'p.yaml:13 invalid YAML: Map keys must be unique'],
    ['- just\n- a list\n', 'p.yaml expected a YAML mapping of fields (id, version, retention, …)'],
    [
      'id: [unclosed\n',
      'p.yaml:2 invalid YAML: Flow sequence in block collection must be sufficiently indented',
    ],
  ];

  it.each(cases.map(([text, expected]) => [expected, text]))('%s', (expected, text) => {
    const problems = problemsOf(text);
    // toContainEqual with stringMatching would hide the actual problems; list them when none matches.
    if (!problems.some((problem) => problem.startsWith(expected))) {
      throw new Error(`no problem starts with ${JSON.stringify(expected)}; got:\n${problems.join('\n')}`);
    }
  });

  it('a demo pack needs no citation', () => {
    const demo = GOOD.replace('kind: statute', 'kind: demo')
      .replace('jurisdiction: DE-BW\n', '')
      .replace('authority: state-police\n', '')
      .replace('citation: § 1 TestG\n', '');
    expect(parseRulePack(demo, 'demo.yaml')).toMatchObject({ ok: true, pack: { kind: 'demo' } });
  });
});
