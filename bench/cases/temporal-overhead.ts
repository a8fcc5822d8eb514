/**
 * Prices Temporal's part of a recording on this machine, to say how many steps per recording the dev server
 * can carry: N workflows of 9 no-op steps (the ingest's count today: copy, probe, remove, rule pack and five
 * custody-log appends) run as task-queue activities, as local activities, and with no steps at all. CPU
 * seconds of the dev server and of the worker per workflow give the cost of a start and of one step; they
 * are what the recommendations in FINDINGS.md are computed from. Report only.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import path from 'node:path';
import { startTemporalDevServer } from '../../test/harness/servers';
import { prototypeActivities } from '../prototypes/activities';
import { inParallel } from '../recordings';
import { ephemeralPayloadKeySet } from '../../workers/payload-codec';
import { encryptingDataConverter } from '../../workers/temporal-connection';
import { cpuSecondsOf, stats, type BenchCase, type ResultRow } from '../runner';

const STEPS = 9;

export const temporalOverheadCase: BenchCase = {
  name: 'temporal-overhead',
  title: 'Temporal dev server CPU per workflow start and per step: activities vs local activities (report)',
  estimate: { full: '4 min', quick: '2 min' },
  async run(context) {
    const count = Number(process.env.BENCH_OVERHEAD_N ?? (context.quick ? 100 : 300));
    const repetitions = context.repetitions ?? (context.quick ? 1 : 3);
    try {
      // The SDK's info lines (worker state changes) would drown the bench log; only once per process.
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* already installed by an earlier case */
    }
    const temporal = await startTemporalDevServer({
      dataDir: path.join(context.runDir, 'temporal-overhead'),
    });
    // Encrypted as in production: the codec's cost is part of Temporal's.
    const dataConverter = encryptingDataConverter(ephemeralPayloadKeySet('the temporal-overhead bench'));
    const nativeConnection = await NativeConnection.connect({ address: temporal.address });
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default', dataConverter });
    const taskQueue = 'bench-prototype';
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: 'default',
      dataConverter,
      taskQueue,
      workflowsPath: require.resolve('../prototypes/workflows'),
      activities: prototypeActivities,
      maxConcurrentActivityTaskExecutions: 100,
    });
    const running = worker.run();
    const modes = ['none', 'activities', 'local'] as const;
    const perWorkflow: Record<string, { temporal: number[]; worker: number[]; wall: number[] }> = {};
    try {
      for (let round = 0; round < repetitions + 1; round++) {
        for (const mode of modes) {
          const temporalBefore = cpuSecondsOf(temporal.pid);
          const workerBefore = cpuSecondsOf('self');
          const started = performance.now();
          await inParallel(count, 32, async (i) => {
            const handle = await client.workflow.start('stepChain', {
              taskQueue,
              workflowId: `proto-${mode}-${round}-${i}`,
              args: [{ steps: STEPS, mode }],
            });
            await handle.result();
          });
          const wall = (performance.now() - started) / 1000;
          const temporalCpu = (cpuSecondsOf(temporal.pid) - temporalBefore) / count;
          const workerCpu = (cpuSecondsOf('self') - workerBefore) / count;
          context.log(
            `  ${round === 0 ? 'warm-up' : `rep ${round}/${repetitions}`} ${mode}: ${(count / wall).toFixed(1)} wf/s, ` +
              `temporal ${(temporalCpu * 1000).toFixed(1)} ms CPU/wf, worker+client ${(workerCpu * 1000).toFixed(1)} ms CPU/wf`,
          );
          if (round === 0) continue;
          const entry = (perWorkflow[mode] ??= { temporal: [], worker: [], wall: [] });
          entry.temporal.push(temporalCpu * 1000);
          entry.worker.push(workerCpu * 1000);
          entry.wall.push(count / wall);
        }
      }
    } finally {
      worker.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
      await temporal.stop();
    }
    const median = (mode: string, what: 'temporal' | 'worker') => stats(perWorkflow[mode]![what]).median;
    const rows: ResultRow[] = [];
    for (const what of ['temporal', 'worker'] as const) {
      const base = median('none', what);
      const perActivity = (median('activities', what) - base) / STEPS;
      const perLocal = (median('local', what) - base) / STEPS;
      rows.push({
        case: 'temporal-overhead',
        measure: `${what === 'temporal' ? 'Temporal dev server' : 'worker + client (bench process)'} CPU ms per workflow of ${STEPS} no-op steps`,
        unit: 'ms',
        subject: { label: `${STEPS} task-queue activities`, stats: stats(perWorkflow.activities![what]) },
        baseline: { label: `${STEPS} local activities`, stats: stats(perWorkflow.local![what]) },
        ratio: median('activities', what) / median('local', what),
        ratioMeaning: 'CPU with activities ÷ CPU with local activities',
        note:
          `per workflow start + completion ${base.toFixed(1)} ms, per task-queue activity ${perActivity.toFixed(1)} ms, ` +
          `per local activity ${perLocal.toFixed(1)} ms of CPU; ${count} workflows, 32 started at a time; ` +
          `throughput ${stats(perWorkflow.activities!.wall).median.toFixed(1)} wf/s with activities, ` +
          `${stats(perWorkflow.local!.wall).median.toFixed(1)} with local activities, ` +
          `${stats(perWorkflow.none!.wall).median.toFixed(1)} without steps`,
      });
    }
    return rows;
  },
};
