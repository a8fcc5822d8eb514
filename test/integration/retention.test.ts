/**
 * Retention and deletion on the real Temporal dev server and versitygw, with second-long rule packs: deadlines
 * fire, holds keep, four-eyes rules reject, evidence is WORM-locked, policy changes re-arm, and every deletion
 * leaves no version behind and exactly one certificate. People act through the built CLI, signed in, which goes
 * through the real custody API; where a step must be quick (before a 10 s deadline) the test signs the action
 * itself and sends it as the API would.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import { updateRejection } from '../harness/updates';
import { act } from '../harness/signed-actions';
import { ALL_ROLES, startCliApi, type CliApi } from '../harness/cli-session';
import { createTestStack, type TestStack } from '../harness/stack';
import { testPolicyDir } from '../harness/test-policies';
import { builtEntryPoint, envForConfig, runNode } from '../harness/processes';
import { syntheticClip, cameraFixtures } from '../fixtures/media';
import * as messages from '../../workflows/messages';
import { readCertificate } from '../../activities/write-certificate';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import type { RecordingStatus } from '../../domain/types';

let stack: TestStack;
let cliApi: CliApi;
let clip: Buffer;
let env: NodeJS.ProcessEnv;
const policyDir = testPolicyDir({ 'test-10s': 'PT10S', 'test-1h': 'PT1H', 'test-1d': 'P1D' });

beforeAll(async () => {
  stack = await createTestStack('retention', { overrides: { CUSTODY_POLICY_DIR: policyDir } });
  clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  env = envForConfig(stack.config);
  cliApi = await startCliApi(stack.config);
});
afterAll(async () => {
  await cliApi?.stop();
  await stack?.stop();
});

const sessions = new Map<string, Promise<Record<string, string>>>();
/** The CLI as `person` (signed in with every custody role), or with no sign-in for commands that need none. */
const custody = async (args: string[], person?: string) => {
  let session: Record<string, string> = {};
  if (person) {
    if (!sessions.has(person)) sessions.set(person, cliApi.as({ subject: person, roles: ALL_ROLES }));
    session = await sessions.get(person)!;
  }
  return runNode(builtEntryPoint('cli/main.js'), args, { ...env, ...session }, 120_000);
};

interface DecidedRequest {
  request: { id: string; kind: string; state: string; decidedBy?: { subject: string } };
  outcome?: Record<string, unknown>;
}

let counter = 0;
/** Ingests a small clip under `policy`, recorded now; resolves once it is retained (transcoded). */
async function retainedRecording(policy: string, recordedAt = new Date().toISOString()) {
  const source = await stack.putInbox(
    `station-3/rec-${++counter}-${Date.now()}.mp4`,
    Buffer.concat([clip, Buffer.from(String(counter))]),
  );
  const outcome = await stack.start(source, { policy, declared: { deviceId: 'cam-77', recordedAt } });
  const status = await stack.waitForState(outcome.recordingId, 'retained');
  return {
    recordingId: outcome.recordingId,
    status,
    handle: stack.clients.client.workflow.getHandle(outcome.workflowId),
  };
}

async function versionsOf(recordingId: string) {
  const listed = [];
  for (const bucket of [stack.config.buckets.evidence, stack.config.buckets.derivatives]) {
    const page = await stack.clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `recordings/${recordingId}/` }),
    );
    listed.push(...(page.Versions ?? []).map((v) => ({ bucket, key: v.Key!, versionId: v.VersionId! })));
    listed.push(...(page.DeleteMarkers ?? []).map((v) => ({ bucket, key: v.Key!, versionId: v.VersionId! })));
  }
  return listed;
}

test('a PT10S recording is deleted within seconds of its deadline, every version, with a certificate of exactly what was stored', async () => {
  const { recordingId, status } = await retainedRecording('test-10s');
  expect(status.retention?.pack).toMatchObject({ id: 'test-10s', retention: 'PT10S' });
  const stored = await versionsOf(recordingId);
  expect(stored).toHaveLength(5); // original + proxy, sprite, poster + derivatives.json

  const deleted = await stack.waitForState(recordingId, 'deleted', 60_000);
  expect(await versionsOf(recordingId)).toEqual([]);
  const certificate = await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId);
  expect(certificate?.verdict.ok).toBe(true);
  const c = certificate!.certificate!;
  expect(c.cause).toBe('deadline');
  expect(c.originalSha256).toBe(status.sha256);
  expect(c.rulePack).toMatchObject({ id: 'test-10s', version: 1 });
  expect(c.objects.map((o) => `${o.key}@${o.versionId}`).sort()).toEqual(
    stored.map((o) => `${o.key}@${o.versionId}`).sort(),
  );
  expect(c.objects.find((o) => o.key.endsWith('/original'))?.sha256).toBe(status.sha256);
  const lateMs = Date.parse(c.deletedAt) - Date.parse(c.deadline);
  expect(lateMs).toBeGreaterThanOrEqual(0);
  expect(lateMs).toBeLessThan(15_000);

  // The log outlives the recording and ends where the certificate says (plus the certificate's own entry).
  const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
  expect(verifyChain(log).ok).toBe(true);
  expect(log.find((e) => e.seq === c.custodyLog.headSeq)?.hash).toBe(c.custodyLog.headHash);
  expect(log.at(-1)).toMatchObject({
    action: 'certificate.written',
    details: { certificateHash: c.certificateHash },
  });
  expect(deleted.certificate?.certificateHash).toBe(c.certificateHash);

  const cli = await custody(['certificate', recordingId], 'auditor-1');
  expect(cli.code).toBe(0);
  expect(cli.stdout).toMatch(/verified\s+certificate hash OK/);
});

test('hold → kept past the deadline → release approved by its requester refused → approved by a second person → deleted', async () => {
  const { recordingId, handle } = await retainedRecording('test-10s');
  // Signed here, as the API would: through the CLI the hold might come after the 10 s deadline.
  await act(handle, 'hold.place', { caseId: 'AZ-2026-117', reason: 'complaint filed' }, 'supervisor-1');
  const held = await stack.waitForState(recordingId, 'held');
  await new Promise((r) =>
    setTimeout(r, Math.max(0, Date.parse(held.retention!.deleteAfter) + 3000 - Date.now())),
  );
  expect((await handle.query(messages.statusQuery)).state).toBe('held');
  expect(await versionsOf(recordingId)).toHaveLength(5);

  // A release is a request; its requester cannot approve it, even holding the approver role.
  const asked = await custody(
    ['release', recordingId, '--reason', 'complaint withdrawn', '--json'],
    'supervisor-1',
  );
  expect(asked.stderr).toBe('');
  expect(asked.code).toBe(0);
  const request = JSON.parse(asked.stdout) as { id: string; kind: string; state: string };
  expect(request).toMatchObject({ kind: 'hold.release', state: 'pending' });
  const same = await custody(
    ['request', 'approve', recordingId, request.id, '--reason', 'mine'],
    'supervisor-1',
  );
  expect(same.code).toBe(4);
  expect(same.stderr).toContain('four-eyes');
  expect(
    await updateRejection(
      act(handle, 'request.create', { kind: 'deletion.early', reason: 'x', params: {} }, 'a'),
    ),
  ).toContain('held');

  const released = await custody(
    ['request', 'approve', recordingId, request.id, '--reason', 'withdrawal confirmed', '--json'],
    'dpo-2',
  );
  expect(released.stderr).toBe('');
  expect(released.code).toBe(0);
  expect(JSON.parse(released.stdout)).toMatchObject({
    request: { id: request.id, state: 'approved', decidedBy: { subject: 'dpo-2' } },
    outcome: { released: ['hold-1'] },
  });
  await stack.waitForState(recordingId, 'deleted', 30_000);
  expect(await versionsOf(recordingId)).toEqual([]);
  const actions = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).map(
    (e) => `${e.actor}:${e.action}`,
  );
  expect(actions).toEqual(
    expect.arrayContaining([
      'supervisor-1:hold.placed',
      'supervisor-1:request.created',
      'dpo-2:request.approved',
      'supervisor-1:hold.released',
      'system:recording.deleted',
    ]),
  );
  expect(actions.filter((a) => a.endsWith(':request.approved'))).toEqual(['dpo-2:request.approved']);
});

test('an extension only lengthens; delete-early needs two people and a reason', async () => {
  const { recordingId, handle, status } = await retainedRecording('test-1h');
  const deadline = status.retention!.deleteAfter;
  const earlier = new Date(Date.parse(deadline) - 60_000).toISOString();
  expect(
    await updateRejection(act(handle, 'retention.extend', { until: earlier, reason: 'r' }, 'u1')),
  ).toContain('may only lengthen');
  const cli = await custody(
    ['extend', recordingId, '--for', 'P1D', '--reason', 'court date set', '--json'],
    'u1',
  );
  expect(cli.stderr).toBe('');
  expect(cli.code).toBe(0);
  expect(JSON.parse(cli.stdout)).toEqual({
    previous: deadline,
    deleteAfter: new Date(Date.parse(deadline) + 86_400_000).toISOString(),
  });

  const noReason = await custody(['delete-early', recordingId, '--reason', ' '], 'u1');
  expect(noReason.code).toBe(1);
  expect(noReason.stderr).toMatch(/reason/);
  const asked = await custody(['delete-early', recordingId, '--reason', 'not relevant', '--json'], 'u1');
  expect(asked.code).toBe(0);
  const request = JSON.parse(asked.stdout) as { id: string };
  const self = await custody(['request', 'approve', recordingId, request.id, '--reason', 'ok'], 'u1');
  expect(self.code).toBe(4);
  expect(self.stderr).toContain('four-eyes');
  expect((await handle.query(messages.statusQuery)).state).toBe('retained');

  const approved = await custody(
    ['request', 'approve', recordingId, request.id, '--reason', 'checked with the station'],
    'u2',
  );
  expect(approved.stderr).toBe('');
  expect(approved.code).toBe(0);
  expect(approved.stdout).toContain(`request ${request.id} (deletion.early) approved`);
  const deleted = await stack.waitForState(recordingId, 'deleted', 30_000);
  const certificate = (await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId))!
    .certificate!;
  expect(certificate).toMatchObject({
    cause: 'early',
    requestedBy: 'u1',
    approvals: [{ actor: 'u2', reason: 'not relevant' }],
  });
  expect(deleted.state).toBe('deleted');
});

test('evidence: COMPLIANCE lock until the deadline on original and derivatives; storage refuses a direct delete', async () => {
  const { recordingId, status } = await retainedRecording('test-1d');
  const marked = await custody(['mark-evidence', recordingId, '--case', 'AZ-9', '--json'], 'custodian-3');
  expect(marked.stderr).toBe('');
  expect(marked.code).toBe(0);
  const deadline = status.retention!.deleteAfter;
  const now = await stack.clients.client.workflow.getHandle(`rec-${recordingId}`).query(messages.statusQuery);
  expect(now.retention?.evidence).toMatchObject({ caseId: 'AZ-9', by: 'custodian-3' });
  const objects = [now.original!, ...now.derivatives!.derivatives];
  for (const o of objects) {
    const retention = await stack.clients.s3.send(
      new GetObjectRetentionCommand({ Bucket: o.bucket, Key: o.key, VersionId: o.versionId }),
    );
    expect(retention.Retention?.Mode).toBe('COMPLIANCE');
    expect(Math.abs(retention.Retention!.RetainUntilDate!.getTime() - Date.parse(deadline))).toBeLessThan(
      1000,
    );
  }
  await expect(
    stack.clients.s3.send(
      new DeleteObjectCommand({
        Bucket: now.original!.bucket,
        Key: now.original!.key,
        VersionId: now.original!.versionId,
      }),
    ),
  ).rejects.toThrow(/object lock/i);
  // Not even the request is accepted: evidence is not deleted early.
  const early = await custody(['delete-early', recordingId, '--reason', 'x'], 'records-admin-4');
  expect(early.code).toBe(4);
  expect(early.stderr).toContain('evidence');
  // An extension extends the lock.
  const extend = await custody(['extend', recordingId, '--for', 'P1D', '--reason', 'trial'], 'custodian-3');
  expect(extend.code).toBe(0);
  const extended = await stack.clients.s3.send(
    new GetObjectRetentionCommand({
      Bucket: now.original!.bucket,
      Key: now.original!.key,
      VersionId: now.original!.versionId,
    }),
  );
  expect(extended.Retention!.RetainUntilDate!.getTime()).toBeGreaterThan(Date.parse(deadline) + 86_000_000);
});

test('policy apply: the dry run changes nothing; an approved shorter pack deletes those now past due', async () => {
  const recordedAt = new Date(Date.now() - 60_000).toISOString(); // a minute ago: past a 10 s deadline
  const { recordingId } = await retainedRecording('test-1h', recordedAt);
  const dry = await custody(
    ['policy', 'apply', 'test-10s', '--recording', recordingId, '--dry-run', '--json'],
    'dpo-1',
  );
  expect(dry.stderr).toBe('');
  expect(dry.code).toBe(0);
  const plan = JSON.parse(dry.stdout) as {
    dryRun: boolean;
    recordings: { recordingId: string; change: string; request?: string }[];
  };
  expect(plan.dryRun).toBe(true);
  expect(plan.recordings).toEqual([expect.objectContaining({ recordingId, change: 'shortened' })]);
  expect(plan.recordings[0]!.request).toBeUndefined();
  const unchanged: RecordingStatus = await stack.clients.client.workflow
    .getHandle(`rec-${recordingId}`)
    .query(messages.statusQuery);
  expect(unchanged.retention?.pack.id).toBe('test-1h');
  expect(unchanged.state).toBe('retained');
  expect(unchanged.requests ?? []).toEqual([]);

  const noReason = await custody(['policy', 'apply', 'test-10s', '--recording', recordingId], 'dpo-1');
  expect(noReason.code).toBe(1);
  expect(noReason.stderr).toMatch(/--reason/);
  const asked = await custody(
    ['policy', 'apply', 'test-10s', '--recording', recordingId, '--reason', 'the station moved'],
    'dpo-1',
  );
  expect(asked.stderr).toBe('');
  expect(asked.code).toBe(0);
  expect(asked.stdout).toContain('asked for test-10s v1 on 1 recordings');
  // Nothing changes until a second person approves.
  expect(
    (await stack.clients.client.workflow.getHandle(`rec-${recordingId}`).query(messages.statusQuery)).state,
  ).toBe('retained');
  const listed = await custody(['requests', '--recording', recordingId, '--json'], 'dpo-2');
  expect(listed.code).toBe(0);
  const pending = JSON.parse(listed.stdout) as { id: string; kind: string; state: string; params: object }[];
  expect(pending).toEqual([
    expect.objectContaining({
      kind: 'policy.apply',
      state: 'pending',
      params: expect.objectContaining({ packId: 'test-10s' }) as object,
    }),
  ]);

  const approved = await custody(
    ['request', 'approve', recordingId, pending[0]!.id, '--reason', 'confirmed', '--json'],
    'dpo-2',
  );
  expect(approved.stderr).toBe('');
  expect(approved.code).toBe(0);
  expect((JSON.parse(approved.stdout) as DecidedRequest).outcome).toMatchObject({ change: 'shortened' });
  await stack.waitForState(recordingId, 'deleted', 30_000);
  const certificate = (await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId))!
    .certificate!;
  expect(certificate).toMatchObject({
    cause: 'policy',
    rulePack: { id: 'test-10s' },
    requestedBy: 'dpo-1',
    approvals: [{ actor: 'dpo-2' }],
  });
  // The deadline was recordedAt + 10 s: already past, so deleted at once (deadlines are ceilings).
  expect(Date.parse(certificate.deadline)).toBe(Date.parse(recordedAt) + 10_000);
  const log = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).map(
    (e) => `${e.actor}:${e.action}`,
  );
  expect(log).toEqual(
    expect.arrayContaining(['dpo-1:request.created', 'dpo-2:request.approved', 'dpo-1:policy.applied']),
  );
});

test('policy list and show', async () => {
  const list = await custody(['policy', 'list', '--json']);
  const packs = JSON.parse(list.stdout) as { id: string; retention: string; citation: string }[];
  expect(packs).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ id: 'bw-polg-44', retention: 'P28D', citation: '§ 44 PolG BW' }),
      expect.objectContaining({ id: 'nrw-polg-15c', retention: 'P14D' }),
      expect.objectContaining({ id: 'bpolg-27a', retention: 'P30D' }),
      expect.objectContaining({ id: 'by-pag', retention: 'P2M' }),
    ]),
  );
  const show = await custody(['policy', 'show', 'nrw-obg-24']);
  expect(show.stdout).toMatch(/citation: § 24 OBG NRW/);
});

describe('undecodable media parks in needs-attention (stage transcode) and never delays the deadline', () => {
  const garbled = async () => readFileSync((await cameraFixtures()).garbledPayload);

  test('parked with the error; the original untouched; a replay runs the stage again from its start', async () => {
    const bytes = await garbled();
    const source = await stack.putInbox(`station-3/garbled-${Date.now()}.mp4`, bytes);
    const { recordingId } = await stack.start(source, { policy: 'test-1h' });
    const parked = await stack.waitForState(recordingId, 'needs-attention', 120_000);
    expect(parked.lastError).toMatchObject({ stage: 'transcode', type: 'CorruptMedia' });
    expect(parked.reviewReady).toBe(false);
    expect(parked.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await versionsOf(recordingId)).toHaveLength(1); // the original only: no partial derivatives

    const failed = await custody(['failed', '--stage', 'transcode', '--json']);
    const parkedRows = (
      JSON.parse(failed.stdout) as { rows: { recordingId: string; lastError: { type: string } }[] }
    ).rows;
    expect(parkedRows.find((r) => r.recordingId === recordingId)?.lastError.type).toBe('CorruptMedia');
    const listed = await custody(['list', '--state', 'needs-attention', '--json']);
    expect(
      (JSON.parse(listed.stdout) as { rows: { recordingId: string }[] }).rows.map((r) => r.recordingId),
    ).toContain(recordingId);

    const replay = await custody(['replay', recordingId, '--reason', 'after ffmpeg fix'], 'admin-7');
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    await stack.waitForState(recordingId, 'transcoding', 30_000).catch(() => undefined);
    const again = await stack.waitForState(recordingId, 'needs-attention', 120_000);
    expect(Date.parse(again.lastError!.at)).toBeGreaterThan(Date.parse(parked.lastError!.at));
    // The state shows needs-attention a moment before its stage.failed entry is stored.
    let log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
    for (let tries = 0; log.filter((e) => e.action === 'stage.failed').length < 2 && tries < 75; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
    }
    expect(log.filter((e) => e.action === 'stage.failed')).toHaveLength(2);
    expect(log.find((e) => e.action === 'stage.replay-requested')).toMatchObject({
      actor: 'admin-7',
      details: { stage: 'transcode', reason: 'after ffmpeg fix' },
    });
    const unknown = await custody(['replay', 'ffffffffffffffffffff'], 'admin-7');
    expect(unknown.code).toBe(2);
  });

  test('a parked transcode does not delay deletion at the deadline', async () => {
    const source = await stack.putInbox(`station-3/garbled-deadline-${Date.now()}.mp4`, await garbled());
    const { recordingId } = await stack.start(source, {
      policy: 'test-10s',
      declared: { recordedAt: new Date().toISOString() },
    });
    const deleted = await stack.waitForState(recordingId, 'deleted', 90_000);
    const certificate = (await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId))!
      .certificate!;
    expect(certificate.cause).toBe('deadline');
    expect(Date.parse(certificate.deletedAt) - Date.parse(certificate.deadline)).toBeLessThan(15_000);
    expect(deleted.reviewReady).toBe(false);
    expect(await versionsOf(recordingId)).toEqual([]);
  });
});
