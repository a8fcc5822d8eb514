import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AssertionKeyError,
  ensureDevAssertionKeys,
  generateAssertionKeyPair,
  loadAssertionSigningKey,
  loadTrustedAssertionKeys,
} from './assertion-keys';

const dir = () => mkdtempSync(path.join(tmpdir(), 'custody-assertion-keys-'));

function pair() {
  const d = dir();
  const signing = path.join(d, 'keys', 'signing.json');
  const trusted = path.join(d, 'keys', 'public.json');
  const kid = generateAssertionKeyPair(signing, trusted);
  return { d, signing, trusted, kid };
}

test('a generated pair: the private half 0600 for the API, its public half in a JWKS the workers load', () => {
  const { signing, trusted, kid } = pair();
  const key = loadAssertionSigningKey(signing);
  expect(key.kid).toBe(kid);
  expect(key.key.asymmetricKeyType).toBe('ed25519');
  expect(loadTrustedAssertionKeys(trusted)).toEqual([
    { kid, kty: 'OKP', crv: 'Ed25519', x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown },
  ]);
  expect(readFileSync(trusted, 'utf8')).not.toContain('"d"');
});

test('the signing key: group read (a pod fsGroup) is allowed, others reading or a group writing is refused', () => {
  const { signing } = pair();
  chmodSync(signing, 0o440);
  expect(loadAssertionSigningKey(signing).kid).toMatch(/^custody-api-/);
  chmodSync(signing, 0o644);
  expect(() => loadAssertionSigningKey(signing)).toThrow(/mode 644 .*chmod 600/);
  chmodSync(signing, 0o660);
  expect(() => loadAssertionSigningKey(signing)).toThrow(AssertionKeyError);
});

test('a public key file with a private part, another curve, no kid or twice the same kid is refused', () => {
  const { signing, trusted, d } = pair();
  const privateJwk = JSON.parse(readFileSync(signing, 'utf8')) as Record<string, string>;
  const publicJwk = (JSON.parse(readFileSync(trusted, 'utf8')) as { keys: Record<string, string>[] })
    .keys[0]!;
  const write = (keys: object[]) => {
    const file = path.join(d, `bad-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify({ keys }));
    return file;
  };
  expect(() => loadTrustedAssertionKeys(write([privateJwk]))).toThrow(/private part/);
  expect(() => loadTrustedAssertionKeys(write([{ ...publicJwk, crv: 'X25519' }]))).toThrow(/not an Ed25519/);
  expect(() => loadTrustedAssertionKeys(write([{ ...publicJwk, kid: '' }]))).toThrow(/needs a kid/);
  expect(() => loadTrustedAssertionKeys(write([publicJwk, publicJwk]))).toThrow(/share a kid/);
  expect(() => loadTrustedAssertionKeys(write([]))).toThrow(/at least one key/);
  expect(() => loadTrustedAssertionKeys(path.join(d, 'missing.json'))).toThrow(
    /CUSTODY_ASSERTION_PUBLIC_KEYS_FILE/,
  );
});

test('dev keys are generated only when both paths are the dev defaults and neither file exists', () => {
  const d = dir();
  const config = {
    signingKeyFile: path.join(d, 'signing.json'),
    publicKeysFile: path.join(d, 'public.json'),
  };
  expect(ensureDevAssertionKeys({ ...config, generateIfMissing: false })).toBe(false);
  expect(ensureDevAssertionKeys({ ...config, generateIfMissing: true })).toBe(true);
  const first = readFileSync(config.publicKeysFile, 'utf8');
  expect(ensureDevAssertionKeys({ ...config, generateIfMissing: true })).toBe(false);
  expect(readFileSync(config.publicKeysFile, 'utf8')).toBe(first);
});
