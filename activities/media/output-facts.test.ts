import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jpegDimensions, withFileReader } from './output-facts';

/** A marker segment: FF, marker, 16-bit length (counting itself), payload. */
const segment = (marker: number, payload: number[]) =>
  Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload]);
/** SOFn payload: precision, height, width, components (one, 1×1 sampling, table 0). */
const sof = (marker: number, width: number, height: number) =>
  segment(marker, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]);
const SOI = Buffer.from([0xff, 0xd8]);
const SOS = segment(0xda, [1, 1, 0, 0, 63, 0]);

describe('jpegDimensions', () => {
  test('reads width and height from the frame header after JFIF, tables and fill bytes', () => {
    const jpeg = Buffer.concat([
      SOI,
      segment(0xe0, [...Buffer.from('JFIF\0'), 1, 2, 0, 0, 1, 0, 1, 0, 0]),
      segment(0xdb, new Array<number>(65).fill(1)), // DQT
      Buffer.from([0xff]), // a fill byte before the next marker
      segment(0xc4, new Array<number>(20).fill(0)), // DHT sits in the SOF range and is not a frame header
      sof(0xc0, 1280, 720),
      SOS,
    ]);
    expect(jpegDimensions(jpeg)).toEqual({ width: 1280, height: 720 });
  });

  test('progressive (SOF2) frames count too', () => {
    expect(jpegDimensions(Buffer.concat([SOI, sof(0xc2, 160, 2880)]))).toEqual({ width: 160, height: 2880 });
  });

  test('answers nothing rather than guessing', () => {
    expect(jpegDimensions(Buffer.from('not a jpeg at all'))).toBeUndefined();
    expect(jpegDimensions(Buffer.alloc(0))).toBeUndefined();
    expect(jpegDimensions(Buffer.concat([SOI, SOS, sof(0xc0, 10, 10)]))).toBeUndefined(); // scan first
    expect(jpegDimensions(Buffer.concat([SOI, sof(0xc0, 1280, 720)]).subarray(0, 8))).toBeUndefined();
    expect(jpegDimensions(Buffer.concat([SOI, sof(0xc0, 0, 720)]))).toBeUndefined();
    expect(jpegDimensions(Buffer.concat([SOI, Buffer.from([0x00, 0x11, 0x22, 0x33])]))).toBeUndefined();
  });
});

describe('withFileReader', () => {
  test('reads exact ranges of a local file and closes it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custody-output-facts-'));
    try {
      const file = path.join(dir, 'bytes');
      const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      writeFileSync(file, bytes);
      const read = await withFileReader(file, async (reader) => {
        expect(reader.size).toBe(1000);
        return [await reader.read(0, 4), await reader.read(996, 4), await reader.read(500, 300)];
      });
      expect(read).toEqual([bytes.subarray(0, 4), bytes.subarray(996), bytes.subarray(500, 800)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
