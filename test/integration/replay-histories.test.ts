/**
 * The replay gate: every committed lifecycle history (test/histories/, captured from a real stack by
 * scripts/capture-histories.ts) must replay with today's workflow code without a determinism error. A change
 * that reorders, adds or removes a command for a recording that is already running fails here, in CI, instead
 * of in production weeks later (docs/versioning.md: such a change needs patched()).
 */
import { existsSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { testConfig, testWorkflowBundle } from '../harness/env';
import { custodyDataConverter } from '../../workers/temporal-connection';
import { committedHistories, HISTORIES_DIR } from '../harness/history-files';

/** The scenarios the gate must cover (issue 6); scripts/capture-histories.ts writes each of them. */
const REQUIRED_SCENARIOS = [
  'happy-path',
  'hold-release',
  'needs-attention-replay',
  'early-deletion',
  'quarantine',
  'quarantine-release',
];

/**
 * The workers' data converter: committed histories are plain (the codec passes them through), and one captured
 * with this run's keys would be decrypted as a worker would.
 */
const dataConverter = () => custodyDataConverter(testConfig('replay'));

const recapture = 'Capture them with `npm run build && node dist/scripts/capture-histories.js`.';

test('test/histories holds every required scenario', () => {
  if (!existsSync(HISTORIES_DIR)) throw new Error(`${HISTORIES_DIR} is missing. ${recapture}`);
  const present = committedHistories().map((h) => h.scenario);
  const missing = REQUIRED_SCENARIOS.filter((s) => !present.includes(s));
  if (missing.length) throw new Error(`missing histories: ${missing.join(', ')}. ${recapture}`);
  for (const { scenario, history } of committedHistories()) {
    const started = history.events[0]?.workflowExecutionStartedEventAttributes;
    expect({ scenario, workflowType: started?.workflowType?.name }).toEqual({
      scenario,
      workflowType: 'recordingLifecycle',
    });
  }
});

test('every committed history replays with the current workflow code', async () => {
  const histories = committedHistories();
  expect(histories.length).toBeGreaterThanOrEqual(REQUIRED_SCENARIOS.length);
  const results = Worker.runReplayHistories(
    {
      workflowBundle: { codePath: testWorkflowBundle() },
      dataConverter: dataConverter(),
      replayName: 'custody-replay-gate',
    },
    histories.map(({ scenario, history }) => ({ workflowId: scenario, history })),
  );
  const outcomes: { scenario: string; error: string | null }[] = [];
  for await (const result of results) {
    outcomes.push({
      scenario: result.workflowId,
      error: result.error ? `${result.error.name}: ${result.error.message}` : null,
    });
  }
  // A failure names the scenario and the error: the change needs patched() (docs/versioning.md), or — if the
  // change is meant to be incompatible and no such recording runs anywhere — re-captured histories.
  expect(outcomes).toEqual(histories.map(({ scenario }) => ({ scenario, error: null })));
});

test('self-check: a workflow whose command order differs fails the gate with a DeterminismViolationError', async () => {
  const reordered = process.env.CUSTODY_TEST_REORDERED_WORKFLOW_BUNDLE;
  if (!reordered) throw new Error('global-setup.ts did not build the reordered bundle; run with `npm test`');
  const happy = committedHistories().find((h) => h.scenario === 'happy-path');
  if (!happy) throw new Error(`test/histories/happy-path.json is missing. ${recapture}`);
  const replay = Worker.runReplayHistory(
    {
      workflowBundle: { codePath: reordered },
      dataConverter: dataConverter(),
      replayName: 'custody-replay-gate-self-check',
    },
    happy.history,
    'happy-path',
  );
  await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
});
