/**
 * On the production-shaped Temporal (test/harness/temporal-server.ts: PostgreSQL, mutual TLS, JWT authorizer).
 * What must survive: a Temporal server restart while deadlines wait (persistent state), and a worker killed
 * with SIGKILL in the middle of a deletion (the retry on another worker finishes it: one deletion, one
 * certificate listing every version) — and between the copy into the evidence store and its hash.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import {
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../harness/stack';
import { testConfig } from '../harness/env';
import { testPolicyDir } from '../harness/test-policies';
import {
  startOwnTemporalServer,
  temporalCredentials,
  temporalEnvAs,
  type TemporalServer,
} from '../harness/temporal-server';
import { builtEntryPoint, envForConfig, startNode } from '../harness/processes';
import { syntheticClip } from '../fixtures/media';
import { readCertificate } from '../../activities/write-certificate';
import { readCustodyLog } from '../../activities/custody-log/read';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import { deletionInventoryKey } from '../../activities/delete-recording';
import { verifyChain } from '../../activities/custody-log/chain';
import { holdUpdate } from '../../workflows/messages';
import { act, approved } from '../harness/signed-actions';
import { updateRejection } from '../harness/updates';

const policyDir = testPolicyDir({ 'test-20s': 'PT20S', 'test-15s': 'PT15S', 'test-1h': 'PT1H' });
let scratch: string;
let clip: Buffer;
beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-durability-'));
  clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('deadlines still fire after the Temporal server restarts (its state in PostgreSQL)', async () => {
  const database = `temporal_restart_${randomBytes(3).toString('hex')}`;
  let server: TemporalServer = await startOwnTemporalServer({ dataDir: scratch, database });
  const port = Number(server.address.split(':').pop());
  const config = testConfig('restart', {
    ...temporalEnvAs(temporalCredentials(), 'worker', server.address),
    CUSTODY_POLICY_DIR: policyDir,
  });
  let stack: TestStack | undefined = await createTestStack('restart', { config });
  try {
    const source = await stack.putInbox('dock-1/before-restart.mp4', clip);
    const { recordingId } = await stack.start(source, {
      policy: 'test-20s',
      declared: { recordedAt: new Date().toISOString() },
    });
    const retained = await stack.waitForState(recordingId, 'retained');
    await stack.stop();
    stack = undefined;
    await server.stop();

    server = await startOwnTemporalServer({ dataDir: scratch, database, port, fresh: false });
    stack = await createTestStack('restart', { config });
    const deleted = await stack.waitForState(recordingId, 'deleted', 90_000);
    expect(deleted.certificate).toBeDefined();
    const certificate = (await readCertificate(stack.clients.s3, config.buckets.audit, recordingId))!
      .certificate!;
    expect(certificate.deadline).toBe(retained.retention!.deleteAfter);
    expect(certificate.cause).toBe('deadline');
  } finally {
    await stack?.stop();
    await server.stop();
  }
});

describe('a media-io worker killed with SIGKILL', () => {
  let stack: TestStack;
  const children: ReturnType<typeof startNode>[] = [];
  beforeAll(async () => {
    // Orchestration and transcode in this process; media-io (copy, deletion) in child processes we can kill.
    stack = await createTestStack('kill', {
      overrides: {
        CUSTODY_POLICY_DIR: policyDir,
        CUSTODY_POOLS: 'orchestration,transcode',
        ...temporalEnvAs(temporalCredentials(), 'worker'),
      },
    });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await stack?.stop();
  });
  const mediaWorker = () => {
    const child = startNode(
      builtEntryPoint('workers/main.js'),
      envForConfig(stack.config, { CUSTODY_POOLS: 'media-io', CUSTODY_HTTP_PORT: '0' }),
    );
    children.push(child);
    return child;
  };
  async function kill(child: ReturnType<typeof startNode>) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  test('during deletion: another worker finishes it, once, with one certificate listing every version', async () => {
    let worker = mediaWorker();
    const source = await stack.putInbox('dock-2/kill-during-deletion.mp4', clip);
    const { recordingId } = await stack.start(source, {
      policy: 'test-15s',
      declared: { recordedAt: new Date().toISOString() },
    });
    const retained = await stack.waitForState(recordingId, 'retained');
    // Many versions of the original (as an interrupted re-upload might leave), so deletion takes a while.
    const key = evidenceOriginalKey(recordingId);
    for (let i = 0; i < 150; i++) {
      await stack.clients.s3.send(
        new PutObjectCommand({ Bucket: stack.config.buckets.evidence, Key: key, Body: `v${i}` }),
      );
    }
    const countVersions = async () =>
      (
        await stack.clients.s3.send(
          new ListObjectVersionsCommand({ Bucket: stack.config.buckets.evidence, Prefix: key }),
        )
      ).Versions?.length ?? 0;
    expect(await countVersions()).toBe(151);

    // Kill the worker once the inventory is written and some, not all, versions are gone.
    await until(
      'deletion to be under way',
      async () => {
        const inventory = await stack.clients.s3
          .send(
            new ListObjectVersionsCommand({
              Bucket: stack.config.buckets.audit,
              Prefix: deletionInventoryKey(recordingId, 1),
            }),
          )
          .then((r) => (r.Versions?.length ?? 0) > 0);
        if (!inventory) return false;
        const left = await countVersions();
        return left > 0 && left < 151;
      },
      Date.parse(retained.retention!.deleteAfter) - Date.now() + 60_000,
    );
    await kill(worker);
    const leftAtKill = await countVersions();
    expect(leftAtKill).toBeGreaterThan(0);

    worker = mediaWorker();
    await stack.waitForState(recordingId, 'deleted', 120_000);
    expect(await countVersions()).toBe(0);
    const certificate = (await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId))!;
    expect(certificate.verdict.ok).toBe(true);
    expect(certificate.certificate!.objects.filter((o) => o.key === key)).toHaveLength(151);
    const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
    expect(log.filter((e) => e.action === 'recording.deleted')).toHaveLength(1);
    expect(log.filter((e) => e.action === 'certificate.written')).toHaveLength(1);
    await kill(worker);
  });

  test('between the copy into the evidence store and its hash: a retry on another worker leaves one tagged version', async () => {
    // 400 MiB: the server-side copy is quick, the hash of the stored version takes long enough to kill in.
    const big = Buffer.concat([clip, Buffer.alloc(400 * 1024 * 1024, 7)]);
    const source = await stack.putInbox('dock-2/kill-during-hash.mp4', big);
    let worker = mediaWorker();
    const { recordingId } = await stack.start(source, { policy: 'test-1h' });
    const key = evidenceOriginalKey(recordingId);
    const evidenceVersions = async () =>
      (
        await stack.clients.s3.send(
          new ListObjectVersionsCommand({ Bucket: stack.config.buckets.evidence, Prefix: key }),
        )
      ).Versions ?? [];
    await until('the copy to be stored', async () => (await evidenceVersions()).length > 0);
    await kill(worker);
    // Killed before the sha256 tag: the stored copy is unfinished, and the retry must not keep it beside its own.
    const [copied] = await evidenceVersions();
    const tags = await stack.clients.s3.send(
      new GetObjectTaggingCommand({
        Bucket: stack.config.buckets.evidence,
        Key: key,
        VersionId: copied!.VersionId,
      }),
    );
    expect(tags.TagSet ?? []).toEqual([]);

    worker = mediaWorker();
    const status = await stack.waitForState(recordingId, 'retained', 150_000);
    expect(status.bytes).toBe(big.length);
    const versions = await evidenceVersions();
    expect(versions.map((v) => v.VersionId)).toEqual([status.original!.versionId]);
    expect(status.original!.versionId).not.toBe(copied!.VersionId);
    const uploads = await stack.clients.s3.send(
      new ListMultipartUploadsCommand({ Bucket: stack.config.buckets.evidence, Prefix: key }),
    );
    expect(uploads.Uploads ?? []).toHaveLength(0);
    await kill(worker);
  });
});

test('a recording that waits long continues as new when Temporal suggests it, with its state and log intact', async () => {
  const server = await startOwnTemporalServer({
    dataDir: scratch,
    database: `temporal_can_${randomBytes(3).toString('hex')}`,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 },
  });
  const config = testConfig('can', {
    ...temporalEnvAs(temporalCredentials(), 'worker', server.address),
    CUSTODY_POLICY_DIR: policyDir,
  });
  const stack = await createTestStack('can', { config });
  try {
    const source = await stack.putInbox('dock-3/long-wait.mp4', clip);
    const { recordingId, workflowId } = await stack.start(source, { policy: 'test-1h' });
    await stack.waitForState(recordingId, 'retained');
    const handle = stack.clients.client.workflow.getHandle(workflowId);
    const firstRun = (await handle.describe()).runId;
    // Holds and releases (four-eyes requests) add history; the workflow must continue as new on the way.
    for (let i = 1; i <= 8; i++) {
      await act(handle, 'hold.place', { caseId: `AZ-${i}`, reason: 'review' }, 'u1');
      await approved(handle, { kind: 'hold.release', reason: 'review done', params: {} }, 'u1', 'u2');
    }
    const latest = await stack.clients.client.workflow.getHandle(workflowId).describe();
    expect(latest.runId).not.toBe(firstRun);
    const status = await stack.waitForState(recordingId, 'retained');
    expect(status.retention?.holds).toHaveLength(8);
    expect(status.retention?.holds.every((h) => h.releasedAt)).toBe(true);
    expect(status.requests?.map((r) => `${r.kind}:${r.state}`)).toEqual(
      Array(8).fill('hold.release:approved'),
    );
    // The assertions a run has accepted go with it: the first hold's, sent again to the new run, is refused.
    const firstHold = (await readCustodyLog(stack.clients.s3, config.buckets.audit, recordingId)).find(
      (e) => e.action === 'hold.placed',
    )!;
    const assertion = (firstHold.details as { assertion: string }).assertion;
    expect(await updateRejection(handle.executeUpdate(holdUpdate, { args: [{ assertion }] }))).toMatch(
      /was used already/,
    );
    await approved(handle, { kind: 'deletion.early', reason: 'not relevant', params: {} }, 'u1', 'u2');
    await stack.waitForState(recordingId, 'deleted', 60_000);
    const log = await readCustodyLog(stack.clients.s3, config.buckets.audit, recordingId);
    expect(verifyChain(log).ok).toBe(true);
    expect(log.filter((e) => e.action === 'hold.placed')).toHaveLength(8);
    expect(log.filter((e) => e.action === 'request.approved')).toHaveLength(9);
  } finally {
    await stack.stop();
    await server.stop();
  }
});
