import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CredentialsFileError,
  credentialsFile,
  privateFileProblem,
  readCredentials,
  removeCredentials,
  withCredentialsLock,
  writeCredentials,
  type StoredCredentials,
} from './credentials';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'custody-credentials-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const signIn: StoredCredentials = {
  version: 1,
  issuer: 'http://127.0.0.1:9090',
  apiUrl: 'http://127.0.0.1:8443',
  clientId: 'custody-cli',
  accessToken: 'access-1',
  refreshToken: 'refresh-1',
  expiresAt: '2030-01-01T00:05:00.000Z',
};

const mode = (file: string) => statSync(file).mode & 0o777;

test('written into a new 0700 directory as a 0600 file, and read back as written', () => {
  const dir = path.join(root, 'config', 'custody');
  const file = credentialsFile(dir);
  writeCredentials(file, signIn);
  expect(mode(dir)).toBe(0o700);
  expect(mode(path.join(root, 'config'))).toBe(0o700);
  expect(mode(file)).toBe(0o600);
  expect(readCredentials(file)).toEqual(signIn);
});

test('a rewrite replaces the file whole and leaves no temporary file behind', () => {
  const file = credentialsFile(root);
  writeCredentials(file, signIn);
  writeCredentials(file, { ...signIn, accessToken: 'access-2' });
  expect(readCredentials(file)?.accessToken).toBe('access-2');
  expect(readdirSync(root)).toEqual(['credentials.json']);
  expect(mode(file)).toBe(0o600);
});

test('what does not fit the format is not written', () => {
  const file = credentialsFile(root);
  expect(() => writeCredentials(file, { ...signIn, expiresAt: 'tomorrow' })).toThrow();
  expect(readdirSync(root)).toEqual([]);
});

test.each([0o644, 0o640, 0o604, 0o660, 0o666])(
  'a credentials file with mode %s is refused, naming the chmod that fixes it',
  (wide) => {
    const file = credentialsFile(root);
    writeCredentials(file, signIn);
    chmodSync(file, wide);
    expect(() => readCredentials(file)).toThrow(CredentialsFileError);
    expect(() => readCredentials(file)).toThrow(`Run \`chmod 600 ${file}\``);
    // logout still reads it, to revoke what may have leaked
    expect(readCredentials(file, { checkPermissions: false })).toEqual(signIn);
    chmodSync(file, 0o600);
    expect(readCredentials(file)).toEqual(signIn);
  },
);

test('a file of another owner is refused; group read only where a mounted secret needs it', () => {
  const file = '/secrets/x';
  expect(
    privateFileProblem(file, { mode: 0o100600, uid: 1000 }, { allowGroupRead: false, ownerUid: 1001 }),
  ).toMatch(/belongs to another user/);
  expect(
    privateFileProblem(file, { mode: 0o100440, uid: 0 }, { allowGroupRead: true, ownerUid: undefined }),
  ).toBeUndefined();
  expect(
    privateFileProblem(file, { mode: 0o100440, uid: 0 }, { allowGroupRead: false, ownerUid: undefined }),
  ).toMatch(/mode 0440/);
  expect(
    privateFileProblem(file, { mode: 0o100444, uid: 0 }, { allowGroupRead: true, ownerUid: undefined }),
  ).toMatch(/mode 0444/);
  expect(
    privateFileProblem(file, { mode: 0o100460, uid: 0 }, { allowGroupRead: true, ownerUid: undefined }),
  ).toMatch(/mode 0460/);
});

test('no file: not signed in; a file that is not a sign-in: an error saying to sign in again', () => {
  const file = credentialsFile(root);
  expect(readCredentials(file)).toBeUndefined();
  writeFileSync(file, 'not json', { mode: 0o600 });
  expect(() => readCredentials(file)).toThrow(/not JSON: remove it and run custody login again/);
  writeFileSync(file, JSON.stringify({ version: 2 }), { mode: 0o600 });
  expect(() => readCredentials(file)).toThrow(/not a custody sign-in this version understands/);
});

test('removal is idempotent', () => {
  const file = credentialsFile(root);
  writeCredentials(file, signIn);
  expect(removeCredentials(file)).toBe(true);
  expect(removeCredentials(file)).toBe(false);
  expect(readCredentials(file)).toBeUndefined();
});

test('the lock runs one holder at a time and is released after a failure', async () => {
  const file = credentialsFile(root);
  const events: string[] = [];
  const hold = (name: string, ms: number) =>
    withCredentialsLock(file, async () => {
      events.push(`${name} in`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`${name} out`);
    });
  await Promise.all([hold('a', 150), hold('b', 10)]);
  expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
  await expect(withCredentialsLock(file, () => Promise.reject(new Error('refresh failed')))).rejects.toThrow(
    'refresh failed',
  );
  expect(readdirSync(root)).toEqual([]);
});

test('a lock left behind by a killed command is taken over once stale', async () => {
  const file = credentialsFile(root);
  const lock = `${file}.lock`;
  writeFileSync(lock, '');
  const longAgo = new Date(Date.now() - 60_000);
  utimesSync(lock, longAgo, longAgo);
  await expect(withCredentialsLock(file, () => Promise.resolve('ran'))).resolves.toBe('ran');
  expect(() => readFileSync(lock)).toThrow(/ENOENT/);
});
