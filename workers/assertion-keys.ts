/**
 * The keys of action assertions (domain/assertion.ts). The custody API signs with its private key; each worker
 * builds the public keys into its workflow bundle, where the Update validators read them (workflows/trust.ts).
 * A JWKS file lists several public keys during a rotation: sign with the new one once every worker trusts it.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TrustedAssertionKey } from '../domain/assertion';

export class AssertionKeyError extends Error {
  override name = 'AssertionKeyError';
}

const KID = /^[A-Za-z0-9._-]{1,64}$/;

/** The public keys a worker trusts: a JWKS of Ed25519 keys, each with a kid. */
export function loadTrustedAssertionKeys(file: string): TrustedAssertionKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AssertionKeyError(
      `Cannot read the assertion public keys ${file} (CUSTODY_ASSERTION_PUBLIC_KEYS_FILE): ${(err as Error).message}`,
    );
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new AssertionKeyError(`${file} is not a JWKS with at least one key ({ "keys": [...] })`);
  const trusted = keys.map((key: Record<string, unknown>, i): TrustedAssertionKey => {
    if (key.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string')
      throw new AssertionKeyError(
        `${file}: key ${i + 1} is not an Ed25519 public key (kty OKP, crv Ed25519, x)`,
      );
    if ('d' in key)
      throw new AssertionKeyError(
        `${file}: key ${i + 1} holds a private part (d): workers get public keys only`,
      );
    if (typeof key.kid !== 'string' || !KID.test(key.kid))
      throw new AssertionKeyError(`${file}: key ${i + 1} needs a kid of letters, digits and . _ -`);
    if (Buffer.from(key.x, 'base64url').length !== 32)
      throw new AssertionKeyError(`${file}: key ${key.kid} is not 32 bytes`);
    return { kid: key.kid, kty: 'OKP', crv: 'Ed25519', x: key.x };
  });
  if (new Set(trusted.map((k) => k.kid)).size !== trusted.length)
    throw new AssertionKeyError(`${file}: two keys share a kid`);
  return trusted;
}

export interface AssertionSigningKey {
  kid: string;
  key: KeyObject;
}

/** The API's private key: an Ed25519 JWK with a kid, readable by its owner only. */
export function loadAssertionSigningKey(file: string): AssertionSigningKey {
  let jwk: Record<string, unknown>;
  try {
    // Owner read, and the group read a pod's fsGroup adds to a mounted Secret (0440); never others, never a
    // group that may write (as workers/payload-codec.ts allows its key file).
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o037) {
      throw new Error(
        `mode ${mode.toString(8)} lets others read it or others than its owner write it: chmod 600 ${file}`,
      );
    }
    jwk = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new AssertionKeyError(
      `Cannot use the assertion signing key ${file} (CUSTODY_ASSERTION_SIGNING_KEY_FILE): ${(err as Error).message}`,
    );
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string')
    throw new AssertionKeyError(`${file} is not an Ed25519 private JWK with a kid`);
  if (!KID.test(jwk.kid)) throw new AssertionKeyError(`${file}: the kid must be letters, digits and . _ -`);
  const { kid: _kid, ...material } = jwk;
  return { kid: jwk.kid, key: createPrivateKey({ key: material, format: 'jwk' }) };
}

/**
 * Writes a new key pair: the private JWK (0600) for the API and a JWKS with its public half for the workers. For
 * dev and tests; production generates its pair once and distributes it as Secrets (docs/identity.md).
 */
export function generateAssertionKeyPair(signingKeyFile: string, publicKeysFile: string): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const kid = `custody-api-${randomUUID().slice(0, 8)}`;
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid };
  const publicJwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid };
  for (const file of [signingKeyFile, publicKeysFile])
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(signingKeyFile, JSON.stringify(privateJwk), { mode: 0o600 });
  writeFileSync(publicKeysFile, JSON.stringify({ keys: [publicJwk] }, null, 2), { mode: 0o644 });
  return kid;
}

/** The dev defaults: generated once, both files, when neither exists. */
export function ensureDevAssertionKeys(config: {
  signingKeyFile: string;
  publicKeysFile: string;
  generateIfMissing: boolean;
}): boolean {
  if (!config.generateIfMissing || existsSync(config.signingKeyFile) || existsSync(config.publicKeysFile))
    return false;
  generateAssertionKeyPair(config.signingKeyFile, config.publicKeysFile);
  return true;
}
