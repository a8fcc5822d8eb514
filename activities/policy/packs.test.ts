/**
 * The shipped packs in policies/: they load, say what the domain facts say, carry a version that moves
 * whenever their content does, and policies/rule-pack.schema.json matches the zod schema.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadRulePacks, type RulePackRegistry } from './load';
import { rulePackJsonSchema } from './rule-pack';

const POLICY_DIR = path.join(__dirname, '..', '..', 'policies');
const SCHEMA_FILE = path.join(POLICY_DIR, 'rule-pack.schema.json');

/**
 * Content fingerprints of the shipped packs at their current version. When a test below fails because a
 * pack changed: bump `version` in the YAML file, then put the new version and fingerprint here.
 */
const PINNED: Record<string, { version: number; fingerprint: string }> = {
  'bw-polg-44': {
    version: 1,
    fingerprint: '5121f36a8653c6c5a3f40ac1cffe530a4b35b5a7180ae68e144c346900147eb9',
  },
  'nrw-polg-15c': {
    version: 1,
    fingerprint: '241454dbbdc6ffcd2d80fc89a117394557fa9316bf1924732afbc32dafd9bc58',
  },
  'nrw-obg-24': {
    version: 1,
    fingerprint: '43c515ce2f5e4378c9cbe9cabd82191d132d2363fec31f1c977ebd712e6d2c2b',
  },
  'bpolg-27a': {
    version: 1,
    fingerprint: '01a13eda4f4c9cf6ce5fbcbc08645be84c0b675b8df5474228d67aff60cb636d',
  },
  'rlp-pog-31': {
    version: 2,
    fingerprint: '1c848eec2836094b932faacef4157a1f6a382bf99934f64e41b2bf228acddfaf',
  },
  'by-pag': { version: 2, fingerprint: '2c08002515c46fc097210a497dbaf91f544de3b630c0889147108761238c58c3' },
  demo: { version: 1, fingerprint: '94c50dfdd3d2449643e04a903258a5b191d2b3da08afb3d1a505ed0f53fee2b4' },
};

let registry: RulePackRegistry;
beforeAll(async () => {
  registry = await loadRulePacks(POLICY_DIR);
});

it('ships exactly the expected packs', () => {
  expect(registry.ids()).toEqual(Object.keys(PINNED).sort());
});

it.each([
  ['bw-polg-44', 'P28D', '§ 44 PolG BW', 'https://lxgesetze.de/polg/44'],
  ['nrw-polg-15c', 'P14D', '§ 15c PolG NRW', 'https://rodorf.de/Web22/08%20normen/polg/15c%20polg.htm'],
  [
    'nrw-obg-24',
    'P14D',
    '§ 24 OBG NRW, applying § 15c PolG NRW',
    'https://kommunen.nrw/informationen/mitteilungen/datenbank/detailansicht/dokument/aenderung-obg-nrw.html',
  ],
  ['bpolg-27a', 'P30D', '§ 27a BPolG', 'https://buzer.de/gesetz/6381/al60683-0.htm'],
  [
    'rlp-pog-31',
    'P30D',
    '§ 31 Abs. 4 POG RLP',
    'https://justiz-nrw.wolterskluwer-online.de/browse/document/cite/1ce85118-90ec-32da-8ea3-3eca4f8cc266',
  ],
  [
    'by-pag',
    'P2M',
    'Art. 33 PAG (Bayerisches Polizeiaufgabengesetz)',
    'https://www.br.de/nachrichten/bayern/wie-die-polizei-bodycams-einsetzen-darf,RKKhZo9',
  ],
])('%s keeps recordings at most %s (%s)', (id, retention, citation, sourceUrl) => {
  const pack = registry.getPack(id);
  expect(pack).toMatchObject({ kind: 'statute', retention, citation });
  expect(pack.sourceUrl).toBe(sourceUrl);
  expect(pack.deletion.earlyDeletionApproval).toBe('four-eyes');
  expect(pack.deletion.holdReleaseApproval).toBe('four-eyes');
});

it('encodes the statute-specific rules from the domain facts', () => {
  expect(registry.getPack('bw-polg-44')).toMatchObject({
    keepLongerWhen: ['prosecution', 'legal-claims'],
    preRecordingBuffer: { max: 'PT60S', deletedAutomatically: true },
    deletion: { recordingOfficerDeletion: 'forbidden' },
  });
  for (const id of ['nrw-polg-15c', 'nrw-obg-24']) {
    expect(registry.getPack(id)).toMatchObject({
      keepLongerWhen: ['evidence'],
      deletion: { recordingOfficerDeletion: 'with-supervisor-consent' },
      storageRequirements: ['encrypted', 'tamper-proof'],
    });
  }
  expect(registry.getPack('nrw-obg-24')).toMatchObject({
    derivedFrom: 'nrw-polg-15c',
    inForceSince: '2021-07-01',
    authority: 'municipal-order-service',
  });
  expect(registry.getPack('bpolg-27a').preRecordingBuffer).toEqual({ max: 'PT30S' });
  expect(registry.getPack('rlp-pog-31').deletion.documentCaseByCase).toEqual([
    'deletion',
    'change-of-purpose',
  ]);
});

it('marks the demo pack as not a statute', () => {
  const demo = registry.getPack('demo');
  expect(demo).toMatchObject({ kind: 'demo', retention: 'PT30S' });
  expect(demo.title).toContain('not a statute');
  expect(demo.citation).toBeUndefined();
});

it.each(Object.entries(PINNED))('%s: version moves whenever the content does', (id, pinned) => {
  const pack = registry.getPack(id);
  const where = `policies/${id}.yaml`;
  if (pack.fingerprint !== pinned.fingerprint && pack.version === pinned.version) {
    throw new Error(
      `${where} changed but its version is still ${pack.version}: bump version in ${where}, then pin ` +
        `'${id}': { version: ${pack.version + 1}, fingerprint: '${pack.fingerprint}' } in activities/policy/packs.test.ts`,
    );
  }
  expect({ version: pack.version, fingerprint: pack.fingerprint }).toEqual(pinned);
});

it('policies/rule-pack.schema.json matches the zod schema', () => {
  const generated = rulePackJsonSchema();
  if (process.env.UPDATE_RULE_PACK_SCHEMA === '1') {
    writeFileSync(SCHEMA_FILE, `${JSON.stringify(generated, null, 2)}\n`);
  }
  const committed: unknown = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
  if (JSON.stringify(committed) !== JSON.stringify(generated)) {
    throw new Error(
      'policies/rule-pack.schema.json is out of date: run UPDATE_RULE_PACK_SCHEMA=1 npx jest activities/policy/packs.test.ts, then npx prettier --write policies/rule-pack.schema.json',
    );
  }
  expect(committed).toEqual(generated);
});
