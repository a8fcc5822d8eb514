/**
 * `custody login`, `custody whoami`, `custody logout`. A person signs in with the device authorization grant
 * (RFC 8628): the command shows a code, the person confirms it in any browser — on this machine or their phone —
 * and signs in there, so the command never sees a password. A service account (a dock, automation) signs in with
 * client credentials from CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE.
 */
import type { DeviceAuthorizationResponse } from 'openid-client';
import type { CustodyConfig } from '../../workers/config';
import { createApiClient, connectApi } from '../api-client';
import { CliError, type CliContext } from '../context';
import { formatFields, printJson } from '../output';
import {
  credentialsFile,
  readCredentials,
  removeCredentials,
  writeCredentials,
  CredentialsFileError,
  type StoredCredentials,
} from './credentials';
import {
  awaitDeviceAuthorization,
  checkedServiceUrl,
  describeOAuthError,
  discoverIssuer,
  issuerFor,
  revokeRefreshToken,
  startDeviceAuthorization,
} from './oidc';
import { currentSession, serviceAccountSessionAt, type Session } from './session';

/** GET /v1/me (api/routes/me.ts). */
export interface Me {
  subject: string;
  issuer: string;
  roles: string[];
  permissions: string[];
  units: string[];
  officerId?: string;
}

export type OutputFormat = 'table' | 'json';

/** "in 4 min 10 s", "in 2 h 5 min", "expired 30 s ago": how long a token has left, for people. */
export function formatExpiry(expiresAt: Date, now: Date): string {
  const seconds = Math.round((expiresAt.getTime() - now.getTime()) / 1000);
  const span = Math.abs(seconds);
  const parts =
    span >= 3600
      ? [`${Math.floor(span / 3600)} h`, `${Math.floor((span % 3600) / 60)} min`]
      : span >= 60
        ? [`${Math.floor(span / 60)} min`, `${span % 60} s`]
        : [`${span} s`];
  const text = parts.filter((part) => !/^0 /.test(part) || parts.length === 1).join(' ');
  return seconds >= 0 ? `in ${text}` : `expired ${text} ago`;
}

/** What the person reads while the command waits: where to go, which code to enter, until when. */
export function deviceInstructions(started: DeviceAuthorizationResponse, issuer: string, now: Date): string {
  const expires = new Date(now.getTime() + started.expires_in * 1000);
  return [
    `Sign in at the OpenID Provider ${issuer}:`,
    `  open        ${started.verification_uri}`,
    `  enter code  ${started.user_code}`,
    ...(started.verification_uri_complete
      ? [`  or open    ${started.verification_uri_complete} (the code filled in)`]
      : []),
    'Confirm only if the page shows this same code.',
    `Waiting for the sign-in; the code expires ${formatExpiry(expires, now)} (${expires.toISOString()}).`,
    '',
  ].join('\n');
}

export function whoamiFields(
  me: Me,
  session: { kind: Session['kind']; expiresAt: Date | undefined },
  apiUrl: string,
  now: Date,
): string {
  const expiresAt = session.expiresAt;
  return formatFields([
    ['subject', me.subject],
    ['kind', session.kind === 'person' ? 'person' : 'service account'],
    ['issuer', me.issuer],
    ['roles', me.roles.join(', ') || '(none)'],
    ['units', me.units.join(', ') || '(none)'],
    ['officer id', me.officerId],
    ['permissions', me.permissions.join(', ') || '(none)'],
    ['api', apiUrl],
    ['token expires', expiresAt && `${expiresAt.toISOString()} (${formatExpiry(expiresAt, now)})`],
  ]);
}

function whoamiJson(me: Me, session: Session, apiUrl: string) {
  return { ...me, kind: session.kind, api: apiUrl, tokenExpiresAt: session.expiresAt()?.toISOString() };
}

function apiUrlFor(config: CustodyConfig, given: string | undefined): string {
  return given === undefined ? config.cli.apiUrl : checkedServiceUrl(given, '--api');
}

export interface LoginOptions {
  api?: string;
  issuer?: string;
  clientCredentials?: boolean;
}

export async function loginCommand(ctx: CliContext, options: LoginOptions): Promise<void> {
  const { config } = ctx;
  const apiUrl = apiUrlFor(config, options.api);
  if (options.clientCredentials) return serviceAccountLogin(config, apiUrl, options.issuer);
  if (config.cli.serviceAccount) {
    throw new CliError(
      `CUSTODY_CLIENT_ID is set, so commands here act as the service account ${config.cli.serviceAccount.clientId}: ` +
        'unset CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE to sign in as a person, or use --client-credentials',
    );
  }
  const issuer = issuerFor(config, options.issuer);
  const clientId = config.cli.clientId;
  const discovered = await discoverIssuer(issuer, clientId);
  const started = await startDeviceAuthorization(discovered, config.cli.scope);
  process.stderr.write(deviceInstructions(started, issuer, new Date()));
  const tokens = await awaitDeviceAuthorization(discovered, started);
  const file = credentialsFile(config.cli.configDir);
  const stored: StoredCredentials = {
    version: 1,
    issuer,
    apiUrl,
    clientId,
    accessToken: tokens.accessToken,
    ...(tokens.refreshToken !== undefined && { refreshToken: tokens.refreshToken }),
    expiresAt: tokens.expiresAt.toISOString(),
  };
  writeCredentials(file, stored);
  const name = tokens.idTokenClaims?.name ?? tokens.idTokenClaims?.preferred_username;
  const session = currentSession(config);
  let me: Me;
  try {
    me = await createApiClient(apiUrl, session).getJson<Me>('/v1/me');
  } catch (err) {
    throw new CliError(
      `signed in at ${issuer} and saved the sign-in in ${file}, but the custody API at ${apiUrl} did not ` +
        `accept it: ${(err as Error).message}`,
    );
  }
  process.stdout.write(
    `Logged in${typeof name === 'string' ? ` as ${name}` : ''}; the sign-in is kept in ${file}.\n` +
      `${whoamiFields(me, { kind: 'person', expiresAt: session.expiresAt() }, apiUrl, new Date())}\n`,
  );
}

async function serviceAccountLogin(config: CustodyConfig, apiUrl: string, issuer: string | undefined) {
  const session = serviceAccountSessionAt(config, issuer);
  const me = await createApiClient(apiUrl, session).getJson<Me>('/v1/me');
  process.stdout.write(
    `The service account's credentials work. Its tokens are fetched for each command and never stored:\n` +
      `keep CUSTODY_CLIENT_ID, CUSTODY_CLIENT_SECRET_FILE, CUSTODY_API_URL and CUSTODY_OIDC_ISSUER set.\n` +
      `${whoamiFields(me, { kind: session.kind, expiresAt: session.expiresAt() }, apiUrl, new Date())}\n`,
  );
}

export async function whoamiCommand(ctx: CliContext, options: { output: OutputFormat }): Promise<void> {
  const api = connectApi(ctx.config);
  const me = await api.getJson<Me>('/v1/me');
  if (options.output === 'json') return printJson(whoamiJson(me, api.session, api.baseUrl));
  process.stdout.write(
    `${whoamiFields(me, { kind: api.session.kind, expiresAt: api.session.expiresAt() }, api.baseUrl, new Date())}\n`,
  );
}

export async function logoutCommand(ctx: CliContext): Promise<void> {
  const { config } = ctx;
  const file = credentialsFile(config.cli.configDir);
  const notes: string[] = [];
  if (config.cli.serviceAccount) {
    notes.push(
      `CUSTODY_CLIENT_ID is set: the service account ${config.cli.serviceAccount.clientId} keeps no sign-in to remove`,
    );
  }
  let stored: StoredCredentials | undefined;
  try {
    // Even a file others could read is revoked and removed: its refresh token may have leaked.
    stored = readCredentials(file, { checkPermissions: false });
  } catch (err) {
    if (!(err instanceof CredentialsFileError)) throw err;
    notes.push(`${err.message}; nothing could be revoked`);
  }
  if (stored?.refreshToken) {
    try {
      const discovered = await discoverIssuer(stored.issuer, stored.clientId);
      notes.push(
        (await revokeRefreshToken(discovered, stored.refreshToken))
          ? `revoked the refresh token at ${stored.issuer}`
          : `${stored.issuer} has no revocation endpoint: the refresh token stays valid until it expires`,
      );
    } catch (err) {
      notes.push(
        `could not revoke the refresh token at ${stored.issuer} (${describeOAuthError(err)}): it stays valid ` +
          'until it expires',
      );
    }
  }
  const removed = removeCredentials(file);
  notes.push(removed ? `removed ${file}` : 'not logged in: no cached sign-in to remove');
  process.stdout.write(`${notes.join('\n')}\n`);
}
