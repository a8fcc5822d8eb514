/**
 * Facts about ffmpeg's outputs read in-process, so that checking a finished transcode spawns no ffprobe: the
 * proxy's index goes through the MP4 parser (mp4-probe.ts), the JPEG images' sizes come from their frame header.
 * Each answers only when sure; the caller asks ffprobe otherwise.
 */
import { open } from 'node:fs/promises';
import type { ByteRangeReader } from './mp4-probe';

/**
 * Width and height from a JPEG's start-of-frame segment — the numbers ffprobe reports for ffmpeg's mjpeg
 * output. Undefined when the bytes are not a JPEG or end (or reach the scan) before a frame header.
 */
export function jpegDimensions(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return undefined;
    const marker = bytes[p + 1]!;
    if (marker === 0xff) {
      p += 1; // fill byte before a marker
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      p += 2; // markers without a length: TEM, RSTn, SOI
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image, or the scan, before any frame
    const length = bytes.readUInt16BE(p + 2);
    if (length < 2) return undefined;
    // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (length < 8 || p + 9 > bytes.length) return undefined;
      const height = bytes.readUInt16BE(p + 5);
      const width = bytes.readUInt16BE(p + 7);
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    p += 2 + length;
  }
  return undefined;
}

/** Runs `use` with a ByteRangeReader over a local file, closing the file afterwards. */
export async function withFileReader<T>(
  file: string,
  use: (reader: ByteRangeReader) => Promise<T>,
): Promise<T> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    return await use({
      size,
      async read(offset, length) {
        const buffer = Buffer.alloc(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) break; // the file shrank: the parser sees short bytes and declines
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      },
    });
  } finally {
    await handle.close();
  }
}
