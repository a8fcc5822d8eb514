/**
 * `custody verify`'s re-hash of a stored original: hashStoredObject (readObjectInto's direct GET on a presigned
 * URL, hashed as it arrives) against `openssl dgst -sha256` and `sha256sum` on the same bytes as a local file.
 * Target: ≥ 0.8× openssl. Diagnostics place the rest: `curl | openssl` does the same GET with raw tools, the
 * previous path (GetObject's body stream through SHA-256) runs beside the current one, the direct GET and a
 * GetObject that only drain the body are the transport alone, and Node hashing the local file is the hash alone.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { hashStoredObject } from '../../activities/custody-log/read';
import { CHUNK_BYTES } from '../../activities/storage/hashing-stream';
import { readObjectInto } from '../../activities/storage/object-reader';
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

const execFileAsync = promisify(execFile);

async function sha256Tool(command: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(command, args);
  const hex = /\b[0-9a-f]{64}\b/.exec(stdout)?.[0];
  if (!hex) throw new Error(`${command} printed no SHA-256: ${stdout}`);
  return hex;
}

/** SHA-256 of a file with synchronous 1 MiB reads: no stream, no thread pool, the hash's own speed in Node. */
export function hashFileSync(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(MiB);
  const fd = openSync(file, 'r');
  try {
    for (
      let n = readSync(fd, buffer, 0, buffer.length, null);
      n > 0;
      n = readSync(fd, buffer, 0, buffer.length, null)
    )
      hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export const rehashCase: BenchCase = {
  name: 'rehash',
  title: 're-hash a stored original: hashStoredObject vs openssl / sha256sum',
  estimate: { full: '4 min', quick: '1 min' },
  async run(context) {
    const bytes = context.quick ? 256 * MiB : GiB;
    const file = await context.randomFile(bytes);
    const { config, client } = await context.s3();
    const ref = { bucket: config.buckets.evidence, key: 'bench/rehash-original' };
    const stored = await new Upload({
      client,
      params: { Bucket: ref.bucket, Key: ref.key, Body: createReadStream(file) },
      partSize: 16 * MiB,
    }).done();
    const expected = await sha256Tool('openssl', ['dgst', '-sha256', file]);
    await execFileAsync('curl', ['--version']).catch(() => {
      throw new Error(
        'curl is not installed; the re-hash case needs it for its raw baseline (apt-get install curl)',
      );
    });
    // The same GET a raw tool would do, signed in advance: curl cannot sign S3 requests on every version.
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }), {
      expiresIn: 3600,
    });
    // versitygw's posix backend keeps the current version as a plain file: hashing it separates the hash
    // (Node, same process) from the transport (Node's HTTP client) without changing what is hashed.
    const storedFile = path.join(context.runDir, 's3', 's3-root', ref.bucket, ref.key);
    if (!existsSync(storedFile)) {
      throw new Error(
        `versitygw's file for s3://${ref.bucket}/${ref.key} is not at ${storedFile}: has its layout changed?`,
      );
    }
    const versioned = { ...ref, ...(stored.VersionId && { versionId: stored.VersionId }) };
    const check = (label: string, sha256: string) => {
      if (sha256 !== expected)
        throw new Error(`${label} computed ${sha256}, openssl ${expected}: not the same bytes`);
    };

    try {
      const samples = await repeatInRotation(
        [
          {
            label: 'hashStoredObject',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const result = await hashStoredObject(client, versioned);
                check('hashStoredObject', result.sha256);
              });
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'openssl dgst',
            run: async () => {
              const seconds = await timeSeconds(async () =>
                check('openssl', await sha256Tool('openssl', ['dgst', '-sha256', file])),
              );
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'sha256sum',
            run: async () => {
              const seconds = await timeSeconds(async () =>
                check('sha256sum', await sha256Tool('sha256sum', [file])),
              );
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'curl | openssl',
            run: async () => {
              const seconds = await timeSeconds(async () =>
                check(
                  'curl | openssl',
                  await sha256Tool('bash', [
                    '-c',
                    'set -o pipefail; curl -sSf "$0" | openssl dgst -sha256',
                    url,
                  ]),
                ),
              );
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'Node sha256 of the file',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const hash = createHash('sha256');
                await pipeline(createReadStream(file, { highWaterMark: CHUNK_BYTES }), hash);
                check('Node createHash', hash.digest('hex'));
              });
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'curl drain',
            run: async () => {
              const seconds = await timeSeconds(() =>
                execFileAsync('curl', ['-sSf', '-o', '/dev/null', url]),
              );
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'posix file hash',
            run: async () => {
              const seconds = await timeSeconds(() =>
                Promise.resolve(check('Node sync read of the versitygw file', hashFileSync(storedFile))),
              );
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'SDK GetObject + hash',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const hash = createHash('sha256');
                const read = await readObjectInto(
                  client,
                  versioned,
                  (chunk) => hash.update(chunk),
                  undefined,
                  {
                    direct: false,
                  },
                );
                check('GetObject through the SDK', hash.digest('hex'));
                if (read.via !== 'sdk') throw new Error(`the SDK row read ${read.via}`);
              });
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'direct GET drain',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const read = await readObjectInto(client, versioned, () => undefined);
                if (read.via !== 'direct' || read.bytes !== bytes)
                  throw new Error(`the direct GET read ${read.bytes} bytes ${read.via}`);
              });
              return megabytesPerSecond(bytes, seconds);
            },
          },
          {
            label: 'GetObject drain',
            run: async () => {
              const seconds = await timeSeconds(async () => {
                const object = await client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
                await pipeline(object.Body as Readable, new Writable({ write: (_c, _e, done) => done() }));
              });
              return megabytesPerSecond(bytes, seconds);
            },
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
      const custody = { label: 'hashStoredObject', stats: statsOf(samples, 'hashStoredObject') };
      const measure = `SHA-256 of ${humanSize(bytes)}`;
      const cpu = (baseline: string) => ({
        unit: 'CPU s/GB',
        subject: cpuPerGigabyte(samples, 'hashStoredObject', bytes),
        baseline: cpuPerGigabyte(samples, baseline, bytes),
      });
      /** hashStoredObject against one baseline of the same run. */
      const versus = (
        sample: string,
        label: string,
        ratioMeaning: string,
        extra: Pick<Parameters<typeof compareRow>[0], 'note' | 'target'> = {},
      ) =>
        compareRow({
          case: 'rehash',
          measure,
          unit: 'MB/s',
          subject: custody,
          baseline: { label, stats: statsOf(samples, sample) },
          ratioMeaning,
          cpu: cpu(sample),
          ...extra,
        });
      return [
        versus('openssl dgst', 'openssl dgst -sha256 (local file)', 'custody MB/s ÷ openssl MB/s', {
          target: { op: '>=', value: 0.8 },
          note: 'custody reads through versitygw over loopback HTTP; openssl reads the page-cached file',
        }),
        versus('sha256sum', 'sha256sum (local file)', 'custody MB/s ÷ sha256sum MB/s'),
        versus(
          'curl | openssl',
          'curl GET | openssl dgst -sha256',
          'custody MB/s ÷ raw tools through the same S3 MB/s',
          { note: 'the raw-tool equivalent of the re-hash: the same versitygw GET, a presigned URL' },
        ),
        versus(
          'curl drain',
          'curl GET > /dev/null (no hash)',
          'custody MB/s ÷ transport-only MB/s with a C client',
          {
            note: 'diagnostic: what versitygw serves over loopback when the client is cheap (curl, about 0.8 CPU-s/GB)',
          },
        ),
        compareRow({
          case: 'rehash',
          measure,
          unit: 'MB/s',
          subject: {
            label: 'Node: versitygw’s file, sync 1 MiB reads + createHash',
            stats: statsOf(samples, 'posix file hash'),
          },
          baseline: { label: 'openssl dgst -sha256 (local file)', stats: statsOf(samples, 'openssl dgst') },
          ratioMeaning: 'Node hashing the stored file ÷ openssl MB/s',
          cpu: {
            unit: 'CPU s/GB',
            subject: cpuPerGigabyte(samples, 'posix file hash', bytes),
            baseline: cpuPerGigabyte(samples, 'openssl dgst', bytes),
          },
          note:
            'diagnostic, not a product path (workers do not share versitygw’s disk): the same bytes hashed in Node ' +
            'without HTTP — if this is near openssl, the re-hash is bound by the transport, not by the hash',
        }),
        versus('GetObject drain', 'GetObject, body drained, no hash', 'custody MB/s ÷ transport-only MB/s', {
          note: 'diagnostic: the SDK’s receive path alone (what the re-hash used before the direct GET)',
        }),
        versus(
          'SDK GetObject + hash',
          'GetObject (SDK) + SHA-256, the previous path',
          'custody MB/s ÷ the SDK path MB/s (the speed-up)',
          {
            note: 'diagnostic: readObjectInto with direct: false, the fallback for responses the direct GET does not take',
          },
        ),
        versus(
          'direct GET drain',
          'direct GET, body drained, no hash',
          'custody MB/s ÷ transport-only MB/s of the direct GET',
          { note: 'diagnostic: the direct GET alone, the ceiling for this re-hash through S3' },
        ),
        versus(
          'Node sha256 of the file',
          'Node createHash on the local file',
          'custody MB/s ÷ Node-hashes-the-file MB/s',
          { note: 'diagnostic: the same hash in Node without S3 or HTTP' },
        ),
      ];
    } finally {
      await client.send(
        new DeleteObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(stored.VersionId && { VersionId: stored.VersionId }),
        }),
      );
    }
  },
};
