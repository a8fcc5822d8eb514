#!/usr/bin/env node
/** The `custody` command. Each command group lives in its own file; this one only wires them. */
import { Command } from 'commander';
import { createCliContext, CliError, EXIT, type CliContext } from './context';
import { ingestCommand } from './ingest';
import { statusCommand, logCommand, verifyCommand } from './recording';

// Node 20 is this project's pinned runtime; the AWS SDK's notice that future SDK releases need Node 22 is
// for whoever upgrades the lockfile, not for every run of the CLI and workers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function run<A extends unknown[]>(action: (ctx: CliContext, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    const ctx = createCliContext();
    try {
      await action(ctx, ...args);
    } catch (err) {
      if (err instanceof CliError) {
        process.stderr.write(`custody: ${err.message}\n`);
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`custody: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = EXIT.error;
      }
    } finally {
      await ctx.close();
    }
  };
}

const program = new Command('custody')
  .description('Chain of custody for bodycam recordings: ingest, status, custody log, verification.')
  .showHelpAfterError();

program
  .command('ingest <file>')
  .description('upload a recording (hashed while streaming) and start its lifecycle; prints the recording id')
  .option('--manifest <m.json>', 'sidecar manifest: {deviceId, recordedAt, officerId?, sha256?, durationS?}')
  .option('--device <id>', 'camera/device id')
  .option('--officer <id>', 'recording officer id (an id, never a name)')
  .option('--recorded-at <iso>', 'when the recording started (ISO 8601)')
  .option('--sha256 <hex>', "the camera's or dock's own SHA-256, compared with ours")
  .option('--policy <pack>', 'rule pack id (default: CUSTODY_DEFAULT_POLICY)')
  .option('--by <user>', 'who ingests (default: the OS user)')
  .option('--json', 'print {"recordingId","sha256","bytes"}')
  .action(run(ingestCommand));

program
  .command('status <recordingId>')
  .description('state, hash, media facts and last error of a recording (exit 2 when unknown)')
  .option('--json', 'machine-readable output')
  .action(run(statusCommand));

program
  .command('log <recordingId>')
  .description("the recording's hash-chained custody log, from the audit store")
  .option('--json', 'machine-readable output')
  .action(run(logCommand));

program
  .command('verify <recordingId>')
  .description('check the custody log chain and re-hash the stored original (exit 3 on any mismatch)')
  .option('--copy <s3url>', 're-hash this copy (s3://bucket/key) instead of the evidence version, e.g. a restored backup')
  .option('--json', 'machine-readable output')
  .action(run(verifyCommand));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`custody: ${String(err)}\n`);
  process.exitCode = EXIT.error;
});
