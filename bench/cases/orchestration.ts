/**
 * Orchestration: 1,000 recordings of ~1 MB through ingest → hash → store with transcoding off, as when many
 * cameras dock at once. Measured from the first upload to the last recording whose deadline is set (state
 * retained). Target: ≥ 20 recordings/s. Baseline in the same run: the raw S3 work for the same objects
 * without Temporal (upload + hash, then GET → SHA-256 → PUT into the evidence store), same parallelism.
 * While custody runs, a CPU monitor records which process (temporal, versitygw, each worker) spends the time.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { uploadAndHash } from '../s3-helpers';
import {
  describeStuck,
  ingestMany,
  inParallel,
  settledQuery,
  stateQuery,
  stuckQuery,
  waitForCount,
} from '../recordings';
import { CpuMonitor, describePerItem, describeProfile, startBenchStack, type CpuProfile } from '../stack';
import { testPolicyDir } from '../../test/harness/test-policies';
import { compareRow, repeatInRotation, stats, statsOf, type BenchCase } from '../runner';

/** A CUSTODY_* value from the caller's environment when set (to try other tunings), else the bench's choice. */
export const envOr = (name: string, fallback: string) => process.env[name] ?? fallback;

export const orchestrationCase: BenchCase = {
  name: 'orchestration',
  title: 'orchestration: 1,000 recordings of 1 MB, ingest → hash → store, transcode off (recordings/s)',
  estimate: { full: '20 min', quick: '2 min' },
  async run(context) {
    const count = Number(process.env.BENCH_ORCH_N ?? (context.quick ? 100 : 1000));
    const parallel = Number(process.env.BENCH_ORCH_PARALLEL ?? 16);
    // ~1 MB of real H.264+AAC (probeMedia must accept it): 9 s of 320x240 testsrc2 is about 1 MB.
    const clip = await context.clip({ durationS: 9, width: 320, height: 240, fps: 30 });
    const bytes = statSync(clip).size;
    const { config: s3Config, client: s3 } = await context.s3();
    const policyDir = testPolicyDir({ 'bench-orchestration': 'P1D' });
    const stack = await startBenchStack(context, {
      label: 'orchestration',
      pools: ['orchestration', 'media-io'],
      env: {
        CUSTODY_POLICY_DIR: policyDir,
        CUSTODY_TRANSCODE_ENABLED: 'false',
        CUSTODY_ORCHESTRATION_CONCURRENCY: envOr('CUSTODY_ORCHESTRATION_CONCURRENCY', '100'),
        CUSTODY_MEDIA_IO_CONCURRENCY: envOr('CUSTODY_MEDIA_IO_CONCURRENCY', '16'),
      },
    });
    const profiles: CpuProfile[] = [];
    const stillTranscoding: number[] = [];
    const failures: string[] = [];
    try {
      const samples = await repeatInRotation(
        [
          {
            label: 'custody',
            run: async (round) => {
              const since = new Date(Date.now() - 1000);
              const monitor = new CpuMonitor(stack.processes);
              const started = performance.now();
              await ingestMany({
                client: stack.client,
                s3,
                config: stack.config,
                file: clip,
                count,
                parallel,
                prefix: `orchestration/r${round}`,
                policy: 'bench-orchestration',
                onProgress: (n) => n % 500 === 0 && context.log(`    ${n} started`),
              });
              const uploaded = performance.now();
              // 'transcoding' is where a lifecycle that ignores CUSTODY_TRANSCODE_ENABLED=false waits after
              // ingest (no transcode worker runs here): its original is stored and its deadline set.
              const done = await waitForCount(
                stack.client,
                settledQuery(['retained', 'transcoding'], since),
                count,
                {
                  timeoutMs: Math.max(600_000, count * 1000),
                  log: (n) => context.log(`    ${n}/${count} past ingest`),
                },
              );
              const profile = monitor.stop();
              profiles.push(profile);
              const transcoding = (await stack.client.workflow.count(stateQuery(['transcoding'], since)))
                .count;
              stillTranscoding.push(transcoding);
              const stuck = (await stack.client.workflow.count(stuckQuery(since))).count;
              if (stuck > 0) {
                const why = await describeStuck(stack.client, since);
                failures.push(`run ${round + 1}: ${stuck} of ${count} did not reach retained (${why})`);
                context.log(`    ${failures.at(-1)}`);
              }
              context.log(`    CPU ${describeProfile(profile)}`);
              context.log(`    ${describePerItem(profile, count)}`);
              const seconds = (done - started) / 1000;
              return {
                rate: count / seconds,
                'upload+start rate': count / ((uploaded - started) / 1000),
              };
            },
          },
          {
            label: 'raw S3',
            run: async (round) => {
              const started = performance.now();
              await inParallel(count, parallel, async (i) => {
                const key = `raw/r${round}/${String(i).padStart(6, '0')}.mp4`;
                await uploadAndHash(s3, s3Config.buckets.incoming, key, clip);
                const object = await s3.send(
                  new GetObjectCommand({ Bucket: s3Config.buckets.incoming, Key: key }),
                );
                const body = Buffer.from(await object.Body!.transformToByteArray());
                const sha256 = createHash('sha256').update(body).digest('hex');
                await s3.send(
                  new PutObjectCommand({
                    Bucket: s3Config.buckets.evidence,
                    Key: key,
                    Body: body,
                    Metadata: { sha256 },
                  }),
                );
              });
              return { rate: count / ((performance.now() - started) / 1000) };
            },
          },
        ],
        {
          warmup: 0,
          repetitions: context.repetitions ?? (context.quick ? 1 : 2),
          log: context.log,
          show: (v) => `${v.toFixed(1)} rec/s`,
          cpuPids: () => Object.values(stack.processes()),
        },
      );
      const honoured = stillTranscoding.every((n) => n === 0);
      const median = profiles.slice().sort((a, b) => a.seconds - b.seconds)[Math.floor(profiles.length / 2)];
      const rates = statsOf(samples, 'custody rate');
      return [
        compareRow({
          case: 'orchestration',
          measure: `${count} recordings of ${(bytes / 1e6).toFixed(2)} MB, first upload → last retained, transcode off`,
          unit: 'rec/s',
          subject: { label: 'upload + lifecycle', stats: rates },
          baseline: { label: 'raw S3 upload + GET/SHA-256/PUT', stats: statsOf(samples, 'raw S3 rate') },
          ratioMeaning: 'custody recordings/s ÷ raw S3 recordings/s',
          target: { op: '>=', value: 20 },
          targetOn: 'value',
          cpu: {
            unit: 'CPU s/rec',
            subject: stats(statsOf(samples, 'custody cpu').samples.map((s) => s / count)),
            baseline: stats(statsOf(samples, 'raw S3 cpu').samples.map((s) => s / count)),
          },
          note:
            `${parallel} uploads in flight; CUSTODY_ORCHESTRATION_CONCURRENCY=${stack.config.concurrency.orchestration}, ` +
            `CUSTODY_MEDIA_IO_CONCURRENCY=${stack.config.concurrency['media-io']}; one worker process per pool. ` +
            (honoured
              ? 'CUSTODY_TRANSCODE_ENABLED=false honoured (no recording waited in transcoding). '
              : `CUSTODY_TRANSCODE_ENABLED=false NOT honoured: ${stillTranscoding.join('/')} recordings per run ` +
                'went on to transcoding (counted as done once there: original stored, deadline set; no transcode ' +
                'worker ran). ') +
            (failures.length
              ? `FAILED RECORDINGS (counted as settled, so the rate is an upper bound): ${failures.join('; ')}. `
              : '') +
            `Uploads + starts alone: ${statsOf(samples, 'custody upload+start rate').median.toFixed(1)} rec/s. ` +
            (median
              ? `CPU of the median run ${describeProfile(median)}. ${describePerItem(median, count)}.`
              : ''),
        }),
      ];
    } finally {
      await stack.stop();
    }
  },
};
