/**
 * Operations on the real stack: a transcode that fails for a worker's missing ffmpeg parks and is replayed once
 * the worker is fixed (twice asked, run once); fixity finds bytes changed behind the store's back and parks the
 * recording until they are restored; quarantined recordings are released back into processing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ListObjectVersionsCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { updateRejection } from '../harness/updates';
import { act, approved } from '../harness/signed-actions';
import { createTestStack, type TestStack } from '../harness/stack';
import { testPolicyDir } from '../harness/test-policies';
import { testWorkflowBundle } from '../harness/env';
import { builtEntryPoint, envForConfig, startNode } from '../harness/processes';
import { syntheticClip } from '../fixtures/media';
import { loadConfig } from '../../workers/config';
import { startCustodyWorkers, type RunningWorkers } from '../../workers/run';
import { createMetrics } from '../../workers/metrics';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import { fixitySweepInput } from '../../workers/schedules';
import * as messages from '../../workflows/messages';
import type { FixitySweepSummary } from '../../workflows/fixity-sweep';

let stack: TestStack;
let clip: Buffer;
const policyDir = testPolicyDir({ 'test-1d': 'P1D' });
const extraWorkers: RunningWorkers[] = [];

beforeAll(async () => {
  // The stack runs orchestration and media-io; each test brings the transcode pool it needs.
  stack = await createTestStack('operations', {
    overrides: {
      CUSTODY_POLICY_DIR: policyDir,
      CUSTODY_DEFAULT_POLICY: 'test-1d',
      CUSTODY_POOLS: 'orchestration,media-io',
    },
  });
  clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
});
afterAll(async () => {
  for (const w of extraWorkers) await w.shutdown().catch(() => undefined);
  await stack?.stop();
});

/** Workers of `pools` on the stack's queues and stores, with some variables changed. */
async function startPool(pools: string, env: Record<string, string> = {}, metrics = createMetrics()) {
  const config = loadConfig(
    envForConfig(stack.config, { CUSTODY_POOLS: pools, CUSTODY_HTTP_PORT: '0', ...env }),
  );
  const workers = await startCustodyWorkers({
    config,
    s3: stack.clients.s3,
    media: createMediaTools({ ffmpegPath: config.media.ffmpegPath, ffprobePath: config.media.ffprobePath }),
    metrics,
    workflowBundlePath: testWorkflowBundle(),
    schedules: false,
  });
  extraWorkers.push(workers);
  return workers;
}

let counter = 0;
async function ingest(body: Buffer, extra: Parameters<TestStack['start']>[1] = {}) {
  const source = await stack.putInbox(`station-9/ops-${++counter}-${Date.now()}.mp4`, body);
  const outcome = await stack.start(source, extra);
  return { ...outcome, source, handle: stack.clients.client.workflow.getHandle(outcome.workflowId) };
}
const uniqueClip = () => Buffer.concat([clip, randomBytes(16)]);
const actions = async (recordingId: string) =>
  (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId))
    .sort((a, b) => a.seq - b.seq)
    .map((e) => e.action);

/** The log's actions once it holds `action`: the state shows needs-attention a moment before its entry is stored. */
async function actionsOnce(recordingId: string, action: string, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logged = await actions(recordingId);
    if (logged.includes(action) || Date.now() > deadline) return logged;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function versionsUnder(bucket: string, prefix: string) {
  const page = await stack.clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return page.Versions ?? [];
}

const afterAllCleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of afterAllCleanups) cleanup();
});

describe('a transcode that fails on a broken worker', () => {
  it('parks in needs-attention, and a replay after the fix runs the stage once', async () => {
    // A worker process of its own: fluent-ffmpeg holds one ffmpeg path per process.
    const broken = startNode(
      builtEntryPoint('workers/main.js'),
      envForConfig(stack.config, {
        CUSTODY_POOLS: 'transcode',
        CUSTODY_HTTP_PORT: '0',
        CUSTODY_FFMPEG_PATH: '/nonexistent/ffmpeg',
      }),
    );
    const brokenExit = new Promise((resolve) => broken.once('exit', resolve));
    // A failed expectation below must not leave the worker running (jest would wait for it forever).
    afterAllCleanups.push(() => {
      if (broken.exitCode === null && broken.signalCode === null) broken.kill('SIGKILL');
    });
    const rec = await ingest(uniqueClip());
    // Three attempts 10 s and 30 s apart (the workflow's retry policy), then parked.
    const parked = await stack.waitForState(rec.recordingId, 'needs-attention', 120_000);
    expect(parked.lastError).toMatchObject({ stage: 'transcode', type: 'FfmpegFailed', attempts: 3 });
    expect(parked.lastError?.message).toMatch(/\/nonexistent\/ffmpeg|CUSTODY_FFMPEG_PATH/);
    expect(parked.reviewReady).toBe(false);
    expect(await actionsOnce(rec.recordingId, 'stage.failed')).toContain('stage.failed');

    // The fix: the broken worker goes, a good one comes.
    broken.kill('SIGTERM');
    await brokenExit;
    await startPool('transcode');
    const replay = (by: string) => act(rec.handle, 'recording.replay', { reason: 'ffmpeg path fixed' }, by);
    // Two administrators at once: whichever arrives first replays, the other is refused by the validator.
    const both = await Promise.allSettled([replay('admin-1'), replay('admin-2')]);
    const accepted = both.filter((r) => r.status === 'fulfilled');
    const refused = both.filter((r) => r.status === 'rejected');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({ value: { stage: 'transcode', replayed: true } });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(replay('admin-3')).rejects.toThrow(WorkflowUpdateFailedError);

    const done = await stack.waitForState(rec.recordingId, 'retained', 120_000);
    expect(done.reviewReady).toBe(true);
    const log = await actions(rec.recordingId);
    expect(log.filter((a) => a === 'stage.replay-requested')).toHaveLength(1);
    expect(log.filter((a) => a === 'derivatives.stored')).toHaveLength(1);
    // Ran once: every derivative has exactly one version.
    const derivatives = await versionsUnder(
      stack.config.buckets.derivatives,
      `recordings/${rec.recordingId}/`,
    );
    expect(derivatives.length).toBeGreaterThanOrEqual(3);
    expect(new Set(derivatives.map((v) => v.Key)).size).toBe(derivatives.length);
  }, 300_000);
});

describe('fixity', () => {
  let fixityMetrics: ReturnType<typeof createMetrics>;
  beforeAll(async () => {
    fixityMetrics = createMetrics();
    // A second media-io worker with a metrics registry of its own, so the test can read the counters; the
    // fixity activities run on whichever media-io worker polls first, so the stack's worker gets none here.
    await stack.workers!.shutdown();
    stack.workers = await startPool('orchestration,media-io', {}, fixityMetrics);
  });

  /** One fixity run over every idle recording of this stack (one slot per run: the whole cycle). */
  async function runFixity(): Promise<FixitySweepSummary> {
    const input = { ...fixitySweepInput(stack.config), intervalSeconds: 86_400, fullCycleDays: 1, sample: 0 };
    return stack.clients.client.workflow.execute<(i: typeof input) => Promise<FixitySweepSummary>>(
      'fixitySweep',
      {
        taskQueue: stack.config.taskQueues.orchestration,
        workflowId: `fixity-${randomBytes(4).toString('hex')}`,
        args: [input],
      },
    );
  }
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const metric = (await fixityMetrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0);
  };

  it('re-hashes stored objects, finds bytes changed on disk, parks, and recovers once they are restored', async () => {
    await startPool('transcode');
    const rec = await ingest(uniqueClip());
    const retained = await stack.waitForState(rec.recordingId, 'retained', 120_000);
    const original = retained.original!;

    const clean = await runFixity();
    expect(clean.mismatched).toEqual([]);
    expect(clean.checked).toBeGreaterThanOrEqual(1);
    expect(clean.objects).toBeGreaterThanOrEqual(4); // original, proxy, sprite, poster
    expect(await counter('custody_fixity_mismatches_total')).toBe(0);

    // A forged report (anyone reaching Temporal can signal) makes the recording check itself: it finds its
    // objects intact, parks nothing and writes nothing to the custody log.
    // The confirming check counts its work (bytes hashed), not a second check result.
    const hashedBefore = await counter('custody_fixity_bytes_hashed_total');
    const logBefore = await actions(rec.recordingId);
    await rec.handle.signal(messages.fixityMismatchSignal, {
      checkedAt: new Date().toISOString(),
      checkedBy: 'mallory',
      mismatches: [
        {
          kind: 'original',
          bucket: original.bucket,
          key: original.key,
          expectedSha256: original.sha256,
          actualSha256: '0'.repeat(64),
          problem: 'hash-mismatch',
        },
      ],
      logProblems: [],
    });
    await waitFor(
      "the recording's own check after the forged report",
      async () => (await counter('custody_fixity_bytes_hashed_total')) > hashedBefore,
      30_000,
    );
    expect((await rec.handle.query(messages.statusQuery)).state).toBe('retained');
    expect(await actions(rec.recordingId)).toEqual(logBefore);

    // Tamper with the stored original behind the S3 API: flip one byte in versitygw's posix file.
    const file = path.join(process.env.CUSTODY_TEST_DATA_DIR!, 's3-root', original.bucket, original.key);
    const pristine = readFileSync(file);
    expect(createHash('sha256').update(pristine).digest('hex')).toBe(original.sha256);
    const tampered = Buffer.from(pristine);
    const middle = tampered.length >> 1;
    tampered[middle] = tampered[middle]! ^ 0xff;
    writeFileSync(file, tampered);

    const found = await runFixity();
    expect(found.mismatched).toEqual([rec.recordingId]);
    const parked = await stack.waitForState(rec.recordingId, 'needs-attention', 30_000);
    expect(parked.lastError).toMatchObject({ stage: 'fixity', type: 'FixityMismatch' });
    expect(parked.lastError?.message).toContain(createHash('sha256').update(tampered).digest('hex'));
    // Two checks found it — the sweep's, and the recording's own, which a report must pass before it parks anything
    // (a fixityMismatch signal is not trusted on its word) — but one incident is counted once.
    expect(
      await counter('custody_fixity_mismatches_total', { kind: 'original', problem: 'hash-mismatch' }),
    ).toBe(1);
    expect(await counter('custody_fixity_checks_total', { result: 'mismatch' })).toBe(1);
    const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, rec.recordingId);
    expect(log.filter((e) => e.action === 'fixity.mismatch')).toHaveLength(1);
    const mismatch = log.find((e) => e.action === 'fixity.mismatch');
    expect(mismatch?.details).toMatchObject({
      mismatches: [
        { kind: 'original', key: original.key, expectedSha256: original.sha256, problem: 'hash-mismatch' },
      ],
    });
    expect(verifyChain(log, { recordingId: rec.recordingId }).ok).toBe(true);

    // A replay while the bytes are still wrong checks again and stays parked.
    await act(rec.handle, 'recording.replay', { reason: 'check again' }, 'admin-1');
    await waitForLogAction(rec.recordingId, 'fixity.mismatch', 2);
    expect((await stack.waitForState(rec.recordingId, 'needs-attention')).lastError?.stage).toBe('fixity');

    // Restored from a backup: the replay finds it intact and the recording is retained again.
    writeFileSync(file, pristine);
    await act(rec.handle, 'recording.replay', { reason: 'restored' }, 'admin-1');
    await stack.waitForState(rec.recordingId, 'retained', 30_000);
    expect(await actions(rec.recordingId)).toContain('fixity.restored');
    expect((await runFixity()).mismatched).toEqual([]);
  }, 300_000);
});

describe('release from quarantine', () => {
  it('sends a hash-mismatch recording back into processing only by a request to accept the received hash, approved by a second person', async () => {
    const body = uniqueClip();
    const rec = await ingest(body, { declared: { sha256: 'f'.repeat(64) } });
    const quarantined = await stack.waitForState(rec.recordingId, 'quarantined');
    expect(quarantined.quarantine?.reason).toBe('hash-mismatch');
    const held = quarantined.quarantine!.object;

    const acceptHash = (reason: string) =>
      ({ kind: 'quarantine.release', reason, params: { acceptReceivedHash: true } }) as const;
    expect(
      await updateRejection(
        act(rec.handle, 'quarantine.release', { reason: 'dock firmware bug' }, 'admin-1'),
      ),
    ).toMatch(/release only by a request to accept the received hash/);
    expect(await updateRejection(act(rec.handle, 'request.create', acceptHash(' '), 'admin-1'))).toMatch(
      /needs a reason/,
    );
    const decided = await approved(rec.handle, acceptHash('dock firmware bug #4711'), 'admin-1', 'admin-2');
    expect(decided).toMatchObject({
      request: { kind: 'quarantine.release', state: 'approved', decidedBy: { subject: 'admin-2' } },
      outcome: { released: true, reason: 'hash-mismatch' },
    });
    const retained = await stack.waitForState(rec.recordingId, 'retained', 120_000);
    expect(retained.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(retained.quarantine).toBeUndefined();
    // Moved, not copied: the quarantined version is gone once the evidence copy is verified.
    expect(await versionsUnder(held.bucket, held.key)).toHaveLength(0);
    const log = await actions(rec.recordingId);
    expect(log.indexOf('quarantine.released')).toBeGreaterThan(log.indexOf('request.approved'));
    expect(log.indexOf('request.approved')).toBeGreaterThan(log.indexOf('request.created'));
    expect(log.indexOf('request.created')).toBeGreaterThan(log.indexOf('recording.quarantined'));
    expect(log).toContain('ingest.completed');
    const entries = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, rec.recordingId);
    expect(entries.find((e) => e.action === 'quarantine.released')).toMatchObject({
      actor: 'admin-1',
      details: { acceptReceivedHash: true, approvedBy: 'admin-2', reason: 'dock firmware bug #4711' },
    });
  }, 200_000);

  it('keeps the quarantined bytes when a released recording fails again', async () => {
    const rec = await ingest(randomBytes(64 * 1024));
    const first = await stack.waitForState(rec.recordingId, 'quarantined');
    expect(first.quarantine?.reason).toBe('not-media');
    await act(rec.handle, 'quarantine.release', { reason: 'probe upgraded' }, 'admin-2');
    await waitForLogAction(rec.recordingId, 'recording.quarantined', 2);
    const again = await stack.waitForState(rec.recordingId, 'quarantined');
    expect(again.quarantine?.reason).toBe('not-media');
    const head = await stack.clients.s3.send(
      new HeadObjectCommand({ Bucket: again.quarantine!.object.bucket, Key: again.quarantine!.object.key }),
    );
    expect(head.ContentLength).toBe(64 * 1024);
    // …and it waits there for a new release, not looping back into ingest.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await actions(rec.recordingId)).filter((a) => a === 'recording.quarantined')).toHaveLength(2);
  }, 120_000);

  it('refuses to release an empty file or a recording that is not quarantined', async () => {
    const empty = await ingest(Buffer.alloc(0));
    await stack.waitForState(empty.recordingId, 'quarantined');
    expect(
      await updateRejection(act(empty.handle, 'quarantine.release', { reason: 'retry' }, 'admin-1')),
    ).toMatch(/zero bytes/);
    const rec = await ingest(uniqueClip());
    await stack.waitForState(rec.recordingId, ['transcoding', 'retained']);
    expect(
      await updateRejection(act(rec.handle, 'quarantine.release', { reason: 'retry' }, 'admin-1')),
    ).toMatch(/not quarantined/);
  }, 60_000);
});

async function waitForLogAction(recordingId: string, action: string, count: number) {
  await waitFor(
    `${action} ${count} times in the custody log of ${recordingId}`,
    async () => (await actions(recordingId)).filter((a) => a === action).length >= count,
    30_000,
  );
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not reached within ${timeoutMs / 1000} s: ${what}`);
}
