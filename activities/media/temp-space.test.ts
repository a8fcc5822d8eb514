import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InsufficientTempSpaceError } from './errors';
import {
  checkFreeSpace,
  estimateAttemptBytes,
  removeStaleAttemptDirs,
  withAttemptTempDir,
} from './temp-space';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'custody-temp-space-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('withAttemptTempDir', () => {
  it('removes the directory and its files after success', async () => {
    let seen = '';
    const result = await withAttemptTempDir(path.join(base, 'nested'), async (dir) => {
      seen = dir;
      await writeFile(path.join(dir, 'proxy.mp4'), 'x');
      return 42;
    });
    expect(result).toBe(42);
    expect(path.basename(seen)).toMatch(/^attempt-/);
    expect(existsSync(seen)).toBe(false);
  });

  it('removes the directory after a failure and rethrows the failure', async () => {
    let seen = '';
    await expect(
      withAttemptTempDir(base, async (dir) => {
        seen = dir;
        await mkdir(path.join(dir, 'deep', 'er'), { recursive: true });
        throw new Error('ffmpeg said no');
      }),
    ).rejects.toThrow('ffmpeg said no');
    expect(seen).not.toBe('');
    expect(existsSync(seen)).toBe(false);
  });

  it('gives each attempt its own directory', async () => {
    const dirs = await Promise.all([1, 2].map(() => withAttemptTempDir(base, (dir) => Promise.resolve(dir))));
    expect(dirs[0]).not.toBe(dirs[1]);
  });
});

describe('removeStaleAttemptDirs', () => {
  it('removes only old attempt directories', async () => {
    const old = path.join(base, 'attempt-old');
    const fresh = path.join(base, 'attempt-fresh');
    const foreign = path.join(base, 'not-ours');
    await Promise.all([old, fresh, foreign].map((dir) => mkdir(dir)));
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    await utimes(old, dayAgo, dayAgo);
    await utimes(foreign, dayAgo, dayAgo);
    expect(await removeStaleAttemptDirs(base, 3600_000)).toEqual([old]);
    expect([existsSync(old), existsSync(fresh), existsSync(foreign)]).toEqual([false, true, true]);
  });

  it('treats a missing base as empty', async () => {
    expect(await removeStaleAttemptDirs(path.join(base, 'missing'), 1)).toEqual([]);
  });
});

describe('checkFreeSpace', () => {
  it('passes when enough is free and reports what is free', async () => {
    const { availableBytes } = await checkFreeSpace(base, 1);
    expect(availableBytes).toBeGreaterThan(1);
  });

  it('throws a retryable InsufficientTempSpace naming the directory and the fix', async () => {
    const error = await checkFreeSpace(base, Number.MAX_SAFE_INTEGER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientTempSpaceError);
    expect(error).toMatchObject({ type: 'InsufficientTempSpace', nonRetryable: false });
    expect((error as Error).message).toMatch(
      new RegExp(`not enough temp space in ${base}: .* needed, .* free`),
    );
    expect((error as Error).message).toMatch(/CUSTODY_TMP_DIR/);
  });
});

describe('estimateAttemptBytes', () => {
  it('covers the original plus a generous proxy and the images', () => {
    const inputBytes = 118_000_000; // 60 s of 1080p at ~15 Mbit/s
    const estimate = estimateAttemptBytes({ durationS: 60 }, inputBytes);
    expect(estimate).toBeGreaterThan(inputBytes + 45_000_000);
    expect(estimate).toBeLessThan(inputBytes + 300_000_000);
    // An hour needs room for a proxy of up to ~6 Mbit/s.
    expect(estimateAttemptBytes({ durationS: 3600 }, 0)).toBeGreaterThan(2_700_000_000);
  });
});
