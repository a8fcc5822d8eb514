/**
 * The deadline loop on the dev server's real clock, with second-long rule packs: deletion after the deadline
 * with a certificate; holds keep a recording past it until a release one person asks for and another approves;
 * extensions move it later; an approved policy change re-arms it (a shorter one deletes sooner, cause `policy`);
 * an approved early deletion; evidence locks. People act through signed assertions (test/harness/signed-actions.ts).
 */
import { signedProof, startWorkflowTier, type Recording, type WorkflowTier } from './support/tier';
import type { Gate } from './support/stub-world';
import { verifyCertificate } from '../../activities/certificate';
import { REQUEST_LIFETIME_MS } from '../../domain/requests';
import type * as messages from '../../workflows/messages';
import { act, approved, TEST_ISSUER } from '../harness/signed-actions';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('retention');
  tier.world.addRulePack('wf-1h', 'PT1H');
  tier.world.addRulePack('wf-2s', 'PT2S');
  tier.world.addRulePack('wf-3s', 'PT3S');
});
afterAll(() => tier?.stop());

const sleepUntil = (instant: string, extraMs = 0) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(instant) + extraMs - Date.now())));
const recordedNow = () => ({ recordedAt: new Date().toISOString() });
/** A recording whose transcode waits at a gate: Updates land while it transcodes, before any short deadline. */
async function startTranscoding(policy: string): Promise<{ rec: Recording; transcode: Gate }> {
  let transcode!: Gate;
  const rec = await tier.start({
    policy,
    declared: recordedNow(),
    arrange: (id) => (transcode = tier.world.gate(id, 'transcodeRecording')),
  });
  await transcode.entered;
  return { rec, transcode };
}
/** A rule pack in the worker's policy store (the stub's); a request names it by id and fingerprint. */
const packRef = (id: string, retention: string, version = 1) =>
  tier.world.addRulePack(id, retention, { version });
/** A policy change as four-eyes: the records administrator asks, the approver approves; the change's result. */
async function applyPolicy(
  rec: Recording,
  pack: { id: string; fingerprint: string },
  reason = 'new statute',
) {
  const decided = await approved(
    rec.handle,
    { kind: 'policy.apply', reason, params: { packId: pack.id, fingerprint: pack.fingerprint } },
    'dpo-1',
    'approver-2',
  );
  return decided.outcome as unknown as messages.ApplyPolicyResult;
}
type Extended = { deleteAfter: string; previous: string };
const DELETION = ['system:deletion.started', 'system:recording.deleted', 'system:certificate.written'];

/** The certificate the stub store holds: sealed, and naming exactly the log entry before its own. */
function certificateOf(rec: Recording) {
  const certificate = tier.world.certificates.get(rec.recordingId)!;
  expect(verifyCertificate(certificate)).toMatchObject({ ok: true });
  const log = tier.world.log(rec.recordingId);
  expect(log.at(-1)).toMatchObject({
    action: 'certificate.written',
    details: { certificateHash: certificate.certificateHash },
  });
  expect(certificate.custodyLog).toEqual({ headSeq: log.at(-2)!.seq, headHash: log.at(-2)!.hash });
  return certificate;
}

// The slow ones first: at most five tests of a file run at once.
test.concurrent('evidence: deletion at the deadline waits until the WORM lock has expired', async () => {
  const { rec, transcode } = await startTranscoding('wf-2s');
  const marked = (await act(rec.handle, 'evidence.mark', { caseId: 'AZ-5' }, 'custodian-3')) as {
    lockedUntil: string;
  };
  transcode.open();
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  const certificate = certificateOf(rec);
  // Evidence does not keep a recording past its deadline; the lock only delays the deletion until it expires
  // (plus the workflow's 5 s margin for clock skew), and nothing locked was deleted.
  expect(certificate.cause).toBe('deadline');
  expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(Date.parse(marked.lockedUntil) + 5_000);
  expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
  tier.expectSound(rec.recordingId);
});

test.concurrent('an extension moves the deletion later: for a duration, or until an instant', async () => {
  const { rec, transcode } = await startTranscoding('wf-2s');
  const deadline = (await rec.status()).retention!.deleteAfter;
  const byDuration = (await act(
    rec.handle,
    'retention.extend',
    { for: 'PT2S', reason: 'complaint expected' },
    'u1',
  )) as Extended;
  expect(byDuration).toEqual({
    previous: deadline,
    deleteAfter: new Date(Date.parse(deadline) + 2_000).toISOString(),
  });
  const until = new Date(Date.parse(deadline) + 4_000).toISOString();
  const byInstant = await act(
    rec.handle,
    'retention.extend',
    { until, reason: 'court date', caseId: 'AZ-8' },
    'u2',
  );
  expect(byInstant).toEqual({ previous: byDuration.deleteAfter, deleteAfter: until });
  transcode.open();
  const deleted = await rec.result();
  expect(deleted.retention).toMatchObject({
    deleteAfter: until,
    deadline: { deleteAfter: deadline },
    extensions: [
      { until: byDuration.deleteAfter, reason: 'complaint expected', by: 'u1' },
      { until, reason: 'court date', by: 'u2', caseId: 'AZ-8' },
    ],
  });
  const certificate = certificateOf(rec);
  expect(certificate).toMatchObject({ cause: 'deadline', deadline: until });
  expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(Date.parse(until));
  const extended = tier.world.log(rec.recordingId).filter((e) => e.action === 'deadline.extended');
  expect(extended.map((e) => [e.actor, e.details])).toEqual([
    [
      'u1',
      {
        previous: deadline,
        deleteAfter: byDuration.deleteAfter,
        reason: 'complaint expected',
        caseId: null,
        ...signedProof(),
      },
    ],
    [
      'u2',
      {
        previous: byDuration.deleteAfter,
        deleteAfter: until,
        reason: 'court date',
        caseId: 'AZ-8',
        ...signedProof(),
      },
    ],
  ]);
  tier.expectSound(rec.recordingId);
});

test.concurrent(
  'holds keep it past the deadline; released on a request a second person approves',
  async () => {
    const { rec, transcode } = await startTranscoding('wf-2s');
    const investigator = (subject: string) => ({ subject, roles: ['investigator'] as const });
    expect(
      await act(
        rec.handle,
        'hold.place',
        { caseId: 'AZ-1', reason: 'complaint filed' },
        investigator('supervisor-1'),
      ),
    ).toEqual({ holdId: 'hold-1', activeHolds: 1 });
    expect(
      await act(
        rec.handle,
        'hold.place',
        { caseId: 'AZ-2', reason: 'second complaint' },
        investigator('supervisor-2'),
      ),
    ).toEqual({ holdId: 'hold-2', activeHolds: 2 });
    transcode.open();
    const held = await rec.settled();
    expect(held).toMatchObject({ state: 'held', reviewReady: true });
    await sleepUntil(held.retention!.deleteAfter, 1_500);
    expect((await rec.status()).state).toBe('held');
    expect(await rec.searchAttributes()).toEqual({ state: 'held' });
    expect(tier.world.calls(rec.recordingId, 'deleteAndCertify')).toEqual([]);

    const approver = { subject: 'dpo-2', roles: ['approver'] as const };
    const first = await approved(
      rec.handle,
      { kind: 'hold.release', reason: 'complaint withdrawn', params: { holdId: 'hold-1' } },
      investigator('supervisor-1'),
      approver,
    );
    expect(first).toEqual({
      request: expect.objectContaining({
        kind: 'hold.release',
        state: 'approved',
        requestedBy: { issuer: TEST_ISSUER, subject: 'supervisor-1', roles: ['investigator'] },
        decidedBy: { issuer: TEST_ISSUER, subject: 'dpo-2', roles: ['approver'] },
      }) as object,
      outcome: { released: ['hold-1'], deleteAfter: held.retention!.deleteAfter },
    });
    expect(Date.parse(first.request.expiresAt) - Date.parse(first.request.requestedAt)).toBe(
      REQUEST_LIFETIME_MS,
    );
    expect((await rec.caughtUp()).state).toBe('held'); // hold-2 still keeps it
    const releasedAt = Date.now();
    const second = await approved(
      rec.handle,
      { kind: 'hold.release', reason: 'second complaint withdrawn', params: {} },
      investigator('supervisor-2'),
      approver,
    );
    expect(second.outcome).toMatchObject({ released: ['hold-2'] });
    const deleted = await rec.result();
    expect(deleted.retention?.holds).toEqual([
      expect.objectContaining({
        id: 'hold-1',
        caseId: 'AZ-1',
        by: 'supervisor-1',
        releasedBy: 'supervisor-1',
        approvedBy: 'dpo-2',
      }),
      expect.objectContaining({
        id: 'hold-2',
        caseId: 'AZ-2',
        by: 'supervisor-2',
        releasedBy: 'supervisor-2',
        approvedBy: 'dpo-2',
      }),
    ]);
    const certificate = certificateOf(rec);
    expect(certificate.cause).toBe('deadline');
    expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(releasedAt - 1_000);
    expect(rec.actions().filter((a) => /hold\.|request\./.test(a))).toEqual([
      'supervisor-1:hold.placed',
      'supervisor-2:hold.placed',
      'supervisor-1:request.created',
      'dpo-2:request.approved',
      'supervisor-1:hold.released',
      'supervisor-2:request.created',
      'dpo-2:request.approved',
      'supervisor-2:hold.released',
    ]);
    const entries = (action: string) =>
      tier.world
        .log(rec.recordingId)
        .filter((e) => e.action === action)
        .map((e) => e.details);
    expect(entries('request.created')[0]).toEqual({
      requestId: first.request.id,
      kind: 'hold.release',
      params: { holdId: 'hold-1' },
      reason: 'complaint withdrawn',
      expiresAt: first.request.expiresAt,
      ...signedProof(['investigator']),
    });
    expect(entries('request.approved')[0]).toEqual({
      requestId: first.request.id,
      kind: 'hold.release',
      requestedBy: 'supervisor-1',
      reason: 'approved: complaint withdrawn',
      ...signedProof(['approver']),
    });
    // The release names both people: the requester as its actor, the approver beside.
    expect(entries('hold.released')).toEqual([
      {
        holdIds: ['hold-1'],
        approvedBy: 'dpo-2',
        reason: 'complaint withdrawn',
        requestId: first.request.id,
      },
      {
        holdIds: ['hold-2'],
        approvedBy: 'dpo-2',
        reason: 'second complaint withdrawn',
        requestId: second.request.id,
      },
    ]);
    expect(rec.actions().slice(-3)).toEqual(DELETION);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'a policy change re-arms the deadline: longer, unchanged, then shorter — deleted sooner, cause policy',
  async () => {
    const rec = await tier.start({ declared: recordedNow() });
    const retained = await rec.settled();
    const basis = Date.parse(retained.retention!.deadline.basisTime);
    const apply = (retention: string, id: string, version = 1) =>
      applyPolicy(rec, packRef(id, retention, version));
    expect(await apply('PT2H', 'wf-2h')).toEqual({
      previous: { pack: 'wf-1h', deleteAfter: retained.retention!.deleteAfter },
      next: { pack: 'wf-2h', deleteAfter: new Date(basis + 7_200_000).toISOString() },
      change: 'lengthened',
    });
    expect((await apply('PT2H', 'wf-2h', 2)).change).toBe('unchanged');
    const shortened = await apply('PT4S', 'wf-4s');
    expect(shortened).toMatchObject({
      change: 'shortened',
      next: { deleteAfter: new Date(basis + 4_000).toISOString() },
    });
    const deleted = await rec.result();
    expect(deleted).toMatchObject({
      state: 'deleted',
      policy: 'wf-4s',
      retention: { pack: { id: 'wf-4s' } },
    });
    const certificate = certificateOf(rec);
    expect(certificate).toMatchObject({
      cause: 'policy',
      rulePack: { id: 'wf-4s', version: 1, fingerprint: packRef('wf-4s', 'PT4S').fingerprint },
      deadline: shortened.next.deleteAfter,
      requestedBy: 'dpo-1',
      approvals: [{ actor: 'approver-2', reason: 'new statute' }],
    });
    expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(basis + 4_000);
    const applied = tier.world.log(rec.recordingId).filter((e) => e.action === 'policy.applied');
    expect(applied.map((e) => [e.actor, e.details.change, e.details.approvedBy])).toEqual([
      ['dpo-1', 'lengthened', 'approver-2'],
      ['dpo-1', 'unchanged', 'approver-2'],
      ['dpo-1', 'shortened', 'approver-2'],
    ]);
    expect(rec.actions().filter((a) => /request\./.test(a))).toEqual(
      Array(3).fill(['dpo-1:request.created', 'approver-2:request.approved']).flat(),
    );
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent('deleted after its deadline with a certificate of exactly what was stored', async () => {
  const rec = await tier.start({ policy: 'wf-3s', declared: { ...recordedNow(), deviceId: 'cam-2' } });
  const retained = await rec.settled();
  const stored = tier.world.versions({ recordingId: rec.recordingId });
  expect(stored).toHaveLength(5); // original, proxy, sprite, poster, derivatives.json
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  expect(deleted.original).toBeUndefined();
  const certificate = certificateOf(rec);
  expect(certificate).toMatchObject({
    recordingId: rec.recordingId,
    originalSha256: retained.sha256,
    rulePack: { id: 'wf-3s', version: 1, fingerprint: tier.world.rulePacks.get('wf-3s')!.fingerprint },
    deadline: retained.retention!.deleteAfter,
    cause: 'deadline',
    requestedBy: 'system',
    approvals: [],
  });
  expect(deleted.certificate?.certificateHash).toBe(certificate.certificateHash);
  const lateMs = Date.parse(certificate.deletedAt) - Date.parse(certificate.deadline);
  expect(lateMs).toBeGreaterThanOrEqual(0);
  expect(lateMs).toBeLessThan(5_000);
  expect(certificate.objects.map((o) => `${o.key}@${o.versionId}`).sort()).toEqual(
    stored.map((o) => `${o.key}@${o.versionId}`).sort(),
  );
  expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
  expect(rec.actions()).toEqual([
    'system:recording.received',
    'system:deadline.set',
    'system:original.stored',
    'system:media.probed',
    'system:ingest.completed',
    'system:derivatives.stored',
    ...DELETION,
  ]);
  const started = tier.world.log(rec.recordingId).at(-3)!;
  expect(started.details).toMatchObject({ cause: 'deadline', deleteAfter: retained.retention!.deleteAfter });
  expect(started.details.overdueMs).toBeGreaterThanOrEqual(0);
  expect(deleted.custodyLogHead).toEqual({ seq: 8, hash: tier.world.log(rec.recordingId).at(-1)!.hash });
  tier.expectSound(rec.recordingId);
});

test.concurrent(
  'a transcode still running at the deadline is cancelled; deletion waits until it has stopped',
  async () => {
    const { rec, transcode } = await startTranscoding('wf-2s');
    const deleted = await rec.result();
    expect(deleted).toMatchObject({ state: 'deleted', reviewReady: false });
    expect(transcode.cancelled).toBe(true);
    expect(rec.actions().slice(-4)).toEqual(['system:ingest.completed', ...DELETION]);
    expect(certificateOf(rec).cause).toBe('deadline');
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent('a shortened deadline already past deletes at once', async () => {
  const recordedAt = new Date(Date.now() - 60_000).toISOString();
  const rec = await tier.start({ declared: { recordedAt } });
  await rec.settled();
  const appliedAt = Date.now();
  await applyPolicy(rec, packRef('wf-10s', 'PT10S'));
  await rec.result();
  const certificate = certificateOf(rec);
  expect(certificate).toMatchObject({
    cause: 'policy',
    deadline: new Date(Date.parse(recordedAt) + 10_000).toISOString(),
  });
  expect(Date.parse(certificate.deletedAt) - appliedAt).toBeLessThan(5_000);
  tier.expectSound(rec.recordingId);
});

// Found by this tier: applyPolicy compared the new deadline with the pack's deadline before extensions, not with
// the deadline in force, so with an extension in force it answered `lengthened` for the same instant.
test.concurrent(
  'an extension outlives a shorter policy: the deadline stays the extension, unchanged',
  async () => {
    const rec = await tier.start({ declared: recordedNow() });
    const retained = await rec.settled();
    const until = new Date(Date.parse(retained.retention!.deleteAfter) + 3_600_000).toISOString();
    await act(rec.handle, 'retention.extend', { until, reason: 'trial' }, 'u1');
    const applied = await applyPolicy(rec, packRef('wf-10s', 'PT10S'));
    expect(applied).toMatchObject({
      previous: { deleteAfter: until },
      next: { pack: 'wf-10s', deleteAfter: until },
      change: 'unchanged',
    });
    expect((await rec.caughtUp()).retention).toMatchObject({ deleteAfter: until, pack: { id: 'wf-10s' } });
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent('early deletion: requested, approved by another; the certificate names both', async () => {
  const rec = await tier.start();
  await rec.settled();
  const decided = await approved(
    rec.handle,
    { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
    { subject: 'u1', roles: ['records-admin'] },
    { subject: 'u2', roles: ['approver'] },
  );
  expect(decided).toMatchObject({ request: { state: 'approved' }, outcome: { accepted: true } });
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  const certificate = certificateOf(rec);
  expect(certificate).toMatchObject({
    cause: 'early',
    requestedBy: 'u1',
  });
  expect(certificate.approvals).toEqual([
    { actor: 'u2', reason: 'recorded by mistake', at: tier.world.log(rec.recordingId).at(-4)!.time },
  ]);
  expect(rec.actions().slice(-6)).toEqual([
    'u1:request.created',
    'u2:request.approved',
    'u1:deletion.early-approved',
    'u1:deletion.started',
    'system:recording.deleted',
    'system:certificate.written',
  ]);
  expect(tier.world.log(rec.recordingId).at(-4)!.details).toEqual({
    reason: 'recorded by mistake',
    approvedBy: 'u2',
    requestId: decided.request.id,
  });
  expect(tier.world.log(rec.recordingId).at(-3)!.details).toMatchObject({ cause: 'early', overdueMs: 0 });
  tier.expectSound(rec.recordingId);
});

test.concurrent(
  'marking evidence locks the original, then the derivatives, and every extension raises the lock',
  async () => {
    const { rec, transcode } = await startTranscoding('wf-1h');
    const deadline = (await rec.status()).retention!.deleteAfter;
    const marked = await act(
      rec.handle,
      'evidence.mark',
      { caseId: 'AZ-9', reason: 'change of purpose: investigation' },
      'custodian-3',
    );
    expect(marked).toEqual({ lockedUntil: deadline, objects: 1 });
    transcode.open();
    await rec.settled();
    const extended = (await act(
      rec.handle,
      'retention.extend',
      { for: 'P1D', reason: 'trial' },
      'custodian-3',
    )) as Extended;
    const locks = tier.world.calls(rec.recordingId, 'lockEvidence');
    expect(locks.map((l) => [l.objects.length, l.retainUntil])).toEqual([
      [1, deadline], // while transcoding: the original
      [4, deadline], // the derivatives as soon as they exist
      [4, extended.deleteAfter],
    ]);
    const status = await rec.caughtUp();
    expect(status.retention?.evidence).toMatchObject({
      caseId: 'AZ-9',
      by: 'custodian-3',
      lockedUntil: extended.deleteAfter,
    });
    const stored = tier.world
      .versions({ recordingId: rec.recordingId })
      .filter((v) => !v.key.endsWith('.json'));
    expect(stored.map((v) => v.retainUntil)).toEqual(stored.map(() => extended.deleteAfter));
    expect(rec.actions().slice(5)).toEqual([
      'custodian-3:evidence.marked',
      'system:evidence.locked',
      'system:derivatives.stored',
      'system:evidence.locked',
      'custodian-3:deadline.extended',
      'system:evidence.locked',
    ]);
    tier.expectSound(rec.recordingId);
  },
);
