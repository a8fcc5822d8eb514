/**
 * The lifecycle's first activity: copyAndHashOriginal (S3 → S3 copy with SHA-256 in the same read, plus its
 * idempotency checks and the sha256 tag) against a plain GetObject piped into an Upload with the activity's
 * part size and queue, no hashing. Reported as a ratio (no target).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
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

/** makeCopyAndHashOriginal's defaults (activities/copy-and-hash-original.ts). */
const COPY_PART_SIZE = 16 * MiB;
const COPY_QUEUE_SIZE = 2;

export const copyAndHashCase: BenchCase = {
  name: 'copy',
  title: 'S3→S3 copy+hash: copyAndHashOriginal vs GetObject piped into Upload',
  estimate: { full: '3 min', quick: '40 s' },
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
      return [
        compareRow({
          case: 'copy',
          measure: `copy ${humanSize(bytes)} incoming → evidence (versioned, Object Lock)`,
          unit: 'MB/s',
          subject: { label: 'copyAndHashOriginal', stats: statsOf(samples, 'copyAndHashOriginal') },
          baseline: {
            label: 'GetObject piped into Upload (no hash)',
            stats: statsOf(samples, 'GetObject → Upload'),
          },
          ratioMeaning: 'custody MB/s ÷ baseline MB/s',
          cpu: {
            unit: 'CPU s/GB',
            subject: cpuPerGigabyte(samples, 'copyAndHashOriginal', bytes),
            baseline: cpuPerGigabyte(samples, 'GetObject → Upload', bytes),
          },
          note: `part size ${COPY_PART_SIZE / MiB} MiB, queue ${COPY_QUEUE_SIZE}, both; report only`,
        }),
      ];
    } finally {
      await deleteAllVersions(client, source.bucket, source.key);
    }
  },
};
