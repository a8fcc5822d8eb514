/**
 * Every reject branch of every Update validator: each rejection returns its reason and leaves no trace — no
 * custody-log entry, the status unchanged, no event in the workflow's history (beyond a workflow task the server
 * may record at any time).
 */
import { WorkflowUpdateStage } from '@temporalio/client';
import { updateRejection } from '../harness/updates';
import { startWorkflowTier, type Recording, type WorkflowTier } from './support/tier';
import * as messages from '../../workflows/messages';
import type { RulePackRef } from '../../domain/types';

let tier: WorkflowTier;
let retained: Recording;
let parked: Recording;
let hashMismatch: Recording;
let emptyFile: Recording;
let withoutEtag: Recording;
let shortPack: RulePackRef;

beforeAll(async () => {
  tier = await startWorkflowTier('validators');
  tier.world.addRulePack('wf-1h', 'PT1H');
  shortPack = tier.world.addRulePack('wf-10s', 'PT10S');
  [retained, parked, hashMismatch, emptyFile, withoutEtag] = await Promise.all([
    tier.start(),
    // A pack this deployment does not have: parked before its deadline could be set.
    tier.start({ policy: 'wf-no-such-pack' }),
    tier.start({ declared: { sha256: 'f'.repeat(64) } }),
    tier.start({ size: 0 }),
    tier.start({
      arrange: (id) => {
        tier.world.script(id).mediaProblem = { type: 'NotMedia', message: 'no moov box' };
        tier.world.script(id).quarantineWithoutEtag = true;
      },
    }),
  ]);
  const settled = await Promise.all(
    [retained, parked, hashMismatch, emptyFile, withoutEtag].map((r) => r.settled()),
  );
  // A state changes before its log entry lands: wait until the workflow knows its last entry, so "no trace"
  // compares a recording at rest.
  await Promise.all([
    parked.logged('stage.failed'),
    ...[hashMismatch, emptyFile, withoutEtag].map((r) => r.logged('recording.quarantined')),
  ]);
  await Promise.all([retained, parked, hashMismatch, emptyFile, withoutEtag].map((r) => r.caughtUp()));
  expect(settled.map((s) => s.state)).toEqual([
    'retained',
    'needs-attention',
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

const replay = (request: messages.ReplayRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.replayUpdate, { args: [request] });
const hold = (request: messages.HoldRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.holdUpdate, { args: [request] });
const release = (request: messages.ReleaseRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.releaseUpdate, { args: [request] });
const extend = (request: messages.ExtendRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.extendUpdate, { args: [request] });
const markEvidence = (request: messages.MarkEvidenceRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.markEvidenceUpdate, { args: [request] });
const deleteEarly = (request: messages.DeleteEarlyRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.deleteEarlyUpdate, { args: [request] });
const applyPolicy = (request: messages.ApplyPolicyRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.applyPolicyUpdate, { args: [request] });
const releaseQuarantine = (request: messages.ReleaseQuarantineRequest) => (rec: Recording) =>
  rec.handle.executeUpdate(messages.releaseQuarantineUpdate, { args: [request] });

const NOT_A_PERSON = '--by must name a person (an id)';
const APPROVER_NOT_A_PERSON = '--approved-by must name a person (an id)';
/** Updates that need a deadline, each with a request that passes every other check. */
const needingRetention = () => [
  hold({ caseId: 'AZ-1', reason: 'complaint', by: 'u1' }),
  release({ by: 'u1', approvedBy: 'u2' }),
  extend({ for: 'P1D', reason: 'trial', by: 'u1' }),
  markEvidence({ caseId: 'AZ-1', by: 'u1' }),
  deleteEarly({ reason: 'irrelevant', by: 'u1', approvedBy: 'u2' }),
  applyPolicy({ pack: shortPack, by: 'dpo-1' }),
];

describe('a retained recording', () => {
  test('replay: only a parked stage, only by a person', async () => {
    const id = retained.recordingId;
    await expectRejected(
      retained,
      replay({ by: 'admin-1' }),
      `recording ${id} is retained, not needs-attention: nothing to replay`,
    );
    await expectRejected(retained, replay({ by: '' }), NOT_A_PERSON);
    await expectRejected(retained, replay({ by: 'system' }), NOT_A_PERSON);
  });

  test('hold: a person, a case, a reason', async () => {
    await expectRejected(retained, hold({ caseId: 'AZ-1', reason: 'complaint', by: '  ' }), NOT_A_PERSON);
    await expectRejected(
      retained,
      hold({ caseId: ' ', reason: 'complaint', by: 'u1' }),
      'a hold needs --case <case number>',
    );
    await expectRejected(retained, hold({ caseId: 'AZ-1', reason: '', by: 'u1' }), 'a hold needs --reason');
  });

  test('release: four eyes, and a hold to release', async () => {
    const id = retained.recordingId;
    await expectRejected(retained, release({ by: 'system', approvedBy: 'u2' }), NOT_A_PERSON);
    await expectRejected(retained, release({ by: 'u1', approvedBy: '' }), APPROVER_NOT_A_PERSON);
    await expectRejected(
      retained,
      release({ by: 'u1', approvedBy: 'u1' }),
      'four-eyes: --approved-by must be a second person, not u1',
    );
    await expectRejected(
      retained,
      release({ by: 'u1', approvedBy: 'u2' }),
      `recording ${id} has no active hold`,
    );
    await expectRejected(
      retained,
      release({ by: 'u1', approvedBy: 'u2', holdId: 'hold-7' }),
      'no active hold hold-7',
    );
  });

  test('extend: a person, a reason, a valid and later deadline', async () => {
    const deadline = (await retained.status()).retention!.deleteAfter;
    const earlier = new Date(Date.parse(deadline) - 60_000).toISOString();
    await expectRejected(retained, extend({ for: 'P1D', reason: 'trial', by: '' }), NOT_A_PERSON);
    await expectRejected(
      retained,
      extend({ for: 'P1D', reason: ' ', by: 'u1' }),
      'an extension needs --reason',
    );
    await expectRejected(
      retained,
      extend({ until: earlier, reason: 'trial', by: 'u1' }),
      `an extension may only lengthen: ${earlier} is not after the current deadline ${deadline}`,
    );
    await expectRejected(
      retained,
      extend({ until: deadline, reason: 'trial', by: 'u1' }),
      `an extension may only lengthen: ${deadline} is not after the current deadline ${deadline}`,
    );
    await expectRejected(
      retained,
      extend({ for: '1 day', reason: 'trial', by: 'u1' }),
      /^invalid duration "1 day": a duration starts with P/,
    );
    await expectRejected(
      retained,
      extend({ until: 'next monday', reason: 'trial', by: 'u1' }),
      /^invalid instant "next monday"/,
    );
  });

  test('markEvidence, deleteEarly, applyPolicy, releaseQuarantine: their own checks', async () => {
    const id = retained.recordingId;
    await expectRejected(
      retained,
      markEvidence({ caseId: '', by: 'u1' }),
      'marking evidence needs --case <case number>',
    );
    await expectRejected(retained, markEvidence({ caseId: 'AZ-1', by: 'system' }), NOT_A_PERSON);
    await expectRejected(
      retained,
      deleteEarly({ reason: 'irrelevant', by: 'u1', approvedBy: 'u1' }),
      'four-eyes: --approved-by must be a second person, not u1',
    );
    await expectRejected(
      retained,
      deleteEarly({ reason: 'irrelevant', by: 'u1', approvedBy: 'system' }),
      APPROVER_NOT_A_PERSON,
    );
    await expectRejected(
      retained,
      deleteEarly({ reason: ' ', by: 'u1', approvedBy: 'u2' }),
      'an early deletion needs --reason',
    );
    await expectRejected(retained, applyPolicy({ pack: shortPack, by: '' }), NOT_A_PERSON);
    await expectRejected(retained, releaseQuarantine({ by: '', reason: 'retry' }), NOT_A_PERSON);
    await expectRejected(
      retained,
      releaseQuarantine({ by: 'admin-1', reason: '' }),
      'a release from quarantine needs --reason',
    );
    await expectRejected(
      retained,
      releaseQuarantine({ by: 'admin-1', reason: 'retry' }),
      `recording ${id} is retained, not quarantined`,
    );
  });
});

test('held and marked as evidence: no early deletion, no second marking, no second release', async () => {
  const rec = await tier.start();
  await rec.settled();
  await rec.handle.executeUpdate(messages.holdUpdate, {
    args: [{ caseId: 'AZ-1', reason: 'complaint', by: 'u1' }],
  });
  await rec.handle.executeUpdate(messages.markEvidenceUpdate, { args: [{ caseId: 'AZ-9', by: 'u3' }] });
  await expectRejected(
    rec,
    deleteEarly({ reason: 'irrelevant', by: 'u1', approvedBy: 'u2' }),
    'rejected: held (hold-1 case AZ-1)',
  );
  await expectRejected(
    rec,
    markEvidence({ caseId: 'AZ-10', by: 'u1' }),
    'already marked as evidence for case AZ-9',
  );
  await rec.handle.executeUpdate(messages.releaseUpdate, {
    args: [{ by: 'u1', approvedBy: 'u2', holdId: 'hold-1' }],
  });
  await expectRejected(
    rec,
    release({ by: 'u1', approvedBy: 'u2', holdId: 'hold-1' }),
    'no active hold hold-1',
  );
  await expectRejected(
    rec,
    deleteEarly({ reason: 'irrelevant', by: 'u1', approvedBy: 'u2' }),
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
    releaseQuarantine({ by: 'admin-1', reason: 'retry' }),
    `recording ${id} is needs-attention, not quarantined`,
  );
  await expectRejected(parked, replay({ by: ' ' }), NOT_A_PERSON);
});

test('quarantined: release only what can be processed, and only as the reason allows', async () => {
  await expectRejected(
    hashMismatch,
    releaseQuarantine({ by: 'admin-1', reason: 'dock bug' }),
    'quarantined for a hash mismatch: release only with --accept-received-hash, once you have established that ' +
      'the declared hash was wrong (the received hash is then the reference)',
  );
  await expectRejected(
    emptyFile,
    releaseQuarantine({ by: 'admin-1', reason: 'retry', acceptReceivedHash: true }),
    'the file has zero bytes: there is nothing to process',
  );
  await expectRejected(
    withoutEtag,
    releaseQuarantine({ by: 'admin-1', reason: 'probe upgraded' }),
    `the quarantine record of ${withoutEtag.recordingId} has no ETag; re-upload the file instead`,
  );
  const id = hashMismatch.recordingId;
  await expectRejected(
    hashMismatch,
    replay({ by: 'admin-1' }),
    `recording ${id} is quarantined, not needs-attention: nothing to replay`,
  );
  // Its deadline runs from receipt (holds, extensions, early deletion, a policy change all apply), but there is no
  // stored original to lock as evidence.
  await expectRejected(
    hashMismatch,
    markEvidence({ caseId: 'AZ-1', by: 'u1' }),
    `recording ${id} is quarantined: marking it as evidence locks its stored original, and it has none — release it from quarantine first`,
  );
});

test('deleting: nothing more to change', async () => {
  let gate!: ReturnType<WorkflowTier['world']['gate']>;
  const rec = await tier.start({ arrange: (id) => (gate = tier.world.gate(id, 'deleteAndCertify')) });
  await rec.settled();
  await rec.handle.executeUpdate(messages.deleteEarlyUpdate, {
    args: [{ reason: 'irrelevant', by: 'u1', approvedBy: 'u2' }],
  });
  await gate.entered;
  const id = rec.recordingId;
  for (const send of needingRetention()) await expectRejected(rec, send, `recording ${id} is deleting`);
  await expectRejected(
    rec,
    replay({ by: 'admin-1' }),
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
    args: [{ by: 'admin-1', reason: 'store back' }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await expectRejected(
    rec,
    replay({ by: 'admin-2', reason: 'store back' }),
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
