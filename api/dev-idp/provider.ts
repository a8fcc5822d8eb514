/**
 * The development identity provider: oidc-provider (OpenID-certified) configured to the token contract the custody
 * API verifies (docs/identity.md) — JWT access tokens for the audience `custody-api` signed RS256, carrying
 * custody_roles, custody_units and custody_officer_id but no names — with the demo people (demo-people.ts),
 * a login page of our own, and the clients: `custody-cli` (public: device flow, authorization code + PKCE with a
 * loopback redirect), `custody-console` (confidential, code + PKCE) and the service accounts (client credentials).
 * Dev and tests only: it serves plain HTTP on the loopback interface, and production points CUSTODY_OIDC_ISSUER at
 * the site's Keycloak, ADFS or Entra ID instead.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { Provider, errors } from 'oidc-provider';
import {
  CLI_REDIRECT_PATH,
  CUSTODY_API_AUDIENCE,
  CUSTODY_API_RESOURCE,
  CUSTODY_API_SCOPE,
  DEFAULT_CONSOLE_REDIRECT_URIS,
} from './constants';
import { DEMO_PEOPLE, custodyClaims, personBySubject, serviceAccount } from './demo-people';
import { fileAdapterFactory } from './file-adapter';
import { loadOrCreateSigningKeys } from './keys';
import {
  PAGE_CONTENT_SECURITY_POLICY,
  deviceSuccessPage,
  errorPage,
  loggedOutPage,
  loginPage,
  logoutPage,
  userCodeConfirmPage,
  userCodeInputPage,
} from './pages';
import { loadOrCreateSecrets, type DevIdpSecrets } from './secrets';

const ACCESS_TOKEN_SECONDS = 5 * 60;
/** One shift: the CLI signs in at its start and refreshes until its end. */
const SHIFT_SECONDS = 12 * 60 * 60;
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DevIdpOptions {
  /** `http://127.0.0.1:<port>`: the address the provider is reached at, and the `iss` of its tokens. */
  issuer: string;
  /** Where keys and secrets live (generated at the first start, reused after). */
  dir: string;
  /** Where `custody-console` may be sent back to after sign-in (under the API's origin). */
  consoleRedirectUris?: string[];
}

function clients(secrets: DevIdpSecrets, consoleRedirectUris: string[]): ClientMetadata[] {
  const serviceClient = (clientId: 'dock-ka-west' | 'custody-automation'): ClientMetadata => ({
    client_id: clientId,
    client_secret: secrets.clientSecrets[clientId],
    client_name: serviceAccount(clientId)?.purpose ?? clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  });
  return [
    {
      client_id: 'custody-cli',
      client_name: 'custody command',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
      response_types: ['code'],
      redirect_uris: [`http://127.0.0.1${CLI_REDIRECT_PATH}`, `http://[::1]${CLI_REDIRECT_PATH}`],
    },
    {
      client_id: 'custody-console',
      client_secret: secrets.clientSecrets['custody-console'],
      client_name: 'custody console',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: consoleRedirectUris,
    },
    serviceClient('dock-ka-west'),
    serviceClient('custody-automation'),
  ];
}

/** Compares digests, so neither the time taken nor an early exit tells how much of a password was right. */
function samePassword(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The demo person these credentials belong to, if they do. */
function authenticate(secrets: DevIdpSecrets, username: string, password: string) {
  const person = DEMO_PEOPLE.find((candidate) => candidate.username === username.trim().toLowerCase());
  const expected = person ? secrets.passwords[person.username] : undefined;
  // Compared even for an unknown name, so the answer takes as long either way.
  const matches = samePassword(password, expected ?? '\0unknown');
  return person && expected !== undefined && matches ? person : undefined;
}

const FORM_LIMIT_BYTES = 8 * 1024;

async function readForm(request: http.IncomingMessage): Promise<URLSearchParams> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded'))
    throw new errors.InvalidRequest('expected a form');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT_BYTES) throw new errors.InvalidRequest('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(ctx: KoaContextWithOIDC, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('content-security-policy', PAGE_CONTENT_SECURITY_POLICY);
  ctx.body = html;
}

/**
 * Sign-in and consent. Sign-in checks the demo person's password; consent is given without asking, because every
 * client here is custody's own (as a site's IdP would mark its first-party applications).
 */
function interactionRoutes(provider: Provider, secrets: DevIdpSecrets) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(ctx.path);
    if (!match) return next();
    const action = match[2];
    ctx.set('cache-control', 'no-store');
    try {
      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      const client = await provider.Client.find(String(interaction.params.client_id));
      const clientName = client?.clientName ?? String(interaction.params.client_id);
      if (action === undefined && ctx.method === 'GET') {
        if (interaction.prompt.name === 'login') {
          return sendHtml(ctx, 200, loginPage({ uid: interaction.uid, clientName }));
        }
        if (interaction.prompt.name === 'consent') {
          const accountId = interaction.session?.accountId;
          if (!accountId) throw new errors.SessionNotFound('no signed-in person for this consent');
          const grant = interaction.grantId
            ? await provider.Grant.find(interaction.grantId)
            : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
          if (!grant) throw new errors.SessionNotFound('the grant of this sign-in has expired');
          const details = interaction.prompt.details as {
            missingOIDCScope?: string[];
            missingOIDCClaims?: string[];
            missingResourceScopes?: Record<string, string[]>;
          };
          if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope);
          if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
          for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
            grant.addResourceScope(resource, scopes);
          }
          const grantId = await grant.save();
          ctx.respond = false;
          return await provider.interactionFinished(
            ctx.req,
            ctx.res,
            { consent: interaction.grantId ? {} : { grantId } },
            { mergeWithLastSubmission: true },
          );
        }
      }
      if (action === 'login' && ctx.method === 'POST' && interaction.prompt.name === 'login') {
        const form = await readForm(ctx.req);
        const username = form.get('username') ?? '';
        const person = authenticate(secrets, username, form.get('password') ?? '');
        if (!person) {
          const error = 'Unknown user name or wrong password.';
          return sendHtml(ctx, 401, loginPage({ uid: interaction.uid, clientName, username, error }));
        }
        ctx.respond = false;
        return await provider.interactionFinished(
          ctx.req,
          ctx.res,
          { login: { accountId: person.subject, amr: ['pwd'], remember: false } },
          { mergeWithLastSubmission: false },
        );
      }
      if (action === 'abort' && ctx.method === 'POST') {
        ctx.respond = false;
        return await provider.interactionFinished(
          ctx.req,
          ctx.res,
          { error: 'access_denied', error_description: 'the person cancelled the sign-in' },
          { mergeWithLastSubmission: false },
        );
      }
      return sendHtml(
        ctx,
        400,
        errorPage({
          error: 'invalid_request',
          error_description: `nothing to do for ${ctx.method} ${ctx.path} while ${interaction.prompt.name} is due`,
        }),
      );
    } catch (error) {
      if (!(error instanceof errors.OIDCProviderError)) throw error;
      ctx.respond = true;
      return sendHtml(
        ctx,
        error.statusCode,
        errorPage({ error: error.message, error_description: error.error_description }),
      );
    }
  };
}

function configuration(secrets: DevIdpSecrets, jwks: Configuration['jwks'], options: DevIdpOptions) {
  const config: Configuration = {
    clients: clients(secrets, options.consoleRedirectUris ?? DEFAULT_CONSOLE_REDIRECT_URIS),
    adapter: fileAdapterFactory(options.dir),
    // Authorization code only: no implicit or hybrid flows, whose tokens travel in URLs.
    responseTypes: ['code'],
    jwks,
    cookies: { keys: secrets.cookieKeys },
    findAccount(_ctx, subject) {
      const person = personBySubject(subject);
      if (!person) return undefined;
      return {
        accountId: subject,
        claims: () => ({
          sub: subject,
          name: `${person.givenName} ${person.familyName}`,
          given_name: person.givenName,
          family_name: person.familyName,
          preferred_username: person.username,
          ...custodyClaims(person),
        }),
      };
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      roles: ['custody_roles', 'custody_units', 'custody_officer_id'],
    },
    // The ID token carries the profile claims the client asked for, so a client needs no userinfo call (access
    // tokens are for the API and cannot be used there).
    conformIdTokenClaims: false,
    extraTokenClaims(_ctx, token) {
      const holder =
        'accountId' in token && token.accountId
          ? personBySubject(token.accountId)
          : serviceAccount(token.clientId ?? '');
      return holder ? custodyClaims(holder) : undefined;
    },
    pkce: { required: () => true },
    // Refresh tokens without the `offline_access` dance: the CLI refreshes through a shift, then signs in again.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: ACCESS_TOKEN_SECONDS,
      ClientCredentials: ACCESS_TOKEN_SECONDS,
      AuthorizationCode: 60,
      DeviceCode: 10 * 60,
      IdToken: 10 * 60,
      Interaction: 10 * 60,
      RefreshToken: SHIFT_SECONDS,
      Grant: SHIFT_SECONDS,
      Session: SHIFT_SECONDS,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => CUSTODY_API_RESOURCE,
        // A token request without `resource` gets a token for the API, not an opaque one for userinfo.
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== CUSTODY_API_RESOURCE)
            throw new errors.InvalidTarget(`unknown resource ${resource}`);
          return {
            scope: CUSTODY_API_SCOPE,
            audience: CUSTODY_API_AUDIENCE,
            accessTokenTTL: ACCESS_TOKEN_SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, out, error) {
          let problem: string | undefined;
          if (error && ('userCode' in error || error.name === 'NoCodeError')) {
            problem = 'That code is not valid (or has expired). Try again.';
          } else if (error?.name === 'AbortedError') problem = 'The sign-in was aborted.';
          else if (error) problem = out?.error_description ?? 'The request could not be processed.';
          sendHtml(ctx, ctx.status === 404 ? 200 : ctx.status, userCodeInputPage(form, problem));
        },
        userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          const device = deviceInfo as { ip?: string; ua?: string };
          const name = client.clientName ?? client.clientId;
          sendHtml(
            ctx,
            200,
            userCodeConfirmPage(form, name, userCode, { ip: device.ip, userAgent: device.ua }),
          );
        },
        successSource(ctx) {
          const client = ctx.oidc.client;
          sendHtml(ctx, 200, deviceSuccessPage(client?.clientName ?? client?.clientId ?? 'the device'));
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          sendHtml(ctx, 200, logoutPage(form, ctx.host));
        },
        postLogoutSuccessSource(ctx) {
          sendHtml(ctx, 200, loggedOutPage());
        },
      },
    },
    renderError(ctx, out) {
      sendHtml(ctx, ctx.status, errorPage({ ...out }));
    },
  };
  return config;
}

/** Refuses an issuer anywhere but on this machine: the provider speaks plain HTTP and knows demo passwords. */
function assertLoopbackIssuer(issuer: string): URL {
  const url = new URL(issuer);
  if (url.protocol !== 'http:' || !['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname) || !url.port) {
    throw new Error(`the development identity provider serves http://127.0.0.1:<port> only, not ${issuer}`);
  }
  return url;
}

/** Builds the provider for `options.issuer`, with keys and secrets from (or generated into) `options.dir`. */
export async function createDevIdp(
  options: DevIdpOptions,
): Promise<{ provider: Provider; secrets: DevIdpSecrets }> {
  assertLoopbackIssuer(options.issuer);
  const secrets = loadOrCreateSecrets(options.dir);
  const jwks = await loadOrCreateSigningKeys(options.dir);
  const provider = new Provider(options.issuer, configuration(secrets, jwks, options));
  provider.use(interactionRoutes(provider, secrets));
  provider.on('server_error', (_ctx, error) => {
    process.stderr.write(`dev-idp: server error: ${error.stack ?? String(error)}\n`);
  });
  return { provider, secrets };
}

export interface RunningDevIdp {
  issuer: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Starts the provider on the issuer's loopback address and port. */
export async function startDevIdp(options: DevIdpOptions): Promise<RunningDevIdp> {
  const url = assertLoopbackIssuer(options.issuer);
  const { provider } = await createDevIdp(options);
  const handle = provider.callback();
  // Koa answers its own errors (as 500s, reported through `server_error`): the promise never rejects.
  const server = http.createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(url.port), url.hostname.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    issuer: `${url.protocol}//${url.hostname}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
