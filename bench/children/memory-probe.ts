/**
 * A child process for the memory case: does ONE upload as `custody ingest` makes it (the file's hash, then its
 * parts PUT to presigned URLs the parent signed, as the API would: the signing is not the CLI's memory), or
 * copyAndHashOriginal (or nothing, for the
 * floor of a process that loaded the same modules) and prints one JSON line with its own peak RSS (VmHWM
 * from /proc/self/status), so the benchmark harness's own memory never counts.
 *
 *   node dist/bench/children/memory-probe.js '{"op":"upload","file":"…","partsFile":"…"}'
 *   node dist/bench/children/memory-probe.js '{"op":"copy","key":"…","etag":"…","size":123,"recordingId":"…"}'
 *   node dist/bench/children/memory-probe.js '{"op":"idle"}'
 *
 * S3 endpoint, credentials and buckets come from the environment (workers/config.ts names).
 */
import { readFileSync, statSync } from 'node:fs';
import { hashFile, uploadParts, type PartUrl } from '../../cli/upload';
import { makeCopyAndHashOriginal } from '../../activities/copy-and-hash-original';
import { standaloneContext } from '../../activities/context';
import { createS3Client } from '../../activities/storage/s3';
import { loadConfig } from '../../workers/config';

export type ProbeRequest =
  | { op: 'idle' }
  /** `partsFile`: JSON {partSize, partCount, parts: PartUrl[]}, every part's URL, signed by the parent. */
  | { op: 'upload'; file: string; partsFile: string }
  | { op: 'copy'; key: string; etag: string; size: number; recordingId: string };

export interface ProbeReport {
  op: ProbeRequest['op'];
  /** Peak resident set size of this process, KiB. */
  vmHwmKiB: number;
  /**
   * The peak when half the bytes had passed: equal to vmHwmKiB when memory stopped growing early. (The copy
   * learns its progress from its 2-second heartbeat, so a short copy may not report this.)
   */
  vmHwmHalfwayKiB?: number;
  bytes: number;
  sha256?: string;
  seconds: number;
}

function peakRssKiB(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (!match?.[1]) throw new Error('no VmHWM in /proc/self/status: the memory case needs Linux');
  return Number(match[1]);
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{"op":"idle"}') as ProbeRequest;
  const config = loadConfig(process.env);
  const s3 = createS3Client(config.s3);
  const started = performance.now();
  let bytes = 0;
  let sha256: string | undefined;
  let halfway: number | undefined;
  const watchHalfway = (done: number, total: number) => {
    if (halfway === undefined && done >= total / 2) halfway = peakRssKiB();
  };
  if (request.op === 'upload') {
    const total = statSync(request.file).size;
    const signed = JSON.parse(readFileSync(request.partsFile, 'utf8')) as {
      partSize: number;
      partCount: number;
      parts: PartUrl[];
    };
    ({ sha256, bytes } = await hashFile(request.file));
    const byNumber = new Map(signed.parts.map((part) => [part.partNumber, part]));
    await uploadParts(
      request.file,
      signed,
      (numbers) => Promise.resolve(numbers.map((n) => byNumber.get(n)!)),
      (done) => watchHalfway(done, total),
    );
  } else if (request.op === 'copy') {
    const copyAndHashOriginal = makeCopyAndHashOriginal({
      s3,
      evidenceBucket: config.buckets.evidence,
      context: {
        ...standaloneContext(),
        heartbeat: (details) => {
          const progress = details as { bytes?: number; of?: number } | undefined;
          if (progress?.bytes !== undefined && progress.of) watchHalfway(progress.bytes, progress.of);
        },
      },
    });
    ({ bytes, sha256 } = await copyAndHashOriginal({
      recordingId: request.recordingId,
      source: { bucket: config.buckets.incoming, key: request.key, etag: request.etag, size: request.size },
      originalName: 'bench.bin',
    }));
  }
  const seconds = (performance.now() - started) / 1000;
  s3.destroy();
  const report: ProbeReport = {
    op: request.op,
    vmHwmKiB: peakRssKiB(),
    ...(halfway !== undefined && { vmHwmHalfwayKiB: halfway }),
    bytes,
    ...(sha256 && { sha256 }),
    seconds,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `memory-probe: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
