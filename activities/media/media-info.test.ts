import { CorruptMediaError, NotMediaError } from './errors';
import { classifyProbeFailure, mediaInfoFromProbe, type ProbeData, type ProbeStream } from './media-info';

const h264: ProbeStream = {
  index: 0,
  codec_type: 'video',
  codec_name: 'h264',
  width: 1920,
  height: 1080,
  sample_aspect_ratio: '1:1',
  avg_frame_rate: '30000/1001',
  r_frame_rate: '30000/1001',
};
const aac: ProbeStream = { index: 1, codec_type: 'audio', codec_name: 'aac' };
const mp4 = { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: 6, bit_rate: 15_000_000 };

function probe(streams: ProbeStream[], format: ProbeData['format'] = mp4): ProbeData {
  return { streams, format };
}

describe('mediaInfoFromProbe', () => {
  it('records codec, size, duration, frame rate and audio of a plain recording', () => {
    expect(mediaInfoFromProbe(probe([h264, aac]))).toEqual({
      container: 'mov,mp4,m4a,3gp,3g2,mj2',
      durationS: 6,
      videoStreamIndex: 0,
      videoCodec: 'h264',
      audioStreamIndex: 1,
      audioCodec: 'aac',
      hasAudio: true,
      width: 1920,
      height: 1080,
      codedWidth: 1920,
      codedHeight: 1080,
      rotation: 0,
      fps: 30000 / 1001,
      bitRate: 15_000_000,
    });
  });

  it.each([
    [90, 90],
    [-90, 270],
    ['-270', 90],
    [-180, 180],
  ])('display rotation %p is a %p° turn; quarter turns swap the displayed size', (raw, rotation) => {
    const info = mediaInfoFromProbe(probe([{ ...h264, rotation: raw }]));
    expect(info.rotation).toBe(rotation);
    const quarter = rotation === 90 || rotation === 270;
    expect([info.width, info.height]).toEqual(quarter ? [1080, 1920] : [1920, 1080]);
    expect([info.codedWidth, info.codedHeight]).toEqual([1920, 1080]);
  });

  it('reads an old-style rotate tag when there is no display matrix', () => {
    expect(mediaInfoFromProbe(probe([{ ...h264, tags: { rotate: '270' } }])).rotation).toBe(270);
  });

  it('ignores angles ffmpeg does not autorotate', () => {
    expect(mediaInfoFromProbe(probe([{ ...h264, rotation: 45 }])).rotation).toBe(0);
  });

  it('applies non-square pixels to the displayed width', () => {
    const anamorphic = { ...h264, width: 1440, sample_aspect_ratio: '4:3' };
    expect(mediaInfoFromProbe(probe([anamorphic]))).toMatchObject({
      width: 1920,
      height: 1080,
      codedWidth: 1440,
    });
  });

  it('skips cover art and takes the first real video stream', () => {
    const cover: ProbeStream = { ...h264, index: 0, codec_name: 'mjpeg', disposition: { attached_pic: 1 } };
    const info = mediaInfoFromProbe(probe([cover, { ...h264, index: 1 }, { ...aac, index: 2 }]));
    expect(info).toMatchObject({ videoStreamIndex: 1, videoCodec: 'h264', audioStreamIndex: 2 });
  });

  it('falls back to the stream duration and average frame rate sources', () => {
    const info = mediaInfoFromProbe(
      probe([{ ...h264, duration: '4.5', avg_frame_rate: '0/0', r_frame_rate: '25/1' }], {
        format_name: 'avi',
      }),
    );
    expect(info).toMatchObject({ durationS: 4.5, fps: 25, bitRate: null, hasAudio: false, audioCodec: null });
  });

  it.each([
    ['audio only', probe([aac]), /no video stream \(container .*; streams: audio aac\)/],
    ['a still image', probe([{ ...h264, codec_name: 'mjpeg' }], { format_name: 'jpeg_pipe' }), /still image/],
    ['an image2 file', probe([{ ...h264, codec_name: 'png' }], { format_name: 'image2' }), /still image/],
    ['text', probe([{ ...h264, codec_name: 'ansi' }], { format_name: 'tty', duration: 1 }), /text file/],
    ['no size', probe([{ ...h264, width: 0 }]), /no picture size/],
    ['no duration', probe([h264], { format_name: 'h264' }), /no duration/],
  ])('%s is NotMedia with a reason', (_label, data, reason) => {
    expect(() => mediaInfoFromProbe(data)).toThrow(NotMediaError);
    expect(() => mediaInfoFromProbe(data)).toThrow(reason);
  });
});

describe('classifyProbeFailure', () => {
  const moovMissing =
    'ffprobe exited with code 1\n[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\n' +
    '/tmp/x/in.mp4: Invalid data found when processing input\n';
  const ftypHead = Buffer.from('00000020667479706973736f6d', 'hex'); // size + "ftyp" + "isom"

  it('an MP4 that starts with ftyp but has no moov is a cut-off recording: CorruptMedia', () => {
    const error = classifyProbeFailure(moovMissing, ftypHead, 5_000_000);
    expect(error).toBeInstanceOf(CorruptMediaError);
    expect(error).toMatchObject({ type: 'CorruptMedia', nonRetryable: true });
    expect(error.message).toMatch(/without its index \(moov atom\)/);
  });

  it('anything else ffprobe cannot open is NotMedia, with ffprobe’s reason and without the path', () => {
    const error = classifyProbeFailure(moovMissing, Buffer.from('8c1f09a2b3c4d5e6', 'hex'), 262_144);
    expect(error).toBeInstanceOf(NotMediaError);
    expect(error.message).toBe('ffprobe cannot read it as media: Invalid data found when processing input');
  });

  it('an empty file is NotMedia', () => {
    expect(classifyProbeFailure('', Buffer.alloc(0), 0).message).toBe('empty file (0 bytes)');
  });
});
