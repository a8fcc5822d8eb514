/**
 * Workflow histories as files (test/histories/*.json), written by scripts/capture-histories.ts and replayed by
 * test/integration/replay-histories.test.ts. The form is the History message as plain JSON (cli/reset.ts's
 * historyAsJson); it is read back with the same protobuf classes the worker uses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { REPO_ROOT } from './servers';

export const HISTORIES_DIR = path.join(REPO_ROOT, 'test', 'histories');

export function readHistoryFile(file: string): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(file, 'utf8')) as object);
}

/** Every committed history: scenario name (file name without .json) → history. */
export function committedHistories(
  dir = HISTORIES_DIR,
): { scenario: string; history: temporal.api.history.v1.History }[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({
      scenario: path.basename(name, '.json'),
      history: readHistoryFile(path.join(dir, name)),
    }));
}
