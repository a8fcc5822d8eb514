/**
 * A recording's life on stub activities: what the status query says at each point, the awaitReviewReady Update,
 * and the custody log of a good ingest — entries, actors, order, one unbroken chain.
 */
import { signedProof, startWorkflowTier, type WorkflowTier } from './support/tier';
import { SAMPLE_MEDIA } from './support/stub-world';
import * as messages from '../../workflows/messages';
import { act } from '../harness/signed-actions';

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier('life');
  tier.world.addRulePack('wf-1h', 'PT1H', { citation: '§ 0 Test' });
});
afterAll(() => tier?.stop());

const notYet = Symbol('pending');
const pendingAfter = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<typeof notYet>((resolve) => setTimeout(() => resolve(notYet), ms))]);

test.concurrent(
  'a good ingest: retained and review-ready, its status complete, its log one chain in order',
  async () => {
    const recordedAt = new Date(Date.now() - 60_000).toISOString();
    const rec = await tier.start({ declared: { deviceId: 'cam-7', recordedAt, sha256: undefined } });
    const status = await rec.settled();
    expect(status).toMatchObject({
      recordingId: rec.recordingId,
      state: 'retained',
      originalName: rec.source.key.split('/').pop(),
      deviceId: 'cam-7',
      recordedAt,
      policy: 'wf-1h',
      reviewReady: true,
      sha256: tier.world.sha256OfSource(rec.source),
      bytes: rec.source.size,
      media: SAMPLE_MEDIA,
      original: { bucket: 'evidence', key: `recordings/${rec.recordingId}/original` },
    });
    expect(status.derivatives?.derivatives.map((d) => d.kind)).toEqual(['proxy', 'sprite', 'poster']);
    expect(status.retention).toEqual({
      pack: tier.world.rulePacks.get('wf-1h'),
      deadline: {
        basis: 'recordedAt',
        basisTime: recordedAt,
        statutoryDeadline: new Date(Date.parse(recordedAt) + 3_600_000).toISOString(),
        deleteAfter: new Date(Date.parse(recordedAt) + 3_600_000).toISOString(),
      },
      deleteAfter: new Date(Date.parse(recordedAt) + 3_600_000).toISOString(),
      extensions: [],
      holds: [],
    });
    expect(status.lastError).toBeUndefined();
    expect(await rec.searchAttributes()).toEqual({ state: 'retained' });

    const log = tier.world.log(rec.recordingId);
    expect(log.map((e) => `${e.actor}:${e.action}`)).toEqual([
      'system:recording.received',
      'system:deadline.set',
      'system:original.stored',
      'system:media.probed',
      'system:ingest.completed',
      'system:derivatives.stored',
    ]);
    expect(status.custodyLogHead).toEqual({ seq: log.at(-1)!.seq, hash: log.at(-1)!.hash });
    expect(log[0]!.details).toMatchObject({
      via: 'inbox',
      source: { bucket: 'incoming', key: rec.source.key, size: rec.source.size },
      policy: 'wf-1h',
    });
    expect(log[1]!.details).toMatchObject({
      pack: { id: 'wf-1h', citation: '§ 0 Test' },
      basis: 'recordedAt',
      warnings: [],
    });
    // The receipt is stamped when the run started, before the rest of ingest.
    expect(Date.parse(log[0]!.time)).toBeLessThanOrEqual(Date.parse(log[1]!.time));
    tier.expectSound(rec.recordingId);

    // Ingest took the file out of the inbox and asked once, on its first try, to skip the leftover search.
    expect(tier.world.versions({ bucket: 'incoming', key: rec.source.key })).toEqual([]);
    expect(tier.world.calls(rec.recordingId, 'storeOriginal')).toEqual([
      expect.objectContaining({ firstTry: true, source: rec.source }),
    ]);
    expect(tier.world.calls(rec.recordingId, 'transcodeRecording')).toHaveLength(1);
  },
);

test.concurrent('no recording time: the deadline counts from ingest, and the log says why', async () => {
  const rec = await tier.start({ transcode: false });
  const status = await rec.settled();
  expect(status).toMatchObject({ state: 'retained', reviewReady: false });
  expect(status.retention?.deadline).toMatchObject({ basis: 'ingestedAt', basisTime: status.ingestedAt });
  expect(tier.world.log(rec.recordingId).find((e) => e.action === 'deadline.set')?.details).toMatchObject({
    basis: 'ingestedAt',
    warnings: ['recording time unknown; the deadline counts from the ingest time'],
  });
  expect(tier.world.log(rec.recordingId).find((e) => e.action === 'ingest.completed')?.details).toMatchObject(
    { transcode: 'off (CUSTODY_TRANSCODE_ENABLED=false)' },
  );
  // Transcoding is off: review-ready means ingested.
  expect(tier.world.calls(rec.recordingId, 'transcodeRecording')).toEqual([]);
  tier.expectSound(rec.recordingId);
});

test.concurrent('awaitReviewReady waits through transcoding and answers with the derivatives', async () => {
  let gate!: ReturnType<WorkflowTier['world']['gate']>;
  const rec = await tier.start({
    arrange: (id) => (gate = tier.world.gate(id, 'transcodeRecording')),
  });
  await gate.entered;
  const transcoding = await rec.status();
  expect(transcoding).toMatchObject({ state: 'transcoding', reviewReady: false });
  // The deadline runs beside the transcode: set before it ends.
  expect(transcoding.retention?.deleteAfter).toBeDefined();
  const ready = rec.settled();
  expect(await pendingAfter(ready, 500)).toBe(notYet);
  gate.open();
  const status = await ready;
  expect(status).toMatchObject({ state: 'retained', reviewReady: true });
  expect(status.derivatives?.inputSha256).toBe(status.sha256);
  tier.expectSound(rec.recordingId);
});

// Anyone reaching Temporal could send the old signal with any name in it: it writes nothing now. The note comes as
// an Update the custody API signed, and its entry names the signer.
test.concurrent(
  'the administrativeNote signal writes nothing; a signed note lands in the custody log',
  async () => {
    const rec = await tier.start();
    await rec.settled();
    await rec.handle.signal(messages.administrativeNoteSignal, {
      action: 'reset',
      by: 'mallory',
      reason: 'forged',
      details: { toEventId: 1 },
    });
    const note = {
      action: 'reset' as const,
      reason: 'non-determinism after deploy',
      details: { toEventId: 12, previousRunId: 'r-1' },
    };
    // Sent after the signal, so the signal was handled before this answer.
    expect(await act(rec.handle, 'admin.note', note, { subject: 'admin-4', roles: ['operator'] })).toEqual({
      recorded: true,
    });
    await rec.caughtUp();
    expect(rec.actions().filter((a) => a.includes('admin.'))).toEqual(['admin-4:admin.reset']);
    expect(tier.world.log(rec.recordingId).at(-1)?.details).toEqual({
      reason: 'non-determinism after deploy',
      toEventId: 12,
      previousRunId: 'r-1',
      ...signedProof(['operator']),
    });
    tier.expectSound(rec.recordingId);
  },
);
