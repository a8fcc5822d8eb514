import { parseManifest } from './manifest';

const base = { deviceId: 'cam-7', recordedAt: '2026-11-20T08:15:00+01:00' };

test("the manifest's unit becomes a declared fact", () => {
  expect(parseManifest(JSON.stringify({ ...base, unit: 'PP-Herne.KOD-1' }))).toEqual({
    ok: true,
    declared: { deviceId: 'cam-7', recordedAt: '2026-11-20T07:15:00.000Z', unit: 'PP-Herne.KOD-1' },
  });
  expect(parseManifest(JSON.stringify(base))).toEqual({
    ok: true,
    declared: { deviceId: 'cam-7', recordedAt: '2026-11-20T07:15:00.000Z' },
  });
});

test.each(['*', '../nord', 'nord süd', '', 'a'.repeat(129)])(
  'a unit %j that is not a unit id makes the manifest malformed (the recording is quarantined)',
  (unit) => {
    const parsed = parseManifest(JSON.stringify({ ...base, unit }), 'dock-1/0001.mp4.json');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(/dock-1\/0001\.mp4\.json .*unit: must be a unit id/);
  },
);
