import { createHash } from 'node:crypto';
import {
  canonicalJson,
  GENESIS_HASH,
  hashEntry,
  makeEntry,
  verifyChain,
  type CustodyEntry,
  type EntryFields,
} from './chain';

function buildChain(count: number, recordingId = 'rec-01'): CustodyEntry[] {
  const entries: CustodyEntry[] = [];
  for (let i = 0; i < count; i++) {
    const fields: EntryFields = {
      recordingId,
      time: `2024-03-01T08:${String(i).padStart(2, '0')}:00.000Z`,
      actor: i === 0 ? 'system' : `person-${i}`,
      action: ['ingested', 'hashed', 'transcoded', 'marked-evidence', 'hold-placed'][i % 5]!,
      details: { step: i, sha256: 'ab'.repeat(32), tags: ['a', 'b'] },
    };
    entries.push(makeEntry(entries[entries.length - 1], fields));
  }
  return entries;
}

function messages(verdict: ReturnType<typeof verifyChain>): string[] {
  if (verdict.ok) throw new Error('expected the chain to be rejected');
  return verdict.problems.map((problem) => problem.message);
}

describe('canonicalJson', () => {
  it('sorts keys recursively and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: true }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}',
    );
  });

  it('sorts by UTF-16 code units and keeps non-ASCII text as is', () => {
    expect(canonicalJson({ ä: 1, z: 2, Z: 3, '€': 4 })).toBe('{"Z":3,"z":2,"ä":1,"€":4}');
  });

  it('serialises numbers as ECMAScript does', () => {
    expect(canonicalJson([1.0, -0, 1e21, 0.000001, 1e-7, 123.456])).toBe('[1,0,1e+21,0.000001,1e-7,123.456]');
  });

  it('escapes control characters and quotes like JSON.stringify', () => {
    expect(canonicalJson({ s: 'line\n"quoted"\u0001' })).toBe('{"s":"line\\n\\"quoted\\"\\u0001"}');
  });

  it.each([
    [{ a: undefined }, '$.a is undefined; use null or omit the key'],
    [{ a: [1, undefined] }, '$.a[1] is undefined'],
    [{ a: NaN }, '$.a is NaN; only finite numbers are JSON'],
    [{ a: { b: Infinity } }, '$.a.b is Infinity'],
    [{ a: 10n }, '$.a is bigint'],
    [{ a: () => 1 }, '$.a is function'],
    [{ when: new Date(0) }, '$.when is a Date, not a plain object; convert it'],
    [{ m: new Map() }, '$.m is a Map, not a plain object'],
    [{ s: 'bad \uD800 surrogate' }, '$.s contains a lone UTF-16 surrogate'],
    // eslint-disable-next-line no-sparse-arrays
    [[1, , 3], '$[1] is undefined'],
  ])('refuses %p', (value, message) => {
    expect(() => canonicalJson(value)).toThrow(message);
  });

  it('refuses cycles but allows the same object twice', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow('$.self refers back to itself (a cycle)');
  });
});

describe('hashEntry and makeEntry', () => {
  it('hashes the canonical JSON of all fields but hash, as UTF-8', () => {
    const entry = makeEntry(undefined, {
      recordingId: 'rec-ä',
      time: '2024-03-01T08:00:00.000Z',
      actor: 'system',
      action: 'ingested',
      details: { size: 10 },
    });
    const canonical =
      '{"action":"ingested","actor":"system","details":{"size":10},' +
      `"prevHash":"${GENESIS_HASH}","recordingId":"rec-ä","seq":0,"time":"2024-03-01T08:00:00.000Z"}`;
    expect(entry.hash).toBe(createHash('sha256').update(Buffer.from(canonical, 'utf8')).digest('hex'));
    expect(entry.seq).toBe(0);
    expect(entry.prevHash).toBe(GENESIS_HASH);
  });

  it('is independent of key order', () => {
    const [first] = buildChain(1);
    const reordered = {
      prevHash: first!.prevHash,
      details: { tags: ['a', 'b'], sha256: 'ab'.repeat(32), step: 0 },
      time: first!.time,
      action: first!.action,
      actor: first!.actor,
      seq: first!.seq,
      recordingId: first!.recordingId,
    };
    expect(hashEntry(reordered)).toBe(first!.hash);
  });

  it('links to the previous entry', () => {
    const [first, second] = buildChain(2);
    expect(second!.seq).toBe(1);
    expect(second!.prevHash).toBe(first!.hash);
  });

  it('refuses to chain another recording, or a malformed entry', () => {
    const [first] = buildChain(1, 'rec-01');
    const fields = {
      recordingId: 'rec-02',
      time: '2024-03-01T09:00:00.000Z',
      actor: 'system',
      action: 'x',
      details: {},
    };
    expect(() => makeEntry(first, fields)).toThrow(
      'cannot chain an entry for rec-02 after an entry of rec-01',
    );
    expect(() => makeEntry(undefined, { ...fields, time: '2024-03-01 09:00' })).toThrow(
      'invalid custody entry: time must be a UTC instant as toISOString() writes it',
    );
    expect(() => makeEntry(undefined, { ...fields, time: '2024-02-30T09:00:00.000Z' })).toThrow(
      'got 2024-02-30',
    );
    expect(() => makeEntry(undefined, { ...fields, time: '2024-03-01T09:00:00Z' })).toThrow(
      'got 2024-03-01T09:00:00Z',
    );
    expect(() => makeEntry(undefined, { ...fields, actor: '' })).toThrow('actor must be a non-empty string');
    expect(() => makeEntry(undefined, { ...fields, details: { at: new Date(0) } as never })).toThrow(
      'details: $.at is a Date',
    );
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and returns its head', () => {
    const entries = buildChain(5);
    expect(verifyChain(entries)).toEqual({ ok: true, headHash: entries[4]!.hash, length: 5 });
    expect(verifyChain([])).toEqual({ ok: true, headHash: GENESIS_HASH, length: 0 });
  });

  it('detects tampered details', () => {
    const entries = buildChain(4);
    const original = entries[2]!;
    entries[2] = { ...original, details: { ...original.details, step: 99 } };
    const expected = hashEntry(entries[2]);
    expect(messages(verifyChain(entries))).toEqual([
      `hash mismatch at seq 2: expected ${expected}, found ${original.hash}`,
    ]);
  });

  it('detects tampered details even when the forger recomputes that entry hash', () => {
    const entries = buildChain(4);
    const forged = { ...entries[1]!, details: { step: 1, note: 'nothing to see' } };
    entries[1] = { ...forged, hash: hashEntry(forged) };
    expect(messages(verifyChain(entries))).toEqual([
      `prevHash mismatch at seq 2: expected ${entries[1].hash}, found ${entries[2]!.prevHash}`,
    ]);
  });

  it('detects reordering', () => {
    const entries = buildChain(4);
    const [e0, e1, e2, e3] = entries as [CustodyEntry, CustodyEntry, CustodyEntry, CustodyEntry];
    expect(messages(verifyChain([e0, e2, e1, e3]))).toEqual([
      'seq gap at position 1: expected seq 1, found seq 2 (seq 1 missing)',
      `prevHash mismatch at seq 2: expected ${e0.hash}, found ${e1.hash}`,
      'seq out of order at position 2: expected seq 2, found seq 1',
      `prevHash mismatch at seq 1: expected ${e2.hash}, found ${e0.hash}`,
      `prevHash mismatch at seq 3: expected ${e1.hash}, found ${e2.hash}`,
    ]);
  });

  it('detects a dropped entry', () => {
    const entries = buildChain(5);
    const [e0, e1, e2, e3, e4] = entries as [
      CustodyEntry,
      CustodyEntry,
      CustodyEntry,
      CustodyEntry,
      CustodyEntry,
    ];
    expect(messages(verifyChain([e0, e1, e3, e4]))).toEqual([
      'seq gap at position 2: expected seq 2, found seq 3 (seq 2 missing)',
      `prevHash mismatch at seq 3: expected ${e1.hash}, found ${e2.hash}`,
      'seq gap at position 3: expected seq 3, found seq 4 (seq 3 missing)',
    ]);
  });

  it('detects a duplicated entry', () => {
    const [e0, e1, e2] = buildChain(3) as [CustodyEntry, CustodyEntry, CustodyEntry];
    expect(messages(verifyChain([e0, e1, e1, e2]))).toEqual([
      'duplicate seq 1 at position 2',
      `prevHash mismatch at seq 1: expected ${e1.hash}, found ${e0.hash}`,
      'seq out of order at position 3: expected seq 3, found seq 2',
    ]);
  });

  it('detects an entry of another recording', () => {
    const entries = buildChain(3, 'rec-01');
    const foreign = makeEntry(entries[1], { ...entries[2]!, recordingId: 'rec-01' });
    const swapped = { ...foreign, recordingId: 'rec-02' };
    entries[2] = { ...swapped, hash: hashEntry(swapped) };
    expect(messages(verifyChain(entries))).toEqual([
      'wrong recordingId at seq 2: expected rec-01, found rec-02',
    ]);
    expect(messages(verifyChain(buildChain(1, 'rec-01'), { recordingId: 'rec-09' }))).toEqual([
      'wrong recordingId at seq 0: expected rec-09, found rec-01',
    ]);
  });

  it('detects a truncated tail against a head kept elsewhere', () => {
    const entries = buildChain(4);
    const head = entries[3]!.hash;
    expect(messages(verifyChain(entries.slice(0, 3), { headHash: head, length: 4 }))).toEqual([
      'length mismatch: expected 4 entries, found 3',
      `head mismatch: expected ${head}, found ${entries[2]!.hash}`,
    ]);
  });

  it('reports malformed entries and unknown fields', () => {
    const entries = buildChain(2);
    const withExtra = { ...entries[1]!, comment: 'not hashed' } as CustodyEntry;
    const broken = { ...entries[0]!, seq: -1, hash: 'XYZ' };
    const verdict = verifyChain([broken, withExtra]);
    expect(messages(verdict)).toEqual([
      'malformed entry at position 0: seq must be an integer ≥ 0; hash must be 64 lower-case hex digits',
      'malformed entry at position 1: unknown fields comment (they would not be hashed)',
    ]);
  });
});
