import { mediaTarget } from './media';
import type { RecordingStatus } from '../../domain/types';

const ID = '0123456789abcdef0123';
const derivative = (kind: 'proxy' | 'poster' | 'sprite', contentType: string) => ({
  kind,
  bucket: 'custody-derivatives',
  key: `recordings/${ID}/${kind}`,
  versionId: `v-${kind}`,
  sha256: kind.padEnd(64, '0'),
  bytes: 100,
  contentType,
  width: 160,
  height: 120,
});

const status = (overrides: Partial<RecordingStatus> = {}): RecordingStatus =>
  ({
    recordingId: ID,
    state: 'retained',
    original: {
      bucket: 'custody-evidence',
      key: `recordings/${ID}/original`,
      versionId: 'v-o',
      sha256: 'a'.repeat(64),
      bytes: 1000,
    },
    derivatives: {
      derivatives: [
        derivative('proxy', 'video/mp4'),
        derivative('poster', 'image/jpeg'),
        derivative('sprite', 'image/jpeg'),
      ],
    },
    ...overrides,
  }) as RecordingStatus;

test('each object is the exact stored version, with the hash the custody log recorded', () => {
  expect(mediaTarget(status(), 'proxy')).toEqual({
    bucket: 'custody-derivatives',
    key: `recordings/${ID}/proxy`,
    versionId: 'v-proxy',
    sha256: 'proxy'.padEnd(64, '0'),
    bytes: 100,
    contentType: 'video/mp4',
  });
  expect(mediaTarget(status(), 'original')).toEqual({
    bucket: 'custody-evidence',
    key: `recordings/${ID}/original`,
    versionId: 'v-o',
    sha256: 'a'.repeat(64),
    bytes: 1000,
    contentType: 'application/octet-stream',
  });
  expect(mediaTarget(status(), 'poster')).toMatchObject({ contentType: 'image/jpeg', versionId: 'v-poster' });
});

test.each(['deleting', 'deleted', 'quarantined'] as const)('a %s recording has nothing to show', (state) => {
  expect(mediaTarget(status({ state }), 'original')).toEqual({
    missing: `recording ${ID} is ${state}: it has no original to show`,
  });
});

test('not transcoded (yet), or no original stored (yet): nothing to show', () => {
  const { derivatives: _none, ...untranscoded } = status();
  expect(mediaTarget(untranscoded as RecordingStatus, 'sprite')).toEqual({
    missing: `recording ${ID} has no sprite: it is not (yet) transcoded for review`,
  });
  const { original: _gone, ...ingesting } = status({ state: 'ingesting' });
  expect(mediaTarget(ingesting as RecordingStatus, 'original')).toEqual({
    missing: `recording ${ID} has no stored original (yet)`,
  });
});
