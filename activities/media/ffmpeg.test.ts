/**
 * The exact ffmpeg argument lists: what buildTranscodePlan decides and what fluent-ffmpeg then assembles
 * from it (no binary runs here; test/integration/media runs them).
 */
import { buildTranscodePlan, fluentCommandFor, progressParser, type TranscodeProgress } from './ffmpeg';
import type { MediaInfo } from './media-info';
import { DEFAULT_TRANSCODE_PROFILE, resolveTranscodeProfile } from './profile';

const GLOBAL = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1'];
const SPRITE = ['-c:v', 'mjpeg', '-q:v', '4', '-update', '1', '-f', 'image2'];
const POSTER = ['-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '4', '-f', 'image2'];
const PATHS = { inputPath: '/scratch/attempt-1/original.mp4', outputDir: '/scratch/attempt-1/out' };

const landscape1080pWithAudio: MediaInfo = {
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationS: 95.5,
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
  fps: 30,
  bitRate: 15_000_000,
};

function expectFluentToBuild(args: string[], plan: ReturnType<typeof buildTranscodePlan>) {
  expect(plan.args).toEqual(args);
  // The archived library assembles the command: pin what it produces, so an upgrade cannot change it silently.
  expect(fluentCommandFor(plan)._getArguments()).toEqual(args);
}

describe('buildTranscodePlan', () => {
  it('landscape 1080p with audio: 1280x720 proxy with AAC, sprite of 10 tiles, poster at 2 s', () => {
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, landscape1080pWithAudio, PATHS);
    expectFluentToBuild(
      [
        ...GLOBAL,
        '-i',
        '/scratch/attempt-1/original.mp4',
        '-y',
        '-filter_complex',
        '[0:0]scale=1280:720,setsar=1,format=yuv420p,split=3[proxy][sprite_src][poster_src];' +
          '[sprite_src]fps=1/10:eof_action=pass,scale=160:90,tpad=stop=10:color=black,trim=end_frame=10,' +
          'tile=10x1:overlap=9:init_padding=9[sprite];' +
          '[poster_src]trim=start=2,trim=end_frame=1[poster]',
        ...['-map', '[proxy]', '-map', '0:1', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23'],
        ...['-c:a', 'aac', '-b:a', '128k', '-fps_mode:v', 'vfr', '-movflags', '+faststart', '-f', 'mp4'],
        '/scratch/attempt-1/out/proxy.mp4',
        ...['-map', '[sprite]', ...SPRITE, '/scratch/attempt-1/out/sprite.jpg'],
        ...['-map', '[poster]', ...POSTER, '/scratch/attempt-1/out/poster.jpg'],
      ],
      plan,
    );
    expect(plan.recordedArgs).toContain('<input>');
    expect(plan.recordedArgs.slice(-1)).toEqual(['<poster>']);
    expect(plan.recordedArgs.join(' ')).not.toContain('/scratch/');
    expect(plan.sprite).toEqual({
      intervalS: 10,
      tiles: 10,
      columns: 10,
      rows: 1,
      tileWidth: 160,
      tileHeight: 90,
    });
  });

  it('no audio: no audio map and no AAC encoder; a 720p source is not scaled up', () => {
    const media: MediaInfo = {
      ...landscape1080pWithAudio,
      durationS: 4,
      audioStreamIndex: null,
      audioCodec: null,
      hasAudio: false,
      width: 1280,
      height: 720,
      codedWidth: 1280,
      codedHeight: 720,
    };
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, media, PATHS);
    expectFluentToBuild(
      [
        ...GLOBAL,
        '-i',
        '/scratch/attempt-1/original.mp4',
        '-y',
        '-filter_complex',
        '[0:0]scale=1280:720,setsar=1,format=yuv420p,split=3[proxy][sprite_src][poster_src];' +
          '[sprite_src]fps=1/10:eof_action=pass,scale=160:90,tpad=stop=1:color=black,trim=end_frame=1,' +
          'tile=1x1:overlap=0:init_padding=0[sprite];' +
          '[poster_src]trim=start=0.4,trim=end_frame=1[poster]',
        ...['-map', '[proxy]', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23'],
        ...['-fps_mode:v', 'vfr', '-movflags', '+faststart', '-f', 'mp4'],
        '/scratch/attempt-1/out/proxy.mp4',
        ...['-map', '[sprite]', ...SPRITE, '/scratch/attempt-1/out/sprite.jpg'],
        ...['-map', '[poster]', ...POSTER, '/scratch/attempt-1/out/poster.jpg'],
      ],
      plan,
    );
    expect(plan.hasAudio).toBe(false);
  });

  it('portrait via rotation 90: sizes are display sizes (720x1280), autorotate does the turn', () => {
    const media: MediaInfo = {
      ...landscape1080pWithAudio,
      durationS: 6,
      rotation: 90,
      width: 1080,
      height: 1920,
      videoStreamIndex: 1,
      audioStreamIndex: 0,
    };
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, media, PATHS);
    expectFluentToBuild(
      [
        ...GLOBAL,
        '-i',
        '/scratch/attempt-1/original.mp4',
        '-y',
        '-filter_complex',
        '[0:1]scale=720:1280,setsar=1,format=yuv420p,split=3[proxy][sprite_src][poster_src];' +
          '[sprite_src]fps=1/10:eof_action=pass,scale=160:284,tpad=stop=1:color=black,trim=end_frame=1,' +
          'tile=1x1:overlap=0:init_padding=0[sprite];' +
          '[poster_src]trim=start=0.6,trim=end_frame=1[poster]',
        ...['-map', '[proxy]', '-map', '0:0', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23'],
        ...['-c:a', 'aac', '-b:a', '128k', '-fps_mode:v', 'vfr', '-movflags', '+faststart', '-f', 'mp4'],
        '/scratch/attempt-1/out/proxy.mp4',
        ...['-map', '[sprite]', ...SPRITE, '/scratch/attempt-1/out/sprite.jpg'],
        ...['-map', '[poster]', ...POSTER, '/scratch/attempt-1/out/poster.jpg'],
      ],
      plan,
    );
    expect(plan.proxy).toEqual({ width: 720, height: 1280 });
  });

  it('a non-default profile reaches every option it governs', () => {
    const profile = resolveTranscodeProfile({
      preset: 'medium',
      crf: 28,
      maxShortSide: 480,
      audioBitrateK: 96,
      spriteIntervalS: 5,
      spriteTileWidth: 240,
      spriteColumns: 4,
      posterAtS: 1,
      imageQuality: 2,
    });
    const plan = buildTranscodePlan(profile, { ...landscape1080pWithAudio, durationS: 60 }, PATHS);
    const sprite = ['-c:v', 'mjpeg', '-q:v', '2', '-update', '1', '-f', 'image2'];
    const poster = ['-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '2', '-f', 'image2'];
    expectFluentToBuild(
      [
        ...GLOBAL,
        '-i',
        '/scratch/attempt-1/original.mp4',
        '-y',
        '-filter_complex',
        '[0:0]scale=854:480,setsar=1,format=yuv420p,split=3[proxy][sprite_src][poster_src];' +
          '[sprite_src]fps=1/5:eof_action=pass,scale=240:134,tpad=stop=16:color=black,trim=end_frame=16,' +
          'tile=4x4:overlap=15:init_padding=15[sprite];' +
          '[poster_src]trim=start=1,trim=end_frame=1[poster]',
        ...['-map', '[proxy]', '-map', '0:1', '-c:v', 'libx264', '-preset', 'medium', '-crf', '28'],
        ...['-c:a', 'aac', '-b:a', '96k', '-fps_mode:v', 'vfr', '-movflags', '+faststart', '-f', 'mp4'],
        '/scratch/attempt-1/out/proxy.mp4',
        ...['-map', '[sprite]', ...sprite, '/scratch/attempt-1/out/sprite.jpg'],
        ...['-map', '[poster]', ...poster, '/scratch/attempt-1/out/poster.jpg'],
      ],
      plan,
    );
    expect(plan.sprite).toEqual({
      intervalS: 5,
      tiles: 13,
      columns: 4,
      rows: 4,
      tileWidth: 240,
      tileHeight: 134,
    });
  });

  it('widens the sprite interval for long recordings so the tile count stays bounded', () => {
    const eightHours = { ...landscape1080pWithAudio, durationS: 8 * 3600 };
    const plan = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, eightHours, PATHS);
    expect(plan.sprite).toEqual({
      intervalS: 73,
      tiles: 395,
      columns: 10,
      rows: 40,
      tileWidth: 160,
      tileHeight: 90,
    });
    expect(plan.sprite.tiles).toBeLessThanOrEqual(DEFAULT_TRANSCODE_PROFILE.spriteMaxTiles);
  });

  it('refuses an input that an output would overwrite', () => {
    const paths = { inputPath: '/scratch/attempt-1/out/proxy.mp4', outputDir: '/scratch/attempt-1/out' };
    expect(() => buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, landscape1080pWithAudio, paths)).toThrow(
      /would be overwritten by an output/,
    );
  });

  it('refuses relative paths (ffmpeg could read "name:" as a protocol)', () => {
    const paths = { inputPath: 'concat:a.mp4|b.mp4', outputDir: '/scratch/attempt-1/out' };
    expect(() => buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, landscape1080pWithAudio, paths)).toThrow(
      'inputPath must be an absolute path, got "concat:a.mp4|b.mp4"',
    );
  });

  it('is deterministic', () => {
    const first = buildTranscodePlan(DEFAULT_TRANSCODE_PROFILE, landscape1080pWithAudio, PATHS);
    const second = buildTranscodePlan(
      DEFAULT_TRANSCODE_PROFILE,
      { ...landscape1080pWithAudio },
      { ...PATHS },
    );
    expect(second.args).toEqual(first.args);
  });
});

describe('resolveTranscodeProfile', () => {
  it('defaults to libx264 veryfast CRF 23 at most 720p', () => {
    expect(resolveTranscodeProfile()).toMatchObject({ preset: 'veryfast', crf: 23, maxShortSide: 720 });
  });

  it('names each bad field and the setting that feeds it', () => {
    expect(() => resolveTranscodeProfile({ preset: 'warp', crf: 70, maxShortSide: 721 })).toThrow(
      /preset \(set by CUSTODY_TRANSCODE_PRESET\).*crf \(set by CUSTODY_TRANSCODE_CRF\).*maxShortSide: must be even/,
    );
  });

  it('ignores undefined overrides (unset settings keep their defaults)', () => {
    expect(resolveTranscodeProfile({ crf: undefined }).crf).toBe(23);
  });
});

describe('progressParser', () => {
  it('turns -progress blocks into fraction, fps and speed, across chunk boundaries', () => {
    const seen: TranscodeProgress[] = [];
    const parse = progressParser(10, (p) => seen.push(p));
    parse('frame=75\nfps=30.5\nout_time_us=2500000\nspe');
    parse('ed=1.25x\nprogress=continue\nframe=300\nfps=0.00\nout_time_us=N/A\nspeed=N/A\nprogress=end\n');
    expect(seen).toEqual([
      { fraction: 0.25, outTimeS: 2.5, fps: 30.5, speed: 1.25 },
      { fraction: 1, outTimeS: 0, fps: null, speed: null },
    ]);
  });
});
