import path from 'node:path';
import { loadRulePacks } from './policy/load';
import { makeResolvePolicyChange, type PolicyChangeResolution } from './resolve-policy-change';

const policyDir = path.join(__dirname, '..', 'policies');

const refusal = (resolution: PolicyChangeResolution) => (resolution.ok ? 'resolved' : resolution.reason);

test("a pack by id and the fingerprint the requester saw resolves to this worker's own copy", async () => {
  const nrw = (await loadRulePacks(policyDir)).getPack('nrw-polg-15c');
  const resolved = await makeResolvePolicyChange({ policyDir, devMode: false })({
    packId: 'nrw-polg-15c',
    fingerprint: nrw.fingerprint,
  });
  expect(resolved.ok && resolved.pack).toMatchObject({
    id: 'nrw-polg-15c',
    retention: nrw.retention,
    fingerprint: nrw.fingerprint,
  });
});

test('another fingerprint, an unknown pack, and the demo pack outside dev mode are refused with the reason', async () => {
  const demo = (await loadRulePacks(policyDir)).getPack('demo');
  const production = makeResolvePolicyChange({ policyDir, devMode: false });
  expect(refusal(await production({ packId: 'nrw-polg-15c', fingerprint: '0'.repeat(64) }))).toMatch(
    /has fingerprint [0-9a-f]{64} here, not 0{64}: .* request it again/,
  );
  expect(refusal(await production({ packId: 'no-such-pack', fingerprint: '0'.repeat(64) }))).toMatch(
    /no-such-pack/,
  );
  expect(refusal(await production({ packId: 'demo', fingerprint: demo.fingerprint }))).toMatch(
    /demo pack .* not in dev mode \(CUSTODY_DEV_MODE\)/,
  );
  const dev = makeResolvePolicyChange({ policyDir, devMode: true });
  expect(refusal(await dev({ packId: 'demo', fingerprint: demo.fingerprint }))).toBe('resolved');
});
