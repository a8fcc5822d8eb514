/**
 * Verifies OIDC access tokens (JWTs) with jose: the issuer's keys come from its JWKS, found through its
 * discovery document; issuer, audience, expiry, not-before, the algorithm allow-list and a bounded clock skew
 * are checked. jose refetches the JWKS when a token names a key it does not have (at most once per cooldown),
 * so a key the provider rotates in is picked up without a restart.
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

export interface OidcSettings {
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  clockSkewSeconds: number;
  jwksCooldownSeconds: number;
  /** Timeout of one fetch of the discovery document or the JWKS. */
  fetchTimeoutMs?: number;
}

/** Why a token was refused, said so that the caller can fix it; never contains the token. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  constructor(
    readonly description: string,
    /** 401: the token is at fault; 503: the issuer's keys cannot be fetched right now. */
    readonly statusCode: 401 | 503 = 401,
  ) {
    super(description);
  }
}

export interface TokenVerifier {
  /** The verified claims; throws AuthenticationError. */
  verify(token: string): Promise<JWTPayload>;
}

/** Tokens far longer than any access token are refused before parsing. */
const MAX_TOKEN_LENGTH = 16 * 1024;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

const isoTime = (seconds: unknown) =>
  typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : '?';

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Loopback http is allowed for dev issuers; everything else must be https (config.ts checks the issuer). */
function acceptableKeyUrl(url: URL, issuer: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && issuer.protocol === 'http:' && url.hostname === issuer.hostname;
}

export function createOidcVerifier(settings: OidcSettings): TokenVerifier {
  const timeout = settings.fetchTimeoutMs ?? 5000;
  const issuerUrl = new URL(settings.issuer);
  let keys: Promise<JWTVerifyGetKey> | undefined;

  /** OpenID Connect Discovery 1.0 §4: the document lives under the issuer, and must name the same issuer. */
  async function discover(): Promise<JWTVerifyGetKey> {
    const where = `${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(where, { signal: AbortSignal.timeout(timeout), redirect: 'error' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (err) {
      throw new AuthenticationError(
        `cannot read the identity provider's discovery document ${where} (${(err as Error).message}); try again shortly`,
        503,
      );
    }
    if (document.issuer !== settings.issuer) {
      throw new AuthenticationError(
        `the discovery document at ${where} names the issuer ${JSON.stringify(document.issuer)}, not ${settings.issuer} (CUSTODY_OIDC_ISSUER must be the issuer exactly)`,
        503,
      );
    }
    const jwksUrl = typeof document.jwks_uri === 'string' ? parseUrl(document.jwks_uri) : undefined;
    if (!jwksUrl || !acceptableKeyUrl(jwksUrl, issuerUrl)) {
      throw new AuthenticationError(
        `the discovery document at ${where} has no usable jwks_uri (an https URL is required)`,
        503,
      );
    }
    return createRemoteJWKSet(jwksUrl, {
      cooldownDuration: settings.jwksCooldownSeconds * 1000,
      timeoutDuration: timeout,
    });
  }

  /** Discovered once; a failed discovery is retried by the next request instead of being cached. */
  function keySet(): Promise<JWTVerifyGetKey> {
    keys ??= discover().catch((err: unknown) => {
      keys = undefined;
      throw err;
    });
    return keys;
  }

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) {
        throw new AuthenticationError(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
      }
      if (!JWS_COMPACT.test(token)) {
        throw new AuthenticationError('the token is not a signed JWT (expected three base64url parts)');
      }
      const getKey = await keySet();
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: [...settings.algorithms],
          clockTolerance: settings.clockSkewSeconds,
          requiredClaims: ['sub', 'exp'],
        });
        if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
          throw new AuthenticationError('the token has no subject (sub)');
        }
        return payload;
      } catch (err) {
        throw describeFailure(err, token, settings);
      }
    },
  };
}

/**
 * jose's error as a sentence naming what was wrong (the claim, the algorithm, the key), without the token.
 */
function describeFailure(err: unknown, token: string, settings: OidcSettings): AuthenticationError {
  if (err instanceof AuthenticationError) return err;
  const skew = `(clock skew allowed: ${settings.clockSkewSeconds} s)`;
  if (err instanceof errors.JWTExpired) {
    return new AuthenticationError(`the token expired at ${isoTime(err.payload.exp)} ${skew}`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = err;
    if (reason === 'missing') return new AuthenticationError(`the token lacks the ${claim} claim`);
    switch (claim) {
      case 'iss':
        return new AuthenticationError(`wrong issuer: this API accepts tokens of ${settings.issuer} only`);
      case 'aud':
        return new AuthenticationError(`wrong audience: the token is not issued for ${settings.audience}`);
      case 'nbf':
        return new AuthenticationError(`the token is not valid before ${isoTime(payload.nbf)} ${skew}`);
      case 'iat':
        return new AuthenticationError(`the token claims to be issued in the future ${skew}`);
      default:
        return new AuthenticationError(`the token's ${claim} claim is invalid`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    let alg = '?';
    try {
      // Named back to the caller: letters and digits only, however the header spells it.
      alg = String(decodeProtectedHeader(token).alg)
        .replace(/[^A-Za-z0-9]/g, '')
        .slice(0, 16);
    } catch {
      /* the header did not decode: '?' it is */
    }
    return new AuthenticationError(
      `signing algorithm ${alg} is not accepted (allowed: ${settings.algorithms.join(', ')})`,
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthenticationError("the token is signed by a key that is not in the issuer's key set");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthenticationError('the token signature does not verify');
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new AuthenticationError(
      `cannot fetch the identity provider's keys (${err.code}); try again shortly`,
      503,
    );
  }
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported
  ) {
    return new AuthenticationError(`the token is malformed (${err.message})`);
  }
  if (err instanceof TypeError || (err instanceof Error && /fetch/i.test(err.message))) {
    return new AuthenticationError(
      `cannot fetch the identity provider's keys (${err.message}); try again shortly`,
      503,
    );
  }
  return new AuthenticationError('the token could not be verified');
}
