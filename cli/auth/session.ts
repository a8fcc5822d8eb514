/**
 * Who the custody command acts as, and the access token that says so: a person's cached sign-in (refreshed with
 * its refresh token when the access token is within a minute of expiry), or — when CUSTODY_CLIENT_ID is set — a
 * service account, whose token is fetched with client credentials for each run and never written to disk.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  clientCredentialsTokens,
  describeOAuthError,
  discoverIssuer,
  issuerFor,
  oauthErrorCode,
  refreshTokens,
} from './oidc';
import {
  credentialsFile,
  privateFileProblem,
  readCredentials,
  withCredentialsLock,
  writeCredentials,
  CredentialsFileError,
  type StoredCredentials,
} from './credentials';
import type { CustodyConfig } from '../../workers/config';
import { CliError } from '../context';

/** An access token this close to its expiry is refreshed before use: it could lapse on the way to the API. */
export const REFRESH_MARGIN_MS = 60_000;

export const NOT_LOGGED_IN = 'not logged in: run custody login';

export function needsRefresh(expiresAt: Date, now: Date): boolean {
  return expiresAt.getTime() - now.getTime() <= REFRESH_MARGIN_MS;
}

export interface Session {
  kind: 'person' | 'service-account';
  issuer: string;
  /** The API this session was signed in for (a person's), or undefined (a service account: CUSTODY_API_URL). */
  apiUrl: string | undefined;
  /** A current access token, refreshed or fetched when needed. */
  accessToken(): Promise<string>;
  /** When the token accessToken() last answered expires. */
  expiresAt(): Date | undefined;
}

/** The session the configuration and the cached sign-in give; throws "not logged in" when there is none. */
export function currentSession(config: CustodyConfig): Session {
  if (config.cli.serviceAccount) return serviceAccountSession(config);
  const file = credentialsFile(config.cli.configDir);
  const stored = readCachedCredentials(file);
  if (!stored) throw new CliError(NOT_LOGGED_IN);
  return personSession(file, stored);
}

function readCachedCredentials(file: string): StoredCredentials | undefined {
  try {
    return readCredentials(file);
  } catch (err) {
    if (err instanceof CredentialsFileError) throw new CliError(err.message);
    throw err;
  }
}

function personSession(file: string, initial: StoredCredentials): Session {
  let current = initial;
  return {
    kind: 'person',
    issuer: initial.issuer,
    apiUrl: initial.apiUrl,
    expiresAt: () => new Date(current.expiresAt),
    async accessToken() {
      if (!needsRefresh(new Date(current.expiresAt), new Date())) return current.accessToken;
      current = await withCredentialsLock(file, async () => {
        // Another command may have refreshed while this one waited for the lock, or logged out.
        const latest = readCachedCredentials(file);
        if (!latest) throw new CliError(NOT_LOGGED_IN);
        if (!needsRefresh(new Date(latest.expiresAt), new Date())) return latest;
        return refreshStored(file, latest);
      });
      return current.accessToken;
    },
  };
}

async function refreshStored(file: string, stored: StoredCredentials): Promise<StoredCredentials> {
  if (!stored.refreshToken) {
    throw new CliError('your sign-in has expired and cannot be refreshed: run custody login again');
  }
  const issuer = await discoverIssuer(stored.issuer, stored.clientId);
  let refreshed;
  try {
    refreshed = await refreshTokens(issuer, stored.refreshToken);
  } catch (err) {
    if (oauthErrorCode(err) !== undefined) {
      throw new CliError(
        `your sign-in could not be refreshed (${describeOAuthError(err)}): run custody login again`,
      );
    }
    throw new CliError(
      `cannot reach the OpenID Provider at ${stored.issuer} to refresh the sign-in: ${describeOAuthError(err)}`,
    );
  }
  const next: StoredCredentials = {
    ...stored,
    accessToken: refreshed.accessToken,
    // An issuer that does not rotate refresh tokens answers without one: the old one stays good.
    refreshToken: refreshed.refreshToken ?? stored.refreshToken,
    expiresAt: refreshed.expiresAt.toISOString(),
  };
  writeCredentials(file, next);
  return next;
}

/**
 * The service account's secret, from CUSTODY_CLIENT_SECRET_FILE only (never argv, where `ps` shows it, nor the
 * environment). Group read is allowed for a Kubernetes Secret mounted with an fsGroup (0440); others never.
 */
export function readClientSecret(file: string): string {
  let secret: string;
  try {
    const problem = privateFileProblem(file, statSync(file), { allowGroupRead: true, ownerUid: undefined });
    if (problem) throw new CliError(`refusing the client secret: ${problem}`);
    secret = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read CUSTODY_CLIENT_SECRET_FILE ${file}: ${(err as Error).message}`);
  }
  if (!secret) throw new CliError(`CUSTODY_CLIENT_SECRET_FILE ${file} is empty`);
  return secret;
}

function serviceAccountSession(config: CustodyConfig, issuerOverride?: string): Session {
  const account = config.cli.serviceAccount!;
  const issuer = issuerFor(config, issuerOverride);
  let tokens: { accessToken: string; expiresAt: Date } | undefined;
  return {
    kind: 'service-account',
    issuer,
    apiUrl: undefined,
    expiresAt: () => tokens?.expiresAt,
    async accessToken() {
      if (tokens && !needsRefresh(tokens.expiresAt, new Date())) return tokens.accessToken;
      const secret = readClientSecret(account.clientSecretFile);
      const discovered = await discoverIssuer(issuer, account.clientId, secret);
      try {
        tokens = await clientCredentialsTokens(discovered, account.scope);
      } catch (err) {
        throw new CliError(
          `the OpenID Provider at ${issuer} refused the service account ${account.clientId}: ` +
            `${describeOAuthError(err)} (check CUSTODY_CLIENT_ID and the secret in CUSTODY_CLIENT_SECRET_FILE)`,
        );
      }
      return tokens.accessToken;
    },
  };
}

/** For `custody login --client-credentials --issuer …`: the service account's session at a given issuer. */
export function serviceAccountSessionAt(config: CustodyConfig, issuer: string | undefined): Session {
  if (!config.cli.serviceAccount) {
    throw new CliError(
      'a service account signs in with CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE (a file holding the ' +
        'secret); set both',
    );
  }
  return serviceAccountSession(config, issuer);
}
