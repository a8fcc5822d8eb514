/**
 * Parked recordings on the real stack, driven through the built `custody` CLI signed in as operators (through the
 * real custody API): three transcodes fail for real (a transcode worker process whose ffmpeg path points at
 * nothing) and park; a bulk replay --dry-run changes nothing; with the fix deployed, --limit 2 replays exactly
 * two; a refusal is a skip. Single replay keeps working, and release-quarantine sends a quarantined recording back
 * into processing — accepting the received hash only as a request a second person approves.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createTestStack, type TestStack } from '../harness/stack';
import { startCliApi, type CliApi, type CliPerson } from '../harness/cli-session';
import { testPolicyDir } from '../harness/test-policies';
import { builtEntryPoint, envForConfig, runNode, startNode } from '../harness/processes';
import { syntheticClip } from '../fixtures/media';
import { startCustodyWorkers, type RunningWorkers } from '../../workers/run';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { readCustodyLog } from '../../activities/custody-log/read';
import type { BulkReplayRow, BulkReplaySummary } from '../../cli/replay-bulk';

let stack: TestStack;
let cliApi: CliApi;
let env: NodeJS.ProcessEnv;
let clip: Buffer;
let transcoder: RunningWorkers | undefined;
const device = `cam-bulk-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  // This process runs orchestration and media-io; the transcode pool is a broken process, later a fixed one.
  stack = await createTestStack('replay-bulk', {
    overrides: {
      CUSTODY_POOLS: 'orchestration,media-io',
      CUSTODY_POLICY_DIR: testPolicyDir({ 'test-1h': 'PT1H' }),
    },
  });
  env = envForConfig(stack.config);
  clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  cliApi = await startCliApi(stack.config);
});
afterAll(async () => {
  await transcoder?.shutdown();
  await cliApi?.stop();
  await stack?.stop();
});

const people = {
  'admin-1': { subject: 'admin-1', roles: ['operator'] },
  'admin-2': { subject: 'admin-2', roles: ['operator', 'approver'] },
  /** An operator of another station: the recordings here are not among theirs. */
  'operator-elsewhere': { subject: 'operator-elsewhere', roles: ['operator'], units: ['station-elsewhere'] },
} satisfies Record<string, CliPerson>;
const sessions = new Map<string, Promise<Record<string, string>>>();

/** The built CLI, signed in as `person` (a dry run needs no sign-in: it only reads). */
async function custody(args: string[], person?: keyof typeof people) {
  let session: Record<string, string> = {};
  if (person) {
    if (!sessions.has(person)) sessions.set(person, cliApi.as(people[person]));
    session = await sessions.get(person)!;
  }
  return runNode(builtEntryPoint('cli/main.js'), args, { ...env, ...session }, 120_000);
}

type BulkOutput = BulkReplaySummary & { dryRun: boolean; recordings: BulkReplayRow[] };
const parse = (stdout: string) => JSON.parse(stdout) as BulkOutput;

let counter = 0;
async function ingest(declared: Record<string, string> = {}) {
  const source = await stack.putInbox(
    `station-5/bulk-${++counter}-${Date.now()}.mp4`,
    Buffer.concat([clip, Buffer.from(`${counter}-${Date.now()}`)]),
  );
  const { recordingId } = await stack.start(source, {
    policy: 'test-1h',
    declared: { deviceId: device, recordedAt: new Date().toISOString(), ...declared },
  });
  return recordingId;
}

const replayRequests = async (recordingId: string) =>
  (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).filter(
    (e) => e.action === 'stage.replay-requested',
  );

const parked: string[] = [];
/** The one recording the bulk replay left parked, for the single-replay test. */
let stillParked: string | undefined;

test('bulk replay: --dry-run changes nothing; --limit 2 of 3 parked touches exactly 2; a rejection is a skip', async () => {
  const broken = startNode(
    builtEntryPoint('workers/main.js'),
    envForConfig(stack.config, {
      CUSTODY_POOLS: 'transcode',
      CUSTODY_FFMPEG_PATH: '/nonexistent/custody-test/ffmpeg',
      CUSTODY_HTTP_PORT: '0',
      CUSTODY_SHUTDOWN_GRACE_SECONDS: '1',
    }),
  );
  try {
    parked.push(await ingest(), await ingest(), await ingest());
    const statuses = await Promise.all(
      parked.map((id) => stack.waitForState(id, 'needs-attention', 180_000)),
    );
    for (const status of statuses)
      expect(status.lastError).toMatchObject({ stage: 'transcode', attempts: 3 });
  } finally {
    broken.kill('SIGTERM');
    if (broken.exitCode === null) await once(broken, 'exit');
  }

  // Dry run (visibility may lag the state by a moment: ask until all three are listed).
  let dry: BulkOutput | undefined;
  for (let i = 0; i < 30 && (dry?.recordings.length ?? 0) < 3; i++) {
    if (i) await new Promise((r) => setTimeout(r, 500));
    const run = await custody(['replay', '--failed', '--device', device, '--dry-run', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    dry = parse(run.stdout);
  }
  expect(dry).toMatchObject({ dryRun: true, replayed: 0, skipped: 0, errors: 0 });
  expect(dry!.recordings.map((r) => r.recordingId).sort()).toEqual([...parked].sort());
  for (const row of dry!.recordings)
    expect(row).toMatchObject({ outcome: 'would-replay', stage: 'transcode' });
  const table = await custody(['replay', '--failed', '--device', device, '--dry-run']);
  expect(table.stdout).toMatch(/dry run: 3 recording\(s\) would be replayed; nothing changed/);
  for (const id of parked) {
    expect((await stack.waitForState(id, 'needs-attention', 1000)).state).toBe('needs-attention');
    expect(await replayRequests(id)).toEqual([]);
  }

  // The fix is deployed; replay at most two.
  transcoder = await startCustodyWorkers({
    config: { ...stack.config, pools: ['transcode'] },
    s3: stack.clients.s3,
    media: createMediaTools({
      ffmpegPath: stack.config.media.ffmpegPath,
      ffprobePath: stack.config.media.ffprobePath,
    }),
  });
  const run = await custody(
    [
      ...['replay', '--failed', '--device', device, '--stage', 'transcode', '--limit', '2'],
      ...['--rate', '4', '--reason', 'ffmpeg path fixed', '--json'],
    ],
    'admin-1',
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const bulk = parse(run.stdout);
  expect(bulk).toMatchObject({ dryRun: false, replayed: 2, skipped: 0, errors: 0 });
  const replayed = bulk.recordings.map((r) => r.recordingId);
  expect(replayed).toHaveLength(2);
  const untouched = parked.filter((id) => !replayed.includes(id));
  expect(untouched).toHaveLength(1);
  for (const id of replayed) {
    await stack.waitForState(id, 'retained', 90_000);
    expect(await replayRequests(id)).toEqual([
      expect.objectContaining({
        actor: 'admin-1',
        details: expect.objectContaining({
          stage: 'transcode',
          reason: 'ffmpeg path fixed',
          signedBy: expect.objectContaining({ roles: ['operator'] }) as object,
        }) as object,
      }),
    ]);
  }
  expect((await stack.waitForState(untouched[0]!, 'needs-attention', 1000)).state).toBe('needs-attention');
  expect(await replayRequests(untouched[0]!)).toEqual([]);

  // A refusal is reported as skipped with its reason, and is not an error: here the API's, for an operator of
  // another station, to whom the recording is as unknown as a made-up id.
  const rejected = await custody(['replay', '--failed', '--device', device, '--json'], 'operator-elsewhere');
  expect(rejected.code).toBe(0);
  const skip = parse(rejected.stdout);
  expect(skip).toMatchObject({ replayed: 0, skipped: 1, errors: 0 });
  expect(skip.recordings).toEqual([
    expect.objectContaining({
      recordingId: untouched[0],
      outcome: 'skipped',
      detail: expect.stringMatching(/no recording \w+ among the recordings of your units/) as string,
    }),
  ]);
  expect(await replayRequests(untouched[0]!)).toEqual([]);
  stillParked = untouched[0];
  const future = await custody([
    ...['replay', '--failed', '--device', device, '--since', '2999-01-01T00:00:00Z', '--dry-run', '--json'],
  ]);
  expect(parse(future.stdout).recordings).toEqual([]);
});

test('single replay still works; flags of the bulk form are refused with it; replaying twice is rejected', async () => {
  const parkedOne = stillParked;
  if (!parkedOne) throw new Error('the first test left no recording in needs-attention: see its failure');
  const mixed = await custody(['replay', parkedOne, '--limit', '2'], 'admin-2');
  expect(mixed.code).toBe(1);
  expect(mixed.stderr).toMatch(/--limit only apply with --failed/);
  const nothing = await custody(['replay'], 'admin-2');
  expect(nothing.code).toBe(1);
  expect(nothing.stderr).toMatch(/a recording id, or --failed/);

  const single = await custody(['replay', parkedOne], 'admin-2');
  expect(single.code).toBe(0);
  expect(single.stdout).toMatch(/stage transcode runs again from its start/);
  await stack.waitForState(parkedOne, 'retained', 90_000);
  const twice = await custody(['replay', parkedOne], 'admin-2');
  expect(twice.code).toBe(4);
  expect(twice.stderr).toMatch(/not needs-attention: nothing to replay/);
  expect(await replayRequests(parkedOne)).toHaveLength(1);
});

test('release-quarantine: a hash mismatch is released only by a request to accept the received hash, which a second person approves', async () => {
  const id = await ingest({ sha256: '0'.repeat(64) });
  const quarantined = await stack.waitForState(id, 'quarantined', 60_000);
  expect(quarantined.quarantine?.reason).toBe('hash-mismatch');

  const refused = await custody(['release-quarantine', id, '--reason', 'dock bug'], 'admin-1');
  expect(refused.code).toBe(4);
  expect(refused.stderr).toMatch(/refused: quarantined for a hash mismatch: release only by a request/);
  const noReason = await custody(
    ['release-quarantine', id, '--reason', ' ', '--accept-received-hash'],
    'admin-1',
  );
  expect(noReason.code).toBe(1);
  expect(noReason.stderr).toMatch(/--reason must say why/);

  const asked = await custody(
    [
      ...['release-quarantine', id, '--reason', 'dock firmware hashed the wrong file'],
      ...['--accept-received-hash', '--json'],
    ],
    'admin-1',
  );
  expect(asked.stderr).toBe('');
  expect(asked.code).toBe(0);
  const request = JSON.parse(asked.stdout) as { id: string };
  expect(request).toMatchObject({
    kind: 'quarantine.release',
    state: 'pending',
    params: { acceptReceivedHash: true },
    requestedBy: { subject: 'admin-1' },
  });
  expect((await stack.waitForState(id, 'quarantined', 1000)).state).toBe('quarantined');

  const approved = await custody(
    ['request', 'approve', id, request.id, '--reason', 'dock vendor confirmed the bug', '--json'],
    'admin-2',
  );
  expect(approved.stderr).toBe('');
  expect(approved.code).toBe(0);
  expect(JSON.parse(approved.stdout)).toMatchObject({
    request: { id: request.id, state: 'approved' },
    outcome: { released: true, reason: 'hash-mismatch' },
  });
  await stack.waitForState(id, 'retained', 90_000);
  const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, id);
  expect(log.filter((e) => e.action.startsWith('request.')).map((e) => `${e.actor}:${e.action}`)).toEqual([
    'admin-1:request.created',
    'admin-2:request.approved',
  ]);
  expect(log.filter((e) => e.action === 'quarantine.released')).toEqual([
    expect.objectContaining({
      actor: 'admin-1',
      details: expect.objectContaining({ acceptReceivedHash: true, approvedBy: 'admin-2' }) as object,
    }),
  ]);
  const again = await custody(
    ['release-quarantine', id, '--reason', 'again', '--accept-received-hash'],
    'admin-1',
  );
  expect(again.code).toBe(4);
  expect(again.stderr).toMatch(/not quarantined/);
});
