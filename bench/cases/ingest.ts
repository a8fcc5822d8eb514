/**
 * `custody ingest`'s upload: uploadAndHash (one read, multipart upload + SHA-256) against a plain lib-storage
 * Upload of the same file with the same part size and queue, no hashing. Target: ≥ 0.8× the plain MB/s.
 */
import { createReadStream } from 'node:fs';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { uploadAndHash } from '../../cli/ingest';
import { CHUNK_BYTES } from '../../activities/storage/hashing-stream';
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

/** uploadAndHash's settings (cli/ingest.ts); the baseline must match them to be a fair comparison. */
export const INGEST_PART_SIZE = 8 * MiB; // as cli/ingest.ts uploadAndHash
export const INGEST_QUEUE_SIZE = 4;

export const ingestCase: BenchCase = {
  name: 'ingest',
  title: 'ingest: uploadAndHash vs plain multipart PUT',
  estimate: { full: '2 min', quick: '30 s' },
  async run(context) {
    const bytes = context.quick ? 256 * MiB : GiB;
    const file = await context.randomFile(bytes);
    const { config, client } = await context.s3();
    const bucket = config.buckets.incoming;
    const remove = (key: string) => async () => {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    };

    const samples = await repeatInRotation(
      [
        {
          label: 'uploadAndHash',
          run: async () => {
            const seconds = await timeSeconds(async () => {
              const result = await uploadAndHash(client, bucket, 'bench/ingest-custody', file);
              if (result.bytes !== bytes)
                throw new Error(`uploadAndHash sent ${result.bytes} of ${bytes} bytes`);
            });
            return megabytesPerSecond(bytes, seconds);
          },
          cleanup: remove('bench/ingest-custody'),
        },
        {
          label: 'lib-storage Upload',
          run: async () => {
            const seconds = await timeSeconds(() =>
              new Upload({
                client,
                params: {
                  Bucket: bucket,
                  Key: 'bench/ingest-plain',
                  // The read size uploadAndHash uses: the two differ only in the hashing.
                  Body: createReadStream(file, { highWaterMark: CHUNK_BYTES }),
                },
                partSize: INGEST_PART_SIZE,
                queueSize: INGEST_QUEUE_SIZE,
                leavePartsOnError: false,
              }).done(),
            );
            return megabytesPerSecond(bytes, seconds);
          },
          cleanup: remove('bench/ingest-plain'),
        },
      ],
      {
        warmup: 1,
        repetitions: context.repetitions ?? (context.quick ? 3 : 7),
        log: context.log,
        show: (v) => `${v.toFixed(0)} MB/s`,
        cpuPids: context.serverPids,
      },
    );
    return [
      compareRow({
        case: 'ingest',
        measure: `upload ${humanSize(bytes)} from a local file`,
        unit: 'MB/s',
        subject: { label: 'uploadAndHash', stats: statsOf(samples, 'uploadAndHash') },
        baseline: { label: 'lib-storage Upload (no hash)', stats: statsOf(samples, 'lib-storage Upload') },
        ratioMeaning: 'custody MB/s ÷ baseline MB/s',
        target: { op: '>=', value: 0.8 },
        cpu: {
          unit: 'CPU s/GB',
          subject: cpuPerGigabyte(samples, 'uploadAndHash', bytes),
          baseline: cpuPerGigabyte(samples, 'lib-storage Upload', bytes),
        },
        note: `part size ${INGEST_PART_SIZE / MiB} MiB, queue ${INGEST_QUEUE_SIZE}, ${CHUNK_BYTES / MiB} MiB file reads, both`,
      }),
    ];
  },
};
