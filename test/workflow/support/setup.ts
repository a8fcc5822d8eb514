// The workflow tier waits on real (second-long) timers of the dev server, never on media: seconds, not minutes.
import { Runtime, DefaultLogger, type LogEntry } from '@temporalio/worker';

jest.setTimeout(30_000);

/**
 * Warnings and errors only, without the expected ones: the failures the tests inject into stub activities, the
 * untrusted signals tests send, and the media-io and transcode workers saying they run no workflows. A failure
 * the stubs report as the workflow's mistake (StubProblem) is still printed; tests fail on it anyway.
 */
function expected(entry: LogEntry): boolean {
  if (entry.message.startsWith('No workflows registered')) return true;
  // What the workflow says of the signals it no longer believes, which tests send on purpose.
  if (/^administrativeNote signal ignored|^fixity report not confirmed/.test(entry.message)) return true;
  const error = entry.meta?.error as { type?: string } | undefined;
  return entry.message === 'Activity failed' && error?.type !== 'StubProblem';
}

try {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (expected(entry)) return;
      const meta = entry.meta ? [entry.meta] : [];
      if (entry.level === 'ERROR') console.error(`[${entry.level}] ${entry.message}`, ...meta);
      else console.warn(`[${entry.level}] ${entry.message}`, ...meta);
    }),
  });
} catch {
  /* already installed in this process */
}

// The tier's own assertion keys (global-setup.ts), under the names the signing harness and tier.ts read; jest gives
// each test file its own copy of process.env, so this never reaches the integration project's files.
process.env.CUSTODY_ASSERTION_SIGNING_KEY_FILE = process.env.CUSTODY_WORKFLOW_TIER_SIGNING_KEY_FILE;
process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE = process.env.CUSTODY_WORKFLOW_TIER_PUBLIC_KEYS_FILE;
