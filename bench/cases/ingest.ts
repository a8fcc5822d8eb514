/**
 * `custody ingest`'s upload through the API (issue 15 item 7): the file's SHA-256 (cli/upload.ts hashFile), then
 * its parts PUT to presigned URLs signed as the API signs them (api/uploads.ts signPartUrls), 4 in flight, and
 * the multipart upload listed and completed as the API completes it — against a plain lib-storage Upload of the
 * same file with the same part size and queue, no hashing. Target: ≥ 0.8× the plain MB/s.
 *
 * Not in the measure: the three small JSON calls to the API itself (begin, part URLs per 64 parts, complete),
 * a few milliseconds each on one host, beside seconds of bytes.
 */
import { createReadStream } from 'node:fs';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PARTS_IN_FLIGHT } from '../../cli/upload';
import { MIN_PART_BYTES } from '../../api/uploads';
import { uploadThroughPresignedParts } from '../s3-helpers';
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

/** The upload's settings (api/uploads.ts planUpload, cli/upload.ts); the baseline must match them. */
export const INGEST_PART_SIZE = MIN_PART_BYTES;
export const INGEST_QUEUE_SIZE = PARTS_IN_FLIGHT;

export const ingestCase: BenchCase = {
  name: 'ingest',
  title: 'ingest: custody ingest (hash, then presigned parts) vs plain multipart PUT',
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
          label: 'presigned parts',
          run: async () => {
            const seconds = await timeSeconds(async () => {
              const result = await uploadThroughPresignedParts(client, bucket, 'bench/ingest-custody', file);
              if (result.bytes !== bytes)
                throw new Error(`the upload hashed ${result.bytes} of ${bytes} bytes`);
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
                  // 1 MiB reads, as the hash pass reads.
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
        subject: {
          label: 'custody ingest (hash + presigned parts)',
          stats: statsOf(samples, 'presigned parts'),
        },
        baseline: { label: 'lib-storage Upload (no hash)', stats: statsOf(samples, 'lib-storage Upload') },
        ratioMeaning: 'custody MB/s ÷ baseline MB/s',
        target: { op: '>=', value: 0.8 },
        cpu: {
          unit: 'CPU s/GB',
          subject: cpuPerGigabyte(samples, 'presigned parts', bytes),
          baseline: cpuPerGigabyte(samples, 'lib-storage Upload', bytes),
        },
        note: `part size ${INGEST_PART_SIZE / MiB} MiB, ${INGEST_QUEUE_SIZE} in flight, both; custody reads the file twice (hash, then parts), ${CHUNK_BYTES / MiB} MiB reads`,
      }),
    ];
  },
};
