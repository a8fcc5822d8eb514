/**
 * What ingest records about an MP4/MOV recording (MediaInfo), read in-process from the file's index (the
 * `moov` box) through ranged reads — no ffprobe process. The answer is exactly what ffprobe 5.1 (Debian
 * bookworm) + mediaInfoFromProbe give for the same bytes, or no answer at all: every rule below mirrors a
 * line of libavformat/mov.c, demux.c, ffprobe.c or the H.264/H.265 parameter-set parsers, and anything those
 * lines would treat in a way not modelled here is declined ("not sure, ask ffprobe"). Declining is always
 * safe (ffprobe runs instead); a different answer never is. NotMedia/CorruptMedia verdicts stay ffprobe's.
 *
 * Where the MediaInfo fields come from in ffmpeg 5.1, and so here:
 *   container  the mov demuxer's name, whenever the file starts with an `ftyp` box (mov_probe scores 100)
 *   durationS  mvhd duration rescaled to µs (mov_read_mvhd; update_stream_timings keeps it), printed "%f"
 *   bitRate    file size × 8 × 10⁶ / that duration, truncated (update_stream_timings)
 *   streams    one per `trak`, in file order; cover art (ilst/covr) is added where its box is parsed
 *   codecs     sample-entry fourcc (avc1/avc3 → h264, hvc1/hev1 → hevc) and, for mp4a, the esds object
 *              type and AudioSpecificConfig (ff_mp4_read_dec_config_descr) → aac
 *   size       stsd width/height, which must equal the SPS's cropped size (the decoder's answer)
 *   aspect     pasp (stream SAR, wins in av_guess_sample_aspect_ratio), else the SPS VUI SAR
 *   rotation   tkhd × mvhd display matrix → av_display_rotation_get, printed as an integer
 *   fps        avg_frame_rate = mdhd timescale × stts sample count / stts duration (mov_read_header)
 * Edit lists change none of these in 5.1 (format duration is mvhd's, avg_frame_rate is from stts), so they
 * are only checked for well-formedness.
 */
import { mediaInfoFromProbe, type MediaInfo, type ProbeData, type ProbeStream } from './media-info';

/** Random access to the stored bytes, e.g. ranged GETs of one object version. */
export interface ByteRangeReader {
  /** Size of the whole file in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; the parser never asks past `size`. */
  read(offset: number, length: number): Promise<Buffer>;
}

export type Mp4ProbeResult = { info: MediaInfo } | { declined: string };

/** ffprobe's format_name for everything the mov demuxer reads. */
export const MOV_FORMAT_NAME = 'mov,mp4,m4a,3gp,3g2,mj2';
/** The first read: enough for `ftyp` and the header of what follows, and a small file's whole index. */
export const MP4_HEAD_BYTES = 64 * 1024;
/** Past the head, a remainder at most this large is read in one request (an index at the end of the file). */
const TAIL_READ_BYTES = 16 * 1024 * 1024;
/** A larger index is left to ffprobe rather than held in memory. */
const MAX_MOOV_BYTES = 64 * 1024 * 1024;
/** Top-level boxes and read requests: a normal file needs 2–4 boxes and 1–3 reads. */
const MAX_TOP_LEVEL_BOXES = 64;
const MAX_READS = 8;

/** Why the parser will not answer; the caller asks ffprobe instead. */
export class Mp4Declined extends Error {
  override readonly name = 'Mp4Declined';
}

function decline(reason: string): never {
  throw new Mp4Declined(reason);
}

/**
 * MediaInfo for an MP4/MOV file, or the reason the parser leaves it to ffprobe. Errors of the reader (S3)
 * are thrown, not declined: the caller decides what a failed read means.
 */
export async function probeMp4(reader: ByteRangeReader): Promise<Mp4ProbeResult> {
  try {
    return { info: await parseMp4(reader) };
  } catch (error) {
    if (error instanceof Mp4Declined) return { declined: error.message };
    // Reading a field past the end of a box's bytes: a malformed box.
    if (error instanceof RangeError) return { declined: `malformed box (${error.message})` };
    throw error;
  }
}

/** probeMp4 for callers that only need the answer: undefined means "ask ffprobe". */
export async function mediaInfoFromMp4(reader: ByteRangeReader): Promise<MediaInfo | undefined> {
  const result = await probeMp4(reader);
  return 'info' in result ? result.info : undefined;
}

/** A reader over bytes in memory (tests, tools). */
export function bufferReader(bytes: Buffer): ByteRangeReader {
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
  };
}

// ------------------------------------------------------------------------------------------ reading

/** The byte ranges read so far; a request fetches only what is not yet here. */
class RangeCache {
  private readonly segments: { start: number; bytes: Buffer }[] = [];
  private reads = 0;

  constructor(private readonly reader: ByteRangeReader) {}

  get size(): number {
    return this.reader.size;
  }

  /** The bytes [offset, offset + length), loading what is missing with one read. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    const end = offset + length;
    const coveredTo = this.coveredFrom(offset);
    if (coveredTo < end) await this.load(coveredTo, end - coveredTo);
    return this.slice(offset, length);
  }

  /** Whether [offset, offset + length) is already here. */
  has(offset: number, length: number): boolean {
    return this.coveredFrom(offset) >= offset + length;
  }

  async load(offset: number, length: number): Promise<void> {
    if (++this.reads > MAX_READS) decline(`more than ${MAX_READS} reads needed to find the index`);
    const bytes = await this.reader.read(offset, length);
    if (bytes.length !== length) {
      throw new Error(`read of ${length} bytes at ${offset} returned ${bytes.length}`);
    }
    this.segments.push({ start: offset, bytes });
    this.segments.sort((a, b) => a.start - b.start);
  }

  /** The end of the contiguous run of loaded bytes that starts at or before offset (offset if none). */
  private coveredFrom(offset: number): number {
    let reached = offset;
    for (const segment of this.segments) {
      if (segment.start > reached) break;
      reached = Math.max(reached, segment.start + segment.bytes.length);
    }
    return reached;
  }

  private slice(offset: number, length: number): Buffer {
    const parts: Buffer[] = [];
    let at = offset;
    const end = offset + length;
    for (const segment of this.segments) {
      const segmentEnd = segment.start + segment.bytes.length;
      if (segmentEnd <= at || segment.start > at) continue;
      const take = segment.bytes.subarray(at - segment.start, Math.min(segmentEnd, end) - segment.start);
      parts.push(take);
      at += take.length;
      if (at >= end) break;
    }
    if (at < end) throw new Error(`bytes ${offset}–${end} were not loaded`);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

// ---------------------------------------------------------------------------------------------- boxes

export interface Box {
  type: string;
  /** Offset of the box's first byte (absolute for top-level boxes, else within the index buffer). */
  start: number;
  headerSize: number;
  /** Offset just past the box. */
  end: number;
}

/**
 * The box header at pos, within a parent ending at limit (size 0: to the parent's end; 1: 64-bit size).
 * origin is the file offset of buf[0], for messages.
 */
function boxAt(buf: Buffer, pos: number, limit: number, parent: string, origin = 0): Box {
  if (limit - pos < 8) decline(`${limit - pos} stray bytes where a box should start in ${parent}`);
  const size32 = buf.readUInt32BE(pos);
  const type = buf.toString('latin1', pos + 4, pos + 8);
  let headerSize = 8;
  let size: number;
  if (size32 === 1) {
    if (limit - pos < 16) decline(`box '${type}' in ${parent} has no room for its 64-bit size`);
    const large = buf.readBigUInt64BE(pos + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) decline(`box '${type}' claims ${large} bytes`);
    size = Number(large);
    headerSize = 16;
  } else {
    size = size32 === 0 ? limit - pos : size32;
  }
  if (size < headerSize) decline(`box '${type}' in ${parent} is smaller than its header (${size} bytes)`);
  if (pos + size > limit) {
    decline(
      `box '${printable(type)}' at ${origin + pos} (${size} bytes) runs past the end of ${parent}: ` +
        'truncated or corrupt',
    );
  }
  return { type, start: pos, headerSize, end: pos + size };
}

/**
 * The boxes that tile [start, end) of buf. Fewer than 8 zero bytes may close a container (QuickTime
 * terminators; ffmpeg ignores a tail too short for a box header).
 */
function childBoxes(buf: Buffer, start: number, end: number, parent: string): Box[] {
  const boxes: Box[] = [];
  let pos = start;
  while (pos < end) {
    if (end - pos < 8 && buf.subarray(pos, end).every((byte) => byte === 0)) break;
    const box = boxAt(buf, pos, end, parent);
    boxes.push(box);
    pos = box.end;
  }
  return boxes;
}

const payload = (box: Box) => box.start + box.headerSize;
const payloadSize = (box: Box) => box.end - payload(box);

/**
 * Box types libavformat 5.1 has a reader for (mov_default_parse_table). A box of any other type is skipped
 * unread by ffmpeg, so it cannot change ffprobe's answer; one of these that this parser does not model
 * makes it decline.
 */
// prettier-ignore
const FFMPEG_PARSED_BOXES = new Set(
  [
    'ACLR', 'APRG', 'AALP', 'ARES', 'avss', 'av1C', 'chpl', 'co64', 'colr', 'ctts', 'dinf', 'DpxE', 'dref',
    'edts', 'elst', 'enda', 'fiel', 'adrm', 'ftyp', 'glbl', 'hdlr', 'ilst', 'jp2h', 'mdat', 'mdhd', 'mdia',
    'meta', 'minf', 'moof', 'moov', 'mvex', 'mvhd', 'SMI ', 'alac', 'avcC', 'pasp', 'sidx', 'stbl', 'stco',
    'stps', 'strf', 'stsc', 'stsd', 'stss', 'stsz', 'stts', 'stz2', 'sdtp', 'tkhd', 'tfdt', 'tfhd', 'trak',
    'traf', 'tref', 'tmcd', 'chap', 'trex', 'trun', 'udta', 'wave', 'esds', 'dac3', 'dec3', 'ddts', 'wide',
    'wfex', 'cmov', 'chan', 'dvc1', 'sgpd', 'sbgp', 'hvcC', 'uuid', 'Cin\x8e', 'free', '----', 'sinf', 'frma',
    'senc', 'saiz', 'saio', 'pssh', 'schm', 'schi', 'tenc', 'dfLa', 'st3d', 'sv3d', 'dOps', 'dmlp', 'SmDm',
    'CoLL', 'vpcC', 'mdcv', 'clli', 'dvcC', 'dvvC', 'dvwC', 'kind', 'SA3D', 'SAND', 'iloc', 'pcmC', 'pitm',
    // Not in the table but special-cased by mov_read_default (a moov hidden in a 'hoov').
    'hoov',
  ],
);

/** Declines a box ffmpeg would parse but this parser does not model; returns whether ffmpeg skips it. */
function skippedByFfmpeg(box: Box, parent: string): true {
  if (FFMPEG_PARSED_BOXES.has(box.type)) decline(`'${box.type}' box in ${parent} is not modelled`);
  return true;
}

/** A `uuid` box: mov_read_uuid fails on one shorter than its 16-byte uuid. */
function checkUuid(box: Box): void {
  if (payloadSize(box) < 16) decline(`'uuid' box of ${payloadSize(box)} bytes`);
}

/**
 * A `udta` box: its children are free-form strings (mov_read_udta_string) or a `meta`. Returns whether it
 * holds an iTunes item list, where cover art becomes a stream of its own.
 */
function checkUserData(buf: Buffer, udta: Box, where: string): boolean {
  let itemList = false;
  for (const box of childBoxes(buf, payload(udta), udta.end, where)) {
    if (box.type === 'meta') itemList = checkMeta(buf, box, `${where}/meta`) || itemList;
    else if (box.type === 'uuid') checkUuid(box);
    // Location and highlight strings have parsers of their own that can fail the file.
    else if (box.type === 'loci' || box.type === 'hmmt') decline(`'${box.type}' user data`);
    else if (box.type !== 'free') skippedByFfmpeg(box, where);
  }
  return itemList;
}

/**
 * A `meta` box as mov_read_meta reads it: from the `hdlr` it finds by scanning 4-byte steps. Returns
 * whether it holds an item list (`ilst`).
 */
function checkMeta(buf: Buffer, meta: Box, where: string): boolean {
  let childrenAt: number | undefined;
  for (let at = payload(meta); meta.end - at > 8; at += 4) {
    if (buf.toString('latin1', at, at + 4) === 'hdlr') {
      childrenAt = at - 4;
      break;
    }
  }
  if (childrenAt === undefined) return false; // ignored by ffmpeg
  if (childrenAt < payload(meta)) decline(`malformed ${where}`);
  let itemList = false;
  for (const box of childBoxes(buf, childrenAt, meta.end, where)) {
    if (box.type === 'hdlr') {
      const handler = handlerType(buf, box);
      // 'mdta' switches on QuickTime metadata keys (artwork among them); inside a trak, a stream type
      // would retype the stream.
      if (handler === 'mdta' || STREAM_TYPE_HANDLERS.has(handler))
        decline(`'${handler}' handler in ${where}`);
    } else if (box.type === 'ilst') {
      // Cover art read inside a trak would become a stream in the middle of that trak's parsing.
      if (where.startsWith('trak')) decline(`item list in ${where}`);
      childBoxes(buf, payload(box), box.end, `${where}/ilst`).forEach((item) =>
        skippedByFfmpeg(item, 'ilst'),
      );
      itemList = true;
    } else if (box.type === 'uuid') {
      checkUuid(box);
    } else if (box.type !== 'free') {
      skippedByFfmpeg(box, where);
    }
  }
  return itemList;
}

// ------------------------------------------------------------------------------------------- top level

export interface TopLevel {
  boxes: Box[];
  /** The whole `moov` box. */
  moov: Buffer;
  majorBrand: string;
  compatibleBrands: string;
}

/** Fragmented MP4 and other layouts whose index is not one `moov`. */
const FRAGMENT_BOXES = new Set(['moof', 'mfra', 'sidx', 'ssix', 'styp', 'emsg', 'prft']);
const TOP_LEVEL_MODELLED = new Set(['ftyp', 'moov', 'mdat', 'free', 'wide', 'uuid']);

/**
 * Walks the top-level boxes by their sizes (reading only their headers) and loads `moov` with one read,
 * wherever it is. Declines when the boxes do not end exactly at the end of the file.
 */
export async function readTopLevel(reader: ByteRangeReader): Promise<TopLevel> {
  const cache = new RangeCache(reader);
  const size = reader.size;
  if (size < 16) decline(`${size} bytes is too small for an MP4`);
  await cache.load(0, Math.min(size, MP4_HEAD_BYTES));
  const firstType = (await cache.bytes(4, 4)).toString('latin1');
  if (firstType !== 'ftyp')
    decline(`not ISO-BMFF with a leading 'ftyp' box (starts '${printable(firstType)}')`);

  const boxes: Box[] = [];
  let moov: { bytes: Buffer; start: number } | undefined;
  let offset = 0;
  while (offset < size) {
    if (boxes.length >= MAX_TOP_LEVEL_BOXES) decline(`more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`);
    const headerLength = Math.min(16, size - offset);
    if (!cache.has(offset, headerLength)) {
      // Past what was read: read on to the end if that is not much (an index at the end of the file).
      const remaining = size - offset;
      await cache.load(
        offset,
        remaining <= TAIL_READ_BYTES ? remaining : Math.min(remaining, MP4_HEAD_BYTES),
      );
    }
    const header = await cache.bytes(offset, headerLength);
    const local = boxAt(header, 0, size - offset, 'the file', offset);
    const box: Box = { ...local, start: offset, end: offset + (local.end - local.start) };
    if (FRAGMENT_BOXES.has(box.type)) decline(`fragmented or segmented MP4 ('${box.type}' box)`);
    if (TOP_LEVEL_MODELLED.has(box.type)) {
      if (box.type === 'ftyp' && boxes.length > 0) decline('a second ftyp box');
      if (box.type === 'uuid' && box.end - box.start - box.headerSize < 16) decline('short uuid box');
      if (box.type === 'moov') {
        if (moov) decline('a second moov box');
        const length = box.end - box.start;
        if (length > MAX_MOOV_BYTES) decline(`index of ${length} bytes is larger than ${MAX_MOOV_BYTES}`);
        // One read for the rest of the index, and the next box's header with it.
        await cache.bytes(box.start, Math.min(size, box.end + 16) - box.start);
        moov = { bytes: await cache.bytes(box.start, length), start: box.start };
      }
    } else {
      skippedByFfmpeg(box, 'the file');
    }
    boxes.push(box);
    offset = box.end;
  }
  if (!moov) decline("no 'moov' box (index missing: ffprobe decides what the file is)");
  const ftyp = boxes[0]!;
  if (payloadSize(ftyp) < 8) decline('ftyp box too short');
  const brands = await cache.bytes(payload(ftyp), payloadSize(ftyp));
  const majorBrand = brands.toString('latin1', 0, 4);
  // mov_read_ftyp keeps the compatible brands as a C string (strstr stops at a NUL).
  const compatibleBrands = brands.toString('latin1', 8).split('\0')[0] ?? '';
  return { boxes, moov: moov.bytes, majorBrand, compatibleBrands };
}

function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type) ? type : Buffer.from(type, 'latin1').toString('hex');
}

// ---------------------------------------------------------------------------------------------- parse

interface Movie {
  timescale: number;
  duration: bigint;
}

interface VideoTrack {
  kind: 'video';
  codecName: 'h264' | 'hevc';
  codedWidth: number;
  codedHeight: number;
  /** Stream SAR from pasp, reduced as mov_read_pasp does; undefined without pasp. */
  pasp?: { num: number; den: number };
  codecSar: ParameterSetSar;
  /** tkhd width/height, integer part (sc->width/height). */
  trackWidth: number;
  trackHeight: number;
  matrix: number[];
  timescale: number;
  sampleCount: number;
  sampleDuration: bigint;
}

interface AudioTrack {
  kind: 'audio';
  codecName: 'aac';
}

/** A QuickTime timecode track: a data stream for ffprobe. */
interface TimecodeTrack {
  kind: 'timecode';
}

type Track = VideoTrack | AudioTrack | TimecodeTrack;

interface FileContext {
  /** mov_read_ftyp: c->isom, the compatible-brands string, and the stsd version rule for audio. */
  isom: boolean;
  compatibleBrands: string;
  fileSize: number;
  /** Payload ranges of the top-level mdat boxes (absolute), where every sample must lie. */
  mdats: { start: number; end: number }[];
}

const IDENTITY_MATRIX = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];

async function parseMp4(reader: ByteRangeReader): Promise<MediaInfo> {
  const top = await readTopLevel(reader);
  const brand = top.majorBrand;
  // mov_probe gives JPEG 2000/XL brands a low score (another demuxer may win); avif is a still image.
  if (['jp2 ', 'jpx ', 'jxl ', 'avif', 'avis'].includes(brand)) decline(`'${brand}' brand`);
  const context: FileContext = {
    isom: brand !== 'qt  ',
    compatibleBrands: top.compatibleBrands,
    fileSize: reader.size,
    mdats: top.boxes
      .filter((box) => box.type === 'mdat')
      .map((box) => ({ start: box.start + box.headerSize, end: box.end })),
  };
  const buf = top.moov;
  const moovBox = boxAt(buf, 0, buf.length, 'the index');

  let movie: Movie | undefined;
  const tracks: Track[] = [];
  let itemListSeen = false;
  for (const box of childBoxes(buf, payload(moovBox), moovBox.end, 'moov')) {
    switch (box.type) {
      case 'mvhd':
        if (movie) decline('a second mvhd');
        movie = parseMvhd(buf, box);
        break;
      case 'trak':
        // tkhd multiplies by the movie matrix read so far; ffmpeg has none before mvhd.
        if (!movie) decline('trak before mvhd');
        // Cover art becomes a stream where its box is parsed: before a trak it would shift stream indexes.
        if (itemListSeen) decline('item list (possible cover art) before a trak');
        tracks.push(parseTrak(buf, box, context));
        break;
      case 'udta':
        itemListSeen = checkUserData(buf, box, 'moov/udta') || itemListSeen;
        break;
      case 'meta':
        itemListSeen = checkMeta(buf, box, 'moov/meta') || itemListSeen;
        break;
      case 'free':
        break;
      case 'uuid':
        checkUuid(box);
        break;
      default:
        skippedByFfmpeg(box, 'moov');
    }
  }
  if (!movie) decline('no mvhd');
  if (!tracks.some((track) => track.kind === 'video')) {
    decline('no video track (ffprobe decides what the file is)');
  }
  return assemble(movie, tracks, reader.size);
}

function parseMvhd(buf: Buffer, box: Box): Movie {
  const p = payload(box);
  const version = buf.readUInt8(p);
  if (version > 1) decline(`mvhd version ${version}`);
  if (payloadSize(box) < (version === 1 ? 112 : 100)) decline('mvhd too short');
  const timescale = buf.readUInt32BE(p + (version === 1 ? 20 : 12));
  // ffmpeg reads it as an int and falls back to 1 for ≤ 0.
  if (timescale === 0 || timescale > 0x7fffffff) decline(`mvhd timescale ${timescale}`);
  const duration = version === 1 ? buf.readBigUInt64BE(p + 24) : BigInt(buf.readUInt32BE(p + 16));
  if (duration === 0n || duration >= 1n << 62n) decline(`mvhd duration ${duration}`);
  const matrix = readMatrix(buf, p + (version === 1 ? 48 : 36));
  if (!sameMatrix(matrix, IDENTITY_MATRIX)) decline('movie display matrix is not the identity');
  return { timescale, duration };
}

function readMatrix(buf: Buffer, at: number): number[] {
  return Array.from({ length: 9 }, (_, i) => buf.readInt32BE(at + 4 * i));
}

function sameMatrix(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

// ----------------------------------------------------------------------------------------------- trak

interface TrakHeader {
  matrix: number[];
  width: number;
  height: number;
}

function parseTrak(buf: Buffer, trak: Box, context: FileContext): Track {
  let header: TrakHeader | undefined;
  let media: { handler: string; track: Track } | undefined;
  for (const box of childBoxes(buf, payload(trak), trak.end, 'trak')) {
    switch (box.type) {
      case 'tkhd':
        if (header) decline('a second tkhd'); // ffmpeg fails the file
        header = parseTkhd(buf, box);
        break;
      case 'mdia':
        if (media) decline('a second mdia');
        media = parseMdia(buf, box, context);
        break;
      case 'edts':
        for (const child of childBoxes(buf, payload(box), box.end, 'edts')) {
          if (child.type === 'elst') checkElst(buf, child);
          else skippedByFfmpeg(child, 'edts');
        }
        break;
      case 'tref':
        for (const child of childBoxes(buf, payload(box), box.end, 'tref')) {
          // tmcd names the timecode track; chap would turn a chapter track into attached pictures.
          if (child.type !== 'tmcd') skippedByFfmpeg(child, 'tref');
        }
        break;
      case 'udta':
        checkUserData(buf, box, 'trak/udta');
        break;
      case 'free':
        break;
      case 'uuid':
        checkUuid(box);
        break;
      default:
        skippedByFfmpeg(box, 'trak');
    }
  }
  if (!header) decline('trak without tkhd');
  if (!media) decline('trak without mdia');
  const track = media.track;
  if (track.kind !== 'video') return track;
  const [a, b, u, c, d, v, , , w] = header.matrix;
  const unit = 0x10000;
  // Pure quarter turns only: any scaling or shear would set a sample aspect ratio of its own (mov_read_tkhd).
  const quarterTurn =
    (a === unit && b === 0 && c === 0 && d === unit) ||
    (a === 0 && b === unit && c === -unit && d === 0) ||
    (a === -unit && b === 0 && c === 0 && d === -unit) ||
    (a === 0 && b === -unit && c === unit && d === 0);
  if (!quarterTurn || u !== 0 || v !== 0 || w !== 0x40000000) decline('display matrix is not a quarter turn');
  return { ...track, matrix: header.matrix, trackWidth: header.width, trackHeight: header.height };
}

function parseTkhd(buf: Buffer, box: Box): TrakHeader {
  const p = payload(box);
  const version = buf.readUInt8(p);
  if (version > 1) decline(`tkhd version ${version}`);
  if (payloadSize(box) < (version === 1 ? 96 : 84)) decline('tkhd too short');
  const matrixAt = p + (version === 1 ? 52 : 40);
  return {
    matrix: readMatrix(buf, matrixAt),
    // 16.16 fixed point read into an int; ffmpeg keeps the integer part (sc->width = width >> 16).
    width: buf.readInt32BE(matrixAt + 36) >> 16,
    height: buf.readInt32BE(matrixAt + 40) >> 16,
  };
}

function checkElst(buf: Buffer, box: Box): void {
  const p = payload(box);
  if (payloadSize(box) < 8) decline('elst too short');
  const version = buf.readUInt8(p);
  const count = buf.readUInt32BE(p + 4);
  const entrySize = version === 1 ? 20 : 12;
  if (count * entrySize !== payloadSize(box) - 8) decline('elst size does not match its entry count');
  for (let i = 0; i < count; i++) {
    // A negative 64-bit segment duration fails the file in mov_read_elst.
    if (version === 1 && buf.readBigInt64BE(p + 8 + i * entrySize) < 0n) decline('negative edit duration');
  }
}

/** Handler types mov_read_hdlr acts on inside a trak (sets the stream type or codec). */
const STREAM_TYPE_HANDLERS = new Set(['vide', 'soun', 'm1a ', 'subp', 'clcp']);

function parseMdia(buf: Buffer, mdia: Box, context: FileContext): { handler: string; track: Track } {
  let timescale: number | undefined;
  let handler: string | undefined;
  let track: Track | undefined;
  for (const box of childBoxes(buf, payload(mdia), mdia.end, 'mdia')) {
    switch (box.type) {
      case 'mdhd': {
        if (timescale !== undefined) decline('a second mdhd'); // ffmpeg fails the file
        const p = payload(box);
        const version = buf.readUInt8(p);
        if (version > 1) decline(`mdhd version ${version}`);
        if (payloadSize(box) < (version === 1 ? 32 : 20)) decline('mdhd too short');
        timescale = buf.readUInt32BE(p + (version === 1 ? 20 : 12));
        if (timescale === 0 || timescale > 0x7fffffff) decline(`mdhd timescale ${timescale}`);
        break;
      }
      case 'hdlr':
        if (handler !== undefined) decline('a second hdlr in mdia');
        handler = handlerType(buf, box);
        break;
      case 'minf':
        if (track) decline('a second minf');
        // The stream type comes from hdlr; a sample entry read before it would be typed by its fourcc alone.
        if (handler === undefined || timescale === undefined) decline('minf before mdhd/hdlr');
        track = parseMinf(buf, box, handler, timescale, context);
        break;
      case 'free':
        break;
      case 'uuid':
        checkUuid(box);
        break;
      default:
        skippedByFfmpeg(box, 'mdia');
    }
  }
  if (!handler || !track) decline('mdia without hdlr or minf');
  return { handler, track };
}

function handlerType(buf: Buffer, box: Box): string {
  if (payloadSize(box) < 12) decline('hdlr too short');
  return buf.toString('latin1', payload(box) + 8, payload(box) + 12);
}

function parseMinf(buf: Buffer, minf: Box, handler: string, timescale: number, context: FileContext): Track {
  let track: Track | undefined;
  for (const box of childBoxes(buf, payload(minf), minf.end, 'minf')) {
    switch (box.type) {
      case 'hdlr':
        // QuickTime's data handler ('alis', 'url '); one naming a stream type would retype the stream.
        if (STREAM_TYPE_HANDLERS.has(handlerType(buf, box))) decline('second media handler in minf');
        break;
      case 'dinf':
        for (const child of childBoxes(buf, payload(box), box.end, 'dinf')) {
          if (child.type === 'dref') checkDref(buf, child);
          else skippedByFfmpeg(child, 'dinf');
        }
        break;
      case 'stbl':
        if (track) decline('a second stbl');
        track = parseStbl(buf, box, handler, timescale, context);
        break;
      case 'free':
        break;
      case 'uuid':
        checkUuid(box);
        break;
      default:
        skippedByFfmpeg(box, 'minf'); // vmhd, smhd, gmhd, nmhd: not read by ffmpeg
    }
  }
  if (!track) decline('minf without stbl');
  return track;
}

/** Only self-contained data references: an external one (alias to another file) leaves no readable data. */
function checkDref(buf: Buffer, box: Box): void {
  const p = payload(box);
  if (payloadSize(box) < 8) decline('dref too short');
  const count = buf.readUInt32BE(p + 4);
  const entries = childBoxes(buf, p + 8, box.end, 'dref');
  if (count === 0 || entries.length !== count) decline('dref entry count does not match its entries');
  for (const entry of entries) {
    const selfContained = payloadSize(entry) === 4 && (buf.readUInt32BE(payload(entry)) & 1) === 1;
    if (!selfContained || !['url ', 'alis'].includes(entry.type)) decline('external data reference');
  }
}

// ----------------------------------------------------------------------------------------------- stbl

interface SampleTables {
  stsd?: Box;
  sttsEntries?: { count: number; delta: number }[];
  sizes?: { uniform: number; count: number; table: Box };
  chunkOffsets?: number[];
  stsc?: { firstChunk: number; samplesPerChunk: number }[];
}

function parseStbl(buf: Buffer, stbl: Box, handler: string, timescale: number, context: FileContext): Track {
  const tables: SampleTables = {};
  const once = (present: unknown, type: string) => {
    if (present !== undefined) decline(`a second '${type}' in stbl`);
  };
  for (const box of childBoxes(buf, payload(stbl), stbl.end, 'stbl')) {
    const p = payload(box);
    switch (box.type) {
      case 'stsd':
        once(tables.stsd, box.type);
        tables.stsd = box;
        break;
      case 'stts': {
        once(tables.sttsEntries, box.type);
        const count = fullBoxCount(buf, box, 8);
        tables.sttsEntries = Array.from({ length: count }, (_, i) => ({
          count: buf.readUInt32BE(p + 8 + 8 * i),
          delta: buf.readUInt32BE(p + 12 + 8 * i),
        }));
        break;
      }
      case 'stsz': {
        once(tables.sizes, box.type);
        if (payloadSize(box) < 12) decline('stsz too short');
        const uniform = buf.readUInt32BE(p + 4);
        const count = buf.readUInt32BE(p + 8);
        if (uniform === 0 && count * 4 > payloadSize(box) - 12) decline('stsz shorter than its count');
        tables.sizes = { uniform, count, table: box };
        break;
      }
      case 'stco':
      case 'co64': {
        once(tables.chunkOffsets, 'stco/co64');
        const wide = box.type === 'co64';
        const count = fullBoxCount(buf, box, wide ? 8 : 4);
        tables.chunkOffsets = Array.from({ length: count }, (_, i) => {
          if (!wide) return buf.readUInt32BE(p + 8 + 4 * i);
          const offset = buf.readBigUInt64BE(p + 8 + 8 * i);
          if (offset > BigInt(Number.MAX_SAFE_INTEGER)) decline('chunk offset beyond any file');
          return Number(offset);
        });
        break;
      }
      case 'stsc': {
        once(tables.stsc, box.type);
        const count = fullBoxCount(buf, box, 12);
        tables.stsc = Array.from({ length: count }, (_, i) => {
          if (buf.readUInt32BE(p + 16 + 12 * i) !== 1)
            decline('samples refer to a second sample description');
          return {
            firstChunk: buf.readUInt32BE(p + 8 + 12 * i),
            samplesPerChunk: buf.readUInt32BE(p + 12 + 12 * i),
          };
        });
        break;
      }
      case 'ctts':
        fullBoxCount(buf, box, 8);
        break;
      case 'stss':
      case 'stps':
        fullBoxCount(buf, box, 4);
        break;
      case 'sdtp':
        break;
      case 'sgpd':
      case 'sbgp':
        checkSampleGroup(buf, box);
        break;
      case 'free':
        break;
      case 'uuid':
        checkUuid(box);
        break;
      default:
        skippedByFfmpeg(box, 'stbl'); // stz2 and the fragment boxes are declined here
    }
  }
  const { stsd, sttsEntries, sizes, chunkOffsets, stsc } = tables;
  if (!stsd || !sttsEntries || !sizes || !chunkOffsets || !stsc) decline('sample table incomplete');
  checkSamplesInFile(buf, sizes, chunkOffsets, stsc, sttsEntries, context);

  const entry = sampleEntry(buf, stsd);
  if (handler === 'vide') {
    const video = parseVideoEntry(buf, entry);
    let sampleDuration = 0n;
    let sampleCount = 0;
    for (const { count, delta } of sttsEntries) {
      // Larger deltas are "corrected" by mov_read_stts in ways not modelled here.
      if (delta > 0xffffffff - 48_000 * 10) decline(`stts delta ${delta}`);
      sampleDuration += BigInt(count) * BigInt(delta);
      sampleCount += count;
    }
    if (sampleCount > 0x7fffffff) decline('too many samples');
    return {
      kind: 'video',
      ...video,
      timescale,
      sampleCount,
      sampleDuration,
      matrix: IDENTITY_MATRIX,
      trackWidth: 0,
      trackHeight: 0,
    };
  }
  if (handler === 'soun') {
    if (entry.type !== 'mp4a') decline(`audio sample entry '${printable(entry.type)}' is not mapped`);
    return { kind: 'audio', codecName: parseMp4aEntry(buf, entry, stsdVersion(buf, stsd), context) };
  }
  if (handler === 'tmcd' && entry.type === 'tmcd') return { kind: 'timecode' };
  return decline(`'${printable(handler)}' track with '${printable(entry.type)}' samples is not mapped`);
}

/** The entry count of a full box whose entries follow it, checked against the box's size. */
function fullBoxCount(buf: Buffer, box: Box, entrySize: number): number {
  if (payloadSize(box) < 8) decline(`'${box.type}' too short`);
  const count = buf.readUInt32BE(payload(box) + 4);
  if (count * entrySize > payloadSize(box) - 8) decline(`'${box.type}' shorter than its ${count} entries`);
  return count;
}

function checkSampleGroup(buf: Buffer, box: Box): void {
  const p = payload(box);
  if (payloadSize(box) < 12) decline(`'${box.type}' too short`);
  const version = buf.readUInt8(p);
  const grouping = buf.toString('latin1', p + 4, p + 8);
  // Only these groupings are read (and allocated by their count) by ffmpeg.
  if (box.type === 'sgpd' ? grouping !== 'sync' : grouping !== 'sync' && grouping !== 'rap ') return;
  let at = p + 8;
  if (box.type === 'sgpd') at += (version >= 1 ? 4 : 0) + (version >= 2 ? 4 : 0);
  else if (version === 1) at += 4;
  const count = buf.readUInt32BE(at);
  if (count * (box.type === 'sgpd' ? 1 : 8) > box.end - at - 4)
    decline(`'${box.type}' shorter than its count`);
}

/**
 * Every sample lies inside an mdat of this file: a table pointing past the end is a truncated file
 * (ffprobe decides), and one that disagrees with itself is not something to be sure about.
 */
function checkSamplesInFile(
  buf: Buffer,
  sizes: { uniform: number; count: number; table: Box },
  chunkOffsets: number[],
  stsc: { firstChunk: number; samplesPerChunk: number }[],
  stts: { count: number }[],
  context: FileContext,
): void {
  const sampleCount = sizes.count;
  const sttsSamples = stts.reduce((sum, entry) => sum + entry.count, 0);
  if (sttsSamples !== sampleCount) decline(`stts counts ${sttsSamples} samples, stsz ${sampleCount}`);
  if (sampleCount === 0) {
    if (chunkOffsets.length > 0) decline('chunks without samples');
    return;
  }
  if (chunkOffsets.length === 0 || stsc.length === 0) decline('samples without chunks');
  if (stsc[0]!.firstChunk !== 1) decline('stsc does not start at chunk 1');
  for (let i = 0; i < stsc.length; i++) {
    const entry = stsc[i]!;
    const next = stsc[i + 1];
    if (entry.samplesPerChunk === 0) decline('stsc entry of empty chunks');
    if (next && next.firstChunk <= entry.firstChunk) decline('stsc chunks out of order');
    if (entry.firstChunk > chunkOffsets.length) decline('stsc names a chunk stco does not have');
  }
  const sizeAt = (sample: number) =>
    sizes.uniform !== 0 ? sizes.uniform : buf.readUInt32BE(payload(sizes.table) + 12 + 4 * sample);
  let sample = 0;
  let run = 0;
  for (let chunk = 0; chunk < chunkOffsets.length; chunk++) {
    while (run + 1 < stsc.length && stsc[run + 1]!.firstChunk <= chunk + 1) run++;
    const start = chunkOffsets[chunk]!;
    let end = start;
    for (let i = 0; i < stsc[run]!.samplesPerChunk; i++) {
      if (sample >= sampleCount) decline('chunks hold more samples than stsz lists');
      const size = sizeAt(sample++);
      if (size > 0x7fffffff) decline('sample size out of range');
      end += size;
    }
    if (end > context.fileSize)
      decline(`samples at ${start}–${end} lie past the end of the file (truncated)`);
    if (!context.mdats.some((mdat) => start >= mdat.start && end <= mdat.end)) {
      decline(`chunk at ${start}–${end} lies outside every mdat`);
    }
  }
  if (sample !== sampleCount) decline(`chunks hold ${sample} of ${sampleCount} samples`);
}

function stsdVersion(buf: Buffer, stsd: Box): number {
  return buf.readUInt8(payload(stsd));
}

function sampleEntry(buf: Buffer, stsd: Box): Box {
  if (payloadSize(stsd) < 8) decline('stsd too short');
  const count = buf.readInt32BE(payload(stsd) + 4);
  if (count !== 1) decline(`${count} sample descriptions`);
  const entries = childBoxes(buf, payload(stsd) + 8, stsd.end, 'stsd');
  if (entries.length !== 1) decline('stsd entries do not match its count');
  const entry = entries[0]!;
  if (entry.headerSize !== 8 || payloadSize(entry) < 8) decline('sample entry too short');
  return entry;
}

// ------------------------------------------------------------------------------------- video entries

const VIDEO_CODECS: Record<string, { codec: 'h264' | 'hevc'; config: 'avcC' | 'hvcC' }> = {
  avc1: { codec: 'h264', config: 'avcC' },
  avc3: { codec: 'h264', config: 'avcC' },
  hvc1: { codec: 'hevc', config: 'hvcC' },
  hev1: { codec: 'hevc', config: 'hvcC' },
};

/** Boxes in a visual sample entry that ffmpeg reads but that touch nothing MediaInfo reports. */
const HARMLESS_VIDEO_CHILDREN = new Set(['colr', 'fiel', 'free', 'uuid']);

function parseVideoEntry(
  buf: Buffer,
  entry: Box,
): Pick<VideoTrack, 'codecName' | 'codedWidth' | 'codedHeight' | 'pasp' | 'codecSar'> {
  const codec = VIDEO_CODECS[entry.type];
  if (!codec) decline(`video sample entry '${printable(entry.type)}' is not mapped`);
  if (entry.end - entry.start < 86) decline('visual sample entry too short');
  const s = entry.start;
  const codedWidth = buf.readUInt16BE(s + 32);
  const codedHeight = buf.readUInt16BE(s + 34);
  if (codedWidth === 0 || codedHeight === 0) decline('sample entry without a picture size');
  const nameLength = Math.min(buf.readUInt8(s + 50), 31);
  // mov_parse_stsd_video rounds this raw format's size down to even numbers.
  if (buf.toString('latin1', s + 51, s + 51 + nameLength).startsWith("Planar Y'CbCr 8-bit 4:2:0")) {
    decline('raw planar compressor name');
  }
  // A palettised depth makes ff_get_qtpalette read a colour table and move the child boxes.
  if ([1, 2, 4, 8].includes(buf.readUInt16BE(s + 82) & 0x1f)) decline('palettised sample entry');

  let picture: PictureFacts | undefined;
  let pasp: { num: number; den: number } | undefined;
  let paspSeen = false;
  for (const child of childBoxes(buf, s + 86, entry.end, `'${entry.type}'`)) {
    if (child.type === codec.config) {
      if (picture) decline(`a second '${child.type}'`);
      const config = buf.subarray(payload(child), child.end);
      picture = codec.codec === 'h264' ? pictureFromAvcC(config) : pictureFromHvcC(config);
    } else if (child.type === 'pasp') {
      if (paspSeen) decline('a second pasp');
      paspSeen = true;
      if (payloadSize(child) < 8) decline('pasp too short');
      const num = buf.readInt32BE(payload(child));
      const den = buf.readInt32BE(payload(child) + 4);
      // ffmpeg ignores den 0 and keeps 0:1 for num 0 (then other rules decide the SAR): not modelled.
      if (num <= 0 || den <= 0) decline(`pasp ${num}:${den}`);
      const g = gcd(num, den);
      // av_reduce(…, 32767) approximates beyond that.
      if (num / g > 32767 || den / g > 32767) decline(`pasp ${num}:${den} beyond 32767`);
      pasp = { num: num / g, den: den / g };
    } else if (!HARMLESS_VIDEO_CHILDREN.has(child.type)) {
      skippedByFfmpeg(child, `'${entry.type}'`); // btrt, clap and the like are not read
    } else if (child.type === 'uuid') {
      checkUuid(child);
    }
  }
  if (!picture) decline(`'${entry.type}' without '${codec.config}'`);
  // The decoder reports the SPS's cropped size; equal to the sample entry's, either answer is the same.
  if (picture.width !== codedWidth || picture.height !== codedHeight) {
    decline(`sample entry says ${codedWidth}x${codedHeight}, the SPS ${picture.width}x${picture.height}`);
  }
  return { codecName: codec.codec, codedWidth, codedHeight, ...(pasp && { pasp }), codecSar: picture.sar };
}

// ------------------------------------------------------------------------------------- audio entries

/** Read by ffmpeg without effect on an AAC stream's type or codec, and without failing the file. */
const HARMLESS_AUDIO_CHILDREN = new Set(['chan', 'enda', 'free']);

function parseMp4aEntry(buf: Buffer, entry: Box, stsdVersionByte: number, context: FileContext): 'aac' {
  if (entry.end - entry.start < 36) decline('audio sample entry too short');
  const version = buf.readUInt16BE(entry.start + 16);
  if (version > 1) decline(`sound description version ${version}`);
  // mov_parse_stsd_audio reads QuickTime's version-1 fields only under this condition.
  const quickTimeFields =
    !context.isom || context.compatibleBrands.includes('qt  ') || (stsdVersionByte === 0 && version > 0);
  const childrenAt = entry.start + 36 + (quickTimeFields && version === 1 ? 16 : 0);
  if (childrenAt > entry.end) decline('audio sample entry too short for its version');
  let codec: 'aac' | undefined;
  const visit = (boxes: Box[], parent: string) => {
    for (const child of boxes) {
      if (child.type === 'esds') {
        if (codec) decline('a second esds');
        codec = codecFromEsds(buf.subarray(payload(child), child.end));
      } else if (child.type === 'wave' && parent === "'mp4a'") {
        visit(childBoxes(buf, payload(child), child.end, 'wave'), 'wave');
      } else if (child.type === 'frma') {
        if (payloadSize(child) < 4 || buf.toString('latin1', payload(child), payload(child) + 4) !== 'mp4a') {
          decline('frma names another format');
        }
      } else if (HARMLESS_AUDIO_CHILDREN.has(child.type)) {
        continue;
      } else {
        skippedByFfmpeg(child, parent); // btrt, a wave's inner 'mp4a' and terminator are not read
      }
    }
  };
  visit(childBoxes(buf, childrenAt, entry.end, "'mp4a'"), "'mp4a'");
  if (!codec) decline('mp4a without esds');
  return codec;
}

/** ff_mov_read_esds → ff_mp4_read_dec_config_descr → avpriv_mpeg4audio_get_config2, as far as the codec. */
function codecFromEsds(esds: Buffer): 'aac' {
  let at = 4; // version + flags
  const descriptor = () => {
    const tag = esds.readUInt8(at++);
    let length = 0;
    for (let i = 0; i < 4; i++) {
      const byte = esds.readUInt8(at++);
      length = (length << 7) | (byte & 0x7f);
      if (!(byte & 0x80)) break;
    }
    return { tag, length };
  };
  if (descriptor().tag === 0x03) {
    at += 2; // ES_ID
    const flags = esds.readUInt8(at++);
    if (flags & 0x80) at += 2;
    if (flags & 0x40) at += 1 + esds.readUInt8(at);
    if (flags & 0x20) at += 2;
  } else {
    at += 2;
  }
  if (descriptor().tag !== 0x04) decline('esds without a decoder config');
  const objectType = esds.readUInt8(at);
  at += 13;
  // ff_mp4_obj_type: MPEG-4 AAC and the three MPEG-2 AAC profiles.
  if (![0x40, 0x66, 0x67, 0x68].includes(objectType))
    decline(`esds object type 0x${objectType.toString(16)}`);
  const specific = descriptor();
  if (specific.tag !== 0x05 || specific.length === 0) decline('esds without an AudioSpecificConfig');
  if (at + specific.length > esds.length) decline('AudioSpecificConfig runs past its box');
  const bits = new BitReader(esds.subarray(at, at + specific.length));
  const objectTypeOf = () => {
    const type = bits.bits(5);
    return type === 31 ? 32 + bits.bits(6) : type;
  };
  // ffprobe opens a decoder for every stream and gives up on the file when one fails to open; the AAC
  // decoder refuses a sampling index above 12 (also 15, an explicit rate) and channel configurations
  // 0 (a program config element, not modelled), 8–10 and 14–15.
  const sampleRateIndex = () => {
    const index = bits.bits(4);
    if (index > 12) decline(`AAC sampling frequency index ${index}`);
  };
  let audioObjectType = objectTypeOf();
  sampleRateIndex();
  const channelConfig = bits.bits(4);
  if (channelConfig === 0 || (channelConfig > 7 && channelConfig < 11) || channelConfig > 13) {
    decline(`AAC channel configuration ${channelConfig}`);
  }
  const mp3OnMp4 = (bits.peek(3) & 0x03) !== 0 && (bits.peek(9) & 0x3f) === 0;
  if (audioObjectType === 5 || (audioObjectType === 29 && !mp3OnMp4)) {
    sampleRateIndex(); // SBR/PS: the extension's rate, then the core object type
    audioObjectType = objectTypeOf();
  }
  // mp4_audio_types turns 29 and 32–34 into mp3on4 and 36 into ALS; 1–4 (Main, LC, SSR, LTP) stay aac and
  // are what the decoder opens with a channel configuration.
  if (audioObjectType < 1 || audioObjectType > 4) decline(`AAC audio object type ${audioObjectType}`);
  return 'aac';
}

// -------------------------------------------------------------------------------- parameter sets

type ParameterSetSar = 'absent' | 'square' | 'other';

interface PictureFacts {
  width: number;
  height: number;
  /** The VUI sample aspect: only used when no pasp box gives the stream one. */
  sar: ParameterSetSar;
}

/** H.264/H.265 table E-1 (ff_h2645_pixel_aspect): index → SAR; 0 is "unspecified". */
// prettier-ignore
const PIXEL_ASPECT: [number, number][] = [
  [0, 1], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11], [80, 33], [18, 11],
  [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
];

function sarKind(num: number, den: number): ParameterSetSar {
  if (num === 0 || den === 0) return 'absent'; // ff_set_sar / av_guess_sample_aspect_ratio: unset
  return num === den ? 'square' : 'other';
}

/** The NAL unit's payload without emulation-prevention bytes (00 00 03 → 00 00). */
function rbsp(nal: Buffer, headerBytes: number): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (let i = headerBytes; i < nal.length; i++) {
    const byte = nal.readUInt8(i);
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out.push(byte);
  }
  return Buffer.from(out);
}

/** avcC (ff_h264_decode_extradata): exactly one SPS, parsed as ff_h264_decode_seq_parameter_set does. */
function pictureFromAvcC(config: Buffer): PictureFacts {
  if (config.length < 7 || config.readUInt8(0) !== 1) decline('avcC is not version 1');
  const spsCount = config.readUInt8(5) & 0x1f;
  if (spsCount !== 1) decline(`avcC with ${spsCount} SPS`);
  const length = config.readUInt16BE(6);
  if (8 + length > config.length) decline('SPS runs past avcC');
  const nal = config.subarray(8, 8 + length);
  if (nal.length < 2 || (nal.readUInt8(0) & 0x1f) !== 7) decline('avcC SPS is not an SPS');
  return parseH264Sps(rbsp(nal, 1));
}

const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 144]);

function parseH264Sps(data: Buffer): PictureFacts {
  const bits = new BitReader(data);
  const profile = bits.bits(8);
  bits.skip(16); // constraint flags, level
  if (bits.ue() > 31) decline('SPS id out of range');
  let chromaFormat = 1;
  if (H264_HIGH_PROFILES.has(profile)) {
    chromaFormat = bits.ue();
    if (chromaFormat > 3) decline('chroma_format_idc out of range');
    if (chromaFormat === 3 && bits.bit()) decline('residual colour transform'); // ffmpeg fails it
    const lumaDepth = bits.ue() + 8;
    const chromaDepth = bits.ue() + 8;
    if (lumaDepth !== chromaDepth || lumaDepth > 14) decline('unsupported bit depths');
    bits.skip(1); // qpprime_y_zero_transform_bypass
    if (bits.bit()) {
      const lists = 6 + (chromaFormat === 3 ? 6 : 2);
      for (let i = 0; i < lists; i++) skipH264ScalingList(bits, i < 6 ? 16 : 64);
    }
  }
  if (bits.ue() > 12) decline('log2_max_frame_num out of range');
  const pocType = bits.ue();
  if (pocType === 0) {
    if (bits.ue() > 12) decline('log2_max_poc_lsb out of range');
  } else if (pocType === 1) {
    bits.skip(1);
    bits.se();
    bits.se();
    const cycle = bits.ue();
    if (cycle >= 256) decline('poc cycle out of range');
    for (let i = 0; i < cycle; i++) bits.se();
  } else if (pocType !== 2) {
    decline(`poc type ${pocType}`);
  }
  if (bits.ue() > 16) decline('too many reference frames');
  bits.skip(1); // gaps_in_frame_num_allowed
  const mbWidth = bits.ue() + 1;
  const mapUnitsHeight = bits.ue() + 1;
  const frameMbsOnly = bits.bit();
  const mbHeight = mapUnitsHeight * (2 - frameMbsOnly);
  if (!frameMbsOnly) bits.skip(1); // mb_adaptive_frame_field
  bits.skip(1); // direct_8x8_inference
  let cropX = 0;
  let cropY = 0;
  if (bits.bit()) {
    const [left, right, top, bottom] = [bits.ue(), bits.ue(), bits.ue(), bits.ue()];
    const stepX = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const stepY = (2 - frameMbsOnly) * (chromaFormat === 1 ? 2 : 1);
    cropX = (left + right) * stepX;
    cropY = (top + bottom) * stepY;
    if (cropX >= 16 * mbWidth || cropY >= 16 * mbHeight) decline('SPS crops the whole picture');
  }
  let sar: ParameterSetSar = 'absent';
  if (bits.bit() && bits.bit()) {
    // vui_parameters_present, aspect_ratio_info_present
    const index = bits.bits(8);
    if (index === 255) sar = sarKind(bits.bits(16), bits.bits(16));
    else if (index < PIXEL_ASPECT.length) sar = sarKind(...PIXEL_ASPECT[index]!);
    else decline('illegal aspect ratio index'); // ffmpeg fails the SPS
  }
  return { width: 16 * mbWidth - cropX, height: 16 * mbHeight - cropY, sar };
}

function skipH264ScalingList(bits: BitReader, size: number): void {
  if (!bits.bit()) return; // not present: a fallback list
  let last = 8;
  let next = 8;
  for (let i = 0; i < size; i++) {
    if (next) {
      const delta = bits.se();
      if (delta < -128 || delta > 127) decline('scaling list delta out of range');
      next = (last + delta) & 0xff;
    }
    if (i === 0 && next === 0) return; // the default list
    last = next || last;
  }
}

/** hvcC (ff_hevc_decode_extradata): exactly one SPS, parsed as ff_hevc_parse_sps does up to the VUI SAR. */
function pictureFromHvcC(config: Buffer): PictureFacts {
  // Version 1: otherwise ffmpeg may read the extradata as an Annex B stream instead.
  if (config.length < 23 || config.readUInt8(0) !== 1) decline('hvcC is not version 1');
  let at = 22;
  const arrays = config.readUInt8(at++);
  const spsUnits: Buffer[] = [];
  for (let i = 0; i < arrays; i++) {
    const type = config.readUInt8(at) & 0x3f;
    const count = config.readUInt16BE(at + 1);
    at += 3;
    for (let j = 0; j < count; j++) {
      const length = config.readUInt16BE(at);
      if (at + 2 + length > config.length) decline('NAL unit runs past hvcC');
      const nal = config.subarray(at + 2, at + 2 + length);
      if (nal.length >= 2 && ((nal.readUInt8(0) >> 1) & 0x3f) === 33) spsUnits.push(nal);
      else if (type === 33) decline('hvcC SPS array holds another NAL type');
      at += 2 + length;
    }
  }
  if (spsUnits.length !== 1) decline(`hvcC with ${spsUnits.length} SPS`);
  return parseHevcSps(rbsp(spsUnits[0]!, 2));
}

const HEVC_SUB_WIDTH = [1, 2, 2, 1];
const HEVC_SUB_HEIGHT = [1, 2, 1, 1];

function parseHevcSps(data: Buffer): PictureFacts {
  const bits = new BitReader(data);
  bits.skip(4); // vps id
  const maxSubLayers = bits.bits(3) + 1;
  if (maxSubLayers > 7) decline('too many sub-layers');
  bits.skip(1); // temporal_id_nesting
  bits.skip(88 + 8); // general profile_tier_level, level
  const subLayerFlags: [number, number][] = [];
  for (let i = 0; i < maxSubLayers - 1; i++) subLayerFlags.push([bits.bit(), bits.bit()]);
  if (maxSubLayers > 1) bits.skip(2 * (8 - (maxSubLayers - 1)));
  for (const [profilePresent, levelPresent] of subLayerFlags) {
    if (profilePresent) bits.skip(88);
    if (levelPresent) bits.skip(8);
  }
  if (bits.ue() >= 16) decline('SPS id out of range');
  let chromaFormat = bits.ue();
  if (chromaFormat > 3) decline('chroma_format_idc out of range');
  if (chromaFormat === 3 && bits.bit()) chromaFormat = 0; // separate colour planes
  const width = bits.ue();
  const height = bits.ue();
  let window = { left: 0, right: 0, top: 0, bottom: 0 };
  if (bits.bit()) {
    const horizontal = HEVC_SUB_WIDTH[chromaFormat]!;
    const vertical = HEVC_SUB_HEIGHT[chromaFormat]!;
    window = {
      left: bits.ue() * horizontal,
      right: bits.ue() * horizontal,
      top: bits.ue() * vertical,
      bottom: bits.ue() * vertical,
    };
  }
  // ffmpeg replaces an impossible window by the whole picture: not modelled.
  if (window.left + window.right >= width || window.top + window.bottom >= height) decline('bad window');
  const lumaDepth = bits.ue() + 8;
  const chromaDepth = bits.ue() + 8;
  if (chromaFormat !== 0 && lumaDepth !== chromaDepth) decline('unsupported bit depths');
  const log2MaxPocLsb = bits.ue() + 4;
  if (log2MaxPocLsb > 16) decline('log2_max_poc_lsb out of range');
  const orderingForAll = bits.bit();
  for (let i = orderingForAll ? 0 : maxSubLayers - 1; i < maxSubLayers; i++) {
    bits.ue();
    bits.ue();
    bits.ue();
  }
  for (let i = 0; i < 6; i++) bits.ue(); // coding/transform block sizes and depths
  if (bits.bit() && bits.bit()) skipHevcScalingLists(bits); // enabled, data present
  bits.skip(2); // amp, sao
  if (bits.bit()) {
    bits.skip(8); // pcm bit depths
    bits.ue();
    bits.ue();
    bits.skip(1);
  }
  const setCount = bits.ue();
  if (setCount > 64) decline('too many reference picture sets');
  const deltaPocs: number[] = [];
  for (let i = 0; i < setCount; i++) deltaPocs.push(skipShortTermRefPicSet(bits, i, deltaPocs));
  if (bits.bit()) {
    const longTerm = bits.ue();
    if (longTerm > 32) decline('too many long-term reference pictures');
    for (let i = 0; i < longTerm; i++) bits.skip(log2MaxPocLsb + 1);
  }
  bits.skip(2); // temporal mvp, strong intra smoothing
  let sar: ParameterSetSar = 'absent';
  if (bits.bit() && bits.bit()) {
    // vui_parameters_present, sar_present
    const index = bits.bits(8);
    if (index === 255) sar = sarKind(bits.bits(16), bits.bits(16));
    else if (index < PIXEL_ASPECT.length) sar = sarKind(...PIXEL_ASPECT[index]!);
    // Any other index: ffmpeg warns and leaves the SAR unset.
  }
  return {
    width: width - window.left - window.right,
    height: height - window.top - window.bottom,
    sar,
  };
}

function skipHevcScalingLists(bits: BitReader): void {
  for (let sizeId = 0; sizeId < 4; sizeId++) {
    for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
      if (!bits.bit()) {
        const delta = bits.ue() * (sizeId === 3 ? 3 : 1);
        if (matrixId < delta) decline('scaling list delta out of range');
        continue;
      }
      const coefficients = Math.min(64, 1 << (4 + (sizeId << 1)));
      if (sizeId > 1) {
        const dc = bits.se();
        if (dc < -7 || dc > 247) decline('scaling list DC out of range');
      }
      for (let i = 0; i < coefficients; i++) bits.se();
    }
  }
}

/** st_ref_pic_set(index) in an SPS (ff_hevc_decode_short_term_rps); returns its number of delta POCs. */
function skipShortTermRefPicSet(bits: BitReader, index: number, previous: number[]): number {
  if (index > 0 && bits.bit()) {
    // Predicted from the set before it.
    bits.skip(1);
    const absDelta = bits.ue() + 1;
    if (absDelta > 32768) decline('abs_delta_rps out of range');
    let count = 0;
    for (let i = 0; i <= previous[index - 1]!; i++) {
      const used = bits.bit();
      if (used || bits.bit()) count++;
    }
    if (count >= 32) decline('too many delta POCs');
    return count;
  }
  const negative = bits.ue();
  const positive = bits.ue();
  if (negative >= 16 || positive >= 16) decline('too many reference pictures');
  for (let i = 0; i < negative + positive; i++) {
    bits.ue();
    bits.skip(1);
  }
  return negative + positive;
}

class BitReader {
  private position = 0;

  constructor(private readonly bytes: Buffer) {}

  bit(): number {
    if (this.position >= this.bytes.length * 8) decline('parameter set ends early');
    const byte = this.bytes.readUInt8(this.position >> 3);
    return (byte >> (7 - (this.position++ & 7))) & 1;
  }

  bits(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value = value * 2 + this.bit();
    return value;
  }

  skip(count: number): void {
    if (this.position + count > this.bytes.length * 8) decline('parameter set ends early');
    this.position += count;
  }

  /** The next bits without consuming them, zeros past the end (ffmpeg's show_bits). */
  peek(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) {
      const at = this.position + i;
      const bit = at < this.bytes.length * 8 ? (this.bytes.readUInt8(at >> 3) >> (7 - (at & 7))) & 1 : 0;
      value = value * 2 + bit;
    }
    return value;
  }

  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) decline('Exp-Golomb code too long');
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.bits(zeros);
  }

  se(): number {
    const code = this.ue();
    return code % 2 === 1 ? (code + 1) / 2 : -(code / 2);
  }
}

// ------------------------------------------------------------------------------------------- assemble

/** The ProbeData ffprobe + fluent-ffmpeg would produce, then mediaInfoFromProbe's own reading of it. */
function assemble(movie: Movie, tracks: Track[], fileSize: number): MediaInfo {
  // mov_read_mvhd: av_rescale(duration, AV_TIME_BASE, time_scale), rounding half up.
  const scale = BigInt(movie.timescale);
  const durationUs = (movie.duration * 1_000_000n + scale / 2n) / scale;
  if (durationUs === 0n || durationUs > BigInt(Number.MAX_SAFE_INTEGER)) decline('duration out of range');
  // ffprobe prints ts * av_q2d(AV_TIME_BASE_Q) with "%f"; fluent-ffmpeg turns the text into a number.
  const duration = Number((Number(durationUs) * (1 / 1_000_000)).toFixed(6));
  // update_stream_timings: (double)filesize * 8.0 * AV_TIME_BASE / (double)duration, stored as int64.
  const bitRate = Math.trunc((fileSize * 8.0 * 1_000_000) / Number(durationUs));
  if (bitRate > Number.MAX_SAFE_INTEGER) decline('bit rate out of range');

  const streams: ProbeStream[] = tracks.map((track, index) => {
    if (track.kind === 'audio') return { index, codec_type: 'audio', codec_name: track.codecName };
    if (track.kind === 'timecode') return { index, codec_type: 'data' };
    return { index, codec_type: 'video', ...videoStreamFields(track), disposition: { attached_pic: 0 } };
  });
  const data: ProbeData = {
    streams,
    format: {
      format_name: MOV_FORMAT_NAME,
      duration,
      // 0 is printed as N/A, which mediaInfoFromProbe reads as unknown.
      ...(bitRate > 0 && { bit_rate: bitRate }),
    },
  };
  try {
    return mediaInfoFromProbe(data);
  } catch (error) {
    return decline(`mediaInfoFromProbe refused the parsed facts: ${(error as Error).message}`);
  }
}

function videoStreamFields(track: VideoTrack): Partial<ProbeStream> {
  // av_guess_sample_aspect_ratio: the stream's SAR (pasp) wins over the decoder's (SPS VUI).
  let sampleAspect: string;
  if (track.pasp) {
    sampleAspect = `${track.pasp.num}:${track.pasp.den}`;
  } else {
    // Without pasp, mov_read_trak derives a SAR from a tkhd size that differs from the sample entry's.
    const { trackWidth: w, trackHeight: h } = track;
    if (w !== 0 && h !== 0 && (w !== track.codedWidth || h !== track.codedHeight)) {
      decline(
        `track header size ${w}x${h} differs from the picture's ${track.codedWidth}x${track.codedHeight}`,
      );
    }
    if (track.codecSar === 'other') decline('non-square pixels declared only in the SPS');
    sampleAspect = track.codecSar === 'square' ? '1:1' : 'N/A';
  }
  // mov_read_header: av_reduce(time_scale × frames, duration, INT_MAX).
  if (track.sampleCount === 0 || track.sampleDuration === 0n) decline('video track without timed samples');
  const [fpsNum, fpsDen] = avReduce(
    BigInt(track.timescale) * BigInt(track.sampleCount),
    track.sampleDuration,
  );
  return {
    codec_name: track.codecName,
    width: track.codedWidth,
    height: track.codedHeight,
    sample_aspect_ratio: sampleAspect,
    avg_frame_rate: `${fpsNum}/${fpsDen}`,
    ...(sameMatrix(track.matrix, IDENTITY_MATRIX) ? {} : { rotation: printedRotation(track.matrix) }),
  };
}

/** ffprobe's "rotation" line: av_display_rotation_get, converted to an integer by print_int. */
function printedRotation(matrix: number[]): number | string {
  const fixed = (value: number) => value / 65536;
  const [m0, m1, m3, m4] = [matrix[0]!, matrix[1]!, matrix[3]!, matrix[4]!].map(fixed) as [
    number,
    number,
    number,
    number,
  ];
  const scale0 = Math.hypot(m0, m3);
  const scale1 = Math.hypot(m1, m4);
  if (scale0 === 0 || scale1 === 0) decline('degenerate display matrix');
  const degrees = -((Math.atan2(m1 / scale1, m0 / scale0) * 180) / Math.PI);
  const printed = Math.trunc(degrees) + 0; // + 0 turns -0 into 0, as "%lld" does
  // fluent-ffmpeg keeps non-numeric-looking text ("-90") as a string.
  return printed < 0 ? String(printed) : printed;
}

// ------------------------------------------------------------------------------------------------ math

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function bigGcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

const INT_MAX = 0x7fffffffn;
const INT64_LIMIT = 1n << 63n;

/** libavutil av_reduce(num, den, INT_MAX) for non-negative inputs, declining where its int64 maths would overflow. */
function avReduce(num: bigint, den: bigint): [bigint, bigint] {
  const fits = (...values: bigint[]) => {
    if (values.some((value) => value >= INT64_LIMIT)) decline('frame rate arithmetic overflows int64');
  };
  let [a0n, a0d, a1n, a1d] = [0n, 1n, 1n, 0n];
  const g = bigGcd(num, den);
  if (g) {
    num /= g;
    den /= g;
  }
  if (num <= INT_MAX && den <= INT_MAX) {
    [a1n, a1d] = [num, den];
    den = 0n;
  }
  while (den) {
    const x = num / den;
    const nextDen = num - den * x;
    const a2n = x * a1n + a0n;
    const a2d = x * a1d + a0d;
    fits(x * a1n, x * a1d, a2n, a2d);
    if (a2n > INT_MAX || a2d > INT_MAX) {
      let y = x;
      if (a1n) y = (INT_MAX - a0n) / a1n;
      if (a1d) y = y < (INT_MAX - a0d) / a1d ? y : (INT_MAX - a0d) / a1d;
      fits(2n * y * a1d + a0d, den * (2n * y * a1d + a0d), num * a1d);
      if (den * (2n * y * a1d + a0d) > num * a1d) [a1n, a1d] = [y * a1n + a0n, y * a1d + a0d];
      break;
    }
    [a0n, a0d, a1n, a1d] = [a1n, a1d, a2n, a2d];
    [num, den] = [den, nextDen];
  }
  return [a1n, a1d];
}
