/**
 * A real token issuer for tests: real key pairs (jose), served as a real OpenID discovery document and JWKS
 * over HTTP on the loopback interface, and real signed access tokens. Keys can be published later (a
 * rotation), and tokens can be forged the ways an attacker would (alg none, HS256 keyed with the public key,
 * a foreign key).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  base64url,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function createTestKey(kid: string, alg: TestKey['alg'] = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

export interface MintOptions {
  key?: TestKey;
  /** Seconds relative to now; negative is in the past. Default 300. */
  expiresIn?: number;
  /** Seconds relative to now (nbf); absent: no nbf claim. */
  notBefore?: number;
  issuer?: string;
  audience?: string | string[];
}

export interface TestIssuer {
  /** http://127.0.0.1:<port>: what CUSTODY_OIDC_ISSUER is set to. */
  issuer: string;
  audience: string;
  /** The key the JWKS serves from the start. */
  key: TestKey;
  /** Adds a key to the JWKS (a rotation). */
  publish(key: TestKey): void;
  /** How often the JWKS was fetched. */
  jwksFetches(): number;
  /** A signed access token with `claims` (sub, roles, units, …) and iss, aud, iat, exp set. */
  mint(claims: JWTPayload, options?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(audience = 'custody-api', firstKey?: TestKey): Promise<TestIssuer> {
  const key = firstKey ?? (await createTestKey('test-key-1'));
  const published: TestKey[] = [key];
  let fetches = 0;
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const send = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration') {
      return send({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.url === '/jwks') {
      fetches += 1;
      return send({ keys: published.map((k) => k.publicJwk) });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    audience,
    key,
    publish: (k) => void published.push(k),
    jwksFetches: () => fetches,
    async mint(claims, options = {}) {
      const signer = options.key ?? key;
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.expiresIn ?? 300));
      if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
      return jwt.sign(signer.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const encodeJson = (value: unknown) => base64url.encode(JSON.stringify(value));

/** A token with `alg: none` and no signature: valid-looking claims, no proof at all. */
export function unsignedToken(claims: JWTPayload): string {
  return `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(claims)}.`;
}

/**
 * The classic key-confusion forgery: HS256 keyed with the issuer's public key (which anyone can fetch), in
 * the hope that the verifier feeds the same key to HMAC.
 */
export async function publicKeyAsHmacSecretToken(key: TestKey, claims: JWTPayload): Promise<string> {
  const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
}

/** The same token with one signature character changed. */
export function tamperedSignature(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const at = Math.floor(signature.length / 2);
  const flipped = signature[at] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, at)}${flipped}${signature.slice(at + 1)}`;
}

/** The same signature over claims changed in transit (e.g. a role added). */
export function tamperedClaims(token: string, change: (claims: JWTPayload) => JWTPayload): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
  return `${header}.${encodeJson(change(claims))}.${signature}`;
}
