/**
 * Benchmark inputs, generated once into bench/out/inputs and reused while their recipe is unchanged: large
 * files of pseudo-random bytes (incompressible, like video) and a camera-like H.264+AAC clip.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MiB } from './runner';

const execFileAsync = promisify(execFile);

/** Writes to a temporary name and renames, so an interrupted generation never looks like a finished input. */
async function cached(file: string, make: (partial: string) => Promise<void>): Promise<string> {
  if (existsSync(file)) return file;
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  try {
    await make(partial);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return file;
}

/**
 * `bytes` of AES-128-CTR keystream from a fixed seed: deterministic (the same file, and hash, on every run)
 * and generated at several GB/s with AES-NI, where /dev/urandom would take longer than the benchmark itself.
 */
export async function randomFile(dir: string, bytes: number): Promise<string> {
  const file = path.join(dir, `random-${bytes}.bin`);
  if (existsSync(file) && statSync(file).size !== bytes) await rm(file);
  return cached(file, async (partial) => {
    const key = createHash('sha256').update(`custody-bench:${bytes}`).digest();
    const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    const zeros = Buffer.alloc(16 * MiB);
    const handle = await open(partial, 'w');
    try {
      for (let written = 0; written < bytes;) {
        const length = Math.min(zeros.length, bytes - written);
        const block = cipher.update(zeros.subarray(0, length));
        await handle.write(block, 0, block.length);
        written += block.length;
      }
    } finally {
      await handle.close();
    }
  });
}

export interface ClipParams {
  durationS: number;
  width: number;
  height: number;
  fps: number;
}

/**
 * The same recipe as test/fixtures/media.ts's syntheticClip (testsrc2 + 440 Hz sine, x264 ultrafast CRF 23,
 * GOP 60, AAC 128k), cached here under bench/out rather than .run/, keyed by the parameters and the recipe.
 */
export async function syntheticClip(dir: string, ffmpegPath: string, p: ClipParams): Promise<string> {
  const args = [
    ...['-f', 'lavfi', '-i', `testsrc2=size=${p.width}x${p.height}:rate=${p.fps}:duration=${p.durationS}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${p.durationS}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '23', '-pix_fmt', 'yuv420p', '-g', '60'],
    ...['-c:a', 'aac', '-b:a', '128k', '-shortest', '-f', 'mp4'],
  ];
  const recipe = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 10);
  const file = path.join(dir, `clip-${p.width}x${p.height}p${p.fps}-${p.durationS}s-${recipe}.mp4`);
  return cached(file, async (partial) => {
    await execFileAsync(
      ffmpegPath,
      ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args, partial],
      {
        maxBuffer: 16 * MiB,
      },
    );
  });
}
