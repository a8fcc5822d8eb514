/**
 * Failures park: a stage whose retries run out puts the recording in needs-attention with a `stage.failed` entry,
 * and a `replay` runs the stage again from its start — it succeeds, or it parks again. Ingest, the rule-pack
 * lookup, transcode, deletion and fixity each park on their own.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateStage } from '@temporalio/client';
import { signedProof, startWorkflowTier, type Recording, type WorkflowTier } from './support/tier';
import * as messages from '../../workflows/messages';
import { updateRejection } from '../harness/updates';
import { act, approved, signedAction } from '../harness/signed-actions';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('parking');
  tier.world.addRulePack('wf-1h', 'PT1H');
  tier.world.addRulePack('wf-3s', 'PT3S');
});
afterAll(() => tier?.stop());

const replay = (rec: Recording, by: string) =>
  act(rec.handle, 'recording.replay', { reason: 'fixed' }, { subject: by, roles: ['operator'] });
const INGESTED = [
  'system:recording.received',
  'system:deadline.set',
  'system:original.stored',
  'system:media.probed',
  'system:ingest.completed',
];

test.concurrent(
  'ingest: parked with the error; replayed, it fails again and parks again; replayed, it succeeds',
  async () => {
    const rec = await tier.start({
      arrange: (id) =>
        tier.world.fail(id, 'storeOriginal', {
          type: 'S3Unavailable',
          message: 'store unreachable',
          times: 2,
        }),
    });
    expect((await rec.settled()).state).toBe('needs-attention');
    await rec.logged('stage.failed'); // the state changes first, then the entry lands
    const parked = await rec.caughtUp();
    expect(parked).toMatchObject({
      state: 'needs-attention',
      lastError: { stage: 'ingest', type: 'S3Unavailable', message: 'store unreachable', attempts: 1 },
      custodyLogHead: { seq: 2 }, // recording.received, deadline.set, stage.failed
    });
    // Parked or not, the deadline runs from receipt.
    expect(parked.retention).toMatchObject({ pack: { id: 'wf-1h' } });
    expect(await rec.searchAttributes()).toEqual({ state: 'needs-attention', stage: 'ingest' });
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:stage.failed',
    ]);
    expect(tier.world.log(rec.recordingId)[2]!.details).toEqual({ ...parked.lastError });

    expect(await replay(rec, 'admin-1')).toEqual({ stage: 'ingest', replayed: true });
    const again = await rec.settled();
    await rec.logged('stage.failed', 2);
    expect(again).toMatchObject({
      state: 'needs-attention',
      lastError: { stage: 'ingest', type: 'S3Unavailable' },
    });
    expect(Date.parse(again.lastError!.at)).toBeGreaterThan(Date.parse(parked.lastError!.at));
    expect(rec.actions().slice(3)).toEqual(['admin-1:stage.replay-requested', 'system:stage.failed']);
    expect(tier.world.log(rec.recordingId)[3]!.details).toEqual({
      stage: 'ingest',
      reason: 'fixed',
      ...signedProof(['operator']),
    });

    await replay(rec, 'admin-2');
    expect(await rec.settled()).toMatchObject({ state: 'retained', reviewReady: true });
    expect(await rec.searchAttributes()).toEqual({ state: 'retained' });
    expect(rec.actions()).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:stage.failed',
      'admin-1:stage.replay-requested',
      'system:stage.failed',
      'admin-2:stage.replay-requested',
      ...INGESTED.slice(2),
      'system:derivatives.stored',
    ]);
    // Only the very first scheduling may skip the search for a crashed attempt's leftovers; a replay may not.
    expect(tier.world.calls(rec.recordingId, 'storeOriginal').map((c) => c.firstTry)).toEqual([
      true,
      undefined,
      undefined,
    ]);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'a retryable failure is retried inside the stage; a park reports the attempt it failed on',
  async () => {
    const [recovered, parkedLater] = await Promise.all([
      tier.start({
        arrange: (id) => tier.world.fail(id, 'storeOriginal', { nonRetryable: false, type: 'SlowDown' }),
      }),
      tier.start({
        arrange: (id) => {
          tier.world.fail(id, 'storeOriginal', { nonRetryable: false, type: 'SlowDown' });
          tier.world.fail(id, 'storeOriginal', { type: 'AccessDenied', message: 'bucket policy' });
        },
      }),
    ]);
    expect(await recovered.settled()).toMatchObject({ state: 'retained' });
    expect(recovered.actions()).toEqual([...INGESTED, 'system:derivatives.stored']);
    expect(tier.world.calls(recovered.recordingId, 'storeOriginal')).toHaveLength(2);
    expect(await parkedLater.settled()).toMatchObject({
      state: 'needs-attention',
      lastError: { stage: 'ingest', type: 'AccessDenied', message: 'bucket policy', attempts: 2 },
    });
    await parkedLater.logged('stage.failed');
    tier.expectSound(recovered.recordingId);
    tier.expectSound(parkedLater.recordingId);
  },
);

// Found by this tier: a local activity's failure reaches the workflow as a bare ApplicationFailure, not an
// ActivityFailure; runStage used to rethrow it, and the workflow FAILED here instead of parking.
test.concurrent(
  'an unknown rule pack parks ingest before any bytes move; replayed once the pack exists',
  async () => {
    const pack = `wf-later-${Date.now()}`;
    const rec = await tier.start({ policy: pack });
    expect(await rec.settled()).toMatchObject({
      state: 'needs-attention',
      lastError: { stage: 'retention', type: 'UnknownRulePack', message: `no rule pack ${pack}` },
    });
    await rec.logged('stage.failed');
    expect(tier.world.calls(rec.recordingId, 'storeOriginal')).toEqual([]);
    expect(tier.world.versions({ bucket: 'incoming', key: rec.source.key })).toHaveLength(1);
    expect(rec.actions()).toEqual(['system:recording.received', 'system:stage.failed']);

    tier.world.addRulePack(pack, 'P1D');
    await replay(rec, 'admin-1');
    const retained = await rec.settled();
    expect(retained).toMatchObject({
      state: 'retained',
      retention: { pack: { id: pack, retention: 'P1D' } },
    });
    expect(rec.actions().slice(2)).toEqual([
      'admin-1:stage.replay-requested',
      ...INGESTED.slice(1),
      'system:derivatives.stored',
    ]);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent(
  'transcode: parked with the deadline set; replays run it again until it succeeds',
  async () => {
    const rec = await tier.start({
      arrange: (id) =>
        tier.world.fail(id, 'transcodeRecording', {
          type: 'CorruptMedia',
          message: 'moov atom not found',
          times: 2,
        }),
    });
    const parked = await rec.settled();
    expect(parked).toMatchObject({
      state: 'needs-attention',
      reviewReady: false,
      lastError: { stage: 'transcode', type: 'CorruptMedia', message: 'moov atom not found', attempts: 1 },
    });
    expect(parked.retention?.deleteAfter).toBeDefined();
    expect(await rec.searchAttributes()).toEqual({ state: 'needs-attention', stage: 'transcode' });
    await rec.logged('stage.failed');
    expect(rec.actions()).toEqual([...INGESTED, 'system:stage.failed']);

    await replay(rec, 'admin-1');
    expect(await rec.settled()).toMatchObject({
      state: 'needs-attention',
      lastError: { stage: 'transcode' },
    });
    await rec.logged('stage.failed', 2);
    await replay(rec, 'admin-1');
    expect(await rec.settled()).toMatchObject({ state: 'retained', reviewReady: true });
    expect(rec.actions().slice(INGESTED.length)).toEqual([
      'system:stage.failed',
      'admin-1:stage.replay-requested',
      'system:stage.failed',
      'admin-1:stage.replay-requested',
      'system:derivatives.stored',
    ]);
    expect(tier.world.calls(rec.recordingId, 'transcodeRecording')).toHaveLength(3);
    tier.expectSound(rec.recordingId);
  },
);

test.concurrent('a parked transcode does not delay the deadline', async () => {
  const rec = await tier.start({
    policy: 'wf-3s',
    declared: { recordedAt: new Date().toISOString() },
    arrange: (id) => tier.world.fail(id, 'transcodeRecording', { type: 'CorruptMedia' }),
  });
  expect(await rec.settled()).toMatchObject({ state: 'needs-attention', lastError: { stage: 'transcode' } });
  await rec.logged('stage.failed');
  const deleted = await rec.result();
  expect(deleted).toMatchObject({ state: 'deleted', reviewReady: false });
  const certificate = tier.world.certificates.get(rec.recordingId)!;
  expect(certificate.cause).toBe('deadline');
  expect(Date.parse(certificate.deletedAt)).toBeGreaterThanOrEqual(Date.parse(certificate.deadline));
  expect(rec.actions().slice(INGESTED.length)).toEqual([
    'system:stage.failed',
    'system:deletion.started',
    'system:recording.deleted',
    'system:certificate.written',
  ]);
  tier.expectSound(rec.recordingId);
});

test.concurrent(
  'deletion: a failure part-way parks it, the log goes on where the store ends, a replay finishes',
  async () => {
    const rec = await tier.start({
      arrange: (id) => {
        tier.world.fail(id, 'deleteAndCertify', { type: 'S3Unavailable', afterStartedEntry: true });
        tier.world.fail(id, 'deleteAndCertify', { type: 'S3Unavailable' });
      },
    });
    await rec.settled();
    await approved(
      rec.handle,
      { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
      'u1',
      'u2',
    );
    await rec.logged('stage.failed');
    const parked = await rec.caughtUp();
    expect(parked.lastError).toMatchObject({ stage: 'deletion', type: 'S3Unavailable', attempts: 1 });
    expect(await rec.searchAttributes()).toEqual({ state: 'needs-attention', stage: 'deletion' });
    // deleteAndCertify wrote deletion.started before it failed: the workflow asked the store for the head.
    expect(rec.actions().slice(-3)).toEqual([
      'u1:deletion.early-approved',
      'u1:deletion.started',
      'system:stage.failed',
    ]);
    expect(tier.world.calls(rec.recordingId, 'custodyLogHead').length).toBeGreaterThanOrEqual(1);
    expect(parked.custodyLogHead.seq).toBe(tier.world.log(rec.recordingId).at(-1)!.seq);
    tier.expectSound(rec.recordingId);

    // Deletion has begun (some versions may be gone): nothing may promise to keep the recording now.
    for (const update of [
      act(rec.handle, 'hold.place', { caseId: 'K-1', reason: 'court order' }, 'u3'),
      act(rec.handle, 'retention.extend', { for: 'P1D', reason: 'needed' }, 'u3'),
      act(rec.handle, 'evidence.mark', { caseId: 'K-1' }, 'u3'),
    ]) {
      expect(await updateRejection(update)).toMatch(/is being deleted \(parked in the deletion stage/);
    }
    expect(rec.actions().at(-1)).toBe('system:stage.failed');

    await replay(rec, 'admin-1');
    await rec.logged('stage.failed', 2);
    expect((await rec.status()).state).toBe('needs-attention');
    await replay(rec, 'admin-1');
    const deleted = await rec.result();
    expect(deleted.state).toBe('deleted');
    expect(rec.actions().slice(INGESTED.length + 1)).toEqual([
      'u1:request.created',
      'u2:request.approved',
      'u1:deletion.early-approved',
      'u1:deletion.started',
      'system:stage.failed',
      'admin-1:stage.replay-requested',
      'system:stage.failed',
      'admin-1:stage.replay-requested',
      'u1:deletion.started',
      'system:recording.deleted',
      'system:certificate.written',
    ]);
    const certificate = tier.world.certificates.get(rec.recordingId)!;
    const log = tier.world.log(rec.recordingId);
    expect(certificate).toMatchObject({ cause: 'early', requestedBy: 'u1' });
    expect(certificate.custodyLog).toEqual({ headSeq: log.at(-2)!.seq, headHash: log.at(-2)!.hash });
    expect(deleted.custodyLogHead).toEqual({ seq: log.at(-1)!.seq, hash: log.at(-1)!.hash });
    expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
    tier.expectSound(rec.recordingId);
  },
);

/** Polls until `done`, for at most 10 s. */
async function until(done: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A fixity run's report, as the fixity sweep signals it (or anyone who reaches Temporal could). */
const reportFixity = (rec: Recording, report: Partial<messages.FixityMismatchNotice>) =>
  rec.handle.signal(messages.fixityMismatchSignal, {
    checkedAt: new Date().toISOString(),
    checkedBy: 'fixity-run',
    mismatches: [],
    logProblems: [],
    ...report,
  });

test.concurrent(
  'fixity: a report the recording’s own check confirms parks it, on what the check found; replays check again',
  async () => {
    const rec = await tier.start();
    const retained = await rec.settled();
    const original = retained.original!;
    const wrong = 'a'.repeat(64);
    const mismatch = {
      kind: 'original' as const,
      bucket: original.bucket,
      key: original.key,
      versionId: original.versionId,
      expectedSha256: original.sha256,
      actualSha256: wrong,
      problem: 'hash-mismatch' as const,
    };
    tier.world
      .script(rec.recordingId)
      .fixity.push(
        { mismatches: [mismatch], logProblems: [] },
        { mismatches: [mismatch], logProblems: [] },
        ApplicationFailure.nonRetryable('store unreachable', 'S3Unavailable'),
        { mismatches: [], logProblems: [] },
      );
    // The report names another problem than the check finds: the park says what the check found.
    await reportFixity(rec, { checkedBy: 'fixity-run-1', logProblems: ['seq 4: reported by the sender'] });
    await rec.logged('fixity.mismatch');
    const parked = await rec.caughtUp();
    const entry = tier.world.log(rec.recordingId).find((e) => e.action === 'fixity.mismatch')!;
    expect(entry.details).toEqual({
      checkedAt: expect.any(String) as string,
      checkedBy: 'fixity-run-1',
      mismatches: [mismatch],
      logProblems: [],
    });
    expect(parked.lastError).toEqual({
      stage: 'fixity',
      type: 'FixityMismatch',
      message: `original ${original.key} hashes to ${wrong}`,
      attempts: 1,
      at: entry.details.checkedAt,
    });
    expect(await rec.searchAttributes()).toEqual({ state: 'needs-attention', stage: 'fixity' });

    await replay(rec, 'admin-1'); // still wrong: parked again
    await rec.logged('fixity.mismatch', 2);
    // Replays only once the workflow has seen its last entry: see the KNOWN BUG below.
    expect((await rec.caughtUp()).state).toBe('needs-attention');
    await replay(rec, 'admin-1'); // the check itself fails: still parked, and the log says so
    await rec.logged('fixity.recheck-failed');
    expect((await rec.caughtUp()).state).toBe('needs-attention');
    await replay(rec, 'admin-1'); // restored
    await rec.logged('fixity.restored');
    expect((await rec.status()).state).toBe('retained');
    expect(rec.actions().slice(INGESTED.length + 1)).toEqual([
      'system:fixity.mismatch',
      'admin-1:stage.replay-requested',
      'system:fixity.mismatch',
      'admin-1:stage.replay-requested',
      'system:fixity.recheck-failed',
      'admin-1:stage.replay-requested',
      'system:fixity.restored',
    ]);
    expect(tier.world.calls(rec.recordingId, 'checkRecordingFixity')).toHaveLength(4);
    tier.expectSound(rec.recordingId);
  },
);

// Anyone reaching Temporal could send a fixityMismatch signal: a report is a reason to check, not a finding.
test.concurrent('fixity: a report the recording’s own check does not confirm parks nothing', async () => {
  const rec = await tier.start();
  await rec.settled();
  await rec.caughtUp();
  // The first check finds the objects fine; the second, after a later report, finds a broken chain.
  tier.world
    .script(rec.recordingId)
    .fixity.push(
      { mismatches: [], logProblems: [] },
      { mismatches: [], logProblems: ['seq 3: hash mismatch'] },
    );
  await reportFixity(rec, { checkedBy: 'forged-run', logProblems: ['seq 1: hash mismatch'] });
  await until(() => tier.world.calls(rec.recordingId, 'checkRecordingFixity').length === 1, 'a fixity check');
  await reportFixity(rec, { checkedBy: 'fixity-run-2', logProblems: ['seq 3: hash mismatch'] });
  await rec.logged('fixity.mismatch');
  await rec.caughtUp();
  // Had the first report parked it, the log would say so twice (the second report is checked all the same).
  expect(tier.world.log(rec.recordingId).filter((e) => e.action === 'fixity.mismatch')).toEqual([
    expect.objectContaining({ details: expect.objectContaining({ checkedBy: 'fixity-run-2' }) as object }),
  ]);
  expect(rec.actions().slice(INGESTED.length)).toEqual([
    'system:derivatives.stored',
    'system:fixity.mismatch',
  ]);
  expect(tier.world.calls(rec.recordingId, 'checkRecordingFixity')).toHaveLength(2);
  tier.expectSound(rec.recordingId);
});

test.concurrent('fixity: a report whose check cannot run parks nothing', async () => {
  const rec = await tier.start();
  await rec.settled();
  const before = await rec.caughtUp();
  tier.world
    .script(rec.recordingId)
    .fixity.push(ApplicationFailure.nonRetryable('store unreachable', 'S3Unavailable'));
  await reportFixity(rec, { checkedBy: 'fixity-run-5', logProblems: ['seq 2: hash mismatch'] });
  await until(() => tier.world.calls(rec.recordingId, 'checkRecordingFixity').length === 1, 'a fixity check');
  // A query is answered once the workflow task that sees the check's outcome is done.
  const checkFailed = async () =>
    (await rec.historyDecisions()).includes('activityTaskFailedEventAttributes');
  await until(checkFailed, 'the failed check in history');
  expect(await rec.status()).toMatchObject({ state: 'retained', custodyLogHead: before.custodyLogHead });
  expect(rec.actions()).toEqual([...INGESTED, 'system:derivatives.stored']);
  tier.expectSound(rec.recordingId);
});

// Found by this tier: a replay accepted while the retention loop was still writing the entry of the previous
// fixity check was lost — the loop cleared its wake-up flag after the Update set it — and every later replay was
// refused as "already under way" until the deadline timer happened to wake the loop (patch
// custody-changes-wake-the-wait-202612).
test.concurrent(
  'fixity: a replay accepted while the last check is still being logged is not lost',
  async () => {
    let recheckLogged!: ReturnType<WorkflowTier['world']['gate']>;
    const rec = await tier.start({
      arrange: (id) => {
        tier.world
          .script(id)
          .fixity.push(
            { mismatches: [], logProblems: ['seq 2: hash mismatch'] },
            ApplicationFailure.nonRetryable('store unreachable', 'S3Unavailable'),
          );
        recheckLogged = tier.world.gate(
          id,
          'appendCustodyEntry',
          (entry) => (entry as { action: string }).action === 'fixity.recheck-failed',
        );
      },
    });
    await rec.settled();
    await reportFixity(rec, { checkedBy: 'fixity-run-3', logProblems: ['seq 2: hash mismatch'] });
    await rec.logged('fixity.mismatch');
    await rec.caughtUp();
    await replay(rec, 'admin-1'); // the check fails; its entry is held back
    await recheckLogged.entered;
    const second = await rec.handle.startUpdate(messages.replayUpdate, {
      args: [await signedAction(rec.recordingId, 'recording.replay', { reason: 'store back' }, 'admin-2')],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    recheckLogged.open();
    await second.result();
    await rec.logged('fixity.restored', 1, 5_000);
  },
);

test.concurrent('a fixity park does not stop the deadline', async () => {
  const rec = await tier.start({ policy: 'wf-3s', declared: { recordedAt: new Date().toISOString() } });
  await rec.settled();
  tier.world.script(rec.recordingId).fixity.push({ mismatches: [], logProblems: ['seq 3: hash mismatch'] });
  await reportFixity(rec, { checkedBy: 'fixity-run-2', logProblems: ['seq 3: hash mismatch'] });
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  expect(tier.world.certificates.get(rec.recordingId)?.cause).toBe('deadline');
  expect(rec.actions().slice(-4)).toEqual([
    'system:fixity.mismatch',
    'system:deletion.started',
    'system:recording.deleted',
    'system:certificate.written',
  ]);
  tier.expectSound(rec.recordingId);
});

// Parking keeps the legal deadline too: an ingest nobody replays stops at the deadline, and what was received is
// deleted and certified.
test.concurrent('an ingest parked past its deadline: the received bytes deleted and certified', async () => {
  tier.world.addRulePack('wf-p-3s', 'PT3S');
  const rec = await tier.start({
    policy: 'wf-p-3s',
    declared: { recordedAt: new Date().toISOString() },
    arrange: (id) =>
      tier.world.fail(id, 'storeOriginal', { type: 'S3Unavailable', message: 'store unreachable' }),
  });
  expect((await rec.settled()).state).toBe('needs-attention');
  expect(tier.world.versions({ bucket: 'incoming', key: rec.source.key })).toHaveLength(1);
  const deleted = await rec.result();
  expect(deleted.state).toBe('deleted');
  expect(tier.world.versions({ bucket: 'incoming', key: rec.source.key })).toEqual([]);
  expect(tier.world.versions({ recordingId: rec.recordingId })).toEqual([]);
  const certificate = tier.world.certificates.get(rec.recordingId)!;
  expect(certificate).toMatchObject({ cause: 'deadline', originalSha256: null });
  // The received bytes went through the quarantine store, so the certificate lists what was deleted.
  expect(certificate.objects.map((o) => o.key).sort()).toEqual([
    `quarantine/${rec.recordingId}/original`,
    `quarantine/${rec.recordingId}/reason.json`,
  ]);
  expect(tier.world.log(rec.recordingId)[3]!.details).toMatchObject({ reason: 'deadline-reached' });
  expect(rec.actions()).toEqual([
    'system:recording.received',
    'system:deadline.set',
    'system:stage.failed',
    'system:recording.quarantined',
    'system:deletion.started',
    'system:recording.deleted',
    'system:certificate.written',
  ]);
  tier.expectSound(rec.recordingId);
});
