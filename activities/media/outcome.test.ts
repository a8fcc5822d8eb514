import { CorruptMediaError, FfmpegFailedError } from './errors';
import { classifyFfmpegFailure, detectPartialDecode } from './outcome';

describe('classifyFfmpegFailure', () => {
  it('exit 69 (more than 2/3 of frames undecodable) is CorruptMedia, not retried', () => {
    const error = classifyFfmpegFailure({
      exitCode: 69,
      signal: null,
      stderrTail:
        '[h264 @ 0x1] error while decoding MB 78 50\nError while decoding stream #0:0: Invalid data found',
    });
    expect(error).toBeInstanceOf(CorruptMediaError);
    expect(error).toMatchObject({ type: 'CorruptMedia', nonRetryable: true });
    expect(error.message).toMatch(/more than 2\/3 of its frames failed to decode/);
  });

  it('decoder messages with another exit code are CorruptMedia with the last message', () => {
    const error = classifyFfmpegFailure({
      exitCode: 1,
      signal: null,
      stderrTail: '[mov,mp4,m4a,3gp,3g2,mj2 @ 0xabc] stream 0, offset 0x59dd4c: partial file',
    });
    expect(error).toBeInstanceOf(CorruptMediaError);
    expect(error.message).toBe('undecodable recording: stream 0, offset 0x59dd4c: partial file');
  });

  it('a full disk is the machine’s fault and retryable, even next to decoder noise', () => {
    const error = classifyFfmpegFailure({
      exitCode: 1,
      signal: null,
      stderrTail: 'error while decoding MB 1 1\nav_interleaved_write_frame(): No space left on device',
    });
    expect(error).toBeInstanceOf(FfmpegFailedError);
    expect(error).toMatchObject({ type: 'FfmpegFailed', nonRetryable: false });
  });

  it('a kill from outside (OOM killer) is retryable', () => {
    const error = classifyFfmpegFailure({ exitCode: null, signal: 'SIGKILL', stderrTail: '' });
    expect(error).toMatchObject({ type: 'FfmpegFailed', nonRetryable: false });
    expect(error.message).toMatch(/SIGKILL/);
  });

  it('an unknown failure is retryable and carries the exit code, last line and stderr tail', () => {
    const error = classifyFfmpegFailure({
      exitCode: 1,
      signal: null,
      stderrTail: 'a\nb\nConversion failed!',
    });
    expect(error).toMatchObject({ type: 'FfmpegFailed', nonRetryable: false });
    expect(error.message).toBe('ffmpeg exited with code 1: Conversion failed!');
    expect(error.details).toMatchObject({ exitCode: 1, stderrTail: 'a\nb\nConversion failed!' });
  });
});

describe('detectPartialDecode', () => {
  it('flags a proxy that covers clearly less than the declared duration', () => {
    const partial = detectPartialDecode(6, 3.008, '[mov,mp4 @ 0x5] stream 1, offset 0x59dc94: partial file');
    expect(partial).toEqual({
      declaredS: 6,
      decodedS: 3.008,
      reason:
        'decoded 3.01 s of the 6.00 s the container declares: the recording appears truncated ' +
        '(ffmpeg: stream 1, offset 0x59dc94: partial file)',
    });
  });

  it('tolerates the usual small differences between audio, video and container duration', () => {
    expect(detectPartialDecode(6, 5.6, undefined)).toBeNull();
    expect(detectPartialDecode(3600, 3540, undefined)).toBeNull(); // 2 % of an hour
    expect(detectPartialDecode(3600, 3500, undefined)).not.toBeNull();
  });
});
