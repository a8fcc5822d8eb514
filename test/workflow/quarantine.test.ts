/**
 * Bad input loses nothing: each quarantine reason moves the bytes to the quarantine store and waits for a
 * person; a release sends the recording back into ingest from the quarantined bytes (moved, not copied), and a
 * recording that fails again is quarantined again with its bytes kept.
 */
import { signedProof, startWorkflowTier, type WorkflowTier } from './support/tier';
import { BUCKETS } from './support/stub-world';
import type { QuarantineReason } from '../../domain/types';
import { act, approved } from '../harness/signed-actions';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('quarantine');
  tier.world.addRulePack('wf-1h', 'PT1H');
});
afterAll(() => tier?.stop());

const OPERATOR = ['operator'] as const;
/** Starts a recording and waits until it is quarantined and its entry is written. */
async function quarantined(options: Parameters<WorkflowTier['start']>[0]) {
  const rec = await tier.start(options);
  expect((await rec.settled()).state).toBe('quarantined');
  await rec.logged('recording.quarantined');
  return { rec, status: await rec.caughtUp() };
}

const cases: {
  reason: QuarantineReason;
  options: Parameters<WorkflowTier['start']>[0];
  message: RegExp;
  /** Whether ingest stored (and then removed) an evidence copy before it found the problem. */
  stored: boolean;
}[] = [
  { reason: 'empty-file', options: { size: 0 }, message: /zero bytes/, stored: false },
  {
    reason: 'manifest-malformed',
    options: { manifestProblem: 'manifest.json: Unexpected token } in JSON', manifestKey: 'dock/x.json' },
    message: /^manifest\.json: Unexpected token/,
    stored: false,
  },
  {
    reason: 'hash-mismatch',
    options: { declared: { sha256: 'F'.repeat(64) } },
    message: /^SHA-256 of the received bytes is [0-9a-f]{64}, but the manifest declared F{64}\.$/,
    stored: true,
  },
  {
    reason: 'not-media',
    options: {
      arrange: (id) => (tier.world.script(id).mediaProblem = { type: 'NotMedia', message: 'no moov' }),
    },
    message: /^no moov$/,
    stored: true,
  },
  {
    reason: 'unreadable',
    options: {
      arrange: (id) =>
        (tier.world.script(id).mediaProblem = { type: 'CorruptMedia', message: 'moov atom not found' }),
    },
    message: /^moov atom not found$/,
    stored: true,
  },
];

test.concurrent.each(cases)(
  '$reason: quarantined with the reason, the bytes moved to the quarantine store, nothing else kept',
  async ({ reason, options, message, stored }) => {
    const { rec, status } = await quarantined(options);
    expect(status.quarantine).toMatchObject({ reason, object: { bucket: BUCKETS.quarantine } });
    expect(status.quarantine!.message).toMatch(message);
    expect(status.original).toBeUndefined();
    // The deadline runs from receipt, quarantine or not (the overdue gauge counts it).
    expect(status.retention).toMatchObject({ pack: { id: 'wf-1h' }, holds: [], extensions: [] });
    expect(await rec.searchAttributes()).toEqual({ state: 'quarantined' });
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      ...(stored ? ['system:original.stored'] : []),
      'system:recording.quarantined',
    ]);
    expect(tier.world.log(rec.recordingId).at(-1)!.details).toEqual({
      reason,
      message: status.quarantine!.message,
      quarantineKey: status.quarantine!.object.key,
    });
    // Moved: in the quarantine store, not in the inbox; no evidence copy left behind.
    const held = status.quarantine!.object;
    expect(tier.world.versions({ bucket: held.bucket, key: held.key })).toHaveLength(1);
    expect(tier.world.versions({ bucket: BUCKETS.incoming, key: rec.source.key })).toEqual([]);
    expect(
      tier.world.versions({ bucket: BUCKETS.evidence, key: `recordings/${rec.recordingId}/original` }),
    ).toEqual([]);
    expect(tier.world.calls(rec.recordingId, 'storeOriginal')).toHaveLength(stored ? 1 : 0);
    const [quarantineCall] = tier.world.calls(rec.recordingId, 'quarantineRecording');
    expect(quarantineCall).toMatchObject({ reason, source: rec.source });
    expect(quarantineCall?.evidenceCopy !== undefined).toBe(stored);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'hash mismatch, released on an approved request to accept the received hash: ingested from the quarantined bytes',
  async () => {
    const { rec, status } = await quarantined({ declared: { sha256: 'f'.repeat(64) } });
    const held = status.quarantine!.object;
    const decided = await approved(
      rec.handle,
      { kind: 'quarantine.release', reason: 'dock firmware bug', params: { acceptReceivedHash: true } },
      { subject: 'admin-1', roles: OPERATOR },
      { subject: 'lead-1', roles: ['approver'] },
    );
    expect(decided.outcome).toEqual({ released: true, reason: 'hash-mismatch' });
    const retained = await rec.settled();
    expect(retained).toMatchObject({
      state: 'retained',
      reviewReady: true,
      sha256: tier.world.sha256OfSource(rec.source),
    });
    expect(retained.quarantine).toBeUndefined();
    // Ingest ran again on the exact quarantined version, without the declared hash it now knows to be wrong.
    const [, again] = tier.world.calls(rec.recordingId, 'storeOriginal');
    expect(again?.source).toEqual({
      bucket: held.bucket,
      key: held.key,
      etag: held.etag,
      size: held.size,
      versionId: held.versionId,
    });
    expect(again?.declaredSha256).toBeUndefined();
    expect(again?.firstTry).toBeUndefined();
    // Moved, not copied: the quarantined bytes are gone once the evidence copy is made.
    expect(tier.world.versions({ bucket: held.bucket, key: held.key })).toEqual([]);
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:original.stored',
      'system:recording.quarantined',
      'admin-1:request.created',
      'lead-1:request.approved',
      'admin-1:quarantine.released',
      'system:original.stored',
      'system:media.probed',
      'system:ingest.completed',
      'system:derivatives.stored',
    ]);
    expect(tier.world.log(rec.recordingId)[6]!.details).toEqual({
      reason: 'dock firmware bug',
      quarantineReason: 'hash-mismatch',
      acceptReceivedHash: true,
      quarantineKey: held.key,
      approvedBy: 'lead-1',
      requestId: decided.request.id,
    });
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'not media, released: fails again and is quarantined again, bytes kept; released once fixed, ingested',
  async () => {
    const { rec, status } = await quarantined({
      manifestKey: 'dock/clip.json',
      arrange: (id) => (tier.world.script(id).mediaProblem = { type: 'NotMedia', message: 'no moov' }),
    });
    const held = status.quarantine!.object;
    expect(tier.world.calls(rec.recordingId, 'storeOriginal')[0]?.manifestKey).toBe('dock/clip.json');
    expect(
      await act(
        rec.handle,
        'quarantine.release',
        { reason: 'probe upgraded' },
        { subject: 'admin-2', roles: OPERATOR },
      ),
    ).toEqual({ released: true, reason: 'not-media' });
    await rec.logged('recording.quarantined', 2);
    const again = await rec.caughtUp();
    expect(again).toMatchObject({
      state: 'quarantined',
      quarantine: { reason: 'not-media', object: { key: held.key } },
    });
    // The same bytes stay in quarantine, and nothing goes back into ingest without a new release.
    expect(tier.world.versions({ bucket: held.bucket, key: held.key })).toHaveLength(1);
    const calls = tier.world.calls(rec.recordingId, 'storeOriginal');
    expect(calls).toHaveLength(2);
    expect(calls[1]?.manifestKey).toBeUndefined();
    expect((await rec.settled()).state).toBe('quarantined');

    tier.world.script(rec.recordingId).mediaProblem = undefined;
    await act(
      rec.handle,
      'quarantine.release',
      { reason: 'probe upgraded, really' },
      { subject: 'admin-2', roles: OPERATOR },
    );
    expect(await rec.settled()).toMatchObject({ state: 'retained', reviewReady: true });
    expect(tier.world.versions({ bucket: held.bucket, key: held.key })).toEqual([]);
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:original.stored',
      'system:recording.quarantined',
      'admin-2:quarantine.released',
      'system:original.stored',
      'system:recording.quarantined',
      'admin-2:quarantine.released',
      'system:original.stored',
      'system:media.probed',
      'system:ingest.completed',
      'system:derivatives.stored',
    ]);
    // An operator releases alone what is not a hash mismatch; the entry carries the operator's assertion.
    expect(tier.world.log(rec.recordingId)[4]!.details).toEqual({
      reason: 'probe upgraded',
      quarantineReason: 'not-media',
      acceptReceivedHash: false,
      quarantineKey: held.key,
      ...signedProof(OPERATOR),
    });
    tier.expectSound(rec.recordingId);
  },
);

// Quarantine keeps the legal deadline: it runs from receipt, and a recording nobody releases is deleted on time
// with everything the quarantine store holds for it, and certified.
test.concurrent(
  'a quarantined recording nobody releases is deleted at its deadline, with a certificate',
  async () => {
    tier.world.addRulePack('wf-q-3s', 'PT3S');
    const { rec, status } = await quarantined({
      policy: 'wf-q-3s',
      declared: { recordedAt: new Date().toISOString() },
      arrange: (id) => (tier.world.script(id).mediaProblem = { type: 'NotMedia', message: 'no moov box' }),
    });
    const held = status.quarantine!.object;
    expect(tier.world.versions({ bucket: held.bucket, key: held.key })).toHaveLength(1);
    const deleted = await rec.result();
    expect(deleted.state).toBe('deleted');
    const certificate = tier.world.certificates.get(rec.recordingId)!;
    expect(certificate.cause).toBe('deadline');
    expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(Date.parse(certificate.deadline));
    expect(certificate.objects.map((o) => o.key).sort()).toEqual([
      held.key,
      `quarantine/${rec.recordingId}/reason.json`,
    ]);
    expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:original.stored',
      'system:recording.quarantined',
      'system:deletion.started',
      'system:recording.deleted',
      'system:certificate.written',
    ]);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'a hold keeps a quarantined recording past its deadline; released, it is deleted',
  async () => {
    tier.world.addRulePack('wf-q-2s', 'PT2S');
    const { rec } = await quarantined({
      policy: 'wf-q-2s',
      declared: { recordedAt: new Date().toISOString() },
      size: 0,
    });
    await act(rec.handle, 'hold.place', { caseId: 'AZ-7', reason: 'complaint about the recording' }, 'inv-1');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await rec.status()).state).toBe('quarantined');
    await approved(
      rec.handle,
      { kind: 'hold.release', reason: 'complaint withdrawn', params: {} },
      'inv-1',
      'lead-1',
    );
    expect((await rec.result()).state).toBe('deleted');
    expect(tier.world.certificates.get(rec.recordingId)!.cause).toBe('deadline');
    expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
    tier.expectSound(rec.recordingId);
  },
);
