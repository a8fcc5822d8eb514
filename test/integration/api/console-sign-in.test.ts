/**
 * The web console's sign-in, backend-for-frontend (api/console/): the built API process as the OAuth client of
 * the real development OpenID Provider (authorization code + PKCE), people signing in through its HTML forms,
 * the session cookie as the browser keeps it, and the console's calls to /console/api/… against real workers.
 * The browser here keeps cookies and follows redirects without JavaScript; SameSite is the real browser's job
 * (a real browser's tests come with the console pages, issue 17).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CookieJar, type Cookie } from 'tough-cookie';
import { createTestStack, type TestStack } from '../../harness/stack';
import { startApiProcess, type ApiProcess } from '../../harness/api-process';
import { startDevIdp, type DevIdpServer } from '../../harness/servers';
import { devIdpSecrets, formsOf, authorizationCodeSignIn } from '../../harness/dev-idp-client';
import { syntheticClip } from '../../fixtures/media';
import { freeLoopbackPort } from '../../../workers/ports';
import { readCustodyLog } from '../../../activities/custody-log/read';

const INVESTIGATOR = 'jonas.becker'; // investigator, ka-west (api/dev-idp/demo-people.ts)

let stack: TestStack;
let idp: DevIdpServer;
let api: ApiProcess;
let recordingId: string;
let consoleOrigin: string;

beforeAll(async () => {
  stack = await createTestStack('console-sign-in');
  const port = await freeLoopbackPort();
  consoleOrigin = `http://127.0.0.1:${port}`;
  const scratch = mkdtempSync(path.join(tmpdir(), 'custody-console-'));
  // A provider of its own that knows this API's callback (the run's shared one knows the dev stack's).
  idp = await startDevIdp({
    dataDir: scratch,
    consoleRedirectUris: [`${consoleOrigin}/console/callback`],
  });
  const secretFile = path.join(scratch, 'console-secret');
  writeFileSync(secretFile, devIdpSecrets(idp.dir).clientSecrets['custody-console'], { mode: 0o600 });
  api = await startApiProcess(stack.config, idp.issuer, {
    CUSTODY_API_PORT: String(port),
    CUSTODY_CONSOLE_CLIENT_ID: 'custody-console',
    CUSTODY_CONSOLE_CLIENT_SECRET_FILE: secretFile,
    CUSTODY_CONSOLE_ORIGIN: consoleOrigin,
  });
  const clip = readFileSync(await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10 }));
  const source = await stack.putInbox(`console/${randomBytes(3).toString('hex')}.mp4`, clip);
  ({ recordingId } = await stack.start(source, { transcode: false, declared: { unit: 'ka-west' } }));
  await stack.waitForState(recordingId, 'retained');
}, 180_000);

afterAll(async () => {
  await api?.stop();
  await idp?.stop();
  await stack?.stop();
});

interface Page {
  status: number;
  url: string;
  body: string;
  setCookies: string[];
  location?: string;
}

/** A browser without JavaScript across the API and the provider: one cookie jar, redirects followed. */
class Browser {
  readonly jar = new CookieJar();

  async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { cookie: await this.jar.getCookieString(url), ...init.headers };
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const cookie of setCookies) await this.jar.setCookie(cookie, url);
    const location = response.headers.get('location');
    return {
      status: response.status,
      url,
      body: await response.text(),
      setCookies,
      ...(location && { location: new URL(location, url).href }),
    } satisfies Page;
  }

  /** GETs `url` and follows redirects, stopping before `stopAt` (a URL prefix) when given. */
  async open(url: string, stopAt?: string): Promise<Page & { trail: Page[] }> {
    const trail: Page[] = [];
    let page = await this.request(url);
    trail.push(page);
    while (page.location && !(stopAt && page.location.startsWith(stopAt))) {
      page = await this.request(page.location);
      trail.push(page);
    }
    return { ...page, trail };
  }

  async submit(page: Page, fields: Record<string, string>): Promise<Page & { trail: Page[] }> {
    const form = formsOf(page.body).find((candidate) => 'password' in candidate.fields);
    if (!form) throw new Error(`no sign-in form at ${page.url}: ${page.body.slice(0, 300)}`);
    const first = await this.request(new URL(form.action, page.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...fields }).toString(),
    });
    const trail: Page[] = [first];
    let current: Page = first;
    while (current.location) {
      current = await this.request(current.location);
      trail.push(current);
    }
    return { ...current, trail };
  }

  async cookie(name: string): Promise<Cookie | undefined> {
    return (await this.jar.getCookies(consoleOrigin)).find((c) => c.key === name);
  }

  /** The console's own call: same origin, with the CSRF token on changes. */
  async call(route: string, init: { method?: string; body?: unknown; csrf?: string; origin?: string } = {}) {
    const headers: Record<string, string> = {};
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.csrf) headers['x-csrf-token'] = init.csrf;
    if (init.origin !== undefined) headers.origin = init.origin;
    const page = await this.request(`${consoleOrigin}${route}`, {
      ...(init.method && { method: init.method }),
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
      headers,
    });
    return { status: page.status, json: page.body ? (JSON.parse(page.body) as Record<string, unknown>) : {} };
  }
}

function password(username: string): string {
  const value = devIdpSecrets(idp.dir).passwords[username];
  if (!value) throw new Error(`no demo password for ${username}`);
  return value;
}

/** Signs `username` in to the console; returns the browser and the page the callback answered with. */
async function signIn(username = INVESTIGATOR, returnTo?: string) {
  const browser = new Browser();
  const login = await browser.open(
    `${consoleOrigin}/console/login${returnTo ? `?return=${encodeURIComponent(returnTo)}` : ''}`,
  );
  const signedIn = await browser.submit(login, { username, password: password(username) });
  const callback = signedIn.trail.find((page) => page.url.startsWith(`${consoleOrigin}/console/callback`));
  if (!callback)
    throw new Error(`the provider did not return to the console: ${signedIn.body.slice(0, 300)}`);
  return { browser, login, callback };
}

describe('signing in', () => {
  test('authorization code with PKCE: the provider is asked with S256, a state, a nonce and our callback', async () => {
    const browser = new Browser();
    const start = await browser.request(`${consoleOrigin}/console/login`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.location!);
    expect(authorize.origin).toBe(new URL(idp.issuer).origin);
    const asked = Object.fromEntries(authorize.searchParams);
    expect(asked).toMatchObject({
      client_id: 'custody-console',
      response_type: 'code',
      redirect_uri: `${consoleOrigin}/console/callback`,
      code_challenge_method: 'S256',
    });
    expect(asked.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.state).toMatch(/.{20,}/);
    expect(asked.nonce).toMatch(/.{20,}/);
    const signInCookie = await browser.cookie('custody-sign-in');
    expect(signInCookie).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/' });
  });

  test('the browser gets an opaque HttpOnly SameSite=Strict session cookie, never a token', async () => {
    const { browser, callback } = await signIn();
    expect(callback.status).toBe(200);
    expect(callback.body).toContain('url=/console/');
    const session = await browser.cookie('custody-session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'strict', path: '/' });
    expect(session!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // No JWT (header.payload.signature, base64url JSON starting "eyJ") in any cookie or page the browser saw.
    for (const cookie of await browser.jar.getCookies(consoleOrigin)) expect(cookie.value).not.toMatch(/eyJ/);
    expect(callback.body).not.toMatch(/eyJ/);
    const me = await browser.call('/console/session');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ roles: ['investigator'], units: ['ka-west'] });
    expect(me.json.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('a return path outside the console is ignored (no open redirect)', async () => {
    for (const evil of [
      'https://evil.example/',
      '//evil.example/console/',
      '/console/../../evil',
      '/console/./x',
    ]) {
      const { callback } = await signIn(INVESTIGATOR, evil);
      expect(callback.body).toContain('url=/console/"');
    }
    const { callback } = await signIn(INVESTIGATOR, '/console/recordings');
    expect(callback.body).toContain('url=/console/recordings"');
  });

  test('a callback this browser did not start, or one replayed, starts no session', async () => {
    const { callback } = await signIn();
    const stranger = new Browser(); // never went to /console/login: no sign-in cookie
    const forged = await stranger.request(callback.url);
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('not started in this browser');
    expect(forged.setCookies.join()).not.toContain('custody-session=');
  });
});

describe("the console's calls", () => {
  test('/console/api/<route> is /v1/<route> as the signed-in person, within their units', async () => {
    const { browser } = await signIn();
    const me = await browser.call('/console/api/me');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ roles: ['investigator'], units: ['ka-west'] });
    const recording = await browser.call(`/console/api/recordings/${recordingId}`);
    expect(recording.status).toBe(200);
    expect(recording.json.recordingId).toBe(recordingId);
  });

  test('the session cookie opens nothing under /v1, and a Bearer token nothing under /console/api', async () => {
    const { browser } = await signIn();
    const viaV1 = await browser.request(`${consoleOrigin}/v1/me`);
    expect(viaV1.status).toBe(401);
    const tokens = await authorizationCodeSignIn(idp.issuer, INVESTIGATOR, password(INVESTIGATOR));
    const bearerOnly = await fetch(`${consoleOrigin}/console/api/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(bearerOnly.status).toBe(401);
  });

  test('a change without the CSRF token, or from another origin, is refused and changes nothing', async () => {
    const { browser } = await signIn();
    const { csrfToken } = (await browser.call('/console/session')).json as { csrfToken: string };
    const before = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).length;
    const hold = { caseId: 'AZ-CONSOLE-1', reason: 'console test' };
    const route = `/console/api/recordings/${recordingId}/holds`;
    const noToken = await browser.call(route, { method: 'POST', body: hold, origin: consoleOrigin });
    expect(noToken.status).toBe(403);
    expect(noToken.json.message).toContain('x-csrf-token');
    const otherOrigin = await browser.call(route, {
      method: 'POST',
      body: hold,
      csrf: csrfToken,
      origin: 'https://evil.example',
    });
    expect(otherOrigin.status).toBe(403);
    expect(otherOrigin.json.message).toContain(`must come from ${consoleOrigin}`);
    const noOrigin = await browser.call(route, { method: 'POST', body: hold, csrf: csrfToken });
    expect(noOrigin.status).toBe(403);
    const wrongToken = await browser.call(route, {
      method: 'POST',
      body: hold,
      csrf: `${csrfToken.slice(0, -1)}A`,
      origin: consoleOrigin,
    });
    expect(wrongToken.status).toBe(403);
    expect((await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).length).toBe(
      before,
    );

    const placed = await browser.call(route, {
      method: 'POST',
      body: hold,
      csrf: csrfToken,
      origin: consoleOrigin,
    });
    expect(placed.status).toBe(201);
    const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
    const entry = log.find((e) => e.action === 'hold.placed');
    expect(entry?.actor).toBe((await browser.call('/console/session')).json.subject);
  });

  test('signing out ends the session: the old cookie opens nothing', async () => {
    const { browser } = await signIn();
    const cookie = (await browser.cookie('custody-session'))!.value;
    const { csrfToken } = (await browser.call('/console/session')).json as { csrfToken: string };
    const refused = await browser.call('/console/logout', {
      method: 'POST',
      body: {},
      origin: consoleOrigin,
    });
    expect(refused.status).toBe(403); // sign-out is a change too: no cross-site sign-out
    const out = await browser.call('/console/logout', {
      method: 'POST',
      body: {},
      csrf: csrfToken,
      origin: consoleOrigin,
    });
    expect(out.status).toBe(200);
    expect(out.json.signedOut).toBe(true);
    const replayed = await fetch(`${consoleOrigin}/console/api/me`, {
      headers: { cookie: `custody-session=${cookie}` },
    });
    expect(replayed.status).toBe(401);
  });

  test('a session id planted before sign-in is not the one after it (no fixation)', async () => {
    const browser = new Browser();
    const planted = 'A'.repeat(43);
    await browser.jar.setCookie(`custody-session=${planted}; Path=/`, consoleOrigin);
    const login = await browser.open(`${consoleOrigin}/console/login`);
    await browser.submit(login, { username: INVESTIGATOR, password: password(INVESTIGATOR) });
    const session = await browser.cookie('custody-session');
    expect(session?.value).not.toBe(planted);
    expect((await browser.call('/console/session')).status).toBe(200);
  });
});
