/**
 * Memory must not grow with the recording: peak RSS of a separate child process (bench/children/
 * memory-probe.ts, VmHWM) doing `custody ingest`'s upload (hash, then presigned parts), then copyAndHashOriginal,
 * of a small and a large file.
 * Target: peak(large) ÷ peak(small) ≤ 1.2 for each. A child that loads the same modules and does nothing
 * shows the floor.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { evidenceOriginalKey } from '../../activities/storage/keys';
import type { ProbeReport, ProbeRequest } from '../children/memory-probe';
import {
  compareRow,
  GiB,
  humanSize,
  MiB,
  repeatInRotation,
  statsOf,
  type BenchCase,
  type BenchContext,
  type ResultRow,
} from '../runner';
import { beginPresignedUpload, completePresignedUpload, deleteAllVersions } from '../s3-helpers';
import { signPartUrls } from '../../api/uploads';

const PROBE = path.join(__dirname, '..', 'children', 'memory-probe.js');

async function probe(context: BenchContext, request: ProbeRequest): Promise<ProbeReport> {
  const env = await context.childEnv();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE, JSON.stringify(request)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').pop();
      if (code !== 0 || !line) {
        reject(
          new Error(`memory probe ${request.op} exited with ${code}: ${stderr.trim() || stdout.trim()}`),
        );
        return;
      }
      resolve(JSON.parse(line) as ProbeReport);
    });
  });
}

const toMiB = (kib: number) => kib / 1024;

export const memoryCase: BenchCase = {
  name: 'memory',
  title:
    'memory: peak RSS of a child doing custody ingest’s upload / copyAndHashOriginal, small vs large file',
  estimate: { full: '4 min', quick: '1 min' },
  async run(context) {
    const small = 64 * MiB;
    const large = context.quick ? GiB : 4 * GiB;
    const files = new Map([
      [small, await context.randomFile(small)],
      [large, await context.randomFile(large)],
    ]);
    const { config, client } = await context.s3();
    const leftovers: { bucket: string; prefix: string }[] = [];
    const cleanup = async () => {
      for (const { bucket, prefix } of leftovers.splice(0)) await deleteAllVersions(client, bucket, prefix);
    };

    /** One child uploads the file, a second copies that object into the evidence store. */
    const uploadThenCopy = async (bytes: number) => {
      const key = `bench/memory-${bytes}-${randomBytes(3).toString('hex')}`;
      const recordingId = `bench-memory-${randomBytes(4).toString('hex')}`;
      leftovers.push(
        { bucket: config.buckets.incoming, prefix: key },
        { bucket: config.buckets.evidence, prefix: evidenceOriginalKey(recordingId) },
      );
      // The API's half in this process: the multipart upload and every part's URL, handed to the child in a file.
      const opened = await beginPresignedUpload(client, config.buckets.incoming, key, bytes);
      const numbers = Array.from({ length: opened.partCount }, (_, i) => i + 1);
      const partsFile = path.join(context.runDir, `${key.replace(/\//g, '-')}.parts.json`);
      await writeFile(
        partsFile,
        JSON.stringify({ ...opened, parts: (await signPartUrls(client, opened, numbers)).parts }),
      );
      const upload = await probe(context, { op: 'upload', file: files.get(bytes)!, partsFile });
      if (upload.bytes !== bytes) throw new Error(`upload probe sent ${upload.bytes} of ${bytes} bytes`);
      const etag = await completePresignedUpload(client, opened);
      const copy = await probe(context, { op: 'copy', key, etag, size: bytes, recordingId });
      if (copy.sha256 !== upload.sha256) {
        throw new Error(
          `the copy hashed to ${copy.sha256}, the upload to ${upload.sha256}: not the same bytes`,
        );
      }
      const halfway = (report: ProbeReport) =>
        report.vmHwmHalfwayKiB === undefined ? undefined : toMiB(report.vmHwmHalfwayKiB);
      const uploadHalfway = halfway(upload);
      const copyHalfway = halfway(copy);
      return {
        upload: toMiB(upload.vmHwmKiB),
        copy: toMiB(copy.vmHwmKiB),
        ...(bytes === large && uploadHalfway !== undefined && { 'upload half-way': uploadHalfway }),
        ...(bytes === large && copyHalfway !== undefined && { 'copy half-way': copyHalfway }),
      };
    };

    const smallLabel = humanSize(small);
    const largeLabel = humanSize(large);
    try {
      const samples = await repeatInRotation(
        [
          { label: smallLabel, run: () => uploadThenCopy(small), cleanup },
          { label: largeLabel, run: () => uploadThenCopy(large), cleanup },
          { label: 'idle', run: async () => toMiB((await probe(context, { op: 'idle' })).vmHwmKiB) },
        ],
        {
          warmup: 0,
          repetitions: context.repetitions ?? 2,
          log: context.log,
          show: (v) => `${v.toFixed(0)} MiB peak RSS`,
        },
      );
      const row = (op: 'upload' | 'copy', name: string) =>
        compareRow({
          case: 'memory',
          measure: `peak RSS of a child process: ${name}`,
          unit: 'MiB',
          subject: { label: largeLabel, stats: statsOf(samples, `${largeLabel} ${op}`) },
          baseline: { label: smallLabel, stats: statsOf(samples, `${smallLabel} ${op}`) },
          ratioMeaning: `peak(${largeLabel}) ÷ peak(${smallLabel})`,
          target: { op: '<=', value: 1.2 },
        });
      const growth = (op: 'upload' | 'copy', name: string): ResultRow[] => {
        const halfwayKey = `${largeLabel} ${op} half-way`;
        if (!samples.has(halfwayKey)) return [];
        return [
          compareRow({
            case: 'memory',
            measure: `peak RSS within the ${largeLabel} ${name}: at the end vs half-way`,
            unit: 'MiB',
            subject: { label: 'end', stats: statsOf(samples, `${largeLabel} ${op}`) },
            baseline: { label: 'half-way', stats: statsOf(samples, halfwayKey) },
            ratioMeaning: 'peak at the end ÷ peak at half the bytes',
            note: '≈ 1 means memory stopped growing: bounded by the pipeline, not the file; report only',
          }),
        ];
      };
      return [
        row('upload', 'custody ingest upload'),
        ...growth('upload', 'custody ingest upload'),
        row('copy', 'copyAndHashOriginal'),
        ...growth('copy', 'copyAndHashOriginal'),
        {
          case: 'memory',
          measure: 'peak RSS of a child process that loads the same modules and does nothing',
          unit: 'MiB',
          subject: { label: 'idle', stats: statsOf(samples, 'idle') },
          note: 'the floor: Node, the AWS SDK, Temporal client modules',
        },
      ];
    } finally {
      await cleanup();
    }
  },
};
