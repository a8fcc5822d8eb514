/**
 * The cached sign-in of `custody login`: one JSON file, `credentials.json`, in the command's config directory
 * (CUSTODY_CONFIG_DIR, else $XDG_CONFIG_HOME/custody or ~/.config/custody). The directory is made 0700 and the file
 * 0600 at creation, written whole or not at all (a temporary file renamed over it), and refused when anyone but
 * its owner may read it: the refresh token in it acts in the person's name for a whole shift.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';

export const CREDENTIALS_FILE_NAME = 'credentials.json';

const storedCredentialsSchema = z.object({
  version: z.literal(1),
  issuer: z.string().url(),
  apiUrl: z.string().url(),
  clientId: z.string().min(1),
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** When the access token expires (ISO 8601), computed from `expires_in` when it was received. */
  expiresAt: z.string().datetime(),
});

export type StoredCredentials = z.infer<typeof storedCredentialsSchema>;

/** A credentials file that must not be used: readable by others, someone else's, or not ours to parse. */
export class CredentialsFileError extends Error {}

export function credentialsFile(configDir: string): string {
  return path.join(configDir, CREDENTIALS_FILE_NAME);
}

/**
 * Why a secret file with these stats must not be read, or undefined when it may. `allowGroupRead`: a Kubernetes
 * Secret volume with an fsGroup adds the group's read bit (0440), which a service account's secret may carry; the
 * cached sign-in, written by this command itself, never needs it.
 */
export function privateFileProblem(
  file: string,
  stats: Pick<Stats, 'mode' | 'uid'>,
  options: { allowGroupRead: boolean; ownerUid: number | undefined },
): string | undefined {
  const mode = stats.mode & 0o777;
  const forbidden = options.allowGroupRead ? 0o037 : 0o077;
  if (mode & forbidden) {
    return (
      `${file} has mode ${mode.toString(8).padStart(4, '0')}: others than its owner may read or change it. ` +
      `Run \`chmod 600 ${file}\` (or remove it and sign in again).`
    );
  }
  if (options.ownerUid !== undefined && stats.uid !== options.ownerUid) {
    return `${file} belongs to another user (uid ${stats.uid}): only the owner's own file is used.`;
  }
  return undefined;
}

/** The current process's uid, where the platform has one (not on Windows). */
export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * The cached sign-in, or undefined when there is none; throws CredentialsFileError when it may not be used.
 * `checkPermissions: false` is for logout alone, which revokes what a too-open file may have leaked.
 */
export function readCredentials(
  file: string,
  options: { checkPermissions: boolean } = { checkPermissions: true },
): StoredCredentials | undefined {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const problem = privateFileProblem(file, stats, { allowGroupRead: false, ownerUid: currentUid() });
  if (problem && options.checkPermissions) {
    throw new CredentialsFileError(`refusing the cached sign-in: ${problem}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new CredentialsFileError(`${file} is not JSON: remove it and run custody login again`);
  }
  const result = storedCredentialsSchema.safeParse(parsed);
  if (!result.success) {
    throw new CredentialsFileError(
      `${file} is not a custody sign-in this version understands: remove it and run custody login again`,
    );
  }
  return result.data;
}

/** Makes the config directory, 0700 at every level it creates (a level that exists keeps its mode). */
function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes the sign-in so that a reader sees the old file or the new one, never half of one: a temporary file in
 * the same directory, created 0600 (never wider, whatever the umask), flushed, then renamed over the old.
 */
export function writeCredentials(file: string, credentials: StoredCredentials): void {
  const checked = storedCredentialsSchema.parse(credentials);
  ensurePrivateDir(path.dirname(file));
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(checked, null, 2)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(temporary, file);
}

/** Removes the cached sign-in; true when there was one. */
export function removeCredentials(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 15_000;

/**
 * Runs `action` while holding `<file>.lock`, so that two commands refreshing at once do not both present the same
 * refresh token: an issuer that rotates refresh tokens (as the development one does) takes the second use of a
 * spent token for theft and ends the whole sign-in. A lock left by a killed process is taken over once stale.
 */
export async function withCredentialsLock<T>(file: string, action: () => Promise<T>): Promise<T> {
  ensurePrivateDir(path.dirname(file));
  const lock = `${file}.lock`;
  const giveUpAt = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = lockAge(lock);
      if (age !== undefined && age > LOCK_STALE_MS) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > giveUpAt) {
        throw new CredentialsFileError(
          `another custody command has held ${lock} for ${LOCK_WAIT_MS / 1000} s; try again`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await action();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockAge(lock: string): number | undefined {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return undefined; // released meanwhile
  }
}
