/**
 * The storage side of retention and deletion against real versitygw (Object Lock, versioning): locking
 * evidence, deleting every version of a recording with a crash-safe record of what was deleted, and writing
 * exactly one WORM deletion certificate. The activities are called directly; no Temporal worker is needed.
 */
import { randomBytes, createHash } from 'node:crypto';
import {
  PutObjectCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  GetObjectRetentionCommand,
  PutObjectRetentionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { evidenceOriginalKey, derivativeKey, certificateKey } from '../../activities/storage/keys';
import { standaloneContext, type ActivityContextPort } from '../../activities/context';
import { makeLockEvidence } from '../../activities/lock-evidence';
import {
  makeDeleteRecording,
  deletionInventoryKey,
  type DeletedVersion,
  type DeleteRecordingResult,
} from '../../activities/delete-recording';
import { makeWriteCertificate, readCertificate } from '../../activities/write-certificate';
import { verifyCertificate, type CertificateInput } from '../../activities/certificate';
import { addDuration } from '../../domain/duration';

const config = testConfig('deletion');
const { evidence, derivatives, audit } = config.buckets;
const s3: S3Client = createS3Client(config.s3);

beforeAll(async () => {
  await bootstrapStores(s3, config.buckets);
});

afterAll(() => s3.destroy());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newRecordingId = () => `rec-${randomBytes(6).toString('hex')}`;

function deleteRecordingWith(context: ActivityContextPort = standaloneContext()) {
  return makeDeleteRecording({ s3, context, auditBucket: audit, auditRetention: config.auditRetention });
}

async function put(bucket: string, key: string, body: string, tagSha256 = false): Promise<DeletedVersion> {
  const result = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ...(tagSha256 && { Tagging: `sha256=${sha256(body)}` }),
    }),
  );
  return {
    bucket,
    key,
    versionId: result.VersionId!,
    kind: 'version',
    bytes: Buffer.byteLength(body),
    etag: result.ETag!.replace(/"/g, ''),
    ...(tagSha256 && { sha256: sha256(body) }),
  };
}

async function deleteMarker(bucket: string, key: string): Promise<DeletedVersion> {
  const result = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  expect(result.DeleteMarker).toBe(true);
  return { bucket, key, versionId: result.VersionId!, kind: 'delete-marker', bytes: 0 };
}

/** Every version and delete marker under a prefix, as `key@versionId`. */
async function listAll(bucket: string, prefix: string): Promise<string[]> {
  const listing = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return [...(listing.Versions ?? []), ...(listing.DeleteMarkers ?? [])].map(
    (v) => `${v.Key}@${v.VersionId}`,
  );
}

/** A recording as the lifecycle leaves it, plus history: 2 original versions, a delete marker, 2 derivatives. */
async function storeRecording(recordingId: string) {
  const original = evidenceOriginalKey(recordingId);
  const versions = [
    await put(evidence, original, 'first upload, interrupted'),
    await put(evidence, original, `original bytes of ${recordingId}`, true),
    await deleteMarker(evidence, original),
    await put(derivatives, derivativeKey(recordingId, 'proxy.mp4'), 'proxy', true),
    await put(derivatives, derivativeKey(recordingId, 'poster.jpg'), 'poster'),
  ];
  const objects = [
    { bucket: evidence, key: original },
    { bucket: derivatives, key: derivativeKey(recordingId, 'proxy.mp4') },
    { bucket: derivatives, key: derivativeKey(recordingId, 'poster.jpg') },
  ];
  return { versions, objects };
}

async function expectGone(objects: { bucket: string; key: string }[]) {
  for (const { bucket, key } of objects) {
    expect((await listAll(bucket, key)).filter((entry) => entry.startsWith(`${key}@`))).toEqual([]);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  }
}

const byVersion = (a: DeletedVersion, b: DeletedVersion) => a.versionId.localeCompare(b.versionId);

describe('deleteRecording', () => {
  const recordingId = newRecordingId();
  let stored: Awaited<ReturnType<typeof storeRecording>>;
  let first: DeleteRecordingResult;

  beforeAll(async () => {
    stored = await storeRecording(recordingId);
    // Neighbours that must survive: a longer key sharing the prefix, and another recording's original.
    await put(evidence, `${evidenceOriginalKey(recordingId)}.bak`, 'not part of the deletion');
    await put(evidence, evidenceOriginalKey('rec-neighbour'), 'someone else');
  });

  it('removes every version and delete marker and lists exactly what it removed', async () => {
    const heartbeats: unknown[] = [];
    const context = {
      ...standaloneContext(),
      heartbeat: (details?: unknown) => void heartbeats.push(details),
    };
    const started = Date.now();
    first = await deleteRecordingWith(context)({ recordingId, objects: stored.objects });

    expect([...first.deleted].sort(byVersion)).toEqual([...stored.versions].sort(byVersion));
    expect(first.deleted).toHaveLength(5);
    expect(first.deleted.filter((v) => v.sha256).map((v) => v.sha256)).toEqual([
      sha256(`original bytes of ${recordingId}`),
      sha256('proxy'),
    ]);
    expect(Date.parse(first.verifiedAbsentAt)).toBeGreaterThanOrEqual(started);
    await expectGone(stored.objects);
    expect(await listAll(evidence, `recordings/${recordingId}/`)).toEqual([
      expect.stringMatching(new RegExp(`^recordings/${recordingId}/original\\.bak@`)),
    ]);
    expect(await listAll(evidence, evidenceOriginalKey('rec-neighbour'))).toHaveLength(1);
    expect(heartbeats.filter((h) => (h as { phase: string }).phase === 'delete')).toHaveLength(5);

    // The inventory: one WORM object in the audit store, naming what was found before deleting.
    expect(first.inventory).toEqual({ bucket: audit, keys: [deletionInventoryKey(recordingId, 1)] });
    const inventory = await s3.send(new GetObjectCommand({ Bucket: audit, Key: first.inventory.keys[0] }));
    const inventoryLock = await s3.send(
      new GetObjectRetentionCommand({
        Bucket: audit,
        Key: first.inventory.keys[0],
        VersionId: inventory.VersionId,
      }),
    );
    expect(inventoryLock.Retention?.Mode).toBe('COMPLIANCE');
    const inventoryBody = JSON.parse(await inventory.Body!.transformToString()) as {
      versions: DeletedVersion[];
    };
    expect(inventoryBody.versions).toEqual(first.deleted);
  });

  it('on a retry succeeds and still lists every version deleted', async () => {
    const again = await deleteRecordingWith()({ recordingId, objects: stored.objects });
    expect(again.deleted).toEqual(first.deleted);
    expect(again.inventory).toEqual(first.inventory);
    await expectGone(stored.objects);
  });

  it('after a crash mid-deletion, a retry finishes and reports the versions the first attempt removed', async () => {
    const id = newRecordingId();
    const { versions, objects } = await storeRecording(id);
    // The first attempt "crashes" after deleting two versions (a heartbeat that throws stands in for the kill).
    const crashing = {
      ...standaloneContext(),
      heartbeat: (details?: unknown) => {
        if (
          (details as { phase: string; versions: number }).phase === 'delete' &&
          (details as { versions: number }).versions === 2
        )
          throw new Error('worker killed');
      },
    };
    await expect(deleteRecordingWith(crashing)({ recordingId: id, objects })).rejects.toThrow(
      'worker killed',
    );
    const leftAfterCrash = (await Promise.all(objects.map((o) => listAll(o.bucket, o.key)))).flat();
    expect(leftAfterCrash).toHaveLength(3);

    // Meanwhile something wrote another derivative version: the retry must record it before deleting it.
    const late = await put(derivatives, derivativeKey(id, 'proxy.mp4'), 'late proxy', true);

    const retry = await deleteRecordingWith()({ recordingId: id, objects });
    expect([...retry.deleted].sort(byVersion)).toEqual([...versions, late].sort(byVersion));
    expect(retry.inventory.keys).toEqual([deletionInventoryKey(id, 1), deletionInventoryKey(id, 2)]);
    await expectGone(objects);
  });

  it('refuses keys that do not belong to the recording', async () => {
    await expect(
      deleteRecordingWith()({
        recordingId,
        objects: [{ bucket: evidence, key: evidenceOriginalKey('rec-neighbour') }],
      }),
    ).rejects.toMatchObject({ type: 'InvalidDeletionRequest', nonRetryable: true });
    expect(await listAll(evidence, evidenceOriginalKey('rec-neighbour'))).toHaveLength(1);
  });
});

describe('lockEvidence', () => {
  const lockEvidence = makeLockEvidence({ s3 });
  const recordingId = newRecordingId();
  let original: DeletedVersion;
  let proxy: DeletedVersion;
  const refs = () => [original, proxy].map(({ bucket, key, versionId }) => ({ bucket, key, versionId }));

  async function retention(version: DeletedVersion) {
    const result = await s3.send(
      new GetObjectRetentionCommand({
        Bucket: version.bucket,
        Key: version.key,
        VersionId: version.versionId,
      }),
    );
    return { mode: result.Retention?.Mode, until: result.Retention?.RetainUntilDate?.toISOString() };
  }

  beforeAll(async () => {
    original = await put(evidence, evidenceOriginalKey(recordingId), 'evidence', true);
    proxy = await put(derivatives, derivativeKey(recordingId, 'proxy.mp4'), 'evidence proxy');
  });

  it('locks the exact versions in COMPLIANCE mode, which storage then enforces', async () => {
    const until = new Date(Date.now() + 20_000);
    until.setUTCMilliseconds(0);
    const locked = await lockEvidence({ objects: refs(), retainUntil: until.toISOString() });
    expect(locked).toEqual(
      refs().map((ref) => ({ ...ref, retainUntil: until.toISOString(), changed: true })),
    );
    for (const version of [original, proxy]) {
      expect(await retention(version)).toEqual({ mode: 'COMPLIANCE', until: until.toISOString() });
      await expect(
        s3.send(
          new DeleteObjectCommand({ Bucket: version.bucket, Key: version.key, VersionId: version.versionId }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
    }
  });

  it('never shortens a lock, and extends it when asked for a later date', async () => {
    const current = (await retention(original)).until!;
    const earlier = new Date(Date.parse(current) - 10_000).toISOString();
    const kept = await lockEvidence({ objects: refs(), retainUntil: earlier });
    expect(kept.map((l) => [l.retainUntil, l.changed])).toEqual([
      [current, false],
      [current, false],
    ]);
    expect((await retention(original)).until).toBe(current);
    expect((await retention(proxy)).until).toBe(current);

    // Sub-second dates round up: a store that keeps whole seconds must not end up below the request.
    const later = new Date(Date.parse(current) + 30_250).toISOString();
    const extended = await lockEvidence({ objects: refs(), retainUntil: later });
    const expected = new Date(Date.parse(current) + 31_000).toISOString();
    expect(extended.map((l) => [l.retainUntil, l.changed])).toEqual([
      [expected, true],
      [expected, true],
    ]);
    expect(await retention(original)).toEqual({ mode: 'COMPLIANCE', until: expected });
  });

  it('makes deleteRecording stop with DeletionBlockedByLock before deleting anything', async () => {
    const unlocked = await put(derivatives, derivativeKey(recordingId, 'poster.jpg'), 'poster, not locked');
    const objects = [
      { bucket: derivatives, key: unlocked.key },
      { bucket: evidence, key: original.key },
      { bucket: derivatives, key: proxy.key },
    ];
    const failure = await deleteRecordingWith()({ recordingId, objects }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ type: 'DeletionBlockedByLock', nonRetryable: true });
    expect((failure as Error).message).toMatch(/should be impossible and must be investigated/);
    expect((failure as Error).message).toContain(original.versionId);
    // Nothing deleted, not even the unlocked poster, and no inventory claims otherwise.
    expect(await listAll(derivatives, unlocked.key)).toEqual([`${unlocked.key}@${unlocked.versionId}`]);
    expect(await listAll(evidence, original.key)).toEqual([`${original.key}@${original.versionId}`]);
    expect(await listAll(derivatives, proxy.key)).toEqual([`${proxy.key}@${proxy.versionId}`]);
    expect(await listAll(audit, `deletions/${recordingId}/`)).toEqual([]);
  });

  it('reports the store refusing a delete (a lock placed after the check) as DeletionBlockedByLock', async () => {
    const id = newRecordingId();
    const { objects } = await storeRecording(id);
    // A concurrent actor locks the version the activity is about to delete second, on the real server.
    let deletes = 0;
    const racing = new Proxy(s3, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
        return async (
          command: { constructor: { name: string }; input: Record<string, string> },
          options?: object,
        ) => {
          if (command.constructor.name === 'DeleteObjectCommand' && ++deletes === 2) {
            const { Bucket, Key, VersionId } = command.input;
            await target.send(
              new PutObjectRetentionCommand({
                Bucket,
                Key,
                VersionId,
                Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 20_000) },
              }),
            );
          }
          return target.send(command as never, options);
        };
      },
    });
    const deleteRecording = makeDeleteRecording({
      s3: racing,
      context: standaloneContext(),
      auditBucket: audit,
      auditRetention: config.auditRetention,
    });
    const failure = await deleteRecording({ recordingId: id, objects }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ type: 'DeletionBlockedByLock', nonRetryable: true });
    expect((failure as Error).message).toMatch(/COMPLIANCE until .*must be investigated.*inventory\.json/);
    const left = (await Promise.all(objects.map((o) => listAll(o.bucket, o.key)))).flat();
    expect(left).toHaveLength(4);
  });

  it('lets an expired lock go, so the recording can be deleted afterwards', async () => {
    const id = newRecordingId();
    const version = await put(evidence, evidenceOriginalKey(id), 'briefly evidence');
    const [locked] = await lockEvidence({
      objects: [{ bucket: evidence, key: version.key, versionId: version.versionId }],
      retainUntil: new Date(Date.now() + 1_000).toISOString(),
    });
    await new Promise((resolve) => setTimeout(resolve, Date.parse(locked!.retainUntil) - Date.now() + 500));
    const result = await deleteRecordingWith()({
      recordingId: id,
      objects: [{ bucket: evidence, key: version.key }],
    });
    expect(result.deleted).toEqual([version]);
    await expectGone([{ bucket: evidence, key: version.key }]);
  });

  it('refuses a version that does not exist and a date in the past', async () => {
    const gone = await put(evidence, evidenceOriginalKey(newRecordingId()), 'short-lived');
    await s3.send(new DeleteObjectCommand({ Bucket: gone.bucket, Key: gone.key, VersionId: gone.versionId }));
    const ref = { bucket: gone.bucket, key: gone.key, versionId: gone.versionId };
    await expect(
      lockEvidence({ objects: [ref], retainUntil: new Date(Date.now() + 60_000).toISOString() }),
    ).rejects.toMatchObject({ type: 'EvidenceMissing', nonRetryable: true });

    const fresh = await put(evidence, evidenceOriginalKey(newRecordingId()), 'fresh');
    const freshRef = { bucket: fresh.bucket, key: fresh.key, versionId: fresh.versionId };
    await expect(
      lockEvidence({ objects: [freshRef], retainUntil: new Date(Date.now() - 86_400_000).toISOString() }),
    ).rejects.toMatchObject({
      type: 'InvalidRetainUntil',
      nonRetryable: true,
    });
    await expect(lockEvidence({ objects: [freshRef], retainUntil: 'tomorrow' })).rejects.toMatchObject({
      type: 'InvalidRetainUntil',
    });
  });
});

describe('writeCertificate', () => {
  const writeCertificate = makeWriteCertificate({
    s3,
    auditBucket: audit,
    auditRetention: config.auditRetention,
  });
  const recordingId = newRecordingId();
  let input: CertificateInput;

  beforeAll(async () => {
    const { objects } = await storeRecording(recordingId);
    const deletion = await deleteRecordingWith()({ recordingId, objects });
    input = {
      recordingId,
      originalSha256: sha256(`original bytes of ${recordingId}`),
      objects: deletion.deleted,
      rulePack: { id: 'bw-polg-44', version: 1, fingerprint: sha256('pack'), citation: '§ 44 PolG BW' },
      deadline: new Date(Date.parse(deletion.verifiedAbsentAt) - 60_000).toISOString(),
      deletedAt: deletion.verifiedAbsentAt,
      cause: 'deadline',
      requestedBy: 'system',
      approvals: [],
      custodyLog: { headSeq: 6, headHash: sha256('head') },
    };
  });

  async function certificateVersions() {
    return listAll(audit, certificateKey(recordingId));
  }

  it('writes one WORM certificate, and a retry with the same content finds it', async () => {
    const written = await writeCertificate(input);
    expect(written).toMatchObject({ bucket: audit, key: certificateKey(recordingId), alreadyWritten: false });
    expect(written.retainUntil).toBe(addDuration(input.deletedAt, config.auditRetention));

    const again = await writeCertificate(input);
    expect(again.alreadyWritten).toBe(true);
    expect(again.certificateHash).toBe(written.certificateHash);
    expect(await certificateVersions()).toHaveLength(1);

    const stored = await readCertificate(s3, audit, recordingId);
    expect(stored?.verdict).toEqual({ ok: true, certificateHash: written.certificateHash });
    expect(stored?.certificate?.objects).toHaveLength(5);
    expect(stored?.lock).toEqual({ mode: 'COMPLIANCE', retainUntil: written.retainUntil });
    expect(verifyCertificate(stored?.certificate).ok).toBe(true);
    // WORM: the store itself refuses to remove it.
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket: audit, Key: written.key, VersionId: stored!.versionId })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('refuses a second, different certificate for the same recording', async () => {
    const before = await readCertificate(s3, audit, recordingId);
    await expect(writeCertificate({ ...input, cause: 'early' })).rejects.toMatchObject({
      type: 'CertificateConflict',
      nonRetryable: true,
    });
    expect(await certificateVersions()).toHaveLength(1);
    expect((await readCertificate(s3, audit, recordingId))?.verdict).toEqual(before?.verdict);
  });

  it('reads the certificate from its first version and reports a version laid over it', async () => {
    const before = await readCertificate(s3, audit, recordingId);
    expect(before?.verdict.ok).toBe(true);
    // With write access to the audit store, a PUT lays a new version over the locked certificate.
    await s3.send(
      new PutObjectCommand({
        Bucket: audit,
        Key: certificateKey(recordingId),
        Body: JSON.stringify({ ...before!.certificate, cause: 'early' }),
      }),
    );
    const after = await readCertificate(s3, audit, recordingId);
    expect(after?.versionId).toBe(before?.versionId);
    expect(after?.certificate).toEqual(before?.certificate);
    expect(after?.verdict.ok).toBe(false);
    expect(after?.verdict.ok === false && after.verdict.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^s3://${audit}/${certificateKey(recordingId)} \\(version \\S+\\) is shadowed by version \\S+`,
        ),
      ),
    ]);
  });

  it('refuses invalid facts and reads nothing for a recording without a certificate', async () => {
    await expect(
      writeCertificate({ ...input, recordingId: newRecordingId(), objects: [] }),
    ).rejects.toMatchObject({
      type: 'CertificateInvalid',
      nonRetryable: true,
    });
    expect(await readCertificate(s3, audit, newRecordingId())).toBeUndefined();
  });
});
