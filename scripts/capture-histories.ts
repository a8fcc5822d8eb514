/**
 * Captures lifecycle histories from a real stack for the replay gate (test/integration/replay-histories.test.ts):
 * starts the test servers (the jest harness's own global setup), runs each scenario on its own task queues and
 * buckets, and writes each workflow's history as JSON to test/histories/<scenario>.json. Commit the files: CI
 * replays every file there with the new code (docs/versioning.md says when to capture and what to keep).
 *
 *   npm run build && node dist/scripts/capture-histories.js [--archive <label>] [scenario …]
 *
 * --archive <label> first renames each scenario's current file to <scenario>@<label>.json, so that histories of
 * the code before a patched() change stay in the gate until that patch is retired.
 * Without scenario names every scenario runs (about two minutes; the needs-attention one waits out three
 * transcode attempts). Needs ffmpeg and the tools of `bash scripts/install-tools.sh`, like the integration tests.
 *
 * The stack encrypts its payloads with a key made for this run (test/harness/global-setup.ts); the files are
 * written decoded, so the gate replays them with any key set (the codec passes plain payloads through). Their
 * values are synthetic test data, never a real recording's.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyAsJson } from '../cli/reset';
import { format } from 'prettier';
import globalSetup from '../test/harness/global-setup';
import globalTeardown from '../test/harness/global-teardown';
import { createTestStack, type TestStack } from '../test/harness/stack';
import { testPolicyDir } from '../test/harness/test-policies';
import { REPO_ROOT } from '../test/harness/servers';
import { HISTORIES_DIR } from '../test/harness/history-files';
import { syntheticClip } from '../test/fixtures/media';
import { startCustodyWorkers } from '../workers/run';
import { builtEntryPoint, envForConfig, startNode } from '../test/harness/processes';
import { createMediaTools } from '../activities/media/ffmpeg';
import { act, approved } from '../test/harness/signed-actions';
import { loadRulePacks } from '../activities/policy/load';
import { workflowIdFor } from '../domain/ids';
import { loadConfig } from '../workers/config';
import { AesGcmPayloadCodec, loadPayloadKeys } from '../workers/payload-codec';
import { decodeHistoryPayloads } from '../test/harness/history-payloads';

const POLICIES = { 'test-30s': 'PT30S', 'test-1h': 'PT1H' };
const MISSING_FFMPEG = '/nonexistent/custody-capture/ffmpeg';

interface Capture {
  /** Writes the workflow's history so far as test/histories/<name>.json. */
  save(name: string, handle: WorkflowHandle): Promise<void>;
  clip: Buffer;
}

interface Scenario {
  name: string;
  /** The history files it writes (a scenario may save a prefix of its history under a second name). */
  writes: string[];
  run(stack: TestStack, capture: Capture): Promise<void>;
}

const handleOf = (stack: TestStack, recordingId: string) =>
  stack.clients.client.workflow.getHandle(workflowIdFor(recordingId));

let counter = 0;
/** A small clip made unique per recording (the recording id derives from the object's identity). */
async function ingest(stack: TestStack, capture: Capture, policy: string, extra: object = {}) {
  const body = Buffer.concat([capture.clip, Buffer.from(`${process.pid}-${++counter}-${Date.now()}`)]);
  const source = await stack.putInbox(`capture/${counter}-${Date.now()}.mp4`, body);
  return stack.start(source, {
    policy,
    declared: { deviceId: 'cam-capture', recordedAt: new Date().toISOString() },
    ...extra,
  });
}

// People act as through the custody API: signed actions (test/harness/signed-actions.ts), four-eyes as requests.
const deleteEarly = (handle: WorkflowHandle) =>
  approved(
    handle,
    { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
    'officer-lead-1',
    'dpo-1',
  );

export const SCENARIOS: Scenario[] = [
  {
    name: 'happy-path',
    writes: ['happy-path'],
    async run(stack, capture) {
      // 30 s leave the transcode time to finish first even on a busy machine: ingest → transcode → retained →
      // deleted at the deadline (a deadline during the transcode would cancel it: another path).
      const { recordingId } = await ingest(stack, capture, 'test-30s');
      const retained = await stack.waitForState(recordingId, 'retained', 60_000);
      if (!retained.reviewReady) throw new Error('happy-path: retained without derivatives');
      await stack.waitForState(recordingId, 'deleted', 120_000);
      await capture.save('happy-path', handleOf(stack, recordingId));
    },
  },
  {
    name: 'hold-release',
    writes: ['hold-release'],
    async run(stack, capture) {
      const { recordingId } = await ingest(stack, capture, 'test-30s');
      const handle = handleOf(stack, recordingId);
      const retained = await stack.waitForState(recordingId, 'retained', 60_000);
      await act(
        handle,
        'hold.place',
        { caseId: 'AZ-2026-0001', reason: 'complaint filed' },
        'investigator-1',
      );
      // Past the deadline the hold keeps it; then the release (four-eyes) lets the deletion run at once.
      const pastDeadline = Date.parse(retained.retention!.deleteAfter) + 2_000 - Date.now();
      await new Promise((r) => setTimeout(r, Math.max(0, pastDeadline)));
      await stack.waitForState(recordingId, 'held', 10_000);
      await approved(
        handle,
        { kind: 'hold.release', reason: 'case closed', params: {} },
        'investigator-1',
        'supervisor-2',
      );
      await stack.waitForState(recordingId, 'deleted', 60_000);
      await capture.save('hold-release', handle);
    },
  },
  {
    name: 'needs-attention-replay',
    writes: ['needs-attention-replay'],
    async run(stack, capture) {
      // The transcode pool first runs with an ffmpeg that is not there, in a worker process of its own
      // (fluent-ffmpeg holds one ffmpeg path per process): three attempts fail, the stage parks.
      const broken = startNode(
        builtEntryPoint('workers/main.js'),
        envForConfig(stack.config, {
          CUSTODY_POOLS: 'transcode',
          CUSTODY_FFMPEG_PATH: MISSING_FFMPEG,
          CUSTODY_HTTP_PORT: '0',
          CUSTODY_SHUTDOWN_GRACE_SECONDS: '1',
        }),
      );
      const { recordingId } = await ingest(stack, capture, 'test-1h');
      const handle = handleOf(stack, recordingId);
      try {
        await stack.waitForState(recordingId, 'needs-attention', 180_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nbroken transcode worker said:\n${broken.output()}`);
      } finally {
        broken.kill('SIGTERM');
        if (broken.exitCode === null) await once(broken, 'exit');
      }
      const transcoder = (ffmpegPath: string) =>
        startCustodyWorkers({
          config: { ...stack.config, pools: ['transcode'] },
          s3: stack.clients.s3,
          media: createMediaTools({ ffmpegPath, ffprobePath: stack.config.media.ffprobePath }),
        });
      const fixed = await transcoder(stack.config.media.ffmpegPath);
      try {
        await act(handle, 'recording.replay', { reason: 'ffmpeg path fixed' }, 'admin-1');
        await stack.waitForState(recordingId, 'retained', 90_000);
        await deleteEarly(handle);
        await stack.waitForState(recordingId, 'deleted', 60_000);
      } finally {
        await fixed.shutdown();
      }
      await capture.save('needs-attention-replay', handle);
    },
  },
  {
    name: 'early-deletion',
    writes: ['early-deletion'],
    async run(stack, capture) {
      const { recordingId } = await ingest(stack, capture, 'test-1h');
      const handle = handleOf(stack, recordingId);
      await stack.waitForState(recordingId, 'retained', 60_000);
      await deleteEarly(handle);
      await stack.waitForState(recordingId, 'deleted', 60_000);
      await capture.save('early-deletion', handle);
    },
  },
  {
    name: 'quarantine',
    writes: ['quarantine', 'quarantine-release'],
    async run(stack, capture) {
      // The dock declared a hash the bytes do not have: quarantined, waiting for a person.
      const { recordingId } = await ingest(stack, capture, 'test-1h', {
        declared: { deviceId: 'cam-capture', sha256: 'f'.repeat(64) },
      });
      const handle = handleOf(stack, recordingId);
      await stack.waitForState(recordingId, 'quarantined', 60_000);
      await capture.save('quarantine', handle);
      try {
        await approved(
          handle,
          {
            kind: 'quarantine.release',
            reason: 'dock firmware hashed the wrong file',
            params: { acceptReceivedHash: true },
          },
          'admin-1',
          'supervisor-2',
        );
      } catch (err) {
        if (
          err instanceof WorkflowUpdateFailedError &&
          /no registered handler|unknown update/i.test(String(err.cause?.message))
        ) {
          process.stdout.write(
            'quarantine-release: skipped — this workflow version has no releaseQuarantine handler yet\n',
          );
          return;
        }
        throw err;
      }
      await stack.waitForState(recordingId, 'retained', 90_000);
      await deleteEarly(handle);
      await stack.waitForState(recordingId, 'deleted', 60_000);
      await capture.save('quarantine-release', handle);
    },
  },
  {
    name: 'policy-change',
    writes: ['policy-change'],
    async run(stack, capture) {
      // A policy change is a request naming the pack's id and fingerprint; on approval the worker resolves the
      // pack (a local activity inside the Update) and re-arms the deadline: shortened, past, deleted at once.
      const { recordingId } = await ingest(stack, capture, 'test-1h');
      const handle = handleOf(stack, recordingId);
      await stack.waitForState(recordingId, 'retained', 60_000);
      const pack = (await loadRulePacks(stack.config.policy.dir)).getPack('test-30s');
      await approved(
        handle,
        {
          kind: 'policy.apply',
          reason: 'the unit moved to the 30 s test pack',
          params: { packId: pack.id, fingerprint: pack.fingerprint },
        },
        'records-admin-1',
        'dpo-1',
      );
      await stack.waitForState(recordingId, 'deleted', 90_000);
      await capture.save('policy-change', handle);
    },
  },
];

async function main() {
  const args = process.argv.slice(2);
  const archiveAt = args.indexOf('--archive');
  const archive = archiveAt >= 0 ? args.splice(archiveAt, 2)[1] : undefined;
  if (archiveAt >= 0 && !/^[A-Za-z0-9._-]+$/.test(archive ?? ''))
    throw new Error(
      '--archive needs a label of letters, digits, . _ or -, e.g. --archive before-transcode-off',
    );
  const wanted = args;
  const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length) {
    throw new Error(
      `unknown scenario(s) ${unknown.join(', ')}: one of ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  const chosen = SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name));
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  mkdirSync(HISTORIES_DIR, { recursive: true });
  if (archive) {
    for (const name of chosen.flatMap((s) => s.writes)) {
      const file = path.join(HISTORIES_DIR, `${name}.json`);
      if (existsSync(file)) renameSync(file, path.join(HISTORIES_DIR, `${name}@${archive}.json`));
    }
  }
  process.stdout.write('starting Temporal dev server and versitygw …\n');
  await globalSetup();
  try {
    const clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
    const policyDir = testPolicyDir(POLICIES);
    const codec = new AesGcmPayloadCodec(loadPayloadKeys(loadConfig().payloadEncryption.keysFile));
    const capture: Capture = {
      clip,
      async save(name, handle) {
        const history = await decodeHistoryPayloads(await handle.fetchHistory(), codec);
        const json = await format(JSON.stringify(historyAsJson(history)), {
          parser: 'json',
          printWidth: 110,
        });
        const file = path.join(HISTORIES_DIR, `${name}.json`);
        writeFileSync(file, json);
        process.stdout.write(
          `${name}: ${history.events?.length ?? 0} events → ${path.relative(REPO_ROOT, file)}\n`,
        );
      },
    };
    // Scenarios run side by side, each on its own task queues and buckets.
    const results = await Promise.allSettled(
      chosen.map(async (scenario) => {
        const stack = await createTestStack(`cap-${scenario.name}`, {
          overrides: {
            CUSTODY_POLICY_DIR: policyDir,
            ...(scenario.name === 'needs-attention-replay' && { CUSTODY_POOLS: 'orchestration,media-io' }),
          },
        });
        try {
          await scenario.run(stack, capture);
        } finally {
          await stack.stop();
        }
      }),
    );
    const failed = results
      .map((r, i) => (r.status === 'rejected' ? `${chosen[i]!.name}: ${String(r.reason)}` : undefined))
      .filter(Boolean);
    if (failed.length) throw new Error(`scenarios failed:\n${failed.join('\n')}`);
  } finally {
    await globalTeardown();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `capture-histories: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
