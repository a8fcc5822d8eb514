/**
 * `custody login`, `whoami` and `logout` as people and programs run them: the built CLI (dist/cli/main.js) as a
 * child process against the development identity provider global-setup.ts started and the built API process.
 * The test plays the person: it reads the code the command prints, opens the verification page, types the code,
 * confirms it and signs in with a demo person's password through the provider's HTML forms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { demoPerson } from '../../api/dev-idp/demo-people';
import { startApiProcess, type ApiProcess } from '../harness/api-process';
import {
  FormBrowser,
  devIdpSecrets,
  discover,
  formsOf,
  postToken,
  testIssuer,
  type BrowserPage,
} from '../harness/dev-idp-client';
import { testConfig } from '../harness/env';
import { builtEntryPoint, envFor, runNode, type ProcessResult } from '../harness/processes';

const cli = builtEntryPoint('cli/main.js');
/** `custody login` processes still running: a failed test must not leave one polling for ten minutes. */
const running = new Set<ChildProcess>();
let issuer: string;
let api: ApiProcess;
let scratch: string;

beforeAll(async () => {
  issuer = testIssuer();
  api = await startApiProcess(testConfig('cli-login'), issuer);
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-cli-login-'));
}, 60_000);

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await api?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The CLI's environment: its own config dir, no service account unless asked, nothing from the outer shell. */
function cliEnv(configDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = envFor({ CUSTODY_CONFIG_DIR: configDir, CUSTODY_OIDC_ISSUER: issuer, ...extra });
  for (const name of ['CUSTODY_CLIENT_ID', 'CUSTODY_CLIENT_SECRET_FILE', 'CUSTODY_API_URL']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

const custody = (configDir: string, args: string[], extra: Record<string, string> = {}) =>
  runNode(cli, args, cliEnv(configDir, extra), 60_000);

interface DeviceLogin {
  verificationUri: string;
  verificationUriComplete: string;
  userCode: string;
  /** How the command ended. */
  finished: Promise<ProcessResult>;
}

/** Starts `custody login` and waits until it shows the person where to go and which code to enter. */
async function startLogin(configDir: string, args: string[] = []): Promise<DeviceLogin> {
  const child = spawn(process.execPath, [cli, 'login', '--api', api.url, ...args], {
    env: cliEnv(configDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = new Promise<ProcessResult>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const open = /^ {2}open {8}(\S+)$/m.exec(stderr)?.[1];
    const code = /^ {2}enter code {2}(\S+)$/m.exec(stderr)?.[1];
    const complete = /^ {2}or open {4}(\S+) \(the code filled in\)$/m.exec(stderr)?.[1];
    if (open && code && complete) {
      return { verificationUri: open, verificationUriComplete: complete, userCode: code, finished };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`custody login showed no code (exit ${child.exitCode}):\n${stdout}\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function formWith(page: BrowserPage, field: string, value?: string) {
  const form = formsOf(page.html).find(
    (candidate) => field in candidate.fields && (value === undefined || candidate.fields[field] === value),
  );
  if (!form)
    throw new Error(`no form with ${field} at ${page.url} (${page.status}): ${page.html.slice(0, 400)}`);
  return form;
}

/** The person's part: open the page the command named, type its code, check and confirm it, sign in. */
async function confirmAndSignIn(login: DeviceLogin, username: string): Promise<void> {
  const browser = new FormBrowser(issuer);
  const input = await browser.open(login.verificationUri);
  const codeForm = formWith(input, 'user_code');
  const confirm = await browser.submit(
    codeForm.action,
    { ...codeForm.fields, user_code: login.userCode },
    input.url,
  );
  expect(confirm.html).toContain(login.userCode);
  const confirmForm = formWith(confirm, 'confirm', 'yes');
  const signInPage = await browser.submit(confirmForm.action, confirmForm.fields, confirm.url);
  const done = await browser.signIn(signInPage, username, devIdpSecrets().passwords[username]!);
  expect(done.html).toContain('Device connected');
}

const mode = (file: string) => statSync(file).mode & 0o777;

interface StoredSignIn {
  issuer: string;
  apiUrl: string;
  clientId: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
}

describe('a person signed in with the device flow', () => {
  const person = demoPerson('julia.braun');
  let configDir: string;
  let file: string;

  beforeAll(async () => {
    // Two levels that do not exist yet: the command makes both, 0700.
    configDir = path.join(scratch, 'julia', 'custody');
    file = path.join(configDir, 'credentials.json');
    const login = await startLogin(configDir);
    await confirmAndSignIn(login, person.username);
    const result = await login.finished;
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain(`Logged in; the sign-in is kept in ${file}.`);
    expect(result.stdout).toMatch(new RegExp(`^subject +${person.subject}$`, 'm'));
  }, 90_000);

  test('whoami shows her subject, issuer, roles, units, officer id and token expiry', async () => {
    const table = await custody(configDir, ['whoami']);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(new RegExp(`^subject +${person.subject}$`, 'm'));
    expect(table.stdout).toMatch(/^roles +records-admin, approver$/m);
    expect(table.stdout).toMatch(/^units +ka-nord$/m);
    expect(table.stdout).toMatch(/^token expires +\S+ \(in \d/m);

    const before = Date.now();
    const json = await custody(configDir, ['whoami', '--output', 'json']);
    expect(json.code).toBe(0);
    const me = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(me).toMatchObject({
      subject: person.subject,
      issuer,
      roles: ['records-admin', 'approver'],
      units: ['ka-nord'],
      officerId: 'officer-0815',
      kind: 'person',
      api: api.url,
    });
    const expiresIn = Date.parse(me.tokenExpiresAt as string) - before;
    expect(expiresIn).toBeGreaterThan(60_000);
    expect(expiresIn).toBeLessThanOrEqual(5 * 60_000);
  });

  test('the sign-in is cached 0600 in a 0700 directory: tokens, issuer, API, client — no password, no name', () => {
    expect(mode(file)).toBe(0o600);
    expect(mode(configDir)).toBe(0o700);
    expect(mode(path.dirname(configDir))).toBe(0o700);
    const text = readFileSync(file, 'utf8');
    const stored = JSON.parse(text) as StoredSignIn & { version: number };
    expect(stored).toMatchObject({ version: 1, issuer, apiUrl: api.url, clientId: 'custody-cli' });
    expect(stored.accessToken.split('.')).toHaveLength(3); // the JWT the API verifies
    expect(stored.refreshToken.length).toBeGreaterThan(20);
    expect(text).not.toContain(devIdpSecrets().passwords[person.username]!);
    expect(text).not.toContain('Braun');
  });

  test('a credentials file others can read is refused, with the chmod that fixes it', async () => {
    chmodSync(file, 0o644);
    try {
      const refused = await custody(configDir, ['whoami']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`has mode 0644`);
      expect(refused.stderr).toContain(`chmod 600 ${file}`);
      expect(refused.stdout).toBe('');
    } finally {
      chmodSync(file, 0o600);
    }
    expect((await custody(configDir, ['whoami'])).code).toBe(0);
  });

  test('an expired access token is refreshed with the refresh token, and the new tokens are cached', async () => {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    // Expired, and no longer a token at all: only a refresh can make whoami succeed.
    const expired = {
      ...stored,
      accessToken: 'expired',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    };
    writeFileSync(file, JSON.stringify(expired), { mode: 0o600 });
    const result = await custody(configDir, ['whoami', '--output', 'json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject({ subject: person.subject });
    const refreshed = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    expect(refreshed.accessToken).not.toBe('expired');
    expect(refreshed.refreshToken).not.toBe(stored.refreshToken); // rotated by the provider
    expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    expect(mode(file)).toBe(0o600);
  });

  test('an access token within 60 s of expiry is refreshed too; one further off is used as it is', async () => {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    writeFileSync(
      file,
      JSON.stringify({ ...stored, expiresAt: new Date(Date.now() + 30_000).toISOString() }),
      { mode: 0o600 },
    );
    expect((await custody(configDir, ['whoami'])).code).toBe(0);
    const refreshed = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    expect(refreshed.accessToken).not.toBe(stored.accessToken);
    expect((await custody(configDir, ['whoami'])).code).toBe(0);
    expect((JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn).accessToken).toBe(refreshed.accessToken);
  });

  test('three commands due for a refresh at once refresh once: the rotated refresh token is never presented twice', async () => {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    const expired = {
      ...stored,
      accessToken: 'expired',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    };
    writeFileSync(file, JSON.stringify(expired), { mode: 0o600 });
    const results = await Promise.all(
      [1, 2, 3].map(() => custody(configDir, ['whoami', '--output', 'json'])),
    );
    for (const result of results) expect(result).toMatchObject({ code: 0, stderr: '' });
    // A second use of the spent refresh token would have ended the whole sign-in at the provider.
    const after = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    writeFileSync(file, JSON.stringify({ ...after, expiresAt: new Date(Date.now() - 1000).toISOString() }), {
      mode: 0o600,
    });
    expect(await custody(configDir, ['whoami'])).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  test('a refresh the provider refuses says to run custody login again', async () => {
    const original = readFileSync(file, 'utf8');
    const stored = JSON.parse(original) as StoredSignIn;
    writeFileSync(
      file,
      JSON.stringify({
        ...stored,
        refreshToken: 'not-a-refresh-token',
        expiresAt: new Date(Date.now() - 1000).toISOString(),
      }),
      { mode: 0o600 },
    );
    try {
      const refused = await custody(configDir, ['whoami']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /your sign-in could not be refreshed \(invalid_grant.*\): run custody login again/,
      );
    } finally {
      writeFileSync(file, original, { mode: 0o600 });
    }
  });

  test('logout revokes the refresh token and removes the file; whoami then asks for a login; logout again is fine', async () => {
    const { refreshToken } = JSON.parse(readFileSync(file, 'utf8')) as StoredSignIn;
    const logout = await custody(configDir, ['logout']);
    expect(logout).toMatchObject({ code: 0, stderr: '' });
    expect(logout.stdout).toContain(`revoked the refresh token at ${issuer}`);
    expect(logout.stdout).toContain(`removed ${file}`);
    expect(existsSync(file)).toBe(false);
    const { token_endpoint } = await discover(issuer);
    const reuse = await postToken(token_endpoint, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'custody-cli',
    });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const whoami = await custody(configDir, ['whoami']);
    expect(whoami.code).not.toBe(0);
    expect(whoami.stderr).toBe('custody: not logged in: run custody login\n');
    const again = await custody(configDir, ['logout']);
    expect(again).toMatchObject({ code: 0, stdout: 'not logged in: no cached sign-in to remove\n' });
  });
});

test('a sign-in the person aborts at the confirmation ends with access_denied and caches nothing', async () => {
  const configDir = path.join(scratch, 'aborted');
  const login = await startLogin(configDir);
  const browser = new FormBrowser(issuer);
  // The complete URI carries the code: its page posts it on by script (which a browser runs, so the test does),
  // and the next page asks only for the confirmation.
  const relay = await browser.open(login.verificationUriComplete);
  const relayForm = formWith(relay, 'user_code');
  const confirm = await browser.submit(relayForm.action, relayForm.fields, relay.url);
  expect(confirm.html).toContain(login.userCode);
  const confirmForm = formWith(confirm, 'confirm', 'yes');
  await browser.submit(confirmForm.action, { ...confirmForm.fields, abort: 'yes' }, confirm.url);
  const result = await login.finished;
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'the sign-in was denied or cancelled at the OpenID Provider (access_denied)',
  );
  expect(existsSync(path.join(configDir, 'credentials.json'))).toBe(false);
}, 60_000);

test('without a sign-in, whoami says so and exits non-zero', async () => {
  const result = await custody(path.join(scratch, 'nobody'), ['whoami'], { CUSTODY_API_URL: api.url });
  expect(result).toMatchObject({
    code: 1,
    stdout: '',
    stderr: 'custody: not logged in: run custody login\n',
  });
});

describe('a service account (client credentials)', () => {
  let secretFile: string;
  let configDir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    secretFile = path.join(scratch, 'automation.secret');
    writeFileSync(secretFile, `${devIdpSecrets().clientSecrets['custody-automation']}\n`, { mode: 0o600 });
    configDir = path.join(scratch, 'automation');
    env = {
      CUSTODY_CLIENT_ID: 'custody-automation',
      CUSTODY_CLIENT_SECRET_FILE: secretFile,
      CUSTODY_API_URL: api.url,
    };
  });

  test('login --client-credentials checks the secret against the API; nothing is written to disk', async () => {
    const login = await custody(configDir, ['login', '--client-credentials'], env);
    expect(login).toMatchObject({ code: 0, stderr: '' });
    expect(login.stdout).toMatch(/^subject +custody-automation$/m);
    expect(login.stdout).toMatch(/^kind +service account$/m);
    expect(existsSync(configDir)).toBe(false);

    const whoami = await custody(configDir, ['whoami', '--output', 'json'], env);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({
      subject: 'custody-automation',
      roles: ['operator', 'auditor'],
      units: ['*'],
      kind: 'service-account',
      api: api.url,
    });
    expect(existsSync(configDir)).toBe(false);
  });

  test('a wrong secret is refused by the provider, and a secret file others can read is not read', async () => {
    const wrong = path.join(scratch, 'wrong.secret');
    writeFileSync(wrong, 'not-the-secret', { mode: 0o600 });
    const refused = await custody(configDir, ['whoami'], { ...env, CUSTODY_CLIENT_SECRET_FILE: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the service account custody-automation: invalid_client/);

    chmodSync(secretFile, 0o644);
    try {
      const open = await custody(configDir, ['whoami'], env);
      expect(open.code).toBe(1);
      expect(open.stderr).toContain(`chmod 600 ${secretFile}`);
    } finally {
      chmodSync(secretFile, 0o600);
    }
  });

  test('a person cannot be signed in while the shell is set up as a service account', async () => {
    const result = await custody(configDir, ['login', '--api', api.url], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CUSTODY_CLIENT_ID is set');
  });
});
