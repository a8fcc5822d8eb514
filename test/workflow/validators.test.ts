/**
 * Every reject branch of every Update validator: each rejection returns its reason and leaves no trace — no
 * custody-log entry, the status unchanged, no event in the workflow's history (beyond a workflow task the server
 * may record at any time). A person's action arrives as the custody API's signed assertion: the validators check
 * the assertion (signature, key, recording, action, lifetime, once only), the person (roles, units), then the
 * action; what needs a second person is a request that another approver decides.
 */
import { generateKeyPairSync } from 'node:crypto';
import { WorkflowUpdateStage } from '@temporalio/client';
import { createAssertionSigner } from '../../api/assertions';
import {
  decodeActionAssertion,
  encodeSegment,
  type ActionParams,
  type AssertedAction,
  type RequestCreation,
} from '../../domain/assertion';
import { SOLE_EXTENSION_LIMIT, type FourEyesRequest } from '../../domain/requests';
import type { RulePackRef } from '../../domain/types';
import * as messages from '../../workflows/messages';
import { act, sendSigned, signedAction, testSigningKey, type TestPerson } from '../harness/signed-actions';
import { updateRejection } from '../harness/updates';
import { startWorkflowTier, type Recording, type WorkflowTier } from './support/tier';

let tier: WorkflowTier;
let retained: Recording;
let deciding: Recording;
let parked: Recording;
let hashMismatch: Recording;
let emptyFile: Recording;
let withoutEtag: Recording;
let notMedia: Recording;
let shortPack: RulePackRef;

const UNIT = 'station-a';
const OFFICER_ID = 'officer-7';

beforeAll(async () => {
  tier = await startWorkflowTier('validators');
  tier.world.addRulePack('wf-1h', 'PT1H');
  shortPack = tier.world.addRulePack('wf-10s', 'PT10S');
  const notMediaScript = (id: string) =>
    (tier.world.script(id).mediaProblem = { type: 'NotMedia', message: 'no moov box' });
  const all = await Promise.all([
    tier.start({ declared: { unit: UNIT } }),
    // Recorded by officer-7 of station-a: the recording officer rule applies to it.
    tier.start({ declared: { unit: UNIT, officerId: OFFICER_ID } }),
    // A pack this deployment does not have: parked before its deadline could be set.
    tier.start({ policy: 'wf-no-such-pack' }),
    tier.start({ declared: { sha256: 'f'.repeat(64) } }),
    tier.start({ size: 0 }),
    tier.start({
      arrange: (id) => {
        notMediaScript(id);
        tier.world.script(id).quarantineWithoutEtag = true;
      },
    }),
    tier.start({ arrange: notMediaScript }),
  ]);
  [retained, deciding, parked, hashMismatch, emptyFile, withoutEtag, notMedia] = all;
  const settled = await Promise.all(all.map((r) => r.settled()));
  // A state changes before its log entry lands: wait until the workflow knows its last entry, so "no trace"
  // compares a recording at rest.
  await Promise.all([
    parked.logged('stage.failed'),
    ...[hashMismatch, emptyFile, withoutEtag, notMedia].map((r) => r.logged('recording.quarantined')),
  ]);
  await Promise.all(all.map((r) => r.caughtUp()));
  expect(settled.map((s) => s.state)).toEqual([
    'retained',
    'retained',
    'needs-attention',
    'quarantined',
    'quarantined',
    'quarantined',
    'quarantined',
  ]);
});
afterAll(() => tier?.stop());

/** Sends an Update that must be rejected with `reason`, and checks that it changed nothing at all. */
async function expectRejected(
  rec: Recording,
  send: (rec: Recording) => Promise<unknown>,
  reason: string | RegExp,
) {
  const before = { status: await rec.status(), log: rec.actions(), history: await rec.historyDecisions() };
  const rejection = await updateRejection(send(rec));
  if (typeof reason === 'string') expect(rejection).toBe(reason);
  else expect(rejection).toMatch(reason);
  expect(await rec.status()).toEqual(before.status);
  expect(rec.actions()).toEqual(before.log);
  expect(await rec.historyDecisions()).toEqual(before.history);
}

// The people of these tests. A bare subject ('u1') has every role and every unit.
const viewer: TestPerson = { subject: 'viewer-1', roles: ['viewer'] };
const investigator: TestPerson = { subject: 'inv-1', roles: ['investigator'], units: [UNIT] };
const otherStation: TestPerson = { subject: 'inv-9', roles: ['investigator'], units: ['station-b'] };
const recordsAdmin: TestPerson = { subject: 'records-1', roles: ['records-admin', 'approver'] };
const approver: TestPerson = { subject: 'approver-1', roles: ['approver'] };
const secondApprover: TestPerson = { subject: 'approver-2', roles: ['approver'] };
const recordingOfficer: TestPerson = {
  subject: 'officer-a',
  roles: ['records-admin', 'approver'],
  officerId: OFFICER_ID,
};

/** A signed action, sent as the custody API would. */
const action =
  <A extends AssertedAction>(name: A, params: ActionParams[A], by: TestPerson | string = 'u1') =>
  (rec: Recording) =>
    act(rec.handle, name, params, by);
const request = (creation: RequestCreation, by: TestPerson | string = 'u1') =>
  action('request.create', creation, by);
const decide = (
  requestId: string,
  decision: 'approve' | 'reject',
  by: TestPerson | string,
  reason = `${decision}d`,
) => action('request.decide', { requestId, decision, reason }, by);
/** An Update as tools before signed assertions sent it: people named by the caller. */
const unsigned = (update: { name: string }, request: object) => (rec: Recording) =>
  rec.handle.executeUpdate(update.name, { args: [request] });

const unsignedRefusal = (name: AssertedAction) =>
  `a person's action reaches a recording only through the custody API, signed by it: this ${name} names its ` +
  'people itself (the --by of older tools), which is no longer accepted';
const nowARequest = (what: string) =>
  `${what} needs a second person: it is a four-eyes request now (POST /v1/recordings/{id}/requests, or ` +
  '`custody request`), which an approver decides';

/** Actions that need a deadline, each signed by someone allowed to and passing every other check. */
const needingRetention = () => [
  action('hold.place', { caseId: 'AZ-1', reason: 'complaint' }),
  action('retention.extend', { for: 'P1D', reason: 'trial' }),
  action('evidence.mark', { caseId: 'AZ-1' }),
  request({ kind: 'hold.release', reason: 'case closed', params: {} }),
  request({ kind: 'deletion.early', reason: 'irrelevant', params: {} }),
  request({ kind: 'retention.extend', reason: 'trial', params: { for: 'P200D' } }),
  request({
    kind: 'policy.apply',
    reason: 'new statute',
    params: { packId: shortPack.id, fingerprint: shortPack.fingerprint },
  }),
];

describe('the signed assertion', () => {
  test('an Update naming its people itself, as older tools sent it, is refused by every validator', async () => {
    await expectRejected(
      retained,
      unsigned(messages.holdUpdate, { caseId: 'AZ-1', reason: 'complaint', by: 'u1' }),
      unsignedRefusal('hold.place'),
    );
    await expectRejected(
      retained,
      unsigned(messages.extendUpdate, { for: 'P1D', reason: 'trial', by: 'u1' }),
      unsignedRefusal('retention.extend'),
    );
    await expectRejected(
      retained,
      unsigned(messages.markEvidenceUpdate, { caseId: 'AZ-1', by: 'u1' }),
      unsignedRefusal('evidence.mark'),
    );
    await expectRejected(
      parked,
      unsigned(messages.replayUpdate, { by: 'admin-1', reason: 'fixed' }),
      unsignedRefusal('recording.replay'),
    );
    await expectRejected(
      notMedia,
      unsigned(messages.releaseQuarantineUpdate, { by: 'admin-1', reason: 'probe upgraded' }),
      unsignedRefusal('quarantine.release'),
    );
    await expectRejected(
      retained,
      unsigned(messages.createRequestUpdate, { kind: 'deletion.early', reason: 'x', by: 'u1' }),
      unsignedRefusal('request.create'),
    );
    await expectRejected(
      retained,
      unsigned(messages.recordAdministrativeNoteUpdate, { action: 'reset', reason: 'x', by: 'u1' }),
      unsignedRefusal('admin.note'),
    );
    await expectRejected(
      retained,
      unsigned(messages.decideRequestUpdate, { requestId: 'r-1', decision: 'approve', by: 'u2' }),
      unsignedRefusal('request.decide'),
    );
    await expectRejected(
      retained,
      unsigned(messages.cancelRequestUpdate, { requestId: 'r-1', by: 'u1' }),
      unsignedRefusal('request.cancel'),
    );
    // The single-Update forms of four-eyes actions are gone, whoever is named in them.
    await expectRejected(
      retained,
      unsigned(messages.releaseUpdate, { by: 'u1', approvedBy: 'u2' }),
      nowARequest('a hold release'),
    );
    await expectRejected(
      retained,
      unsigned(messages.deleteEarlyUpdate, { reason: 'irrelevant', by: 'u1', approvedBy: 'u2' }),
      nowARequest('an early deletion'),
    );
    await expectRejected(
      retained,
      unsigned(messages.applyPolicyUpdate, { pack: shortPack, by: 'dpo-1' }),
      nowARequest('a policy change'),
    );
  });

  test('made for another recording, or for another action: refused', async () => {
    const params = { caseId: 'AZ-1', reason: 'complaint' };
    const forParked = await signedAction(parked.recordingId, 'hold.place', params, 'u1');
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', forParked),
      `the action assertion is for recording ${parked.recordingId}, not ${retained.recordingId}`,
    );
    const aHold = await signedAction(retained.recordingId, 'hold.place', params, 'u1');
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'evidence.mark', aHold),
      'the action assertion is for hold.place, not evidence.mark',
    );
  });

  test('expired, or issued in the future: refused', async () => {
    const params = { caseId: 'AZ-1', reason: 'complaint' };
    // The API's own key, on a clock ten minutes off: far beyond the assertion's life and the tolerated skew.
    const signedAt = (offsetMs: number) =>
      signedAction(
        retained.recordingId,
        'hold.place',
        params,
        'u1',
        createAssertionSigner(testSigningKey(), () => new Date(Date.now() + offsetMs)),
      );
    const old = await signedAt(-600_000);
    const expiredAt = new Date(decodeActionAssertion(old.assertion).exp * 1000).toISOString();
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', old),
      `the action assertion expired at ${expiredAt}`,
    );
    const early = await signedAt(600_000);
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', early),
      'the action assertion was issued in the future',
    );
  });

  test('signed by a key the worker does not trust, or tampered with: refused', async () => {
    const params = { caseId: 'AZ-1', reason: 'complaint' };
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await signedAction(
      retained.recordingId,
      'hold.place',
      params,
      'u1',
      createAssertionSigner({ kid: 'forger-1', key: privateKey }),
    );
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', forged),
      'signed by key forger-1, which this worker does not trust',
    );
    // Another key under the trusted key's id: the signature gives it away.
    const underTrustedKid = await signedAction(
      retained.recordingId,
      'hold.place',
      params,
      'u1',
      createAssertionSigner({ kid: testSigningKey().kid, key: privateKey }),
    );
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', underTrustedKid),
      'the action assertion’s signature does not verify',
    );
    // A viewer's genuine assertion with its roles raised to investigator.
    const genuine = await signedAction(retained.recordingId, 'hold.place', params, viewer);
    const [header, , signature] = genuine.assertion.split('.');
    const raised = encodeSegment({ ...decodeActionAssertion(genuine.assertion), roles: ['investigator'] });
    await expectRejected(
      retained,
      (rec) => sendSigned(rec.handle, 'hold.place', { assertion: `${header}.${raised}.${signature}` }),
      'the action assertion’s signature does not verify',
    );
  });

  test('an assertion acts once: the same one sent again is refused', async () => {
    const rec = await tier.start({ declared: { unit: UNIT } });
    await rec.settled();
    const hold = await signedAction(
      rec.recordingId,
      'hold.place',
      { caseId: 'AZ-3', reason: 'x' },
      investigator,
    );
    expect(await sendSigned(rec.handle, 'hold.place', hold)).toEqual({ holdId: 'hold-1', activeHolds: 1 });
    await rec.caughtUp();
    await expectRejected(
      rec,
      (r) => sendSigned(r.handle, 'hold.place', hold),
      `action assertion ${decodeActionAssertion(hold.assertion).jti} was used already: an assertion acts once`,
    );
    expect(rec.actions().filter((a) => a.endsWith('hold.placed'))).toEqual(['inv-1:hold.placed']);
    tier.expectSound(rec.recordingId);
  });

  test('roles without the permission, or a unit that is not the recording’s: refused', async () => {
    const id = retained.recordingId;
    await expectRejected(
      retained,
      action('hold.place', { caseId: 'AZ-1', reason: 'complaint' }, viewer),
      'viewer-1 may not hold.place: it needs the permission hold.place, which roles viewer do not grant',
    );
    await expectRejected(
      retained,
      action('evidence.mark', { caseId: 'AZ-1' }, { subject: 'nobody-1', roles: [] }),
      'nobody-1 may not evidence.mark: it needs the permission evidence.mark, which roles (none) do not grant',
    );
    await expectRejected(
      retained,
      action('admin.note', { action: 'reset', reason: 'x', details: {} }, investigator),
      'inv-1 may not admin.note: it needs the permission recording.reset, which roles investigator do not grant',
    );
    await expectRejected(
      retained,
      action('hold.place', { caseId: 'AZ-1', reason: 'complaint' }, otherStation),
      `recording ${id} is not among the recordings of inv-9's units`,
    );
    // A recording without a unit is visible to people of every unit only.
    await expectRejected(
      parked,
      action(
        'recording.replay',
        { reason: 'fixed' },
        { subject: 'op-1', roles: ['operator'], units: [UNIT] },
      ),
      `recording ${parked.recordingId} is not among the recordings of op-1's units`,
    );
  });
});

describe('a retained recording: each action’s own checks', () => {
  test('replay: only a parked stage', async () => {
    await expectRejected(
      retained,
      action('recording.replay', { reason: 'fixed' }),
      `recording ${retained.recordingId} is retained, not needs-attention: nothing to replay`,
    );
  });

  test('hold: a case and a reason', async () => {
    await expectRejected(
      retained,
      action('hold.place', { caseId: ' ', reason: 'complaint' }),
      'a hold needs a case number',
    );
    await expectRejected(
      retained,
      action('hold.place', { caseId: 'AZ-1', reason: '' }),
      'a hold needs a reason',
    );
  });

  test('release: a request, and a hold to release', async () => {
    await expectRejected(
      retained,
      request({ kind: 'hold.release', reason: 'case closed', params: {} }),
      `recording ${retained.recordingId} has no active hold`,
    );
    await expectRejected(
      retained,
      request({ kind: 'hold.release', reason: 'case closed', params: { holdId: 'hold-7' } }),
      'no active hold hold-7',
    );
  });

  test('extend: a reason, a valid and later deadline, at most P90D past the statute alone', async () => {
    const { deleteAfter: deadline, deadline: set } = (await retained.status()).retention!;
    const earlier = new Date(Date.parse(deadline) - 60_000).toISOString();
    const extend = (params: ActionParams['retention.extend']) => action('retention.extend', params);
    await expectRejected(retained, extend({ for: 'P1D', reason: ' ' }), 'an extension needs a reason');
    await expectRejected(
      retained,
      extend({ until: earlier, reason: 'trial' }),
      `an extension may only lengthen: ${earlier} is not after the current deadline ${deadline}`,
    );
    await expectRejected(
      retained,
      extend({ until: deadline, reason: 'trial' }),
      `an extension may only lengthen: ${deadline} is not after the current deadline ${deadline}`,
    );
    await expectRejected(
      retained,
      extend({ for: '1 day', reason: 'trial' }),
      /^invalid duration "1 day": a duration starts with P/,
    );
    await expectRejected(
      retained,
      extend({ until: 'next monday', reason: 'trial' }),
      /^invalid instant "next monday"/,
    );
    const statutory = set.statutoryDeadline;
    const beyond = new Date(Date.parse(statutory) + 91 * 86_400_000).toISOString();
    await expectRejected(
      retained,
      extend({ until: beyond, reason: 'trial' }),
      `${beyond} is more than ${SOLE_EXTENSION_LIMIT} past the statutory deadline ${statutory}: an extension ` +
        'that far needs a second person — make it a request (kind retention.extend)',
    );
    // And the other way round: no request for what a records administrator may do alone.
    const within = new Date(Date.parse(statutory) + 89 * 86_400_000).toISOString();
    await expectRejected(
      retained,
      request({ kind: 'retention.extend', reason: 'trial', params: { until: within } }),
      `an extension to ${within} is within ${SOLE_EXTENSION_LIMIT} of the statutory deadline ${statutory}: a ` +
        'records administrator extends it alone, no request needed',
    );
  });

  test('markEvidence, policy and quarantine requests, releaseQuarantine: their own checks', async () => {
    const id = retained.recordingId;
    await expectRejected(
      retained,
      action('evidence.mark', { caseId: '' }),
      'marking evidence needs a case number',
    );
    await expectRejected(
      retained,
      request({
        kind: 'policy.apply',
        reason: 'new statute',
        params: { packId: '../wf-10s', fingerprint: shortPack.fingerprint },
      }),
      'a policy change names a rule pack by its id (lower-case letters, digits, -)',
    );
    await expectRejected(
      retained,
      request({
        kind: 'policy.apply',
        reason: 'new statute',
        params: { packId: 'wf-10s', fingerprint: 'x' },
      }),
      'a policy change names the fingerprint of the pack the requester saw (64 hex digits)',
    );
    await expectRejected(
      retained,
      request({ kind: 'quarantine.release', reason: 'dock bug', params: { acceptReceivedHash: true } }),
      `recording ${id} is retained, not quarantined`,
    );
    await expectRejected(
      retained,
      action('quarantine.release', { reason: '' }),
      'a release from quarantine needs a reason',
    );
    await expectRejected(
      retained,
      action('quarantine.release', { reason: 'retry' }),
      `recording ${id} is retained, not quarantined`,
    );
    await expectRejected(
      retained,
      action('admin.note', { action: 'reset', reason: ' ', details: {} }),
      'an administrative note needs a reason',
    );
  });
});

describe('four-eyes requests', () => {
  test('a request needs a reason and the permission of its kind', async () => {
    await expectRejected(
      deciding,
      request({ kind: 'deletion.early', reason: ' ', params: {} }),
      'a request needs a reason',
    );
    await expectRejected(
      deciding,
      request({ kind: 'deletion.early', reason: 'irrelevant', params: {} }, viewer),
      'viewer-1 may not request.create (deletion.early): it needs the permission deletion.request-early, ' +
        'which roles viewer do not grant',
    );
    await expectRejected(
      deciding,
      request({ kind: 'deletion.early', reason: 'irrelevant', params: {} }, recordingOfficer),
      `officer-a is the recording officer of ${deciding.recordingId} and may not ask for its early deletion`,
    );
  });

  test('decided by another approver only, never by the recording officer; cancelled by its requester only', async () => {
    const id = deciding.recordingId;
    const pending = (await act(
      deciding.handle,
      'request.create',
      { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
      recordsAdmin,
    )) as FourEyesRequest;
    expect(pending).toMatchObject({
      kind: 'deletion.early',
      state: 'pending',
      id: expect.any(String) as string,
    });
    await deciding.caughtUp();
    await expectRejected(
      deciding,
      decide(pending.id, 'approve', recordsAdmin),
      `four-eyes: records-1 asked for request ${pending.id} and may not decide it — another approver must`,
    );
    await expectRejected(
      deciding,
      decide(pending.id, 'approve', investigator),
      'inv-1 may not request.decide: it needs the permission request.decide, which roles investigator do not grant',
    );
    await expectRejected(
      deciding,
      decide(pending.id, 'approve', recordingOfficer),
      `officer-a is the recording officer of ${id} and may not approve its early deletion`,
    );
    await expectRejected(deciding, decide(pending.id, 'approve', approver, ' '), 'a decision needs a reason');
    await expectRejected(
      deciding,
      decide('no-such-request', 'approve', approver),
      `recording ${id} has no request no-such-request`,
    );
    await expectRejected(
      deciding,
      request({ kind: 'deletion.early', reason: 'again', params: {} }),
      `request ${pending.id} (deletion.early) is already pending: decide or cancel it first`,
    );
    await expectRejected(
      deciding,
      action('request.cancel', { requestId: pending.id }, approver),
      `only its requester may cancel request ${pending.id}; an approver rejects it instead`,
    );

    const cancelled = await act(
      deciding.handle,
      'request.cancel',
      { requestId: pending.id, reason: 'wrong recording' },
      recordsAdmin,
    );
    expect(cancelled).toMatchObject({
      id: pending.id,
      state: 'cancelled',
      decisionReason: 'wrong recording',
    });
    await deciding.caughtUp();
    await expectRejected(
      deciding,
      decide(pending.id, 'approve', approver),
      `request ${pending.id} is cancelled: only a pending request can be decided or cancelled`,
    );
    expect(deciding.actions().slice(-2)).toEqual([
      'records-1:request.created',
      'records-1:request.cancelled',
    ]);
    expect((await deciding.status()).state).toBe('retained');
    tier.expectSound(id);
  });

  test('a decided request is not decided again, and an approval is not replayed', async () => {
    await act(deciding.handle, 'hold.place', { caseId: 'AZ-4', reason: 'complaint' }, investigator);
    const pending = (await act(
      deciding.handle,
      'request.create',
      { kind: 'hold.release', reason: 'case closed', params: {} },
      recordsAdmin,
    )) as FourEyesRequest;
    const rejection = await signedAction(
      deciding.recordingId,
      'request.decide',
      { requestId: pending.id, decision: 'reject', reason: 'the case is still open' },
      approver,
    );
    expect(await sendSigned(deciding.handle, 'request.decide', rejection)).toEqual({
      request: expect.objectContaining({
        id: pending.id,
        state: 'rejected',
        decisionReason: 'the case is still open',
      }) as object,
    });
    await deciding.caughtUp();
    await expectRejected(
      deciding,
      (rec) => sendSigned(rec.handle, 'request.decide', rejection),
      `action assertion ${decodeActionAssertion(rejection.assertion).jti} was used already: an assertion acts once`,
    );
    await expectRejected(
      deciding,
      decide(pending.id, 'approve', secondApprover),
      `request ${pending.id} is rejected: only a pending request can be decided or cancelled`,
    );
    await expectRejected(
      deciding,
      action('request.cancel', { requestId: pending.id }, recordsAdmin),
      `request ${pending.id} is rejected: only a pending request can be decided or cancelled`,
    );
    // Rejected: the hold still keeps it.
    expect((await deciding.status()).retention?.holds.filter((h) => !h.releasedAt)).toHaveLength(1);
    expect(deciding.actions().slice(-2)).toEqual([
      'records-1:request.created',
      'approver-1:request.rejected',
    ]);
    tier.expectSound(deciding.recordingId);
  });
});

test('held and marked as evidence: no early deletion, no second marking, no second release', async () => {
  const rec = await tier.start();
  await rec.settled();
  // Asked for before the hold: the approval must still be possible when it is given.
  const early = (await act(
    rec.handle,
    'request.create',
    { kind: 'deletion.early', reason: 'irrelevant', params: {} },
    'u1',
  )) as FourEyesRequest;
  await act(rec.handle, 'hold.place', { caseId: 'AZ-1', reason: 'complaint' }, 'u1');
  await act(rec.handle, 'evidence.mark', { caseId: 'AZ-9' }, 'u3');
  await rec.caughtUp();
  await expectRejected(rec, decide(early.id, 'approve', 'u2'), 'rejected: held (hold-1 case AZ-1)');
  await act(rec.handle, 'request.cancel', { requestId: early.id }, 'u1');
  await expectRejected(
    rec,
    request({ kind: 'deletion.early', reason: 'irrelevant', params: {} }),
    'rejected: held (hold-1 case AZ-1)',
  );
  await expectRejected(
    rec,
    action('evidence.mark', { caseId: 'AZ-10' }),
    'already marked as evidence for case AZ-9',
  );
  const release = (await act(
    rec.handle,
    'request.create',
    { kind: 'hold.release', reason: 'case closed', params: { holdId: 'hold-1' } },
    'u1',
  )) as FourEyesRequest;
  await act(rec.handle, 'request.decide', { requestId: release.id, decision: 'approve', reason: 'ok' }, 'u2');
  await rec.caughtUp();
  await expectRejected(
    rec,
    request({ kind: 'hold.release', reason: 'case closed', params: { holdId: 'hold-1' } }),
    'no active hold hold-1',
  );
  await expectRejected(
    rec,
    request({ kind: 'deletion.early', reason: 'irrelevant', params: {} }),
    'rejected: marked as evidence for case AZ-9',
  );
  tier.expectSound(rec.recordingId);
});

test('parked before its deadline was set: nothing that needs a deadline; no release from quarantine', async () => {
  const id = parked.recordingId;
  for (const send of needingRetention()) {
    await expectRejected(parked, send, `recording ${id} is needs-attention: its deadline is not set yet`);
  }
  await expectRejected(
    parked,
    action('quarantine.release', { reason: 'retry' }),
    `recording ${id} is needs-attention, not quarantined`,
  );
});

test('quarantined: release only what can be processed, and only as the reason allows', async () => {
  await expectRejected(
    hashMismatch,
    action('quarantine.release', { reason: 'dock bug' }),
    'quarantined for a hash mismatch: release only by a request to accept the received hash, once you have ' +
      'established that the declared hash was wrong (the received hash is then the reference), which a second ' +
      'person approves',
  );
  await expectRejected(
    emptyFile,
    request({ kind: 'quarantine.release', reason: 'retry', params: { acceptReceivedHash: true } }),
    'the file has zero bytes: there is nothing to process',
  );
  await expectRejected(
    emptyFile,
    action('quarantine.release', { reason: 'retry' }),
    'the file has zero bytes: there is nothing to process',
  );
  await expectRejected(
    withoutEtag,
    action('quarantine.release', { reason: 'probe upgraded' }),
    `the quarantine record of ${withoutEtag.recordingId} has no ETag; re-upload the file instead`,
  );
  await expectRejected(
    notMedia,
    request({ kind: 'quarantine.release', reason: 'probe upgraded', params: { acceptReceivedHash: true } }),
    'quarantined for not-media, not a hash mismatch: an operator releases it alone',
  );
  const id = hashMismatch.recordingId;
  await expectRejected(
    hashMismatch,
    action('recording.replay', {}),
    `recording ${id} is quarantined, not needs-attention: nothing to replay`,
  );
  // Its deadline runs from receipt (holds, extensions, early deletion, a policy change all apply), but there is no
  // stored original to lock as evidence.
  await expectRejected(
    hashMismatch,
    action('evidence.mark', { caseId: 'AZ-1' }),
    `recording ${id} is quarantined: marking it as evidence locks its stored original, and it has none — release it from quarantine first`,
  );
});

test('deleting: nothing more to change', async () => {
  let gate!: ReturnType<WorkflowTier['world']['gate']>;
  const rec = await tier.start({ arrange: (id) => (gate = tier.world.gate(id, 'deleteAndCertify')) });
  await rec.settled();
  const early = (await act(
    rec.handle,
    'request.create',
    { kind: 'deletion.early', reason: 'irrelevant', params: {} },
    'u1',
  )) as FourEyesRequest;
  await act(rec.handle, 'request.decide', { requestId: early.id, decision: 'approve', reason: 'ok' }, 'u2');
  await gate.entered;
  const id = rec.recordingId;
  for (const send of needingRetention()) await expectRejected(rec, send, `recording ${id} is deleting`);
  await expectRejected(
    rec,
    action('recording.replay', {}),
    `recording ${id} is deleting, not needs-attention: nothing to replay`,
  );
  gate.open();
  expect((await rec.result()).state).toBe('deleted');
  tier.expectSound(id);
});

test('a second replay while the first is under way is refused; the stage runs once', async () => {
  let stageFailedWrite!: ReturnType<WorkflowTier['world']['gate']>;
  const rec = await tier.start({
    arrange: (id) => {
      tier.world.fail(id, 'storeOriginal', { type: 'S3Unavailable' });
      // The park's log entry is held back: the first replay is accepted but its stage cannot start yet.
      stageFailedWrite = tier.world.gate(id, 'appendCustodyEntries', (run) =>
        (run as { entries: { action: string }[] }).entries.some((e) => e.action === 'stage.failed'),
      );
    },
  });
  await stageFailedWrite.entered;
  await rec.waitFor('needs-attention');
  const first = await rec.handle.startUpdate(messages.replayUpdate, {
    args: [await signedAction(rec.recordingId, 'recording.replay', { reason: 'store back' }, 'admin-1')],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await expectRejected(
    rec,
    action('recording.replay', { reason: 'store back' }, 'admin-2'),
    'a replay of this stage is already under way',
  );
  stageFailedWrite.open();
  expect(await first.result()).toEqual({ stage: 'ingest', replayed: true });
  expect((await rec.settled()).state).toBe('retained');
  expect(rec.actions().filter((a) => a.endsWith(':stage.replay-requested'))).toEqual([
    'admin-1:stage.replay-requested',
  ]);
  expect(tier.world.calls(rec.recordingId, 'storeOriginal')).toHaveLength(2);
  tier.expectSound(rec.recordingId);
});
