import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadKeyError,
  ensurePayloadKeyFile,
  loadPayloadKeys,
  type PayloadKeySet,
} from './payload-codec';

const text = (bytes: Uint8Array | null | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array());
const keySet = (...ids: string[]): PayloadKeySet => ({
  keys: ids.map((id) => ({ id, key: randomBytes(32) })),
  source: 'the test keys',
});
const dir = mkdtempSync(path.join(tmpdir(), 'custody-payload-keys-'));
function keyFile(content: unknown, mode = 0o600): string {
  const file = path.join(dir, `${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(file, mode);
  return file;
}

const SECRET = { officerId: 'officer-4711', reason: 'complaint filed by a witness' };
const plain = (): Payload => defaultPayloadConverter.toPayload(SECRET);

test('a payload round-trips, and what is sent holds only the encoding, the key id and ciphertext', async () => {
  const codec = new AesGcmPayloadCodec(keySet('k1'));
  const [encoded] = await codec.encode([plain()]);
  expect(Object.keys(encoded!.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
  expect(text(encoded!.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
  expect(text(encoded!.metadata?.[KEY_ID_METADATA])).toBe('k1');
  expect(Buffer.from(encoded!.data!).includes('officer-4711')).toBe(false);
  expect(Buffer.from(encoded!.data!).includes('json/plain')).toBe(false); // the original metadata is sealed too
  const [decoded] = await codec.decode([encoded!]);
  expect(text(decoded!.metadata?.encoding)).toBe('json/plain');
  expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(SECRET);
});

test('each payload gets its own IV: the same value encrypts differently every time', async () => {
  const codec = new AesGcmPayloadCodec(keySet('k1'));
  const [a, b] = await codec.encode([plain(), plain()]);
  expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
});

test.each([
  ['the ciphertext', 20],
  ['the IV', 3],
  ['the tag', -1],
])('a payload with %s altered fails authentication', async (_what, at) => {
  const codec = new AesGcmPayloadCodec(keySet('k1'));
  const [encoded] = await codec.encode([plain()]);
  const data = Buffer.from(encoded!.data!);
  const index = at < 0 ? data.length + at : at;
  data[index] = data[index]! ^ 0x01;
  await expect(codec.decode([{ ...encoded!, data }])).rejects.toThrow(/key "k1".*fails authentication/);
});

test('rotation: a new key first encrypts, and payloads of the old key still decode', async () => {
  const old = keySet('k-old');
  const [before] = await new AesGcmPayloadCodec(old).encode([plain()]);
  const rotated = new AesGcmPayloadCodec({
    keys: [{ id: 'k-new', key: randomBytes(32) }, ...old.keys],
    source: 'the rotated keys',
  });
  const [after] = await rotated.encode([plain()]);
  expect(text(after!.metadata?.[KEY_ID_METADATA])).toBe('k-new');
  const decoded = await rotated.decode([before!, after!]);
  expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([SECRET, SECRET]);
});

test('plain payloads (histories from before encryption) pass through decode untouched', async () => {
  const codec = new AesGcmPayloadCodec(keySet('k1'));
  const original = plain();
  const [decoded] = await codec.decode([original]);
  expect(decoded).toBe(original);
});

test('a payload of a key no longer in the set fails, naming the key id and where the keys come from', async () => {
  const [encoded] = await new AesGcmPayloadCodec(keySet('k-retired')).encode([plain()]);
  await expect(new AesGcmPayloadCodec(keySet('k1')).decode([encoded!])).rejects.toThrow(
    /key id "k-retired", which is not in the test keys/,
  );
});

describe('loadPayloadKeys', () => {
  const good = () => ({ id: 'k1', key: randomBytes(32).toString('base64') });

  test('reads a JSON list and a YAML list; the first key encrypts', async () => {
    const second = good();
    const json = loadPayloadKeys(keyFile([{ ...good(), id: 'k2' }, second]));
    expect(json.keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    const yaml = loadPayloadKeys(keyFile(`- id: k3\n  key: ${second.key}\n`));
    expect(yaml.keys).toEqual([{ id: 'k3', key: Buffer.from(second.key, 'base64') }]);
    const [encoded] = await new AesGcmPayloadCodec(json).encode([plain()]);
    expect(text(encoded!.metadata?.[KEY_ID_METADATA])).toBe('k2');
  });

  test('refuses a key of the wrong length, naming the key', () => {
    const file = keyFile([{ id: 'short', key: randomBytes(16).toString('base64') }]);
    expect(() => loadPayloadKeys(file)).toThrow(PayloadKeyError);
    expect(() => loadPayloadKeys(file)).toThrow(/"short".* is 16 bytes; AES-256 needs 32/);
  });

  test('refuses a file others may read or others than its owner may write, with the chmod that fixes it', () => {
    const file = keyFile([good()], 0o644);
    expect(() => loadPayloadKeys(file)).toThrow(new RegExp(`mode 644.*chmod 600 ${file}`));
    const groupWritable = keyFile([good()], 0o660);
    expect(() => loadPayloadKeys(groupWritable)).toThrow(/mode 660/);
    // A Kubernetes Secret volume with the pod's fsGroup: group read for the service's own group.
    expect(loadPayloadKeys(keyFile([good()], 0o440)).keys).toHaveLength(1);
  });

  test('refuses a missing file, saying what to set; an empty list, duplicate ids and junk', () => {
    expect(() => loadPayloadKeys(path.join(dir, 'absent.json'))).toThrow(
      /does not exist\. Set CUSTODY_PAYLOAD_KEYS_FILE/,
    );
    expect(() => loadPayloadKeys(keyFile([]))).toThrow(/at least one key/);
    expect(() => loadPayloadKeys(keyFile([good(), good()]))).toThrow(/"k1" appears twice/);
    expect(() => loadPayloadKeys(keyFile('{ not: [a list'))).toThrow(PayloadKeyError);
  });

  test('ensurePayloadKeyFile writes one usable key with mode 0600, once', () => {
    const file = path.join(dir, 'generated', 'payload-keys.json');
    expect(ensurePayloadKeyFile(file)).toBe(true);
    const written = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadPayloadKeys(file).keys).toHaveLength(1);
    expect(ensurePayloadKeyFile(file)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(written);
  });
});
