/**
 * Scratch space for one transcode attempt: checked before the work starts, removed whatever happens.
 */
import { mkdir, mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { InsufficientTempSpaceError } from './errors';
import type { MediaInfo } from './media-info';

const ATTEMPT_DIR_PREFIX = 'attempt-';

/**
 * Runs fn in a fresh directory under base and removes the directory afterwards: on success, on failure
 * and on cancellation (transcode() only settles after ffmpeg has exited, so nothing writes into it later).
 */
export async function withAttemptTempDir<T>(base: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(path.join(base, ATTEMPT_DIR_PREFIX));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * Removes attempt directories a killed worker left behind (its `finally` never ran). Call at worker
 * start; only directories older than maxAgeMs are touched, so running attempts of other workers that
 * share the base are safe as long as maxAgeMs exceeds the longest transcode.
 */
export async function removeStaleAttemptDirs(
  base: string,
  maxAgeMs: number,
  now = Date.now(),
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(base);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(ATTEMPT_DIR_PREFIX))) {
    const dir = path.join(base, name);
    const info = await stat(dir).catch(() => null);
    if (info?.isDirectory() && now - info.mtimeMs > maxAgeMs) {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      removed.push(dir);
    }
  }
  return removed;
}

/** Throws InsufficientTempSpaceError unless dir's file system has neededBytes free for this user. */
export async function checkFreeSpace(dir: string, neededBytes: number): Promise<{ availableBytes: number }> {
  const fsInfo = await statfs(dir);
  const availableBytes = fsInfo.bavail * fsInfo.bsize;
  if (availableBytes < neededBytes) {
    throw new InsufficientTempSpaceError(
      `not enough temp space in ${dir}: ${formatMiB(neededBytes)} needed, ${formatMiB(availableBytes)} free; ` +
        'free space there or point CUSTODY_TMP_DIR at a larger volume',
      { neededBytes, availableBytes },
    );
  }
  return { availableBytes };
}

/**
 * Upper estimate of the scratch space one attempt needs: the downloaded original plus the derivatives.
 * A 720p CRF-23 proxy of noisy night footage stays well under 6 Mbit/s; sprite and poster are small.
 */
export function estimateAttemptBytes(media: Pick<MediaInfo, 'durationS'>, inputBytes: number): number {
  const proxyBytes = Math.ceil((media.durationS * (6_000_000 + 256_000)) / 8);
  const imagesBytes = 32 * 1024 * 1024;
  const marginBytes = 64 * 1024 * 1024;
  return inputBytes + proxyBytes + imagesBytes + marginBytes;
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
