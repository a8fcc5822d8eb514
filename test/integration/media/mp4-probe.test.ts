/**
 * The in-process MP4 index parser against real ffprobe 5.1 on a matrix of clips made with Debian's ffmpeg:
 * where the parser answers, its MediaInfo is exactly what mediaInfoFromProbe makes of ffprobe's output; the
 * cases it must answer fail the test if it declines; the cases it must leave to ffprobe (fragmented,
 * truncated, not MP4) fail the test if it answers. Then the probeMedia activity over real versitygw: MP4
 * answered without spawning ffprobe, reading the exact object version; everything else falls back to it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { createMediaTools, type MediaInfo, type MediaTools } from '../../../activities/media/ffmpeg';
import { bufferReader, probeMp4, type Mp4ProbeResult } from '../../../activities/media/mp4-probe';
import { makeProbeMedia, type ProbeRoute } from '../../../activities/probe-media';
import { bootstrapStores, createS3Client } from '../../../activities/storage/s3';
import type { ObjectRef } from '../../../domain/types';
import { testConfig } from '../../harness/env';
import { FFMPEG, FFPROBE, requireFfmpeg } from '../../fixtures/media';

const execFileAsync = promisify(execFile);

let scratch: string;
let tools: MediaTools;

beforeAll(async () => {
  requireFfmpeg();
  const encoders = execFileSync(FFMPEG, ['-hide_banner', '-encoders'], { encoding: 'utf8' });
  for (const encoder of ['libx264', 'libx265', 'aac', 'mjpeg']) {
    if (!new RegExp(`\\s${encoder}\\s`).test(encoders)) {
      throw new Error(
        `${FFMPEG} lacks the ${encoder} encoder; install Debian's ffmpeg (apt-get install ffmpeg)`,
      );
    }
  }
  tools = createMediaTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
  scratch = await mkdtemp(path.join(tmpdir(), 'custody-mp4-probe-'));
}, 60_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// --------------------------------------------------------------------------------------------- clips

const picture = (rate = '25', size = '320x240', seconds = 2) => [
  ...['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`],
];
const tone = (frequency = 440, seconds = 2) => [
  ...['-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`],
];
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25'];
const X265 = ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'];
const AAC = ['-c:a', 'aac', '-b:a', '64k'];

async function ffmpeg(args: string[], output: string): Promise<string> {
  const target = path.join(scratch, output);
  await execFileAsync(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args, target]);
  return target;
}

/** Remux of an earlier clip with extra output options. */
const remux = (source: string, output: string, ...options: string[]) =>
  ffmpeg(['-i', path.join(scratch, source), '-map', '0', '-c', 'copy', ...options], output);

async function cutInHalf(source: string, output: string): Promise<string> {
  const bytes = await readFile(path.join(scratch, source));
  const target = path.join(scratch, output);
  await writeFile(target, bytes.subarray(0, Math.floor(bytes.length / 2)));
  return target;
}

interface Case {
  name: string;
  make: () => Promise<string>;
  /** 'parsed': the parser must answer, with ffprobe's answer. Else the reason it must decline with. */
  expect: 'parsed' | RegExp;
  /** A check of ffprobe's own answer: that the clip really is what the case says. */
  ffprobeShows?: (info: MediaInfo) => void;
}

// In order: later cases remux earlier clips.
const CASES: Case[] = [
  {
    name: 'mp4 h264+aac, index at the end (as cameras write)',
    make: () => ffmpeg([...picture(), ...tone(), ...X264, ...AAC, '-shortest'], 'h264-aac.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac', fps: 25 }),
  },
  {
    name: 'mp4 h264+aac, +faststart (index first)',
    make: () => remux('h264-aac.mp4', 'h264-aac-faststart.mp4', '-movflags', '+faststart'),
    expect: 'parsed',
  },
  {
    name: 'mov h264+aac',
    make: () => ffmpeg([...picture(), ...tone(), ...X264, ...AAC, '-shortest'], 'h264-aac.mov'),
    expect: 'parsed',
  },
  {
    name: 'mp4 hevc (hvc1) + aac',
    make: () => ffmpeg([...picture(), ...tone(), ...X265, '-tag:v', 'hvc1', ...AAC, '-shortest'], 'hevc.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.videoCodec).toBe('hevc'),
  },
  {
    name: 'mp4 hevc (hev1)',
    make: () => ffmpeg([...picture(), ...X265], 'hevc-hev1.mp4'),
    expect: 'parsed',
  },
  {
    name: 'mp4 h264 without audio',
    make: () => ffmpeg([...picture(), ...X264], 'noaudio.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info).toMatchObject({ hasAudio: false, audioStreamIndex: null }),
  },
  {
    name: 'mp4 with two audio tracks',
    make: () =>
      ffmpeg(
        [...picture(), ...tone(440), ...tone(880), '-map', '0', '-map', '1', '-map', '2', ...X264, ...AAC],
        'two-audio.mp4',
      ),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.audioStreamIndex).toBe(1),
  },
  {
    name: 'audio track before the video track',
    make: () =>
      ffmpeg([...tone(), ...picture(), '-map', '0', '-map', '1', ...X264, ...AAC], 'audio-first.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info).toMatchObject({ videoStreamIndex: 1, audioStreamIndex: 0 }),
  },
  ...[90, 180, 270].map((degrees): Case => ({
    // ffmpeg 5.1 has no -display_rotation; a remux turns the rotate tag into a display matrix.
    name: `rotated ${degrees}°`,
    make: () => remux('h264-aac.mp4', `rotate-${degrees}.mp4`, '-metadata:s:v:0', `rotate=${degrees}`),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.rotation).toBe(degrees),
  })),
  {
    name: 'anamorphic h264 (setsar=4/3)',
    make: () => ffmpeg([...picture(), ...X264, '-vf', 'setsar=4/3'], 'anamorphic.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info).toMatchObject({ width: 427, codedWidth: 320 }),
  },
  {
    name: 'anamorphic hevc (setsar=16/11)',
    make: () => ffmpeg([...picture(), ...X265, '-vf', 'setsar=16/11'], 'anamorphic-hevc.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.width).toBe(465),
  },
  {
    name: 'no pixel aspect at all (no pasp, no VUI aspect)',
    make: () => ffmpeg([...picture(), ...X264, '-vf', 'setsar=0'], 'no-pasp.mp4'),
    expect: 'parsed',
  },
  {
    name: 'non-square pixels declared only in the SPS (no pasp)',
    make: () => remux('no-pasp.mp4', 'sps-only-sar.mp4', '-bsf:v', 'h264_metadata=sample_aspect_ratio=4/3'),
    // ffprobe shows the decoder's aspect only when a frame decodes: left to ffprobe.
    expect: /non-square pixels declared only in the SPS/,
    ffprobeShows: (info) => expect(info.width).toBe(427),
  },
  {
    name: '30000/1001 fps',
    make: () => ffmpeg([...picture('30000/1001'), ...X264], 'ntsc.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.fps).toBeCloseTo(29.97, 2),
  },
  {
    name: 'variable frame rate',
    make: () =>
      ffmpeg(
        [
          ...picture('30', '320x240', 3),
          '-vf',
          "select='lt(t\\,1)+not(mod(n\\,3))'",
          '-fps_mode',
          'vfr',
          ...X264,
        ],
        'vfr.mp4',
      ),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.fps).toBeGreaterThan(10),
  },
  {
    name: 'cover art (attached picture after the tracks)',
    make: () =>
      ffmpeg(
        [
          ...picture(),
          ...['-f', 'lavfi', '-i', 'color=red:size=64x64:duration=1'],
          ...['-map', '0:v', '-map', '1:v', ...X264, '-c:v:1', 'mjpeg', '-disposition:v:1', 'attached_pic'],
        ],
        'cover.mp4',
      ),
    expect: 'parsed',
  },
  {
    name: 'B-frames (edit list shifting the start)',
    make: () =>
      ffmpeg(
        [...picture(), ...tone(), '-c:v', 'libx264', '-preset', 'medium', ...AAC, '-shortest'],
        'bframes.mp4',
      ),
    expect: 'parsed',
  },
  {
    name: 'trimmed by a remux (edit list cutting into a GOP)',
    make: () => ffmpeg(['-ss', '0.5', '-i', path.join(scratch, 'bframes.mp4'), '-c', 'copy'], 'trimmed.mp4'),
    expect: 'parsed',
  },
  {
    name: 'mov with a timecode track',
    make: () =>
      ffmpeg([...picture(), ...tone(), ...X264, ...AAC, '-shortest', '-timecode', '01:00:00:00'], 'tc.mov'),
    expect: 'parsed',
  },
  {
    name: '1080p h264 (SPS crops 1088 to 1080)',
    make: () => ffmpeg([...picture('25', '1920x1080', 1), ...X264], 'h264-1080p.mp4'),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info.height).toBe(1080),
  },
  {
    name: '1080p hevc (conformance window)',
    make: () => ffmpeg([...picture('25', '1920x1080', 1), ...X265, '-tag:v', 'hvc1'], 'hevc-1080p.mp4'),
    expect: 'parsed',
  },
  {
    name: 'odd picture size, 4:2:2 High profile',
    make: () =>
      ffmpeg(
        [...picture('25', '322x242', 1), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv422p'],
        'high422.mp4',
      ),
    expect: 'parsed',
    ffprobeShows: (info) => expect(info).toMatchObject({ width: 322, height: 242 }),
  },
  {
    name: 'fragmented mp4',
    make: () =>
      ffmpeg([...picture(), ...tone(), ...X264, ...AAC, '-movflags', 'frag_keyframe+empty_moov'], 'frag.mp4'),
    expect: /fragmented/,
  },
  {
    name: 'truncated mp4 (index first, data cut off)',
    make: () => cutInHalf('h264-aac-faststart.mp4', 'truncated-faststart.mp4'),
    expect: /truncated/,
  },
  {
    name: 'truncated mp4 (cut off before its index)',
    make: () => cutInHalf('h264-aac.mp4', 'truncated.mp4'),
    expect: /truncated/,
  },
  {
    name: 'text file named .mp4',
    make: async () => {
      const target = path.join(scratch, 'text.mp4');
      await writeFile(target, 'Einsatzbericht: nothing to see here\n'.repeat(20));
      return target;
    },
    expect: /not ISO-BMFF/,
  },
  {
    name: 'mkv',
    make: () => ffmpeg([...picture(), ...tone(), ...X264, ...AAC, '-shortest'], 'clip.mkv'),
    expect: /not ISO-BMFF/,
  },
  {
    name: 'mov with PCM audio (not mapped: ffprobe answers)',
    make: () => ffmpeg([...picture(), ...tone(), ...X264, '-c:a', 'pcm_s16le', '-shortest'], 'pcm.mov'),
    expect: /'sowt' is not mapped/,
  },
];

async function ffprobeAnswer(file: string): Promise<MediaInfo | { error: string }> {
  try {
    return await tools.probe(file);
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** The clips by case name, made once for both parts of this file. */
const files = new Map<string, string>();

beforeAll(async () => {
  // One at a time: two cores, shared.
  for (const c of CASES) files.set(c.name, await c.make());
}, 240_000);

describe('parser against ffprobe', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const file = files.get(c.name)!;
    const parsed: Mp4ProbeResult = await probeMp4(bufferReader(await readFile(file)));
    const probed = await ffprobeAnswer(file);
    if (c.ffprobeShows) {
      if ('error' in probed) throw new Error(`ffprobe failed on ${file}: ${probed.error}`);
      c.ffprobeShows(probed);
    }
    if (c.expect === 'parsed') {
      // A decline here fails with its reason: this case was meant to be answered in-process.
      expect(parsed).toEqual({ info: probed });
    } else {
      expect('declined' in parsed ? parsed.declined : `answered ${JSON.stringify(parsed)}`).toMatch(c.expect);
    }
  });

  test('the cover-art clip has an attached picture that ffprobe skips', async () => {
    const { stdout } = await execFileAsync(FFPROBE, [
      ...['-v', 'error', '-show_entries', 'stream=index,codec_type:stream_disposition=attached_pic'],
      ...['-of', 'json', files.get('cover art (attached picture after the tracks)')!],
    ]);
    const streams = (JSON.parse(stdout) as { streams: { disposition: { attached_pic: number } }[] }).streams;
    expect(streams.map((s) => s.disposition.attached_pic)).toEqual([0, 1]);
  });
});

// ------------------------------------------------------------------------------------ the activity

describe('probeMedia activity over versitygw', () => {
  let s3: S3Client;
  let bucket: string;
  let testBuckets: ReturnType<typeof testConfig>['buckets'];
  const gets: string[] = [];

  beforeAll(async () => {
    const config = testConfig('mp4probe');
    s3 = createS3Client(config.s3);
    await bootstrapStores(s3, config.buckets);
    testBuckets = config.buckets;
    bucket = config.buckets.quarantine; // versioned, no object lock: test objects can be overwritten
    s3.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetObjectCommand') {
          gets.push(String((args.input as { Range?: string }).Range ?? 'whole object'));
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordGets' },
    );
  });

  afterAll(() => s3?.destroy());

  async function putBytes(key: string, body: Buffer): Promise<ObjectRef> {
    const response = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return { bucket, key, versionId: response.VersionId!, size: body.length };
  }
  const put = async (key: string, file: string) => putBytes(key, await readFile(file));

  const fallbackReason = (route: ProbeRoute) =>
    route.via === 'ffprobe' ? route.reason : 'answered in-process';

  /** A media port that fails the test if ffprobe is asked. */
  const noFfprobe = {
    probe: (input: string) => Promise.reject(new Error(`ffprobe was spawned for ${input}`)),
  };

  async function clip(name: string, args: string[]): Promise<string> {
    return ffmpeg(args, name);
  }

  test('answers an MP4 without spawning ffprobe, reading the head and then the index at the end', async () => {
    // ~1 MB, index at the end: the benchmark's recording.
    const file = await clip('bench-like.mp4', [
      ...picture('30', '320x240', 9),
      ...tone(440, 9),
      ...X264,
      ...AAC,
    ]);
    const object = await put('recordings/a/original', file);
    const routes: ProbeRoute[] = [];
    const probeMedia = makeProbeMedia({ s3, media: noFfprobe, onProbed: (route) => routes.push(route) });

    gets.length = 0;
    const info = await probeMedia({ object });
    expect(info).toEqual(await tools.probe(file));
    expect(routes).toEqual([{ via: 'mp4' }]);
    // The head, then the rest of the file from the index on.
    expect(gets).toHaveLength(2);
    expect(gets[0]).toBe('bytes=0-65535');
    expect(gets[1]).toMatch(/^bytes=\d+-\d+$/);

    // The same answer as ffprobe reading the presigned URL (the path it replaces).
    const viaFfprobe = makeProbeMedia({ s3, media: tools, inProcessMp4: false });
    expect(await viaFfprobe({ object })).toEqual(info);
  });

  test('reads a file smaller than the head with one request', async () => {
    const file = await clip('tiny.mp4', [...picture('25', '160x120', 1), ...X264]);
    expect((await readFile(file)).length).toBeLessThan(64 * 1024);
    const object = await put('recordings/tiny/original', file);
    gets.length = 0;
    expect(await makeProbeMedia({ s3, media: noFfprobe })({ object })).toEqual(await tools.probe(file));
    expect(gets).toEqual(['bytes=0-65535']);
  });

  test('pins the reads of an unversioned object to the ETag of the first', async () => {
    const incoming = testBuckets.incoming; // not versioned
    const file = path.join(scratch, 'bench-like.mp4'); // index at the end: two reads
    await s3.send(
      new PutObjectCommand({ Bucket: incoming, Key: 'station/x.mp4', Body: await readFile(file) }),
    );
    const routes: ProbeRoute[] = [];
    const probeMedia = makeProbeMedia({ s3, media: noFfprobe, onProbed: (route) => routes.push(route) });
    expect(await probeMedia({ object: { bucket: incoming, key: 'station/x.mp4' } })).toEqual(
      await tools.probe(file),
    );
    expect(routes).toEqual([{ via: 'mp4' }]);
  });

  test('an empty object goes to ffprobe, which says what it is', async () => {
    const object = await putBytes('recordings/empty/original', Buffer.alloc(0));
    const routes: ProbeRoute[] = [];
    const failure = await makeProbeMedia({ s3, media: tools, onProbed: (route) => routes.push(route) })({
      object,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: 'NotMedia', nonRetryable: true });
    expect(routes).toHaveLength(1);
    expect(routes[0]!.via).toBe('ffprobe');
  });

  test('reads the exact version it is given, not the newest', async () => {
    const older = await put('recordings/b/original', path.join(scratch, 'h264-aac.mp4'));
    const newer = await put('recordings/b/original', path.join(scratch, 'h264-1080p.mp4'));
    expect(newer.versionId).not.toBe(older.versionId);
    const probeMedia = makeProbeMedia({ s3, media: noFfprobe });
    expect(await probeMedia({ object: older })).toEqual(
      await tools.probe(path.join(scratch, 'h264-aac.mp4')),
    );
    expect(await probeMedia({ object: newer })).toEqual(
      await tools.probe(path.join(scratch, 'h264-1080p.mp4')),
    );
  });

  test('falls back to ffprobe for an mkv', async () => {
    const file = path.join(scratch, 'clip.mkv');
    const object = await put('recordings/c/original', file);
    const asked: string[] = [];
    const routes: ProbeRoute[] = [];
    const probeMedia = makeProbeMedia({
      s3,
      media: { probe: (input) => (asked.push(input), tools.probe(input)) },
      onProbed: (route) => routes.push(route),
    });
    const info = await probeMedia({ object });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^http/); // the presigned URL
    expect(routes).toHaveLength(1);
    expect(fallbackReason(routes[0]!)).toMatch(/not ISO-BMFF/);
    expect(info).toEqual(await tools.probe(file));
    expect(info.container).toBe('matroska,webm');
  });

  test('leaves the verdict on a truncated MP4 to ffprobe', async () => {
    const object = await put('recordings/d/original', path.join(scratch, 'truncated.mp4'));
    const routes: ProbeRoute[] = [];
    const probeMedia = makeProbeMedia({ s3, media: tools, onProbed: (route) => routes.push(route) });
    const failure = await probeMedia({ object }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'CorruptMedia', nonRetryable: true });
    expect(routes).toHaveLength(1);
    expect(fallbackReason(routes[0]!)).toMatch(/truncated/);
  });
});
