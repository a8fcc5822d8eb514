/**
 * The development identity provider's signing keys: an RSA key (RS256, which signs access and ID tokens) and a
 * P-256 key (ES256, published for clients that prefer it), generated at the first start into its directory and
 * reused on restart, so tokens issued before a restart still verify. rotateSigningKeys() puts a new pair in
 * front (it signs after the next start) and keeps the pair that signed until now in the JWKS for verification.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { writePrivateFile } from './secrets';

export const JWKS_FILE = 'jwks.json';

/** A private signing key as the provider's `jwks` option takes it. */
export type PrivateSigningJwk = JWK & { kid: string; alg: 'RS256' | 'ES256'; use: 'sig' };

export interface PrivateJwks {
  keys: PrivateSigningJwk[];
}

async function signingJwk(privateKey: KeyObject, alg: 'RS256' | 'ES256'): Promise<PrivateSigningJwk> {
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  // The RFC 7638 thumbprint names the key by its public part: stable, and unique without bookkeeping.
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { ...jwk, kid, alg, use: 'sig' };
}

async function newSigningPair(): Promise<PrivateSigningJwk[]> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [await signingJwk(rsa.privateKey, 'RS256'), await signingJwk(ec.privateKey, 'ES256')];
}

function readJwks(file: string): PrivateJwks | undefined {
  if (!existsSync(file)) return undefined;
  const jwks = JSON.parse(readFileSync(file, 'utf8')) as PrivateJwks;
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error(`${file} holds no keys`);
  return jwks;
}

function writeJwks(file: string, jwks: PrivateJwks): void {
  writePrivateFile(file, `${JSON.stringify(jwks, null, 2)}\n`);
}

/** The keys in `dir`, generated there first if there are none. The first key of each algorithm signs. */
export async function loadOrCreateSigningKeys(dir: string): Promise<PrivateJwks> {
  const file = path.join(dir, JWKS_FILE);
  const existing = readJwks(file);
  if (existing) return existing;
  const jwks = { keys: await newSigningPair() };
  writeJwks(file, jwks);
  return jwks;
}

/**
 * Puts a new RS256/ES256 pair in front of the keys in `dir` and keeps the pair that signed until now behind it,
 * for verifying tokens it signed; older keys are dropped. The running provider signs with the new keys after its
 * next start. Returns the new signing key ids.
 */
export async function rotateSigningKeys(dir: string): Promise<{ rs256: string; es256: string }> {
  const file = path.join(dir, JWKS_FILE);
  const current = readJwks(file) ?? (await loadOrCreateSigningKeys(dir));
  const fresh = await newSigningPair();
  const previousSigners = (['RS256', 'ES256'] as const).flatMap((alg) => {
    const signer = current.keys.find((key) => key.alg === alg);
    return signer ? [signer] : [];
  });
  writeJwks(file, { keys: [...fresh, ...previousSigners] });
  return { rs256: fresh[0]!.kid, es256: fresh[1]!.kid };
}
