/**
 * The MP4 index parser on hand-built files: box walking (size 0, 64-bit sizes, boxes past the end), the
 * reads it makes, and the facts it reads. Agreement with ffprobe on real encoder output is the integration
 * test's job (test/integration/media/mp4-probe.test.ts).
 */
import type { MediaInfo } from './media-info';
import {
  bufferReader,
  MOV_FORMAT_NAME,
  mediaInfoFromMp4,
  MP4_HEAD_BYTES,
  Mp4Declined,
  probeMp4,
  readTopLevel,
  type ByteRangeReader,
} from './mp4-probe';

// ------------------------------------------------------------------------------------------ builders

const u8 = (value: number) => Buffer.from([value]);
const u16 = (value: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
};
const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
};
const zeros = (length: number) => Buffer.alloc(length);

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}
/** A box whose size field says 0: "to the end of the file". */
function openEndedBox(type: string, ...parts: Buffer[]): Buffer {
  return Buffer.concat([u32(0), Buffer.from(type, 'latin1'), ...parts]);
}
/** A box with size field 1 and the real size in 64 bits after the type. */
function largeBox(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(16 + body.length));
  return Buffer.concat([u32(1), Buffer.from(type, 'latin1'), size, body]);
}
const fullBox = (type: string, version: number, ...parts: Buffer[]) =>
  box(type, u8(version), zeros(3), ...parts);

const UNIT = 0x10000;
const IDENTITY = [UNIT, 0, 0, 0, UNIT, 0, 0, 0, 0x40000000];
const matrix = (values: number[]) => Buffer.concat(values.map(u32));

/** Exp-Golomb writer for a hand-made H.264 SPS. */
class BitWriter {
  private bits: number[] = [];
  u(count: number, value: number): this {
    for (let i = count - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  ue(value: number): this {
    const code = value + 1;
    const length = Math.floor(Math.log2(code));
    return this.u(length, 0).u(length + 1, code);
  }
  /** With the RBSP stop bit and byte alignment. */
  bytes(): Buffer {
    const bits = [...this.bits, 1];
    while (bits.length % 8) bits.push(0);
    return Buffer.from(
      Array.from({ length: bits.length / 8 }, (_, i) => parseInt(bits.slice(8 * i, 8 * i + 8).join(''), 2)),
    );
  }
}

/** Baseline-profile SPS for a width × height picture (multiples of 16), no crop, no VUI. */
function baselineSps(width: number, height: number): Buffer {
  const rbsp = new BitWriter()
    .u(8, 66) // profile_idc
    .u(8, 0) // constraint flags
    .u(8, 30) // level_idc
    .ue(0) // sps id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .u(1, 0) // gaps
    .ue(width / 16 - 1)
    .ue(height / 16 - 1)
    .u(1, 1) // frame_mbs_only
    .u(1, 1) // direct_8x8_inference
    .u(1, 0) // frame_cropping
    .u(1, 0) // vui_parameters_present
    .bytes();
  return Buffer.concat([u8(0x67), rbsp]);
}

function avcC(sps: Buffer): Buffer {
  const pps = Buffer.from([0x68, 0xce, 0x38, 0x80]);
  return box(
    'avcC',
    Buffer.from([1, 66, 0, 30, 0xff, 0xe1]),
    u16(sps.length),
    sps,
    u8(1),
    u16(pps.length),
    pps,
  );
}

function avc1(width: number, height: number, extra: Buffer[] = [], sps = baselineSps(width, height)): Buffer {
  const compressor = zeros(32);
  return box(
    'avc1',
    zeros(6),
    u16(1), // data reference index
    zeros(16),
    u16(width),
    u16(height),
    u32(0x00480000),
    u32(0x00480000),
    u32(0),
    u16(1),
    compressor,
    u16(0x18),
    u16(0xffff),
    avcC(sps),
    ...extra,
  );
}

function esds(): Buffer {
  const decoderSpecific = Buffer.from([0x05, 2, 0x11, 0x90]); // AAC LC, 48 kHz, stereo
  const decoderConfig = Buffer.concat([
    Buffer.from([0x04, 13 + decoderSpecific.length, 0x40, 0x15]),
    zeros(3),
    u32(128000),
    u32(128000),
    decoderSpecific,
  ]);
  const sl = Buffer.from([0x06, 1, 0x02]);
  const es = Buffer.concat([
    Buffer.from([0x03, 3 + decoderConfig.length + sl.length]),
    u16(2),
    u8(0),
    decoderConfig,
    sl,
  ]);
  return fullBox('esds', 0, es);
}

function mp4a(): Buffer {
  return box('mp4a', zeros(6), u16(1), zeros(8), u16(2), u16(16), u16(0), u16(0), u32(48000 * UNIT), esds());
}

interface TrackSpec {
  handler: string;
  sampleEntry: Buffer;
  timescale: number;
  sampleCount: number;
  sampleDelta: number;
  sampleSize: number;
  matrix?: number[];
  width?: number;
  height?: number;
  /** stsz lists every sample's size instead of one size for all. */
  sizeTable?: boolean;
}

function trak(spec: TrackSpec, chunkOffset: number): Buffer {
  const tkhd = fullBox(
    'tkhd',
    0,
    zeros(8),
    u32(1),
    zeros(4),
    u32(0),
    zeros(8),
    zeros(8),
    matrix(spec.matrix ?? IDENTITY),
    u32((spec.width ?? 0) * UNIT),
    u32((spec.height ?? 0) * UNIT),
  );
  const mdhd = fullBox(
    'mdhd',
    0,
    zeros(8),
    u32(spec.timescale),
    u32(spec.sampleCount * spec.sampleDelta),
    zeros(4),
  );
  const hdlr = fullBox('hdlr', 0, u32(0), Buffer.from(spec.handler, 'latin1'), zeros(12), u8(0));
  // One data reference, flag 1: "the data is in this file".
  const dinf = box('dinf', fullBox('dref', 0, u32(1), box('url ', u32(1))));
  const stsz = spec.sizeTable
    ? fullBox(
        'stsz',
        0,
        u32(0),
        u32(spec.sampleCount),
        ...Array.from({ length: spec.sampleCount }, () => u32(spec.sampleSize)),
      )
    : fullBox('stsz', 0, u32(spec.sampleSize), u32(spec.sampleCount));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, u32(1), spec.sampleEntry),
    fullBox('stts', 0, u32(1), u32(spec.sampleCount), u32(spec.sampleDelta)),
    fullBox('stsc', 0, u32(1), u32(1), u32(spec.sampleCount), u32(1)),
    stsz,
    fullBox('stco', 0, u32(1), u32(chunkOffset)),
  );
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', dinf, stbl)));
}

function mvhd(timescale: number, duration: number): Buffer {
  return fullBox(
    'mvhd',
    0,
    zeros(8),
    u32(timescale),
    u32(duration),
    u32(UNIT),
    u16(0x100),
    zeros(10),
    matrix(IDENTITY),
    zeros(24),
    u32(3),
  );
}

const video = (overrides: Partial<TrackSpec> = {}): TrackSpec => ({
  handler: 'vide',
  sampleEntry: avc1(320, 240),
  timescale: 12800,
  sampleCount: 50,
  sampleDelta: 512,
  sampleSize: 100,
  width: 320,
  height: 240,
  ...overrides,
});
const audio = (): TrackSpec => ({
  handler: 'soun',
  sampleEntry: mp4a(),
  timescale: 48000,
  sampleCount: 94,
  sampleDelta: 1024,
  sampleSize: 50,
});

interface FileSpec {
  tracks?: TrackSpec[];
  moovFirst?: boolean;
  /** The moov box's size field says 0 (runs to the end of the file; needs the moov last). */
  openEndedMoov?: boolean;
  /** The mdat box uses a 64-bit size. */
  largeMdat?: boolean;
  /** Bytes of padding in the mdat after the samples. */
  padding?: number;
  extraTopLevel?: Buffer;
  movieDuration?: number;
}

/** ftyp, mdat (every track's samples, one chunk each), moov — or ftyp, moov, mdat. */
function mp4File(spec: FileSpec = {}): Buffer {
  const tracks = spec.tracks ?? [video()];
  const ftyp = box(
    'ftyp',
    Buffer.from('isom', 'latin1'),
    u32(512),
    Buffer.from('isomiso2avc1mp41', 'latin1'),
  );
  const samples = tracks.map((t) => zeros(t.sampleCount * t.sampleSize).fill(0x5a));
  const payload = Buffer.concat([...samples, zeros(spec.padding ?? 0)]);
  const mdatHeader = spec.largeMdat ? 16 : 8;
  const moovFor = (mdatPayloadAt: number) => {
    let at = mdatPayloadAt;
    const traks = tracks.map((t, i) => {
      const built = trak(t, at);
      at += samples[i]!.length;
      return built;
    });
    const body = [mvhd(1000, spec.movieDuration ?? 2000), ...traks];
    return spec.openEndedMoov ? openEndedBox('moov', ...body) : box('moov', ...body);
  };
  const mdat = (payloadBytes: Buffer) =>
    spec.largeMdat ? largeBox('mdat', payloadBytes) : box('mdat', payloadBytes);
  const extra = spec.extraTopLevel ?? zeros(0);
  if (spec.moovFirst) {
    const moovLength = moovFor(0).length;
    const moov = moovFor(ftyp.length + moovLength + mdatHeader);
    return Buffer.concat([ftyp, moov, mdat(payload), extra]);
  }
  const moov = moovFor(ftyp.length + mdatHeader);
  return Buffer.concat([ftyp, mdat(payload), extra, moov]);
}

function expectedInfo(file: Buffer, overrides: Partial<MediaInfo> = {}): MediaInfo {
  return {
    container: MOV_FORMAT_NAME,
    durationS: 2,
    videoStreamIndex: 0,
    videoCodec: 'h264',
    audioStreamIndex: null,
    audioCodec: null,
    hasAudio: false,
    width: 320,
    height: 240,
    codedWidth: 320,
    codedHeight: 240,
    rotation: 0,
    fps: 25,
    bitRate: Math.trunc((file.length * 8 * 1_000_000) / 2_000_000),
    ...overrides,
  };
}

/** A reader that records the requests made. */
function countingReader(bytes: Buffer): ByteRangeReader & { requests: [number, number][] } {
  const requests: [number, number][] = [];
  return {
    size: bytes.length,
    requests,
    read: (offset, length) => {
      requests.push([offset, length]);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

async function declined(bytes: Buffer): Promise<string> {
  const result = await probeMp4(bufferReader(bytes));
  if ('info' in result) throw new Error(`expected a decline, got ${JSON.stringify(result.info)}`);
  return result.declined;
}

// --------------------------------------------------------------------------------------------- tests

describe('top-level box walking', () => {
  it('lists the boxes of a file by their sizes', async () => {
    const file = mp4File();
    const { boxes } = await readTopLevel(bufferReader(file));
    expect(boxes.map((b) => b.type)).toEqual(['ftyp', 'mdat', 'moov']);
    expect(boxes[0]!.start).toBe(0);
    expect(boxes.at(-1)!.end).toBe(file.length);
  });

  it('reads a last box of size 0 as running to the end of the file', async () => {
    const file = mp4File({ openEndedMoov: true });
    const { boxes, moov } = await readTopLevel(bufferReader(file));
    const last = boxes.at(-1)!;
    expect(last).toMatchObject({ type: 'moov', headerSize: 8, end: file.length });
    expect(moov.length).toBe(file.length - last.start);
    expect(await probeMp4(bufferReader(file))).toEqual({ info: expectedInfo(file) });
  });

  it('reads a 64-bit largesize', async () => {
    const file = mp4File({ largeMdat: true });
    const { boxes } = await readTopLevel(bufferReader(file));
    const mdat = boxes.find((b) => b.type === 'mdat')!;
    expect(mdat.headerSize).toBe(16);
    expect(file.readUInt32BE(mdat.start)).toBe(1);
    expect(Number(file.readBigUInt64BE(mdat.start + 8))).toBe(mdat.end - mdat.start);
    expect(await probeMp4(bufferReader(file))).toEqual({ info: expectedInfo(file) });
  });

  it('declines a box that runs past the end of the file (truncated)', async () => {
    const file = mp4File({ moovFirst: true });
    const cut = file.subarray(0, file.length - 10);
    await expect(readTopLevel(bufferReader(cut))).rejects.toThrow(Mp4Declined);
    expect(await declined(cut)).toMatch(/'mdat' at \d+ .* runs past the end of the file/);
  });

  it('declines a file cut off before its index', async () => {
    const file = mp4File();
    expect(await declined(file.subarray(0, 2000))).toMatch(/'mdat' .* runs past the end/);
  });

  it('declines a box whose size is smaller than its header, and stray bytes after the last box', async () => {
    const file = mp4File();
    const broken = Buffer.from(file);
    broken.writeUInt32BE(4, 32); // the mdat right after the 32-byte ftyp
    expect(await declined(broken)).toMatch(/smaller than its header/);
    expect(await declined(Buffer.concat([file, zeros(5)]))).toMatch(/stray bytes/);
  });

  it('declines what is not ISO-BMFF, and fragmented MP4', async () => {
    const text = Buffer.from('not a video at all, just some text\n');
    expect(await declined(text)).toMatch(/not ISO-BMFF/);
    expect(await mediaInfoFromMp4(bufferReader(text))).toBeUndefined();
    const fragmented = mp4File({ moovFirst: true, extraTopLevel: box('moof', fullBox('mfhd', 0, u32(1))) });
    expect(await declined(fragmented)).toMatch(/fragmented/);
    expect(await declined(mp4File({ extraTopLevel: box('sidx', zeros(24)) }))).toMatch(/fragmented/);
  });
});

describe('reads', () => {
  it('reads a small file once', async () => {
    const reader = countingReader(mp4File());
    expect('info' in (await probeMp4(reader))).toBe(true);
    expect(reader.requests).toEqual([[0, reader.size]]);
  });

  it('reads the head, then the index at the end of the file in one request', async () => {
    const file = mp4File({ padding: 200_000 });
    const { boxes } = await readTopLevel(bufferReader(file));
    const moov = boxes.find((b) => b.type === 'moov')!;
    const reader = countingReader(file);
    expect(await probeMp4(reader)).toEqual({ info: expectedInfo(file) });
    expect(reader.requests).toEqual([
      [0, MP4_HEAD_BYTES],
      [moov.start, file.length - moov.start],
    ]);
  });

  it('reads an index at the start that is larger than the head in one more request', async () => {
    // 40,000 sample sizes: a 160 KB stsz.
    const many = video({ sampleCount: 40_000, sampleDelta: 32, sampleSize: 1, sizeTable: true });
    const file = mp4File({ moovFirst: true, tracks: [many] });
    const reader = countingReader(file);
    expect(await probeMp4(reader)).toEqual({ info: expectedInfo(file, { fps: 400 }) });
    expect(reader.requests).toHaveLength(2);
    expect(reader.requests[1]![0]).toBe(MP4_HEAD_BYTES);
  });
});

describe('facts', () => {
  it('reads an H.264 + AAC file as ffprobe would report it', async () => {
    const file = mp4File({ tracks: [video(), audio()] });
    expect(await probeMp4(bufferReader(file))).toEqual({
      info: expectedInfo(file, { audioStreamIndex: 1, audioCodec: 'aac', hasAudio: true }),
    });
  });

  it('numbers streams in track order', async () => {
    const file = mp4File({ tracks: [audio(), video()] });
    expect(await probeMp4(bufferReader(file))).toEqual({
      info: expectedInfo(file, {
        videoStreamIndex: 1,
        audioStreamIndex: 0,
        audioCodec: 'aac',
        hasAudio: true,
      }),
    });
  });

  it('applies a quarter-turn display matrix', async () => {
    // [0 -1; 1 0]: ffprobe prints rotation=90.
    const turned = video({ matrix: [0, -UNIT, 0, UNIT, 0, 0, 0, 0, 0x40000000] });
    const file = mp4File({ tracks: [turned] });
    expect(await probeMp4(bufferReader(file))).toEqual({
      info: expectedInfo(file, { rotation: 90, width: 240, height: 320 }),
    });
  });

  it('stretches the width by the pasp pixel aspect', async () => {
    const anamorphic = video({ sampleEntry: avc1(320, 240, [box('pasp', u32(4), u32(3))]) });
    const file = mp4File({ tracks: [anamorphic] });
    expect(await probeMp4(bufferReader(file))).toEqual({ info: expectedInfo(file, { width: 427 }) });
  });

  it('reads the average frame rate as a reduced fraction (30000/1001)', async () => {
    const ntsc = video({ timescale: 30000, sampleCount: 60, sampleDelta: 1001 });
    const file = mp4File({ tracks: [ntsc] });
    const result = await probeMp4(bufferReader(file));
    expect(result).toEqual({ info: expectedInfo(file, { fps: 30000 / 1001 }) });
  });

  it('rounds the movie duration to microseconds as ffprobe prints it', async () => {
    const file = mp4File({ movieDuration: 2021 });
    expect(await probeMp4(bufferReader(file))).toEqual({
      info: expectedInfo(file, {
        durationS: 2.021,
        bitRate: Math.trunc((file.length * 8 * 1e6) / 2_021_000),
      }),
    });
  });

  it('declines what it does not map or cannot be sure of', async () => {
    const mp4v = video({ sampleEntry: Buffer.concat([u32(16), Buffer.from('mp4v'), zeros(8)]) });
    expect(await declined(mp4File({ tracks: [mp4v] }))).toMatch(/'mp4v' is not mapped/);
    expect(await declined(mp4File({ tracks: [audio()] }))).toMatch(/no video track/);
    const sheared = video({ matrix: [UNIT, UNIT, 0, 0, UNIT, 0, 0, 0, 0x40000000] });
    expect(await declined(mp4File({ tracks: [sheared] }))).toMatch(/quarter turn/);
    const mismatch = video({ sampleEntry: avc1(336, 240, [], baselineSps(320, 240)) });
    expect(await declined(mp4File({ tracks: [mismatch] }))).toMatch(
      /sample entry says 336x240, the SPS 320x240/,
    );
  });

  it('declines a sample table that points past the end of the data', async () => {
    const file = mp4File({ tracks: [video()] });
    const stco = file.indexOf('stco', 0, 'latin1') - 4;
    const moved = Buffer.from(file);
    moved.writeUInt32BE(file.length - 10, stco + 16);
    expect(await declined(moved)).toMatch(/past the end of the file|outside every mdat/);
  });
});
