/**
 * Four-eyes requests carried out: what one person asks for happens only when another approver approves it, with
 * both in the custody log; a rejected request changes nothing; an approved one that can no longer be carried out
 * as asked (its rule pack changed) ends `failed`, and says so in the log. The refusals are in validators.test.ts.
 */
import { REQUEST_LIFETIME_MS, type FourEyesRequest } from '../../domain/requests';
import type * as messages from '../../workflows/messages';
import { act, TEST_ISSUER, type TestPerson } from '../harness/signed-actions';
import { updateRejection } from '../harness/updates';
import { signedProof, startWorkflowTier, type WorkflowTier } from './support/tier';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('requests');
  tier.world.addRulePack('wf-1h', 'PT1H');
});
afterAll(() => tier?.stop());

const recordsAdmin: TestPerson = { subject: 'records-1', roles: ['records-admin'] };
const approver: TestPerson = { subject: 'approver-1', roles: ['approver'] };
const DAY_MS = 86_400_000;

test.concurrent(
  'an extension beyond P90D past the statute: carried out once a second person approves it',
  async () => {
    const rec = await tier.start();
    const retained = await rec.settled();
    const { statutoryDeadline } = retained.retention!.deadline;
    const until = new Date(Date.parse(statutoryDeadline) + 120 * DAY_MS).toISOString();
    const created = (await act(
      rec.handle,
      'request.create',
      { kind: 'retention.extend', reason: 'trial set for next year', params: { until, caseId: 'AZ-12' } },
      recordsAdmin,
    )) as FourEyesRequest;
    expect(created).toMatchObject({
      kind: 'retention.extend',
      state: 'pending',
      params: { until, caseId: 'AZ-12' },
      requestedBy: { issuer: TEST_ISSUER, subject: 'records-1', roles: ['records-admin'] },
    });
    expect(Date.parse(created.expiresAt) - Date.parse(created.requestedAt)).toBe(REQUEST_LIFETIME_MS);
    // Nothing happens before the approval.
    expect((await rec.status()).retention?.deleteAfter).toBe(retained.retention!.deleteAfter);

    const decided = await act(
      rec.handle,
      'request.decide',
      { requestId: created.id, decision: 'approve', reason: 'court order seen' },
      approver,
    );
    expect(decided).toEqual({
      request: expect.objectContaining({
        id: created.id,
        state: 'approved',
        decidedBy: { issuer: TEST_ISSUER, subject: 'approver-1', roles: ['approver'] },
        decisionReason: 'court order seen',
      }) as object,
      outcome: { previous: retained.retention!.deleteAfter, deleteAfter: until },
    });
    const status = await rec.caughtUp();
    expect(status.retention).toMatchObject({
      deleteAfter: until,
      extensions: [{ until, reason: 'trial set for next year', by: 'records-1', caseId: 'AZ-12' }],
    });
    expect(status.requests).toEqual([expect.objectContaining({ id: created.id, state: 'approved' })]);
    expect(rec.actions().slice(-3)).toEqual([
      'records-1:request.created',
      'approver-1:request.approved',
      'records-1:deadline.extended',
    ]);
    expect(tier.world.log(rec.recordingId).at(-1)!.details).toEqual({
      previous: retained.retention!.deleteAfter,
      deleteAfter: until,
      reason: 'trial set for next year',
      caseId: 'AZ-12',
      approvedBy: 'approver-1',
      requestId: created.id,
    });
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'a policy change whose pack changed since it was requested: approved, not carried out, failed',
  async () => {
    const rec = await tier.start();
    const retained = await rec.settled();
    const packId = `wf-changing-${rec.recordingId.slice(0, 6)}`;
    const seen = tier.world.addRulePack(packId, 'PT2H');
    const created = (await act(
      rec.handle,
      'request.create',
      {
        kind: 'policy.apply',
        reason: 'new statute',
        params: { packId, fingerprint: seen.fingerprint },
      },
      recordsAdmin,
    )) as FourEyesRequest;
    // The deployment's pack changes before anyone approves: the approver must not approve something unseen.
    tier.world.addRulePack(packId, 'PT10S');
    expect(
      await updateRejection(
        act(
          rec.handle,
          'request.decide',
          { requestId: created.id, decision: 'approve', reason: 'ok' },
          approver,
        ),
      ),
    ).toBe(`approved, but not carried out: rule pack ${packId} has another fingerprint here`);
    const status = await rec.caughtUp();
    expect(status.retention).toEqual(retained.retention);
    expect(status.policy).toBe('wf-1h');
    expect(status.requests).toEqual([
      expect.objectContaining({
        id: created.id,
        state: 'failed',
        failure: `rule pack ${packId} has another fingerprint here`,
      }),
    ]);
    expect(rec.actions().slice(-3)).toEqual([
      'records-1:request.created',
      'approver-1:request.approved',
      'approver-1:request.failed',
    ]);
    expect(tier.world.log(rec.recordingId).at(-1)!.details).toEqual({
      requestId: created.id,
      kind: 'policy.apply',
      failure: `rule pack ${packId} has another fingerprint here`,
    });
    expect(tier.world.log(rec.recordingId).at(-3)!.details).toEqual({
      requestId: created.id,
      kind: 'policy.apply',
      params: { packId, fingerprint: seen.fingerprint },
      reason: 'new statute',
      expiresAt: created.expiresAt,
      ...signedProof(['records-admin']),
    });
    // Failed is final: the request cannot be approved again.
    expect(
      await updateRejection(
        act(
          rec.handle,
          'request.decide',
          { requestId: created.id, decision: 'approve', reason: 'again' },
          { subject: 'approver-2', roles: ['approver'] },
        ),
      ),
    ).toBe(`request ${created.id} is failed: only a pending request can be decided or cancelled`);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'a rejected early deletion deletes nothing; the rejection is logged with its reason',
  async () => {
    const rec = await tier.start();
    await rec.settled();
    const created = (await act(
      rec.handle,
      'request.create',
      { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
      recordsAdmin,
    )) as FourEyesRequest;
    const rejected = (await act(
      rec.handle,
      'request.decide',
      { requestId: created.id, decision: 'reject', reason: 'evidence in a pending complaint' },
      approver,
    )) as messages.DecideRequestResult;
    expect(rejected).toEqual({
      request: expect.objectContaining({
        state: 'rejected',
        decisionReason: 'evidence in a pending complaint',
      }) as object,
    });
    const status = await rec.caughtUp();
    expect(status.state).toBe('retained');
    expect(rec.actions().slice(-2)).toEqual(['records-1:request.created', 'approver-1:request.rejected']);
    expect(tier.world.log(rec.recordingId).at(-1)!.details).toEqual({
      requestId: created.id,
      kind: 'deletion.early',
      requestedBy: 'records-1',
      reason: 'evidence in a pending complaint',
      ...signedProof(['approver']),
    });
    expect(tier.world.calls(rec.recordingId, 'deleteAndCertify')).toEqual([]);
    tier.expectSound(rec.recordingId);
  },
);
