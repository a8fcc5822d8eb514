/**
 * Signing in at the development identity provider (api/dev-idp) the way people and programs do: a browser that
 * posts the HTML forms (cookies kept, redirects followed, no JavaScript), the device flow and authorization code +
 * PKCE as the custody command runs them, client credentials as a dock does. For tests that need real tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CookieJar } from 'tough-cookie';
import { readSecrets, type ConfidentialClientId, type DevIdpSecrets } from '../../api/dev-idp/secrets';

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

export interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  authorization_endpoint: string;
  device_authorization_endpoint: string;
  revocation_endpoint: string;
  [field: string]: unknown;
}

/** The issuer global-setup.ts started for this run; fails, saying how to get one, when there is none. */
export function testIssuer(): string {
  const issuer = process.env.CUSTODY_OIDC_ISSUER;
  if (!issuer) {
    throw new Error(
      'CUSTODY_OIDC_ISSUER is not set: run the integration tests with `npm test` (global-setup starts the ' +
        'development identity provider from dist/api/dev-idp/main.js, which `npm run build` makes)',
    );
  }
  return issuer;
}

/** Demo passwords and client secrets of the provider global-setup.ts started (or of the one in `dir`). */
export function devIdpSecrets(dir = process.env.CUSTODY_DEV_IDP_DIR): DevIdpSecrets {
  if (!dir) throw new Error('CUSTODY_DEV_IDP_DIR is not set: run the integration tests with `npm test`');
  return readSecrets(dir);
}

export async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`discovery at ${issuer} answered ${response.status}`);
  return (await response.json()) as Discovery;
}

/** POSTs a form to the token endpoint (or another), with HTTP Basic client authentication when a secret is given. */
export async function postToken(
  endpoint: string,
  form: Record<string, string>,
  client?: { id: string; secret: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client) {
    const encode = (text: string) => encodeURIComponent(text); // RFC 6749 §2.3.1: form-encoded, then Basic
    headers.authorization = `Basic ${Buffer.from(`${encode(client.id)}:${encode(client.secret)}`).toString('base64')}`;
  }
  const response = await fetch(endpoint, { method: 'POST', headers, body: new URLSearchParams(form) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function expectTokens(
  result: { status: number; body: Record<string, unknown> },
  what: string,
): TokenResponse {
  if (result.status !== 200 || typeof result.body.access_token !== 'string') {
    throw new Error(`${what}: ${result.status} ${JSON.stringify(result.body)}`);
  }
  return result.body as unknown as TokenResponse;
}

/** A service account's token (a dock, automation): client credentials with the secret generated for this run. */
export async function clientCredentialsToken(
  issuer: string,
  clientId: Extract<ConfidentialClientId, 'dock-ka-west' | 'custody-automation'>,
  secrets: DevIdpSecrets = devIdpSecrets(),
): Promise<TokenResponse> {
  const { token_endpoint } = await discover(issuer);
  const result = await postToken(
    token_endpoint,
    { grant_type: 'client_credentials' },
    { id: clientId, secret: secrets.clientSecrets[clientId] },
  );
  return expectTokens(result, `client credentials for ${clientId}`);
}

export interface BrowserPage {
  url: string;
  status: number;
  html: string;
  /** Set when a redirect left the provider (to a client's redirect URI): where it pointed. */
  redirectedAway?: URL;
}

export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return match?.[1]
    ?.replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The forms of a page (the provider's own pages: simple, well-formed HTML), with their inputs' values. */
export function formsOf(html: string): HtmlForm[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, formTag = '', inner = '']) => ({
    action: attribute(formTag, 'action') ?? '',
    fields: Object.fromEntries(
      [...inner.matchAll(/<input\b([^>]*)>/g)].flatMap(([, inputTag = '']) => {
        const name = attribute(inputTag, 'name');
        return name ? [[name, attribute(inputTag, 'value') ?? '']] : [];
      }),
    ),
  }));
}

/**
 * A browser without JavaScript: keeps cookies, follows redirects within the provider's origin, and stops at one
 * that leaves it (the client's redirect URI), which a test then reads as the client would.
 */
export class FormBrowser {
  private readonly jar = new CookieJar();

  constructor(private readonly origin: string) {}

  async open(url: string): Promise<BrowserPage> {
    return this.navigate(new URL(url, this.origin), 'GET');
  }

  async submit(action: string, fields: Record<string, string>, base?: string): Promise<BrowserPage> {
    return this.navigate(new URL(action, base ?? this.origin), 'POST', new URLSearchParams(fields));
  }

  private async navigate(url: URL, method: 'GET' | 'POST', body?: URLSearchParams): Promise<BrowserPage> {
    for (let hops = 0; hops < 20; hops++) {
      const headers: Record<string, string> = { cookie: await this.jar.getCookieString(url) };
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await fetch(url, { method, headers, body, redirect: 'manual' });
      for (const cookie of response.headers.getSetCookie()) await this.jar.setCookie(cookie, url);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        const next = new URL(location, url);
        if (next.origin !== new URL(this.origin).origin) {
          return { url: url.href, status: response.status, html: '', redirectedAway: next };
        }
        [url, method, body] = [next, 'GET', undefined];
        continue;
      }
      return { url: url.href, status: response.status, html: await response.text() };
    }
    throw new Error(`more than 20 redirects from ${url.href}`);
  }

  /** Fills in the sign-in form of `page` and submits it. */
  async signIn(page: BrowserPage, username: string, password: string): Promise<BrowserPage> {
    const form = formsOf(page.html).find((candidate) => 'password' in candidate.fields);
    if (!form) throw new Error(`no sign-in form at ${page.url} (${page.status}): ${page.html.slice(0, 300)}`);
    return this.submit(form.action, { ...form.fields, username, password }, page.url);
  }
}

/** RFC 7636 S256: a fresh verifier and its challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * The device flow (RFC 8628) as `custody login` runs it, with the person's part done by a FormBrowser: start,
 * open the verification URI, confirm the code, sign in, then poll the token endpoint.
 */
export async function deviceFlowSignIn(
  issuer: string,
  username: string,
  password: string,
  scope = 'openid profile',
): Promise<TokenResponse> {
  const discovery = await discover(issuer);
  const started = await postToken(discovery.device_authorization_endpoint, {
    client_id: 'custody-cli',
    scope,
  });
  const { device_code, user_code, verification_uri, interval } = started.body as Record<string, string>;
  if (started.status !== 200 || !device_code || !user_code || !verification_uri) {
    throw new Error(`device authorization: ${started.status} ${JSON.stringify(started.body)}`);
  }
  const browser = new FormBrowser(issuer);
  // The person types the code the command shows into the page at the verification URI.
  const input = await browser.open(verification_uri);
  const inputForm = formsOf(input.html).find((form) => 'user_code' in form.fields);
  if (!inputForm) throw new Error(`no code form at ${input.url}: ${input.html.slice(0, 300)}`);
  const confirm = await browser.submit(inputForm.action, { ...inputForm.fields, user_code }, input.url);
  const confirmForm = formsOf(confirm.html).find((form) => form.fields.confirm === 'yes');
  if (!confirmForm) throw new Error(`no confirmation at ${confirm.url}: ${confirm.html.slice(0, 300)}`);
  const login = await browser.submit(confirmForm.action, confirmForm.fields, confirm.url);
  const done = await browser.signIn(login, username, password);
  if (!/Device connected/.test(done.html)) {
    throw new Error(
      `device sign-in did not finish (${done.status} at ${done.url}): ${done.html.slice(0, 400)}`,
    );
  }
  const pollSeconds = Number(interval ?? 5);
  for (let attempt = 0; attempt < 10; attempt++) {
    const result = await postToken(discovery.token_endpoint, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code,
      client_id: 'custody-cli',
    });
    if (result.body.error !== 'authorization_pending' && result.body.error !== 'slow_down') {
      return expectTokens(result, `device flow for ${username}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollSeconds * 1000));
  }
  throw new Error(`device flow for ${username}: still pending after 10 polls`);
}

/**
 * Authorization code + PKCE with a loopback redirect, as `custody login --browser` runs it: the browser signs in
 * and is sent to http://127.0.0.1:<port>/callback, where the command would be listening; the code is exchanged.
 */
export async function authorizationCodeSignIn(
  issuer: string,
  username: string,
  password: string,
  options: { port?: number; scope?: string } = {},
): Promise<TokenResponse> {
  const discovery = await discover(issuer);
  const redirectUri = `http://127.0.0.1:${options.port ?? 53682}/callback`;
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(discovery.authorization_endpoint);
  for (const [name, value] of Object.entries({
    client_id: 'custody-cli',
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: options.scope ?? 'openid profile',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(name, value);
  }
  const browser = new FormBrowser(issuer);
  const login = await browser.open(authorize.href);
  const back = await browser.signIn(login, username, password);
  const callback = back.redirectedAway;
  if (!callback)
    throw new Error(`sign-in did not return to the client (${back.status}): ${back.html.slice(0, 400)}`);
  const code = callback.searchParams.get('code');
  if (callback.searchParams.get('state') !== state || !code) {
    throw new Error(`unexpected callback ${callback.href}`);
  }
  const result = await postToken(discovery.token_endpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: 'custody-cli',
  });
  return expectTokens(result, `authorization code for ${username}`);
}
