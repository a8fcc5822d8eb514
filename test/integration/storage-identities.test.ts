/**
 * Least-privilege storage (issue 16 item 2) on a real versitygw: one account per storage identity with exactly the
 * actions of domain/storage-access.ts, as bucket policies. A recording goes through its whole life — dropped into
 * the inbox by the dock's identity, ingested and deleted by media-io's, logged by orchestration's, transcoded by
 * transcode's, each pool's worker holding only its own credentials — and the attacks on the stores from the
 * identities that must not write there are refused, changing nothing; `custody verify` succeeds with the
 * auditor's read-only identity.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../harness/stack';
import { provisionStorageIdentities, type StorageIdentityClients } from '../harness/storage-identities';
import { testPolicyDir } from '../harness/test-policies';
import { builtEntryPoint, envForConfig, runNode } from '../harness/processes';
import { syntheticClip } from '../fixtures/media';
import { startCustodyWorkers } from '../../workers/run';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { testWorkflowBundle } from '../harness/env';
import { readCustodyLog } from '../../activities/custody-log/read';
import { bootstrapStores } from '../../activities/storage/s3';
import { startApiProcess } from '../harness/api-process';
import { startTestIssuer } from '../harness/test-issuer';
import { hashFile, uploadParts, type PartUrl } from '../../cli/upload';
import { custodyLogEntryKey, evidenceOriginalKey } from '../../activities/storage/keys';
import { bucketPolicies, STORAGE_IDENTITIES, type StorageIdentity } from '../../domain/storage-access';
import type { RecordingStatus } from '../../domain/types';

const run = randomBytes(3).toString('hex');
let stack: TestStack;
let identities: StorageIdentityClients;
let recording: { recordingId: string; status: RecordingStatus };

beforeAll(async () => {
  stack = await createTestStack('storage-ids', {
    workers: false,
    overrides: {
      CUSTODY_POLICY_DIR: testPolicyDir({ 'test-45s': 'PT45S' }),
      CUSTODY_DEFAULT_POLICY: 'test-45s',
    },
  });
  identities = await provisionStorageIdentities(stack.config, run, stack.clients.s3);
  const { clients } = identities;
  stack.workers = await startCustodyWorkers({
    config: stack.config,
    s3: clients.orchestration,
    s3ForPool: (pool) => clients[pool],
    media: createMediaTools({
      ffmpegPath: stack.config.media.ffmpegPath,
      ffprobePath: stack.config.media.ffprobePath,
    }),
    workflowBundlePath: testWorkflowBundle(),
    schedules: false,
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  identities?.destroy();
});

const refusal = async (attempt: () => Promise<unknown>): Promise<string> => {
  try {
    await attempt();
    return 'ALLOWED';
  } catch (err) {
    return (err as { name?: string }).name ?? String(err);
  }
};

test('each pool starts with its own identity: it checks the stores it writes (Object Lock included) and names the ones it may not', async () => {
  const { buckets } = stack.config;
  const checked = async (pool: 'orchestration' | 'media-io' | 'transcode') => {
    const report = await bootstrapStores(identities.clients[pool], buckets);
    expect(report.created).toEqual([]);
    return report.existing;
  };
  expect(await checked('orchestration')).toEqual([buckets.incoming, buckets.audit]);
  expect(await checked('media-io')).toEqual([
    buckets.incoming,
    buckets.evidence,
    buckets.derivatives,
    buckets.audit,
    buckets.quarantine,
  ]);
  expect(await checked('transcode')).toEqual([buckets.derivatives]);
  const transcode = await bootstrapStores(identities.clients.transcode, buckets);
  expect(transcode.unchecked.map((u) => u.bucket)).toEqual([
    buckets.incoming,
    buckets.evidence,
    buckets.audit,
    buckets.quarantine,
  ]);
});

test('each pool holding only its own identity: dropped by the dock, ingested, transcoded, verified by the auditor', async () => {
  const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  const key = `dock-${run}/clip.mp4`;
  const put = await identities.clients.dock.send(
    new PutObjectCommand({ Bucket: stack.config.buckets.incoming, Key: key, Body: clip }),
  );
  const started = await stack.start({
    bucket: stack.config.buckets.incoming,
    key,
    etag: put.ETag!,
    size: clip.length,
  });
  let status = await stack.waitForState(started.recordingId, 'retained', 120_000);
  for (let tries = 0; !status.reviewReady && tries < 150; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = await stack.waitForState(started.recordingId, ['retained', 'needs-attention']);
  }
  expect(status).toMatchObject({ state: 'retained', reviewReady: true });
  recording = { recordingId: started.recordingId, status };

  const verified = await runNode(
    builtEntryPoint('cli/main.js'),
    ['verify', started.recordingId],
    envForConfig(stack.config, {
      AWS_ACCESS_KEY_ID: identities.keys.auditor.accessKeyId,
      AWS_SECRET_ACCESS_KEY: identities.keys.auditor.secretAccessKey,
    }),
    60_000,
  );
  expect(verified.stderr).toBe('');
  expect(verified.stdout).toMatch(/^OK /);
}, 180_000);

test('bytes that are not what the dock declared are quarantined by media-io with its own identity, bytes kept', async () => {
  const clip = Buffer.concat([
    readFileSync(await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false })),
    Buffer.from(run),
  ]);
  const key = `dock-${run}/mismatch.mp4`;
  const put = await identities.clients.dock.send(
    new PutObjectCommand({ Bucket: stack.config.buckets.incoming, Key: key, Body: clip }),
  );
  const started = await stack.start(
    { bucket: stack.config.buckets.incoming, key, etag: put.ETag!, size: clip.length },
    { declared: { sha256: 'cd'.repeat(32) } },
  );
  const quarantined = await stack.waitForState(
    started.recordingId,
    ['quarantined', 'needs-attention'],
    120_000,
  );
  expect(quarantined.lastError).toBeUndefined();
  expect(quarantined.quarantine).toMatchObject({
    reason: 'hash-mismatch',
    object: { bucket: stack.config.buckets.quarantine },
  });
}, 180_000);

test('the API with its own identity: an upload through it, a media URL it signs, the access records it writes', async () => {
  const issuer = await startTestIssuer();
  const api = await startApiProcess(stack.config, issuer.issuer, {
    AWS_ACCESS_KEY_ID: identities.keys.api.accessKeyId,
    AWS_SECRET_ACCESS_KEY: identities.keys.api.secretAccessKey,
  });
  try {
    const token = await issuer.mint(
      {
        sub: `operator-${run}`,
        custody_roles: ['operator', 'investigator', 'auditor'],
        custody_units: ['*'],
      },
      { expiresIn: 600 },
    );
    const call = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${api.url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'custody-api-identity-')), 'upload.mp4');
    writeFileSync(
      file,
      Buffer.concat([
        readFileSync(await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false })),
        Buffer.from(`api-${run}`),
      ]),
    );
    const { sha256, bytes } = await hashFile(file);
    const began = await call('POST', '/v1/uploads', { fileName: 'upload.mp4', bytes, sha256 });
    expect(began.status).toBe(201);
    const { upload, partSize, partCount } = began.body as {
      upload: string;
      partSize: number;
      partCount: number;
    };
    await uploadParts(file, { partSize, partCount }, async (partNumbers) => {
      const parts = await call('POST', '/v1/uploads/parts', { upload, partNumbers });
      return parts.body.parts as PartUrl[];
    });
    const done = await call('POST', '/v1/uploads/complete', { upload });
    expect(done).toMatchObject({ status: 201, body: { outcome: 'recorded' } });
    const recordingId = done.body.recordingId as string;
    let status = await stack.waitForState(recordingId, 'retained', 120_000);
    for (let tries = 0; !status.reviewReady && tries < 150; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await stack.waitForState(recordingId, ['retained', 'needs-attention']);
    }
    const media = await call('GET', `/v1/recordings/${recordingId}/media/proxy`);
    expect(media.status).toBe(200);
    const proxy = await fetch(media.body.url as string);
    expect(proxy.status).toBe(200);
    expect((await proxy.arrayBuffer()).byteLength).toBe(media.body.bytes);
    const audited = await call('GET', `/v1/recordings/${recordingId}/access-log`);
    expect(audited.status).toBe(200);
    expect((audited.body.records as { action: string }[]).map((r) => r.action)).toContain('media.url');
    const log = await call('GET', `/v1/recordings/${recording.recordingId}/custody-log`);
    expect(log.status).toBe(200);
    expect(log.body.chain).toEqual({ ok: true, problems: [] });
  } finally {
    await api.stop();
    await issuer.close();
  }
}, 240_000);

describe('the back doors of the stores', () => {
  const nonWriters: StorageIdentity[] = ['dock', 'transcode', 'auditor'];

  test('a PUT over a custody-log entry by an identity that does not write the log is refused; the entry is unchanged', async () => {
    const { recordingId } = recording;
    const entryKey = custodyLogEntryKey(recordingId, 0);
    const before = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId))[0];
    for (const identity of nonWriters) {
      expect([
        identity,
        await refusal(() =>
          identities.clients[identity].send(
            new PutObjectCommand({
              Bucket: stack.config.buckets.audit,
              Key: entryKey,
              Body: '{"forged":true}',
            }),
          ),
        ),
      ]).toEqual([identity, 'AccessDenied']);
    }
    expect((await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId))[0]).toEqual(
      before,
    );
  });

  test('a DELETE of an original (its version) by any identity but media-io is refused', async () => {
    const { recordingId, status } = recording;
    const versionId = status.original!.versionId;
    for (const identity of ['dock', 'transcode', 'orchestration', 'api', 'auditor'] as StorageIdentity[]) {
      expect([
        identity,
        await refusal(() =>
          identities.clients[identity].send(
            new DeleteObjectCommand({
              Bucket: stack.config.buckets.evidence,
              Key: evidenceOriginalKey(recordingId),
              VersionId: versionId,
            }),
          ),
        ),
      ]).toEqual([identity, 'AccessDenied']);
    }
  });

  test('the dock lists and reads nothing: not the other stores, not even the inbox it writes to', async () => {
    const dock = identities.clients.dock;
    for (const store of ['incoming', 'evidence', 'derivatives', 'audit', 'quarantine'] as const) {
      expect([
        store,
        await refusal(() => dock.send(new ListObjectsV2Command({ Bucket: stack.config.buckets[store] }))),
      ]).toEqual([store, 'AccessDenied']);
    }
    expect(
      await refusal(() =>
        dock.send(
          new GetObjectCommand({
            Bucket: stack.config.buckets.audit,
            Key: custodyLogEntryKey(recording.recordingId, 0),
          }),
        ),
      ),
    ).toBe('AccessDenied');
  });

  test('the auditor writes nothing anywhere', async () => {
    const auditor: S3Client = identities.clients.auditor;
    for (const store of ['incoming', 'evidence', 'derivatives', 'audit', 'quarantine'] as const) {
      expect([
        store,
        await refusal(() =>
          auditor.send(
            new PutObjectCommand({ Bucket: stack.config.buckets[store], Key: `x-${run}`, Body: 'x' }),
          ),
        ),
      ]).toEqual([store, 'AccessDenied']);
    }
  });
});

test('at its deadline media-io deletes every version and orchestration certifies it', async () => {
  const deleted = await stack.waitForState(recording.recordingId, 'deleted', 120_000);
  expect(deleted.certificate?.certificateHash).toMatch(/^[0-9a-f]{64}$/);
  const actions = (
    await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recording.recordingId)
  ).map((e) => e.action);
  expect(actions).toEqual(
    expect.arrayContaining(['original.stored', 'derivatives.stored', 'certificate.written']),
  );
}, 180_000);

test('scripts/storage-policies writes the policies a site applies: these very bucket policies, and MinIO user policies', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'custody-storage-policies-'));
  const principals = STORAGE_IDENTITIES.flatMap((identity) => [
    '--principal',
    `${identity}=${identity}-${run}`,
  ]);
  const written = await runNode(
    builtEntryPoint('scripts/storage-policies.js'),
    ['--out', out, ...principals],
    envForConfig(stack.config),
    30_000,
  );
  expect(written.stderr).toBe('');
  expect(readdirSync(out).filter((f) => f.startsWith('user-'))).toHaveLength(STORAGE_IDENTITIES.length);
  const applied = bucketPolicies(stack.config.buckets, (identity) => identities.keys[identity].accessKeyId);
  expect(
    JSON.parse(readFileSync(path.join(out, `bucket-${stack.config.buckets.audit}.json`), 'utf8')),
  ).toEqual(applied.audit);

  const refused = await runNode(
    builtEntryPoint('scripts/storage-policies.js'),
    ['--out', out, '--principal', 'dock=x'],
    envForConfig(stack.config),
    30_000,
  );
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('no --principal for orchestration, media-io, transcode, api, auditor');
});
