/**
 * One test file's slice of the workflow tier: its own task queues on the tier's dev server, three in-process
 * workers (orchestration, media-io, transcode) registering the stub activities of their pool (domain/pools.ts),
 * and helpers to start recordings and watch them.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { TypedSearchAttributes } from '@temporalio/common';
import { recordingIdFor, startRecordingLifecycle } from '../../../activities/start-lifecycle';
import { POOL_ACTIVITIES, type LifecycleTaskQueues, type WorkerPool } from '../../../domain/pools';
import { StateAttr, StageAttr } from '../../../domain/search-attributes';
import type { LifecycleInput, RecordingStatus } from '../../../domain/types';
import { verifyChain, type CustodyEntry } from '../../../activities/custody-log/chain';
import { verifyActionAssertion, decodeActionAssertion } from '../../../domain/assertion';
import { CUSTODY_ROLES, type CustodyRole } from '../../../domain/roles';
import { loadTrustedAssertionKeys } from '../../../workers/assertion-keys';
import { TEST_ISSUER } from '../../harness/signed-actions';
import * as messages from '../../../workflows/messages';
import { StubWorld, type LifecycleActivities } from './stub-world';
import { ephemeralPayloadKeySet } from '../../../workers/payload-codec';
import { encryptingDataConverter } from '../../../workers/temporal-connection';

export { StubWorld };

/**
 * What a custody-log entry of a person's action carries besides its own details: how the person is known (issuer
 * and roles) and the custody API's assertion itself. expectSound verifies every such assertion.
 */
export function signedProof(roles: readonly CustodyRole[] = CUSTODY_ROLES) {
  return {
    signedBy: { issuer: TEST_ISSUER, roles: [...roles] },
    assertion: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) as string,
  };
}

/**
 * A third party's check of a log entry that carries an assertion: it verifies with the API's public key as of the
 * entry's time, is for this recording, and names the entry's actor. Returns what is wrong, or undefined.
 */
function assertionProblem(entry: CustodyEntry): string | undefined {
  const assertion = entry.details.assertion;
  if (assertion === undefined) return undefined;
  if (typeof assertion !== 'string') return `seq ${entry.seq}: the assertion is not a string`;
  const keysFile = process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE;
  if (!keysFile) return 'CUSTODY_ASSERTION_PUBLIC_KEYS_FILE is not set: run the tier through jest';
  try {
    const claims = verifyActionAssertion(assertion, {
      keys: loadTrustedAssertionKeys(keysFile),
      now: new Date(entry.time),
      recordingId: entry.recordingId,
      action: decodeActionAssertion(assertion).act,
    });
    if (claims.sub !== entry.actor)
      return `seq ${entry.seq}: signed for ${claims.sub}, logged for ${entry.actor}`;
  } catch (err) {
    return `seq ${entry.seq} (${entry.action}): ${(err as Error).message}`;
  }
  return undefined;
}

function tierEnvironment(): { address: string; bundlePath: string } {
  const address = process.env.CUSTODY_WORKFLOW_TIER_TEMPORAL_ADDRESS;
  const bundlePath = process.env.CUSTODY_WORKFLOW_TIER_BUNDLE;
  if (!address || !bundlePath) {
    throw new Error(
      'The workflow tier has no Temporal dev server: run it with `npm run test:workflow` (or `npx jest ' +
        '--selectProjects workflow`), whose globalSetup starts one; `bash scripts/install-tools.sh` installs it.',
    );
  }
  return { address, bundlePath };
}

export interface StartOptions {
  policy?: string;
  declared?: LifecycleInput['declared'];
  /** Size of the incoming file (0: an empty upload). */
  size?: number;
  manifestProblem?: string;
  manifestKey?: string;
  transcode?: boolean;
  /** Arrange the recording's script (failures, gates) before its workflow starts. */
  arrange?: (recordingId: string) => void;
}

export interface Recording {
  recordingId: string;
  workflowId: string;
  source: LifecycleInput['source'];
  /** The latest run's handle (Updates and queries follow continue-as-new). */
  handle: WorkflowHandle;
  status(): Promise<RecordingStatus>;
  /** The awaitReviewReady Update: the status once review-ready or in need of someone. */
  settled(): Promise<RecordingStatus>;
  /** Polls the status query until it satisfies `wanted` (a state or a predicate). */
  waitFor(
    wanted: RecordingStatus['state'] | ((status: RecordingStatus) => boolean),
    timeoutMs?: number,
  ): Promise<RecordingStatus>;
  /** The workflow's result: the final status, once deleted (across continue-as-new runs). */
  result(): Promise<RecordingStatus>;
  /** `actor:action` of every custody-log entry, in order. */
  actions(): string[];
  /** Waits until the custody log holds `action` at least `times` times (states change before entries land). */
  logged(action: string, times?: number, timeoutMs?: number): Promise<void>;
  /** The status once the workflow knows of the last entry in the log (its head is the log's head). */
  caughtUp(): Promise<RecordingStatus>;
  /** The number of events in the current run's history. */
  historyLength(): Promise<number>;
  /**
   * The kinds of the current run's history events other than workflow-task bookkeeping (a workflow task may be
   * recorded whenever the server chooses to; what a workflow decided shows in the other events).
   */
  historyDecisions(): Promise<string[]>;
  searchAttributes(): Promise<{ state?: string; stage?: string }>;
}

export interface WorkflowTier {
  client: Client;
  world: StubWorld;
  taskQueues: LifecycleTaskQueues;
  start(options?: StartOptions): Promise<Recording>;
  /**
   * The custody log's chain must verify, every assertion in it must verify and name its entry's actor, and nothing
   * may have gone wrong in the stubs.
   */
  expectSound(recordingId: string): void;
  stop(): Promise<void>;
}

const POOL_QUEUES: Record<WorkerPool, keyof LifecycleTaskQueues> = {
  orchestration: 'orchestration',
  'media-io': 'mediaIo',
  transcode: 'transcode',
};

export async function startWorkflowTier(label: string): Promise<WorkflowTier> {
  const { address, bundlePath } = tierEnvironment();
  const prefix = `wf-${label}-${randomBytes(3).toString('hex')}`;
  const taskQueues: LifecycleTaskQueues = {
    orchestration: `${prefix}-orchestration`,
    mediaIo: `${prefix}-media-io`,
    transcode: `${prefix}-transcode`,
  };
  const world = new StubWorld();
  const stubs = world.activities();
  // Encrypted as every custody client and worker is; one in-memory key, shared by this tier's client and workers.
  const dataConverter = encryptingDataConverter(ephemeralPayloadKeySet(`workflow tier ${prefix}`));
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter });
  const native = await NativeConnection.connect({ address });
  // Each pool registers exactly its activities (local activities run on the orchestration worker): a call on
  // the wrong queue fails as it would in production.
  const workers = await Promise.all(
    (Object.keys(POOL_QUEUES) as WorkerPool[]).map((pool) =>
      Worker.create({
        connection: native,
        dataConverter,
        taskQueue: taskQueues[POOL_QUEUES[pool]],
        ...(pool === 'orchestration' && { workflowBundle: { codePath: bundlePath } }),
        activities: Object.fromEntries(
          POOL_ACTIVITIES[pool]
            .filter((name): name is keyof LifecycleActivities => name in stubs)
            .map((name) => [name, stubs[name]]),
        ),
        // A cancelled activity learns of it from a heartbeat's answer: seconds here, not the default 60 s.
        maxHeartbeatThrottleInterval: '500ms',
        shutdownGraceTime: '1s',
        shutdownForceTime: '5s',
        // CUSTODY_TIER_NO_CACHE=1: no sticky cache, so every workflow task replays the history from its start — a
        // determinism check of every decision the tier drives.
        ...(process.env.CUSTODY_TIER_NO_CACHE === '1' && { maxCachedWorkflows: 0 }),
      }),
    ),
  );
  const running = Promise.all(workers.map((w) => w.run()));

  async function start(options: StartOptions = {}): Promise<Recording> {
    const source = world.putInbox(
      `dock-${label}/${randomBytes(6).toString('hex')}.mp4`,
      options.size ?? 4096,
    );
    // The id derives from the source as in production; the test arranges its script before the start.
    const recordingId = recordingIdFor(source);
    options.arrange?.(recordingId);
    const outcome = await startRecordingLifecycle(client, {
      source,
      originalName: source.key.split('/').pop()!,
      declared: options.declared ?? {},
      via: 'inbox',
      actor: 'system',
      policy: options.policy ?? 'wf-1h',
      taskQueues,
      ...(options.manifestProblem !== undefined && { manifestProblem: options.manifestProblem }),
      ...(options.manifestKey !== undefined && { manifestKey: options.manifestKey }),
      ...(options.transcode !== undefined && { transcode: options.transcode }),
    });
    if (!outcome.started || outcome.recordingId !== recordingId) {
      throw new Error(`recording ${recordingId} was not started (${JSON.stringify(outcome)})`);
    }
    const handle = client.workflow.getHandle(outcome.workflowId);
    const status = () => handle.query(messages.statusQuery);
    const waitFor: Recording['waitFor'] = async (wanted, timeoutMs = 15_000) => {
      const matches = typeof wanted === 'function' ? wanted : (s: RecordingStatus) => s.state === wanted;
      const deadline = Date.now() + timeoutMs;
      let last: RecordingStatus | undefined;
      while (Date.now() < deadline) {
        last = await status();
        if (matches(last)) return last;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(
        `recording ${recordingId} did not reach ${typeof wanted === 'function' ? 'the wanted status' : wanted} ` +
          `within ${timeoutMs} ms; last status: ${JSON.stringify(last)}`,
      );
    };
    return {
      recordingId,
      workflowId: outcome.workflowId,
      source,
      handle,
      status,
      settled: () => handle.executeUpdate(messages.awaitReviewReadyUpdate),
      waitFor,
      result: () => handle.result() as Promise<RecordingStatus>,
      actions: () => world.log(recordingId).map((e) => `${e.actor}:${e.action}`),
      async logged(action, times = 1, timeoutMs = 15_000) {
        const deadline = Date.now() + timeoutMs;
        const count = () => world.log(recordingId).filter((e) => e.action === action).length;
        while (count() < times) {
          if (Date.now() > deadline) {
            throw new Error(
              `the custody log of ${recordingId} has ${action} ${count()} times, not ${times}, after ${timeoutMs} ms`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      },
      caughtUp: () =>
        waitFor((s) => {
          const head = world.log(recordingId).at(-1);
          return (
            head !== undefined && s.custodyLogHead.seq === head.seq && s.custodyLogHead.hash === head.hash
          );
        }),
      async historyLength() {
        return (await handle.fetchHistory()).events?.length ?? 0;
      },
      async historyDecisions() {
        const { events } = await handle.fetchHistory();
        return (events ?? [])
          .map((event) => Object.keys(event).find((key) => key.endsWith('EventAttributes')) ?? '?')
          .filter((kind) => !kind.startsWith('workflowTask'));
      },
      async searchAttributes() {
        const attributes: TypedSearchAttributes = (await handle.describe()).typedSearchAttributes;
        return {
          ...(attributes.get(StateAttr) !== undefined && { state: attributes.get(StateAttr) }),
          ...(attributes.get(StageAttr) !== undefined && { stage: attributes.get(StageAttr) }),
        };
      },
    };
  }

  return {
    client,
    world,
    taskQueues,
    start,
    expectSound(recordingId) {
      expect(world.problems).toEqual([]);
      expect(verifyChain(world.log(recordingId), { recordingId })).toMatchObject({ ok: true });
      expect(world.log(recordingId).map(assertionProblem).filter(Boolean)).toEqual([]);
    },
    async stop() {
      world.openAllGates();
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await native.close();
      await connection.close();
    },
  };
}
