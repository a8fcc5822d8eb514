/**
 * The `custody` command as a user runs it (the built dist/cli/main.js as a child process) against the real
 * stack: ingest of a large file with its hash checked independently, status, log, and verify catching
 * tampering with the custody log and with a stored original; a person's action without a sign-in is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../harness/stack';
import { builtEntryPoint, envForConfig, runNode } from '../harness/processes';
import { ALL_ROLES, startCliApi, type CliApi } from '../harness/cli-session';
import { syntheticClip } from '../fixtures/media';
import { readCustodyLog } from '../../activities/custody-log/read';
import { custodyLogEntryKey } from '../../activities/storage/keys';
import type { RecordingStatus } from '../../domain/types';

const cli = builtEntryPoint('cli/main.js');
let stack: TestStack;
let scratch: string;
let env: NodeJS.ProcessEnv;
let cliApi: CliApi;

beforeAll(async () => {
  stack = await createTestStack('cli');
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-cli-'));
  cliApi = await startCliApi(stack.config);
  // Signed in as an administrator of every unit: `custody ingest` uploads through the API.
  env = { ...envForConfig(stack.config), ...(await cliApi.as({ subject: 'admin-1', roles: ALL_ROLES })) };
});
afterAll(async () => {
  await cliApi?.stop();
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const custody = (args: string[], extraEnv: Record<string, string> = {}) =>
  runNode(cli, args, { ...env, ...extraEnv }, 300_000);

const result = (recordingId: string) => stack.waitForState(recordingId, 'retained');

/** A file of `megabytes` MiB: a real clip at the front (so ffprobe accepts it), random bytes after it. */
async function largeMediaFile(megabytes: number): Promise<{ file: string; sha256: string }> {
  const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  const file = path.join(scratch, 'large-recording.mp4');
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      hash.update(chunk);
      out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  await write(clip);
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < megabytes; i++) await write(chunk);
  await new Promise<void>((resolve) => out.end(resolve));
  return { file, sha256: hash.digest('hex') };
}

let ingested: { recordingId: string; sha256: string; bytes: number };
// Yesterday, from the clock (whole seconds): the default pack's deadline is then always weeks ahead.
const recordedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000).toISOString();

test('custody ingest of a 200 MB file: the stored hash equals an independent SHA-256 of the source', async () => {
  const { file, sha256 } = await largeMediaFile(200);
  const run = await custody(['ingest', file, '--device', 'cam-0815', '--recorded-at', recordedAt, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  ingested = JSON.parse(run.stdout) as typeof ingested;
  expect(ingested.sha256).toBe(sha256);
  expect(ingested.bytes).toBeGreaterThan(200 * 1024 * 1024);

  const done = await result(ingested.recordingId);
  expect(done.state).toBe('retained');
  expect(done.sha256).toBe(sha256);
  const tags = await stack.clients.s3.send(
    new GetObjectTaggingCommand({
      Bucket: done.original!.bucket,
      Key: done.original!.key,
      VersionId: done.original!.versionId,
    }),
  );
  expect(tags.TagSet).toContainEqual({ Key: 'sha256', Value: sha256 });
});

test('custody status shows the recording; an unknown id exits 2', async () => {
  const human = await custody(['status', ingested.recordingId]);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/^state\s+retained$/m);
  expect(human.stdout).toContain(ingested.sha256);
  const json = JSON.parse(
    (await custody(['status', ingested.recordingId, '--json'])).stdout,
  ) as RecordingStatus;
  expect(json).toMatchObject({
    recordingId: ingested.recordingId,
    state: 'retained',
    deviceId: 'cam-0815',
    recordedAt,
  });
  expect(json.media?.videoCodec).toBe('h264');

  const unknown = await custody(['status', 'ffffffffffffffffffff']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('unknown recording id ffffffffffffffffffff');
});

test('custody ingest --wait returns once the recording is review-ready, its derivatives logged', async () => {
  const clip = await syntheticClip({ durationS: 3, width: 320, height: 240, fps: 15 });
  const run = await custody(['ingest', clip, '--wait', '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const { recordingId, status } = JSON.parse(run.stdout) as { recordingId: string; status: RecordingStatus };
  expect(status).toMatchObject({ recordingId, state: 'retained', reviewReady: true });
  expect(status.derivatives?.derivatives.map((d) => d.kind).sort()).toEqual(['poster', 'proxy', 'sprite']);
  // Returned after the entry was written, not merely after the files were: the log already says so.
  const actions = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).map(
    (e) => e.action,
  );
  expect(actions).toContain('derivatives.stored');
  expect(status.custodyLogHead.seq).toBe(actions.length - 1);

  const human = await custody(['ingest', clip, '--wait']); // the same bytes again: the same recording
  expect(human.code).toBe(0);
  expect(human.stderr).toContain(`these bytes are already recording ${recordingId}`);
  expect(human.stderr).toMatch(/is review-ready: proxy, sprite, poster stored/);
  expect(human.stdout.trim()).toBe(recordingId);
  const again = await custody(['status', recordingId, '--wait', '--json']); // already ready: returns at once
  expect(again.code).toBe(0);
  expect((JSON.parse(again.stdout) as RecordingStatus).reviewReady).toBe(true);
});

test('custody ingest with a wrong --sha256 quarantines and keeps the bytes; --wait exits 5 and says so', async () => {
  const clip = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const run = await custody(['ingest', clip, '--sha256', 'cd'.repeat(32), '--wait']);
  expect(run.code).toBe(5);
  expect(run.stderr).toContain('will be quarantined');
  expect(run.stderr).toMatch(/custody: recording \w+ is quarantined \(hash-mismatch: .*its bytes are kept/);
  const recordingId = run.stdout.trim();
  const waited = await custody(['status', recordingId, '--wait', '--json']);
  expect(waited.code).toBe(5);
  const status = JSON.parse(waited.stdout) as RecordingStatus;
  expect(status.quarantine?.reason).toBe('hash-mismatch');
  const human = await custody(['status', recordingId]);
  expect(human.stdout).toMatch(/quarantine\s+hash-mismatch: SHA-256 of the received bytes/);
});

test('custody log prints the chain; custody verify says OK', async () => {
  const log = await custody(['log', ingested.recordingId]);
  expect(log.code).toBe(0);
  expect(log.stdout).toMatch(/^0\s+\S+\s+admin-1\s+recording\.received/m);
  const verify = await custody(['verify', ingested.recordingId]);
  expect(verify.stdout).toMatch(/^OK /);
  expect(verify.code).toBe(0);
});

test('custody verify detects a tampered custody-log entry (in a scratch copy of the audit store)', async () => {
  const scratchAudit = `${stack.config.buckets.audit}-tampered`.slice(0, 63);
  await stack.clients.s3.send(new CreateBucketCommand({ Bucket: scratchAudit }));
  const entries = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, ingested.recordingId);
  for (const entry of entries) {
    const stored = entry.seq === 1 ? { ...entry, details: { ...entry.details, bytes: 1 } } : entry;
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: scratchAudit,
        Key: custodyLogEntryKey(ingested.recordingId, entry.seq),
        Body: JSON.stringify(stored),
      }),
    );
  }
  const verify = await custody(['verify', ingested.recordingId], { CUSTODY_BUCKET_AUDIT: scratchAudit });
  expect(verify.code).toBe(3);
  expect(verify.stdout).toContain('MISMATCH');
  expect(verify.stdout).toContain('hash mismatch at seq 1');
});

test('custody verify detects a tampered copy of the original (in a scratch bucket)', async () => {
  const status = await result(ingested.recordingId);
  const scratchBucket = `${stack.config.buckets.evidence}-copy`.slice(0, 63);
  await stack.clients.s3.send(new CreateBucketCommand({ Bucket: scratchBucket }));
  // An untouched copy verifies; one with a single flipped byte does not.
  await stack.clients.s3.send(
    new CopyObjectCommand({
      Bucket: scratchBucket,
      Key: 'intact',
      CopySource: `${status.original!.bucket}/${status.original!.key}?versionId=${status.original!.versionId}`,
    }),
  );
  const intact = await custody(['verify', ingested.recordingId, '--copy', `s3://${scratchBucket}/intact`]);
  expect(intact.code).toBe(0);
  const original = await stack.clients.s3.send(
    new GetObjectCommand({ Bucket: scratchBucket, Key: 'intact' }),
  );
  const bytes = Buffer.from(await original.Body!.transformToByteArray());
  bytes[bytes.length >> 1]! ^= 0x01;
  await stack.clients.s3.send(new PutObjectCommand({ Bucket: scratchBucket, Key: 'tampered', Body: bytes }));
  const verify = await custody([
    'verify',
    ingested.recordingId,
    '--copy',
    `s3://${scratchBucket}/tampered`,
    '--json',
  ]);
  expect(verify.code).toBe(3);
  const report = JSON.parse(verify.stdout) as {
    ok: boolean;
    original: { expectedSha256: string; actualSha256: string };
  };
  expect(report.ok).toBe(false);
  expect(report.original.expectedSha256).toBe(ingested.sha256);
  expect(report.original.actualSha256).not.toBe(ingested.sha256);
});

test('bad CLI input names the problem and the fix', async () => {
  const missing = await custody(['ingest', path.join(scratch, 'nope.mp4')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('Cannot read');
  const clip = await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 });
  const badPolicy = await custody(['ingest', clip, '--policy', 'no-such-pack']);
  expect(badPolicy.code).toBe(1);
  expect(badPolicy.stderr).toMatch(/unknown rule pack no-such-pack; known: .*bw-polg-44/);
  const badDate = await custody(['ingest', clip, '--recorded-at', 'last tuesday']);
  expect(badDate.stderr).toContain('--recorded-at last tuesday is not a date');
  const badConfig = await custody(['status', 'x'], { AWS_ENDPOINT_URL_S3: 'not a url' });
  expect(badConfig.code).toBe(78);
  expect(badConfig.stderr).toContain('AWS_ENDPOINT_URL_S3="not a url" is invalid');
});

test('acting without a sign-in says to log in and changes nothing', async () => {
  const nobody = { CUSTODY_CONFIG_DIR: path.join(scratch, 'nobody-signed-in') };
  const before = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, ingested.recordingId);
  for (const args of [
    ['hold', ingested.recordingId, '--case', 'AZ-1', '--reason', 'complaint'],
    ['release', ingested.recordingId, '--reason', 'case closed'],
    ['delete-early', ingested.recordingId, '--reason', 'not relevant'],
    ['replay', ingested.recordingId],
  ]) {
    const run = await custody(args, nobody);
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({
      args,
      code: 1,
      stderr: 'custody: not logged in: run custody login\n',
    });
  }
  expect(await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, ingested.recordingId)).toEqual(
    before,
  );
});

// Last in this file: it lays a version over the real log of `ingested`, which every later verify would report.
test('a version laid over a locked custody-log entry is read past and reported by key (verify exits 3)', async () => {
  const { recordingId } = ingested;
  const before = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
  const key = custodyLogEntryKey(recordingId, 1);
  const entry = before.find((e) => e.seq === 1)!;
  // With write access to the audit store (the writer's identity), a PUT lays a new version over the locked entry.
  await stack.clients.s3.send(
    new PutObjectCommand({
      Bucket: stack.config.buckets.audit,
      Key: key,
      Body: JSON.stringify({ ...entry, details: { ...entry.details, forged: true } }),
    }),
  );
  // Readers take the first version, the entry as written: the chain still verifies, the shadow is reported.
  expect(await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).toEqual(before);
  const verify = await custody(['verify', recordingId]);
  expect(verify.code).toBe(3);
  expect(verify.stdout).toContain(`custody-log entry ${key}`);
  expect(verify.stdout).toMatch(/is shadowed by version \S+/);
  const log = await custody(['log', recordingId, '--json']);
  expect(log.stdout).not.toContain('forged');
});
