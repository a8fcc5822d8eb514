/** The facts an upload carries in its object metadata: written by the API, read back exactly, refused when not. */
import {
  parseUploadFacts,
  uploadFactsMetadata,
  UPLOAD_FACTS_METADATA,
  type UploadFacts,
} from './start-uploaded-recording';

const facts: UploadFacts = {
  version: 1,
  originalName: 'Einsatz 17 – Bahnhof.mp4',
  sha256: 'ab'.repeat(32),
  bytes: 1234,
  declared: { deviceId: 'cam-1', unit: 'ka-west', officerId: 'officer-4711' },
  actor: 'dock-ka-west',
};

test('round trip through one ASCII metadata header (names with umlauts and dashes included)', () => {
  const metadata = uploadFactsMetadata(facts);
  expect(Object.keys(metadata)).toEqual([UPLOAD_FACTS_METADATA]);
  expect(metadata[UPLOAD_FACTS_METADATA]).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(parseUploadFacts(metadata)).toEqual(facts);
  expect(parseUploadFacts(uploadFactsMetadata({ ...facts, policy: 'demo' }))).toEqual({
    ...facts,
    policy: 'demo',
  });
});

test('no metadata, not JSON, or a field missing or malformed: a problem, never facts', () => {
  const problemOf = (metadata: Record<string, string> | undefined) => {
    const parsed = parseUploadFacts(metadata);
    return 'problem' in parsed ? parsed.problem : undefined;
  };
  expect(problemOf(undefined)).toContain('has no custody-upload');
  expect(problemOf({ [UPLOAD_FACTS_METADATA]: '%%%' })).toContain('not base64url JSON');
  for (const broken of [
    { ...facts, version: 2 },
    { ...facts, sha256: 'AB'.repeat(32) },
    { ...facts, actor: undefined },
    { ...facts, declared: null },
    { ...facts, policy: 7 },
  ]) {
    expect(problemOf(uploadFactsMetadata(broken as never))).toContain('incomplete');
  }
});
