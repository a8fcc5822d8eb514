import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../workers/config';
import { CliError } from '../context';
import { writeCredentials, credentialsFile } from './credentials';
import { currentSession, needsRefresh, readClientSecret, REFRESH_MARGIN_MS } from './session';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'custody-session-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test('an access token is refreshed from 60 s before its expiry on, never later', () => {
  const now = new Date('2030-01-01T12:00:00Z');
  const at = (ms: number) => new Date(now.getTime() + ms);
  expect(needsRefresh(at(REFRESH_MARGIN_MS + 1000), now)).toBe(false);
  expect(needsRefresh(at(REFRESH_MARGIN_MS), now)).toBe(true);
  expect(needsRefresh(at(5_000), now)).toBe(true);
  expect(needsRefresh(at(-5_000), now)).toBe(true);
});

test('without a cached sign-in: "not logged in: run custody login"', () => {
  const config = loadConfig({ CUSTODY_CONFIG_DIR: root });
  expect(() => currentSession(config)).toThrow(new CliError('not logged in: run custody login'));
});

test("a cached sign-in is the person's session, for the API it was made for; a current token is used as it is", async () => {
  const config = loadConfig({ CUSTODY_CONFIG_DIR: root, CUSTODY_API_URL: 'https://elsewhere.example.org' });
  const expiresAt = new Date(Date.now() + 10 * 60_000).toISOString();
  writeCredentials(credentialsFile(root), {
    version: 1,
    issuer: 'http://127.0.0.1:1',
    apiUrl: 'http://127.0.0.1:8443',
    clientId: 'custody-cli',
    accessToken: 'still-good',
    expiresAt,
  });
  const session = currentSession(config);
  expect(session).toMatchObject({
    kind: 'person',
    issuer: 'http://127.0.0.1:1',
    apiUrl: 'http://127.0.0.1:8443',
  });
  // The issuer at port 1 is unreachable: answering proves no refresh was tried.
  await expect(session.accessToken()).resolves.toBe('still-good');
  expect(session.expiresAt()?.toISOString()).toBe(expiresAt);
});

test('an expired sign-in without a refresh token asks for a new login', async () => {
  writeCredentials(credentialsFile(root), {
    version: 1,
    issuer: 'http://127.0.0.1:1',
    apiUrl: 'http://127.0.0.1:8443',
    clientId: 'custody-cli',
    accessToken: 'old',
    expiresAt: new Date(Date.now() - 1000).toISOString(),
  });
  const session = currentSession(loadConfig({ CUSTODY_CONFIG_DIR: root }));
  await expect(session.accessToken()).rejects.toThrow(/cannot be refreshed: run custody login again/);
});

test('a service account is chosen by CUSTODY_CLIENT_ID, whatever sign-in is cached', () => {
  const session = currentSession(
    loadConfig({
      CUSTODY_CONFIG_DIR: root,
      CUSTODY_CLIENT_ID: 'dock-ka-west',
      CUSTODY_CLIENT_SECRET_FILE: path.join(root, 'secret'),
      CUSTODY_OIDC_ISSUER: 'https://idp.example.org/realms/police',
    }),
  );
  expect(session).toMatchObject({
    kind: 'service-account',
    issuer: 'https://idp.example.org/realms/police',
    apiUrl: undefined,
  });
  expect(session.expiresAt()).toBeUndefined();
});

test('the client secret comes from its file, trimmed; a file others can read is refused', () => {
  const file = path.join(root, 'secret');
  writeFileSync(file, 's3cret\n', { mode: 0o600 });
  expect(readClientSecret(file)).toBe('s3cret');
  chmodSync(file, 0o440); // a Kubernetes Secret volume with an fsGroup
  expect(readClientSecret(file)).toBe('s3cret');
  chmodSync(file, 0o644);
  expect(() => readClientSecret(file)).toThrow(`Run \`chmod 600 ${file}\``);
  chmodSync(file, 0o600);
  writeFileSync(file, '\n');
  expect(() => readClientSecret(file)).toThrow(/is empty/);
  expect(() => readClientSecret(path.join(root, 'missing'))).toThrow(
    /cannot read CUSTODY_CLIENT_SECRET_FILE/,
  );
});
