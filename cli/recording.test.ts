import { formatStatus } from './recording';
import type { RecordingStatus, RetentionStatus } from '../domain/types';

const SHA = 'ab'.repeat(32);
const INGESTED = '2026-11-20T10:00:00.000Z';

function retention(
  basis: 'recordedAt' | 'ingestedAt',
  basisTime: string,
  deleteAfter: string,
): RetentionStatus {
  return {
    pack: {
      id: 'bw-polg-44',
      version: 3,
      fingerprint: 'f'.repeat(64),
      citation: '§ 44 PolG BW',
      retention: 'P28D',
    },
    deadline: { deleteAfter, statutoryDeadline: deleteAfter, basis, basisTime },
    deleteAfter,
    extensions: [],
    holds: [],
  };
}

function retainedStatus(overrides: Partial<RecordingStatus> = {}): RecordingStatus {
  return {
    recordingId: '0123456789abcdef0123',
    state: 'retained',
    originalName: 'cam-0815_0001.mp4',
    sha256: SHA,
    bytes: 52_428_800,
    media: {
      container: 'mov,mp4,m4a,3gp,3g2,mj2',
      durationS: 20,
      videoStreamIndex: 0,
      videoCodec: 'h264',
      audioStreamIndex: 1,
      audioCodec: 'aac',
      hasAudio: true,
      width: 1080,
      height: 1920,
      codedWidth: 1920,
      codedHeight: 1080,
      rotation: 90,
      fps: 30,
      bitRate: 20_000_000,
    },
    deviceId: 'cam-0815',
    recordedAt: '2026-11-20T09:30:00.000Z',
    ingestedAt: INGESTED,
    policy: 'bw-polg-44',
    original: {
      bucket: 'custody-evidence',
      key: 'recordings/0123/original',
      versionId: 'v1',
      sha256: SHA,
      bytes: 52_428_800,
    },
    derivatives: {
      inputSha256: SHA,
      ffmpegVersion: '5.1.6-0+deb12u1',
      args: ['-i', '{input}'],
      elapsedS: 12.34,
      partial: null,
      derivatives: [
        {
          kind: 'proxy',
          bucket: 'custody-derivatives',
          key: 'recordings/0123/proxy.mp4',
          versionId: 'p1',
          sha256: 'cd'.repeat(32),
          bytes: 1_000_000,
          contentType: 'video/mp4',
          width: 720,
          height: 1280,
        },
      ],
    },
    reviewReady: true,
    retention: retention('recordedAt', '2026-11-20T09:30:00.000Z', '2026-12-18T09:30:00.000Z'),
    custodyLogHead: { seq: 7, hash: 'ef'.repeat(32) },
    ...overrides,
  };
}

/** The value of one `key  value` line (the first with that key). */
function field(output: string, key: string): string | undefined {
  return new RegExp(`^${key} +(.*)$`, 'm').exec(output)?.[1];
}

test('a retained recording shows where its original is, its media, derivatives and deadline', () => {
  const output = formatStatus(retainedStatus());
  expect(field(output, 'state')).toBe('retained');
  expect(field(output, 'sha256')).toBe(SHA);
  expect(field(output, 'bytes')).toBe('52428800 (50.0 MiB)');
  expect(field(output, 'original')).toBe('s3://custody-evidence/recordings/0123/original version v1');
  expect(field(output, 'media')).toBe(
    'h264 1080x1920 20.0 s 30 fps rotated 90° audio aac (mov,mp4,m4a,3gp,3g2,mj2)',
  );
  expect(field(output, 'reviewReady')).toBe('yes');
  expect(field(output, 'proxy')).toBe(`720x1280 1000000 B sha256 ${'cd'.repeat(32)}`);
  expect(field(output, 'transcode')).toBe('ffmpeg 5.1.6-0+deb12u1, 12.3 s');
  expect(field(output, 'rulePack')).toBe('bw-polg-44 v3 (§ 44 PolG BW), retention P28D');
  expect(field(output, 'deleteAfter')).toBe(
    '2026-12-18T09:30:00.000Z (P28D from recordedAt 2026-11-20T09:30:00.000Z)',
  );
  expect(field(output, 'custodyLogHead')).toBe(`seq 7 ${'ef'.repeat(32)}`);
  // Nothing to warn about: no partial line, no deadline note.
  expect(output).not.toMatch(/^(partial|deadlineNote) /m);
});

test('a partial (truncated) recording says how much of it was decoded', () => {
  const status = retainedStatus();
  status.derivatives!.partial = {
    declaredS: 20,
    decodedS: 9.8,
    reason:
      'decoded 9.80 s of the 20.00 s the container declares: the recording appears truncated (ffmpeg: partial file)',
  };
  const output = formatStatus(status);
  expect(field(output, 'reviewReady')).toContain('partial: decoded 9.8 s of the 20.0 s declared');
  expect(field(output, 'partial')).toContain('(ffmpeg: partial file)');
});

test.each([
  ['missing', undefined, 'recording time unknown; the deadline counts from the ingest time'],
  ['invalid', '2026-11-31T25:00:00Z', 'recordedAt ignored ('],
  [
    'after ingest',
    '2026-11-20T14:00:00.000Z',
    'is after ingestedAt 2026-11-20T10:00:00.000Z; camera clock ahead?',
  ],
])('a deadline counted from ingest because recordedAt is %s says why', (_case, recordedAt, why) => {
  const { recordedAt: _dropped, ...rest } = retainedStatus();
  const output = formatStatus({
    ...rest,
    ...(recordedAt !== undefined && { recordedAt }),
    retention: retention('ingestedAt', INGESTED, '2026-12-18T10:00:00.000Z'),
  });
  expect(field(output, 'deleteAfter')).toBe(
    '2026-12-18T10:00:00.000Z (P28D from ingestedAt 2026-11-20T10:00:00.000Z)',
  );
  expect(field(output, 'deadlineNote')).toContain(why);
});

test('a camera clock a little ahead (within the skew tolerance) counts from ingest without a warning', () => {
  const output = formatStatus(
    retainedStatus({
      recordedAt: '2026-11-20T10:02:00.000Z',
      retention: retention('ingestedAt', INGESTED, '2026-12-18T10:00:00.000Z'),
    }),
  );
  expect(output).not.toMatch(/^deadlineNote /m);
});

test('extensions, holds and evidence are listed; released holds are counted', () => {
  const status = retainedStatus({ state: 'held' });
  const r = status.retention!;
  r.deleteAfter = '2027-06-01T00:00:00.000Z';
  r.extensions.push({
    until: r.deleteAfter,
    reason: 'appeal pending',
    by: 'admin-1',
    at: INGESTED,
    caseId: 'K-9',
  });
  r.holds.push(
    { id: 'h1', caseId: 'K-9', reason: 'court order', by: 'admin-1', at: INGESTED },
    { id: 'h0', caseId: 'K-1', reason: 'inquiry', by: 'admin-2', at: INGESTED, releasedAt: INGESTED },
  );
  r.evidence = { caseId: 'K-9', by: 'admin-1', at: INGESTED, lockedUntil: r.deleteAfter };
  const output = formatStatus(status);
  expect(field(output, 'deleteAfter')).toBe(
    '2027-06-01T00:00:00.000Z (P28D from recordedAt 2026-11-20T09:30:00.000Z; statutory 2026-12-18T09:30:00.000Z, extended)',
  );
  expect(field(output, 'extension')).toBe(
    'until 2027-06-01T00:00:00.000Z by admin-1 at 2026-11-20T10:00:00.000Z, case K-9: appeal pending',
  );
  expect(field(output, 'hold')).toBe('h1 case K-9 by admin-1 at 2026-11-20T10:00:00.000Z: court order');
  expect(field(output, 'releasedHolds')).toBe('1');
  expect(field(output, 'evidence')).toBe(
    'case K-9 by admin-1 at 2026-11-20T10:00:00.000Z, locked until 2027-06-01T00:00:00.000Z',
  );
});

test('a quarantined recording says why and where its bytes are kept; a parked one its last error', () => {
  const quarantined = formatStatus(
    retainedStatus({
      state: 'quarantined',
      reviewReady: false,
      quarantine: {
        reason: 'hash-mismatch',
        message: 'SHA-256 of the received bytes differs from the declared one',
        at: INGESTED,
        object: { bucket: 'custody-quarantine', key: 'recordings/0123/original', versionId: 'q1' },
        reasonKey: 'recordings/0123/reason.json',
      },
    }),
  );
  expect(field(quarantined, 'quarantine')).toBe(
    'hash-mismatch: SHA-256 of the received bytes differs from the declared one (at 2026-11-20T10:00:00.000Z; ' +
      'bytes kept at s3://custody-quarantine/recordings/0123/original version q1)',
  );
  expect(field(quarantined, 'reviewReady')).toBe('no');

  const parked = formatStatus(
    retainedStatus({
      state: 'needs-attention',
      lastError: {
        stage: 'transcode',
        type: 'CorruptMedia',
        message: 'undecodable',
        attempts: 1,
        at: INGESTED,
      },
    }),
  );
  expect(field(parked, 'lastError')).toBe(
    'transcode CorruptMedia (attempt 1, 2026-11-20T10:00:00.000Z): undecodable',
  );
});
