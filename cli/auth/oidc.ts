/**
 * The custody command at the OpenID Provider, through openid-client (panva's OpenID-certified client, the same
 * author as jose and oidc-provider): discovery, the device authorization grant (RFC 8628) for people, client
 * credentials for service accounts, refresh, revocation. openid-client does the protocol — polling at `interval`,
 * slowing down on `slow_down`, stopping at `expires_in`, validating the ID token; this module turns its errors
 * into sentences a person can act on.
 */
import * as oauth from 'openid-client';
import { DEFAULT_DEV_IDP_PORT } from '../../api/dev-idp/constants';
import type { CustodyConfig } from '../../workers/config';
import { CliError } from '../context';

/** The development OpenID Provider of README command 1, when CUSTODY_OIDC_ISSUER names none. */
export const DEV_ISSUER = `http://127.0.0.1:${DEFAULT_DEV_IDP_PORT}`;

/** Access tokens whose lifetime the issuer does not state are taken to live this long (the contract's 5 min). */
const ASSUMED_LIFETIME_SECONDS = 300;

export function issuerFor(config: CustodyConfig, given?: string): string {
  return checkedServiceUrl(given ?? config.oidc.issuer ?? DEV_ISSUER, '--issuer');
}

/**
 * A URL tokens may be sent to: https, or plain http on the loopback interface (the dev stack, tests) — never plain
 * http across a network, where anyone on the way could take the token. Answered without a trailing slash.
 */
export function checkedServiceUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`${what} ${text}: not a URL`);
  }
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new CliError(
      `${what} ${text}: must be https:// (plain http only on 127.0.0.1, localhost or [::1])`,
    );
  }
  return url.href.replace(/\/+$/, '');
}

function isPlainHttp(url: string): boolean {
  return new URL(url).protocol === 'http:';
}

/** The OAuth error of a 401 answered with a `WWW-Authenticate` challenge (a refused client secret). */
function challengeError(err: oauth.WWWAuthenticateChallengeError) {
  return err.cause.find((challenge) => challenge.parameters.error)?.parameters;
}

/** What went wrong, in words, for any error openid-client or fetch throws. */
export function describeOAuthError(err: unknown): string {
  if (err instanceof oauth.ResponseBodyError) {
    return err.error_description ? `${err.error}: ${err.error_description}` : err.error;
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = challengeError(err);
    if (challenge?.error) {
      return challenge.error_description
        ? `${challenge.error}: ${challenge.error_description}`
        : challenge.error;
    }
    return `HTTP ${err.status}`;
  }
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The OAuth error code of a token-endpoint answer (`access_denied`, `invalid_grant`, …), if it was one. */
export function oauthErrorCode(err: unknown): string | undefined {
  if (err instanceof oauth.ResponseBodyError) return err.error;
  if (err instanceof oauth.WWWAuthenticateChallengeError) return challengeError(err)?.error;
  if (err instanceof oauth.ClientError && err.code === 'OAUTH_TIMEOUT') return 'expired_token';
  return undefined;
}

/** The issuer's metadata and this client's authentication: a public client, or a service account's secret. */
export async function discoverIssuer(
  issuer: string,
  clientId: string,
  clientSecret?: string,
): Promise<oauth.Configuration> {
  try {
    return await oauth.discovery(
      new URL(issuer),
      clientId,
      undefined,
      clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(clientSecret),
      // checkedServiceUrl allowed plain http for loopback addresses only.
      isPlainHttp(issuer) ? { execute: [oauth.allowInsecureRequests] } : undefined,
    );
  } catch (err) {
    throw new CliError(`cannot reach the OpenID Provider at ${issuer}: ${describeOAuthError(err)}`);
  }
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresAt: Date;
  /** The ID token's claims, when there was one: to greet the person by name on their own terminal. */
  idTokenClaims?: Record<string, unknown>;
}

function issued(response: oauth.TokenEndpointResponse & oauth.TokenEndpointResponseHelpers): IssuedTokens {
  const lifetime = response.expiresIn() ?? ASSUMED_LIFETIME_SECONDS;
  const claims = response.claims();
  return {
    accessToken: response.access_token,
    ...(response.refresh_token !== undefined && { refreshToken: response.refresh_token }),
    expiresAt: new Date(Date.now() + lifetime * 1000),
    ...(claims && { idTokenClaims: { ...claims } }),
  };
}

export async function startDeviceAuthorization(
  config: oauth.Configuration,
  scope: string,
): Promise<oauth.DeviceAuthorizationResponse> {
  try {
    return await oauth.initiateDeviceAuthorization(config, { scope });
  } catch (err) {
    throw new CliError(`the OpenID Provider refused to start a sign-in: ${describeOAuthError(err)}`);
  }
}

/** Why a device sign-in ended without tokens, as the person should read it. */
export function deviceFlowFailure(err: unknown): string {
  switch (oauthErrorCode(err)) {
    case 'access_denied':
      return 'the sign-in was denied or cancelled at the OpenID Provider (access_denied): run custody login to try again';
    case 'expired_token':
      return 'the code expired before the sign-in was completed (expired_token): run custody login again';
    default:
      return `the sign-in failed: ${describeOAuthError(err)}`;
  }
}

/** Polls the token endpoint until the person has confirmed the code, denied it, or the code expired. */
export async function awaitDeviceAuthorization(
  config: oauth.Configuration,
  started: oauth.DeviceAuthorizationResponse,
): Promise<IssuedTokens> {
  try {
    return issued(await oauth.pollDeviceAuthorizationGrant(config, started));
  } catch (err) {
    throw new CliError(deviceFlowFailure(err));
  }
}

/** A fresh access token for a refresh token; throws the openid-client error for the caller to word. */
export async function refreshTokens(
  config: oauth.Configuration,
  refreshToken: string,
): Promise<IssuedTokens> {
  return issued(await oauth.refreshTokenGrant(config, refreshToken));
}

export async function clientCredentialsTokens(
  config: oauth.Configuration,
  scope: string | undefined,
): Promise<IssuedTokens> {
  return issued(await oauth.clientCredentialsGrant(config, scope === undefined ? {} : { scope }));
}

/** Revokes a refresh token (RFC 7009) when the issuer has a revocation endpoint; false when it has none. */
export async function revokeRefreshToken(
  config: oauth.Configuration,
  refreshToken: string,
): Promise<boolean> {
  if (!config.serverMetadata().revocation_endpoint) return false;
  await oauth.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
  return true;
}
