/**
 * The fused activities against real versitygw: a run of custody-log entries in one activity, the head lookup
 * after a step failed part-way, and deleteAndCertify — deletion.started, the deletion, recording.deleted, the
 * certificate and certificate.written — retried after a crash at each of its steps: one chain, one certificate,
 * and a certificate that names what the log recorded.
 */
import { randomBytes, createHash } from 'node:crypto';
import { PutObjectCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { testConfig } from '../harness/env';
import { createS3Client, bootstrapStores } from '../../activities/storage/s3';
import { evidenceOriginalKey, derivativeKey, certificateKey } from '../../activities/storage/keys';
import { standaloneContext } from '../../activities/context';
import {
  makeAppendCustodyEntries,
  makeAppendCustodyEntry,
  makeCustodyLogHead,
} from '../../activities/append-custody-entry';
import { makeDeleteRecording, type DeleteRecordingInput } from '../../activities/delete-recording';
import { makeWriteCertificate, readCertificate } from '../../activities/write-certificate';
import { makeDeleteAndCertify, type DeleteAndCertifyInput } from '../../activities/delete-and-certify';
import type { CertificateInput } from '../../activities/certificate';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import { GENESIS_HASH } from '../../workflows/custody-log-writer';

const config = testConfig('fused');
const { evidence, derivatives, audit } = config.buckets;
const s3: S3Client = createS3Client(config.s3);
const auditLog = { s3, auditBucket: audit, auditRetention: 'PT1H' };

beforeAll(async () => {
  await bootstrapStores(s3, config.buckets);
});
afterAll(() => s3.destroy());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newRecordingId = () => `rec-${randomBytes(6).toString('hex')}`;
const logOf = (recordingId: string) => readCustodyLog(s3, audit, recordingId);

async function countVersions(bucket: string, prefix: string) {
  const listing = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return (listing.Versions?.length ?? 0) + (listing.DeleteMarkers?.length ?? 0);
}

/** An entry time from the clock: the store locks an entry until its time + retention, so no fixed date. */
const secondsFromNow = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

/** The first entry of a recording's log, as ingest writes it. */
const writeReceived = (recordingId: string) =>
  makeAppendCustodyEntry(auditLog)({
    recordingId,
    seq: 0,
    prevHash: GENESIS_HASH,
    time: secondsFromNow(0),
    actor: 'system',
    action: 'recording.received',
    details: {},
  });

describe('appendCustodyEntries and custodyLogHead', () => {
  const appendEntries = makeAppendCustodyEntries(auditLog);
  const head = makeCustodyLogHead(auditLog);

  it('writes a chained run once; a retry adopts it; the head lookup finds its end', async () => {
    const recordingId = newRecordingId();
    const first = await writeReceived(recordingId);
    const run = {
      recordingId,
      seq: 1,
      prevHash: first.hash,
      entries: (['original.stored', 'media.probed', 'ingest.completed', 'deadline.set'] as const).map(
        (action) => ({
          time: secondsFromNow(1),
          actor: 'system',
          action,
          details: { action },
        }),
      ),
    };
    const written = await appendEntries(run);
    expect(written.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    // A retry with another clock (a re-run workflow task) writes nothing new.
    const again = await appendEntries({
      ...run,
      entries: run.entries.map((e) => ({ ...e, time: secondsFromNow(9) })),
    });
    expect(again).toEqual(written);
    const entries = await logOf(recordingId);
    expect(entries.map((e) => e.action)).toEqual([
      'recording.received',
      'original.stored',
      'media.probed',
      'ingest.completed',
      'deadline.set',
    ]);
    expect(verifyChain(entries, { recordingId }).ok).toBe(true);
    expect(await countVersions(audit, `custody-log/${recordingId}/`)).toBe(5);

    expect(await head({ recordingId, from: first })).toEqual(written[3]);
    expect(await head({ recordingId, from: written[3]! })).toEqual(written[3]);
    // A head that is not the stored entry's predecessor is a broken chain, not a place to continue from.
    await expect(
      head({ recordingId, from: { seq: 0, hash: sha256('not the stored hash') } }),
    ).rejects.toMatchObject({ type: 'CustodyLogConflict', nonRetryable: true });
  });

  it('refuses an empty run', async () => {
    await expect(
      appendEntries({ recordingId: newRecordingId(), seq: 0, prevHash: GENESIS_HASH, entries: [] }),
    ).rejects.toMatchObject({ nonRetryable: true });
  });
});

describe('deleteAndCertify', () => {
  async function storeRecording(recordingId: string) {
    const put = (bucket: string, key: string, body: string) =>
      s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Tagging: `sha256=${sha256(body)}` }),
      );
    await put(evidence, evidenceOriginalKey(recordingId), `original of ${recordingId}`);
    await put(derivatives, derivativeKey(recordingId, 'proxy.mp4'), 'proxy');
    const received = await writeReceived(recordingId);
    const deadline = new Date(Date.now() - 60_000).toISOString();
    const input: DeleteAndCertifyInput = {
      recordingId,
      objects: [
        { bucket: evidence, key: evidenceOriginalKey(recordingId) },
        { bucket: derivatives, key: derivativeKey(recordingId, 'proxy.mp4') },
      ],
      log: { seq: 1, prevHash: received.hash },
      started: {
        time: new Date().toISOString(),
        actor: 'system',
        details: { cause: 'deadline', deleteAfter: deadline, overdueMs: 60_000 },
      },
      certificate: {
        recordingId,
        originalSha256: sha256(`original of ${recordingId}`),
        rulePack: { id: 'bw-polg-44', version: 1, fingerprint: sha256('pack') },
        deadline,
        cause: 'deadline',
        requestedBy: 'system',
        approvals: [],
      },
    };
    return input;
  }

  const deleteRecording = makeDeleteRecording({
    s3,
    context: standaloneContext(),
    auditBucket: audit,
    auditRetention: config.auditRetention,
  });
  const writeCertificate = makeWriteCertificate(auditLog);

  /** deleteAndCertify whose step `crashAt` throws once, after the step's real effect when `after`. */
  function crashingOnce(crashAt: 'deleteRecording' | 'writeCertificate', after: boolean) {
    let crashed = false;
    const crash = () => {
      crashed = true;
      throw new Error(`injected crash ${after ? 'after' : 'before'} ${crashAt}`);
    };
    return makeDeleteAndCertify({
      log: auditLog,
      deleteRecording: async (input: DeleteRecordingInput) => {
        if (crashAt === 'deleteRecording' && !crashed && !after) crash();
        const result = await deleteRecording(input);
        if (crashAt === 'deleteRecording' && !crashed && after) crash();
        return result;
      },
      writeCertificate: async (input: CertificateInput) => {
        if (crashAt === 'writeCertificate' && !crashed && !after) crash();
        const result = await writeCertificate(input);
        if (crashAt === 'writeCertificate' && !crashed && after) crash();
        return result;
      },
    });
  }

  it.each([
    ['deleteRecording', false],
    ['deleteRecording', true],
    ['writeCertificate', false],
    ['writeCertificate', true],
  ] as const)(
    'a retry after a crash %s (after its effect: %s) leaves one chain and one certificate',
    async (crashAt, after) => {
      const input = await storeRecording(newRecordingId());
      const { recordingId } = input;
      const activity = crashingOnce(crashAt, after);
      await expect(activity(input)).rejects.toThrow(/injected crash/);
      // The workflow continues from what the store holds: deletion.started at least.
      const headAfterCrash = await makeCustodyLogHead(auditLog)({
        recordingId,
        from: { seq: 0, hash: input.log.prevHash },
      });
      expect(headAfterCrash.seq).toBeGreaterThanOrEqual(1);

      const result = await activity(input);
      const entries = await logOf(recordingId);
      expect(entries.map((e) => e.action)).toEqual([
        'recording.received',
        'deletion.started',
        'recording.deleted',
        'certificate.written',
      ]);
      expect(verifyChain(entries, { recordingId }).ok).toBe(true);
      expect(result.head).toEqual({ seq: 3, hash: entries[3]!.hash });
      expect(entries[1]!.time).toBe(input.started.time);

      const stored = await readCertificate(s3, audit, recordingId);
      expect(stored?.verdict.ok).toBe(true);
      expect(await countVersions(audit, certificateKey(recordingId))).toBe(1);
      // The certificate names the deletion the log recorded, and the log names the certificate.
      const deleted = entries[2]!.details as { verifiedAbsentAt: string; objects: unknown[] };
      expect(stored?.certificate?.deletedAt).toBe(deleted.verifiedAbsentAt);
      expect(result.verifiedAbsentAt).toBe(deleted.verifiedAbsentAt);
      expect(stored?.certificate?.custodyLog).toEqual({ headSeq: 2, headHash: entries[2]!.hash });
      expect(entries[3]!.details).toEqual({
        key: result.certificate.key,
        certificateHash: stored?.certificate?.certificateHash,
      });
      expect(deleted.objects).toHaveLength(2);
      for (const object of input.objects) expect(await countVersions(object.bucket, object.key)).toBe(0);
    },
  );
});
