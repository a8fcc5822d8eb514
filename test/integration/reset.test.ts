/**
 * `custody reset` on the real stack: a lifecycle failed on purpose (the fault-injection bundle fails it where
 * it would start the deletion) is reset to its last good workflow task with a normal worker, and
 * the recording reaches `deleted` with exactly one certificate and the reset in its custody log, recorded through
 * the custody API as the signed-in operator. A bulk --dry-run changes nothing; a reset with nothing to reset to,
 * without a sign-in, or by someone who is not an operator is refused with the reason.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { createTestStack, type TestStack } from '../harness/stack';
import { startCliApi, type CliApi } from '../harness/cli-session';
import { testPolicyDir } from '../harness/test-policies';
import { builtEntryPoint, envForConfig, runNode } from '../harness/processes';
import { faultInjectionWorkflowBundle, startLifecycleWithFault } from '../harness/fault-injection';
import { syntheticClip } from '../fixtures/media';
import { startCustodyWorkers } from '../../workers/run';
import { lifecycleTaskQueues } from '../../workers/pools';
import { createMediaTools } from '../../activities/media/ffmpeg';
import { readCertificate } from '../../activities/write-certificate';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import { certificateKey } from '../../activities/storage/keys';
import type { ResetRow } from '../../cli/reset';

let stack: TestStack;
let cliApi: CliApi;
let env: NodeJS.ProcessEnv;
let clip: Buffer;
const sessions: Record<'operator' | 'investigator', Record<string, string>> = {
  operator: {},
  investigator: {},
};

beforeAll(async () => {
  stack = await createTestStack('reset', {
    workers: false,
    overrides: { CUSTODY_POLICY_DIR: testPolicyDir({ 'test-5s': 'PT5S' }) },
  });
  // A config dir of no one: without a session the CLI is signed in as nobody, whatever the machine's user did.
  env = envForConfig(stack.config, {
    CUSTODY_CONFIG_DIR: mkdtempSync(path.join(tmpdir(), 'custody-reset-nobody-')),
  });
  clip = readFileSync(await syntheticClip({ durationS: 2, width: 320, height: 240, fps: 15 }));
  cliApi = await startCliApi(stack.config);
  sessions.operator = await cliApi.as({ subject: 'admin-1', roles: ['operator'] });
  sessions.investigator = await cliApi.as({ subject: 'investigator-1', roles: ['investigator', 'viewer'] });
});
afterAll(async () => {
  await cliApi?.stop();
  await stack?.stop();
});

/** The built CLI as the operator admin-1, as an investigator, or signed in as nobody. */
const custody = (args: string[], as: keyof typeof sessions | 'nobody' = 'operator') =>
  runNode(
    builtEntryPoint('cli/main.js'),
    args,
    { ...env, ...(as === 'nobody' ? {} : sessions[as]) },
    120_000,
  );

/**
 * A recording whose lifecycle fails outright when its deadline has passed, where it would schedule the deletion
 * (deleteAndCertify, which writes `deletion.started` first) — so the task that failed wrote nothing the reset
 * has to write again.
 */
async function failedOnPurpose(): Promise<{ recordingId: string; workflowId: string }> {
  const workers = await startCustodyWorkers({
    config: stack.config,
    s3: stack.clients.s3,
    media: createMediaTools({
      ffmpegPath: stack.config.media.ffmpegPath,
      ffprobePath: stack.config.media.ffprobePath,
    }),
    workflowBundlePath: faultInjectionWorkflowBundle(),
    schedules: false,
  });
  try {
    const source = await stack.putInbox(
      `station-4/fault-${Date.now()}.mp4`,
      Buffer.concat([clip, Buffer.from(String(Date.now()))]),
    );
    const started = await startLifecycleWithFault(
      stack.clients.client,
      {
        source,
        originalName: 'fault.mp4',
        declared: { deviceId: 'cam-reset', recordedAt: new Date().toISOString() },
        via: 'inbox',
        actor: 'system',
        policy: 'test-5s',
        taskQueues: lifecycleTaskQueues(stack.config),
      },
      // Not a log append: a failed append fails the workflow task, not the workflow (custody-log-writer.ts).
      { failBeforeActivity: 'deleteAndCertify' },
    );
    const failure = await stack.clients.client.workflow
      .getHandle(started.workflowId)
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(/injected fault: .* deleteAndCertify/);
    return started;
  } finally {
    await workers.shutdown();
  }
}

async function certificateVersions(recordingId: string) {
  const listing = await stack.clients.s3.send(
    new ListObjectVersionsCommand({
      Bucket: stack.config.buckets.audit,
      Prefix: certificateKey(recordingId),
    }),
  );
  return listing.Versions ?? [];
}

test('reset --to last-good of a workflow failed on purpose: it reaches deleted with one certificate', async () => {
  const { recordingId, workflowId } = await failedOnPurpose();
  const handle = stack.clients.client.workflow.getHandle(workflowId);
  const failed = await handle.describe();
  expect(failed.status.name).toBe('FAILED');
  expect(await certificateVersions(recordingId)).toEqual([]);

  // Bulk dry runs show the reset point and change nothing.
  const dry = await custody([
    'reset',
    '--query',
    `CustodyRecordingId = '${recordingId}'`,
    '--dry-run',
    '--json',
  ]);
  expect(dry.stderr).toBe('');
  expect(dry.code).toBe(0);
  const planned = JSON.parse(dry.stdout) as { dryRun: boolean; workflows: ResetRow[] };
  expect(planned.dryRun).toBe(true);
  expect(planned.workflows).toEqual([
    expect.objectContaining({
      recordingId,
      fromRunId: failed.runId,
      outcome: 'would-reset',
      failure: expect.objectContaining({ eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED' }) as object,
    }),
  ]);
  const eventId = planned.workflows[0]!.eventId!;
  const allFailed = await custody(['reset', '--failed-workflows', '--dry-run', '--json']);
  expect(allFailed.code).toBe(0);
  expect((JSON.parse(allFailed.stdout) as { workflows: ResetRow[] }).workflows).toContainEqual(
    expect.objectContaining({ recordingId, outcome: 'would-reset', eventId }),
  );
  const unchanged = await handle.describe();
  expect({ runId: unchanged.runId, status: unchanged.status.name, events: unchanged.historyLength }).toEqual({
    runId: failed.runId,
    status: 'FAILED',
    events: failed.historyLength,
  });

  // Reset, then the fix is deployed (a normal worker), which re-runs the task that failed. The reset's note for
  // the custody log is an Update of the new run, which completes once a worker runs it: the command waits so long.
  const resetting = custody([
    'reset',
    recordingId,
    '--to',
    'last-good',
    '--reason',
    'deletion scheduling fixed',
    '--json',
  ]);
  const waitUntil = Date.now() + 60_000;
  while ((await handle.describe()).runId === failed.runId && Date.now() < waitUntil)
    await new Promise((r) => setTimeout(r, 100));
  await stack.startWorkers();
  const reset = await resetting;
  expect(reset.stderr).toBe('');
  expect(reset.code).toBe(0);
  const row = JSON.parse(reset.stdout) as ResetRow;
  expect(row).toMatchObject({ outcome: 'reset', fromRunId: failed.runId, eventId, to: 'last-good' });
  expect(row.toRunId).toBeTruthy();
  expect(row.toRunId).not.toBe(failed.runId);

  const deleted = await stack.waitForState(recordingId, 'deleted', 90_000);
  expect(deleted.certificate).toBeDefined();
  expect(await certificateVersions(recordingId)).toHaveLength(1);
  const certificate = await readCertificate(stack.clients.s3, stack.config.buckets.audit, recordingId);
  expect(certificate?.verdict.ok).toBe(true);
  expect(certificate?.certificate?.cause).toBe('deadline');

  const log = await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId);
  expect(verifyChain(log).ok).toBe(true);
  expect(log.filter((e) => e.action === 'certificate.written')).toHaveLength(1);
  expect(log.filter((e) => e.action === 'admin.reset')).toHaveLength(1);
  expect(log.filter((e) => e.action === 'recording.deleted')).toHaveLength(1);
  expect(log.find((e) => e.action === 'admin.reset')).toMatchObject({
    actor: 'admin-1',
    details: {
      reason: 'deletion scheduling fixed',
      fromRunId: failed.runId,
      toRunId: row.toRunId,
      eventId,
      to: 'last-good',
      signedBy: { roles: ['operator'] },
    },
  });

  // The new run completed: there is no failure left to reset before.
  const again = await custody(['reset', recordingId, '--reason', 'again']);
  expect(again.code).toBe(4);
  expect(again.stderr).toMatch(/nothing to reset to: this run has no failed workflow task/);
});

test('reset refuses with a reason: unknown id, no sign-in, not an operator, and a reset that would rewrite the custody log', async () => {
  const unknown = await custody(['reset', 'ffffffffffffffffffff', '--reason', 'r']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/unknown recording id ffffffffffffffffffff/);

  // The operator is whoever signed in: without a sign-in there is no one to name.
  const nobody = await custody(['reset', 'ffffffffffffffffffff', '--reason', 'r'], 'nobody');
  expect(nobody.code).toBe(1);
  expect(nobody.stderr).toBe('custody: not logged in: run custody login\n');
  const notOperator = await custody(['reset', 'ffffffffffffffffffff', '--reason', 'r'], 'investigator');
  expect(notOperator.code).toBe(4);
  expect(notOperator.stderr).toMatch(/investigator-1 may not reset recordings: it needs the operator role/);

  const noTarget = await custody(['reset', '--dry-run'], 'nobody');
  expect(noTarget.code).toBe(1);
  expect(noTarget.stderr).toMatch(/a recording id, --query .* or --failed-workflows/);

  // --to first would run the whole workflow again and write its custody-log entries a second time. (Only the
  // fault-injecting worker may poll while this one fails.)
  await stack.workers?.shutdown();
  delete stack.workers;
  const { recordingId } = await failedOnPurpose();
  const first = await custody(['reset', recordingId, '--to', 'first', '--reason', 'r']);
  expect(first.code).toBe(4);
  expect(first.stderr).toMatch(/custody-log entries again/);
  const stillFailed = await stack.clients.client.workflow.getHandle(`rec-${recordingId}`).describe();
  expect(stillFailed.status.name).toBe('FAILED');
});
