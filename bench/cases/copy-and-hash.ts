/**
 * The lifecycle's first activity: copyAndHashOriginal (server-side copy into the evidence store, then one GET
 * of the stored version through SHA-256, plus its idempotency checks and the sha256 tag) against two plain
 * baselines without hashing: the same S3 work (CopyObject, then a GET of the copy drained), and the way the
 * activity used to copy (a GetObject piped into an Upload, 16 MiB parts, queue 2). Ratios only (no target).
 */
import { randomBytes } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { makeCopyAndHashOriginal } from '../../activities/copy-and-hash-original';
import { standaloneContext } from '../../activities/context';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import {
  compareRow,
  cpuPerGigabyte,
  GiB,
  humanSize,
  MiB,
  megabytesPerSecond,
  repeatInRotation,
  statsOf,
  timeSeconds,
  type BenchCase,
} from '../runner';
import { deleteAllVersions, putFile } from '../s3-helpers';

/** The lib-storage settings copyAndHashOriginal used before it copied server-side. */
const COPY_PART_SIZE = 16 * MiB;
const COPY_QUEUE_SIZE = 2;

export const copyAndHashCase: BenchCase = {
  name: 'copy',
  title: 'S3→S3 copy+hash: copyAndHashOriginal vs CopyObject + GET, and vs GetObject piped into Upload',
  estimate: { full: '4 min', quick: '1 min' },
  async run(context) {
    const bytes = context.quick ? 256 * MiB : GiB;
    const file = await context.randomFile(bytes);
    const { config, client } = await context.s3();
    const source = { bucket: config.buckets.incoming, key: 'bench/copy-source' };
    const { etag } = await putFile(client, source.bucket, source.key, file);
    const copyAndHashOriginal = makeCopyAndHashOriginal({
      s3: client,
      evidenceBucket: config.buckets.evidence,
      context: standaloneContext(),
    });
    const recordingId = () => `bench-copy-${randomBytes(4).toString('hex')}`;
    let lastRecording = '';

    try {
      const samples = await repeatInRotation(
        [
          {
            label: 'copyAndHashOriginal',
            run: async () => {
              lastRecording = recordingId();
              const seconds = await timeSeconds(async () => {
                const stored = await copyAndHashOriginal({
                  recordingId: lastRecording,
                  source: { ...source, etag, size: bytes },
                  originalName: 'bench.bin',
                });
                if (stored.bytes !== bytes) throw new Error(`copied ${stored.bytes} of ${bytes} bytes`);
              });
              return megabytesPerSecond(bytes, seconds);
            },
            cleanup: () =>
              deleteAllVersions(client, config.buckets.evidence, evidenceOriginalKey(lastRecording)),
          },
          {
            label: 'CopyObject + GET',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const copied = await client.send(
                  new CopyObjectCommand({
                    Bucket: config.buckets.evidence,
                    Key: 'bench/copy-server-side',
                    CopySource: `${source.bucket}/${source.key}`,
                  }),
                );
                const object = await client.send(
                  new GetObjectCommand({
                    Bucket: config.buckets.evidence,
                    Key: 'bench/copy-server-side',
                    ...(copied.VersionId && { VersionId: copied.VersionId }),
                  }),
                );
                await pipeline(
                  object.Body as Readable,
                  new Writable({ write: (_chunk, _encoding, done) => done() }),
                );
              });
              return megabytesPerSecond(bytes, seconds);
            },
            cleanup: () => deleteAllVersions(client, config.buckets.evidence, 'bench/copy-server-side'),
          },
          {
            label: 'GetObject → Upload',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const object = await client.send(
                  new GetObjectCommand({ Bucket: source.bucket, Key: source.key }),
                );
                await new Upload({
                  client,
                  params: {
                    Bucket: config.buckets.evidence,
                    Key: 'bench/copy-plain',
                    Body: object.Body as Readable,
                  },
                  partSize: COPY_PART_SIZE,
                  queueSize: COPY_QUEUE_SIZE,
                  leavePartsOnError: false,
                }).done();
              });
              return megabytesPerSecond(bytes, seconds);
            },
            cleanup: () => deleteAllVersions(client, config.buckets.evidence, 'bench/copy-plain'),
          },
        ],
        {
          warmup: 1,
          repetitions: context.repetitions ?? (context.quick ? 3 : 5),
          log: context.log,
          show: (v) => `${v.toFixed(0)} MB/s`,
          cpuPids: context.serverPids,
        },
      );
      const subject = { label: 'copyAndHashOriginal', stats: statsOf(samples, 'copyAndHashOriginal') };
      const subjectCpu = cpuPerGigabyte(samples, 'copyAndHashOriginal', bytes);
      return [
        compareRow({
          case: 'copy',
          measure: `copy ${humanSize(bytes)} incoming → evidence (versioned, Object Lock) vs the same S3 work`,
          unit: 'MB/s',
          subject,
          baseline: {
            label: 'CopyObject, then GET of the copy drained (no hash)',
            stats: statsOf(samples, 'CopyObject + GET'),
          },
          ratioMeaning: 'custody MB/s ÷ baseline MB/s',
          cpu: {
            unit: 'CPU s/GB',
            subject: subjectCpu,
            baseline: cpuPerGigabyte(samples, 'CopyObject + GET', bytes),
          },
          note: 'what hashing, the idempotency checks and the tag add to the server-side copy; report only',
        }),
        compareRow({
          case: 'copy',
          measure: `copy ${humanSize(bytes)} incoming → evidence (versioned, Object Lock)`,
          unit: 'MB/s',
          subject,
          baseline: {
            label: 'GetObject piped into Upload (no hash)',
            stats: statsOf(samples, 'GetObject → Upload'),
          },
          ratioMeaning: 'custody MB/s ÷ baseline MB/s',
          cpu: {
            unit: 'CPU s/GB',
            subject: subjectCpu,
            baseline: cpuPerGigabyte(samples, 'GetObject → Upload', bytes),
          },
          note:
            `the baseline copies as copyAndHashOriginal did before it copied server-side (part size ` +
            `${COPY_PART_SIZE / MiB} MiB, queue ${COPY_QUEUE_SIZE}); report only`,
        }),
      ];
    } finally {
      await deleteAllVersions(client, source.bucket, source.key);
    }
  },
};
