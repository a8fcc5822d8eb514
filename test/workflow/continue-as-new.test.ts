/**
 * A recording that waits long continues as new when Temporal suggests it (the tier's dev server suggests it
 * after SUGGEST_CONTINUE_AS_NEW_AFTER events): only while idle, with its state — holds, extensions, the custody
 * log's head — carried over, and its deadline still kept to the second.
 */
import { startWorkflowTier, type Recording, type WorkflowTier } from './support/tier';
import type { Gate } from './support/stub-world';
import { act, approved, sendSigned, signedAction } from '../harness/signed-actions';
import { updateRejection } from '../harness/updates';
import { decodeActionAssertion } from '../../domain/assertion';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('can');
  tier.world.addRulePack('wf-1h', 'PT1H');
  tier.world.addRulePack('wf-5s', 'PT5S');
  tier.world.addRulePack('wf-4s', 'PT4S');
});
afterAll(() => tier?.stop());

const runIdOf = async (rec: Recording) => (await rec.handle.describe()).runId;

/** Sends awaitReviewReady Updates (each adds a few events) until the workflow has continued as new. */
async function untilContinuedAsNew(rec: Recording, firstRunId: string): Promise<string> {
  for (let sent = 0; sent < 60; sent++) {
    const runId = await runIdOf(rec);
    if (runId !== firstRunId) return runId;
    await rec.settled();
  }
  throw new Error(`recording ${rec.recordingId} did not continue as new after 60 Updates`);
}

const hold = (rec: Recording, caseId: string) =>
  act(rec.handle, 'hold.place', { caseId, reason: 'complaint' }, 'supervisor-1');
/** A release is a four-eyes request: asked by the supervisor, approved by the data-protection officer. */
const release = async (rec: Recording, holdId?: string) =>
  (
    await approved(
      rec.handle,
      { kind: 'hold.release', reason: 'case closed', params: { ...(holdId && { holdId }) } },
      'supervisor-1',
      'dpo-2',
    )
  ).outcome;

test.concurrent(
  'while held: holds, extensions and the log head carry over; deleted on time once released',
  async () => {
    let transcode!: Gate;
    const rec = await tier.start({
      policy: 'wf-4s',
      declared: { recordedAt: new Date().toISOString() },
      arrange: (id) => (transcode = tier.world.gate(id, 'transcodeRecording')),
    });
    await transcode.entered; // Updates land long before the short deadline
    // Kept to send again after continue-as-new: the new run must remember that it was used.
    const firstHold = await signedAction(
      rec.recordingId,
      'hold.place',
      { caseId: 'AZ-1', reason: 'complaint' },
      'supervisor-1',
    );
    await sendSigned(rec.handle, 'hold.place', firstHold);
    await hold(rec, 'AZ-2');
    const extended = (await act(
      rec.handle,
      'retention.extend',
      { for: 'PT2S', reason: 'court date', caseId: 'AZ-2' },
      'u1',
    )) as { deleteAfter: string };
    transcode.open();
    expect((await rec.settled()).state).toBe('held');
    await release(rec, 'hold-1');
    const before = await rec.caughtUp();
    const firstRunId = await runIdOf(rec);

    await untilContinuedAsNew(rec, firstRunId);
    const after = await rec.caughtUp();
    expect(after.state).toBe('held');
    expect(after.retention).toEqual(before.retention);
    expect(after).toMatchObject({
      reviewReady: true,
      sha256: before.sha256,
      original: before.original,
      derivatives: before.derivatives,
      ingestedAt: before.ingestedAt,
      custodyLogHead: before.custodyLogHead,
    });
    expect(after.retention?.holds.map((h) => [h.id, h.releasedBy ?? null])).toEqual([
      ['hold-1', 'supervisor-1'],
      ['hold-2', null],
    ]);
    expect(await rec.historyLength()).toBeLessThan(30); // a fresh run
    // The requests and the assertions already used carry over: the first run's hold cannot be placed again.
    expect(after.requests).toEqual(before.requests);
    expect(after.requests?.map((r) => [r.kind, r.state])).toEqual([['hold.release', 'approved']]);
    expect(await updateRejection(sendSigned(rec.handle, 'hold.place', firstHold))).toBe(
      `action assertion ${decodeActionAssertion(firstHold.assertion).jti} was used already: an assertion acts once`,
    );

    // The new run writes on from the head it inherited, and keeps the extended deadline.
    expect(await release(rec)).toEqual({ released: ['hold-2'], deleteAfter: extended.deleteAfter });
    const deleted = await rec.result();
    expect(deleted.state).toBe('deleted');
    const certificate = tier.world.certificates.get(rec.recordingId)!;
    expect(certificate).toMatchObject({ cause: 'deadline', deadline: extended.deleteAfter });
    const lateMs = Date.parse(certificate.deletedAt) - Date.parse(extended.deleteAfter);
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(5_000); // the timer fires within a second; the rest is slack for a busy machine
    expect(rec.actions().filter((a) => /hold\.|deadline\.extended|request\./.test(a))).toEqual([
      'supervisor-1:hold.placed',
      'supervisor-1:hold.placed',
      'u1:deadline.extended',
      'supervisor-1:request.created',
      'dpo-2:request.approved',
      'supervisor-1:hold.released',
      'supervisor-1:request.created',
      'dpo-2:request.approved',
      'supervisor-1:hold.released',
    ]);
    tier.expectSound(rec.recordingId); // one chain across both runs, no gaps
  },
);

test.concurrent('while retained: the deadline set in the first run still fires in the next', async () => {
  const rec = await tier.start({ policy: 'wf-5s', declared: { recordedAt: new Date().toISOString() } });
  const retained = await rec.settled();
  await untilContinuedAsNew(rec, await runIdOf(rec));
  // awaitReviewReady answers a continued run at once: its transcoding is behind it.
  expect(await rec.settled()).toMatchObject({ state: 'retained', reviewReady: true });
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  const certificate = tier.world.certificates.get(rec.recordingId)!;
  expect(certificate.deadline).toBe(retained.retention!.deleteAfter);
  const lateMs = Date.parse(certificate.deletedAt) - Date.parse(certificate.deadline);
  expect(lateMs).toBeGreaterThanOrEqual(0);
  expect(lateMs).toBeLessThan(5_000); // the timer fires within a second; the rest is slack for a busy machine
  tier.expectSound(rec.recordingId);
});

test.concurrent('not while transcoding, and without spinning; it continues as new once idle', async () => {
  let transcode!: Gate;
  const rec = await tier.start({ arrange: (id) => (transcode = tier.world.gate(id, 'transcodeRecording')) });
  await transcode.entered;
  const firstRunId = await runIdOf(rec);
  // Holds and releases add history past the suggestion while the transcode runs.
  for (let i = 1; i <= 6; i++) {
    await hold(rec, `AZ-${i}`);
    await release(rec);
  }
  await rec.caughtUp();
  const events = await rec.historyLength();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await rec.historyLength()).toBe(events); // no workflow tasks while it waits
  expect(await runIdOf(rec)).toBe(firstRunId);
  expect((await rec.status()).state).toBe('transcoding');

  transcode.open();
  await rec.waitFor((s) => s.state === 'retained');
  for (let i = 0; i < 50 && (await runIdOf(rec)) === firstRunId; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(await runIdOf(rec)).not.toBe(firstRunId);
  const status = await rec.caughtUp();
  expect(status).toMatchObject({ state: 'retained', reviewReady: true });
  expect(status.retention?.holds).toHaveLength(6);
  tier.expectSound(rec.recordingId);
});
