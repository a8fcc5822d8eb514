#!/usr/bin/env node
/** The `custody` command. Each command group lives in its own file; this one only wires them. */
import { Command, Option } from 'commander';
import { createCliContext, CliError, EXIT, type CliContext } from './context';

type Action<A extends unknown[]> = (ctx: CliContext, ...args: A) => Promise<void>;

/**
 * Each command's module is loaded when that command runs: `custody ingest` then starts without the Kubernetes
 * client, and every command skips the modules of the others (--help took 1.3 s with all of them loaded).
 */
function run<A extends unknown[]>(load: () => Promise<Action<A>>) {
  return async (...args: A) => {
    const action = await load();
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

/** Exported so that test/unit/docs.test.ts can list every command without running one. */
export const program = new Command('custody')
  .description('Chain of custody for bodycam recordings: ingest, status, custody log, verification.')
  .showHelpAfterError();

program
  .command('ingest <file>')
  .description(
    'upload a recording through the custody API (as the signed-in person or service account) and start its lifecycle; prints the recording id (the same bytes again: the same id)',
  )
  .option(
    '--manifest <m.json>',
    'sidecar manifest: {deviceId, recordedAt, officerId?, unit?, sha256?, durationS?}',
  )
  .option('--device <id>', 'camera/device id')
  .option('--officer <id>', 'recording officer id (an id, never a name)')
  .option('--unit <unit>', 'the unit (one of yours) whose people may see it; needed when you have several')
  .option('--recorded-at <iso>', 'when the recording started (ISO 8601)')
  .option('--sha256 <hex>', "the camera's or dock's own SHA-256, compared with ours")
  .option(
    '--policy <pack>',
    "dev mode only: a rule pack (else the deployment's applies, CUSTODY_DEFAULT_POLICY)",
  )
  .option(
    '--wait',
    'then wait until it is review-ready (exit 5 if it is parked, quarantined or deleted instead)',
  )
  .option(
    '--json',
    'print {"recordingId","sha256","bytes"} ("duplicate": true when the bytes already were a recording; with --wait also "status")',
  )
  .action(run(async () => (await import('./ingest.js')).ingestCommand));

program
  .command('status <recordingId>')
  .description('state, hash, media facts and last error of a recording (exit 2 when unknown)')
  .option('--wait', 'first wait until it is review-ready (exit 5 if parked, quarantined or deleted instead)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./recording.js')).statusCommand));

program
  .command('log <recordingId>')
  .description("the recording's hash-chained custody log, from the audit store")
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./recording.js')).logCommand));

program
  .command('verify <recordingId>')
  .description('check the custody log chain and re-hash the stored original (exit 3 on any mismatch)')
  .option(
    '--copy <s3url>',
    're-hash this copy (s3://bucket/key) instead of the evidence version, e.g. a restored backup',
  )
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./recording.js')).verifyCommand));

program
  .command('hold <recordingId>')
  .description('place a legal hold: the recording is kept past its deadline until released (four-eyes)')
  .requiredOption('--case <case>', 'case number')
  .requiredOption('--reason <text>', 'why')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).holdCommand));

program
  .command('release <recordingId>')
  .description(
    'ask for the release of holds: a four-eyes request, which another person (an approver) decides',
  )
  .option('--hold <holdId>', 'one hold (default: all active holds)')
  .requiredOption('--reason <text>', 'why')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).releaseCommand));

program
  .command('extend <recordingId>')
  .description('lengthen the deadline (never shortens); extends the evidence lock too')
  .option('--until <date>', 'new deadline (ISO 8601)')
  .option('--for <duration>', 'add to the current deadline (ISO 8601 duration, e.g. P30D)')
  .requiredOption('--reason <text>', 'why (documented in the custody log)')
  .option('--case <case>', 'case number')
  .option('--request', 'as a four-eyes request (needed beyond P90D past the statutory deadline)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).extendCommand));

program
  .command('mark-evidence <recordingId>')
  .description(
    'documented change of purpose: WORM-lock original and derivatives (COMPLIANCE) until the deadline',
  )
  .requiredOption('--case <case>', 'case number')
  .option('--reason <text>', 'why')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).markEvidenceCommand));

program
  .command('delete-early <recordingId>')
  .description(
    'ask to delete before the deadline: a four-eyes request an approver decides (refused while held or evidence)',
  )
  .requiredOption('--reason <text>', 'why, e.g. not relevant')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).deleteEarlyCommand));

program
  .command('certificate <recordingId>')
  .description(
    'the deletion certificate from the audit store, with its hash checked (exit 3 if it does not verify)',
  )
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).certificateCommand));

program
  .command('list')
  .description('recordings from Temporal visibility (paged)')
  .option(
    '--state <state>',
    'ingesting, transcoding, retained, held, deleting, deleted, needs-attention, quarantined',
  )
  .option('--stage <stage>', 'the parked stage: ingest, transcode, retention, deletion, fixity')
  .option('--policy <pack>', 'rule pack id')
  .option('--device <id>', 'camera/device id')
  .option('--overdue', 'past the deadline, not held, not deleted (should be empty)')
  .option('--limit <n>', 'page size (default 50)')
  .option('--page-token <token>', 'the next page, as printed by the previous one')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./list.js')).listCommand));

program
  .command('failed')
  .description('recordings parked in needs-attention, with the error that parked them')
  .option('--stage <stage>', 'ingest, transcode, retention, deletion, fixity')
  .option('--limit <n>', 'page size (default 50)')
  .option('--page-token <token>', 'the next page')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./list.js')).failedCommand));

program
  .command('replay [recordingId]')
  .description(
    're-run the stage a recording is parked in (needs-attention), from its start; --failed: every parked one',
  )
  .option('--reason <text>', 'why, e.g. the fix that was deployed')
  .option('--failed', 'bulk: every recording in needs-attention that matches the filters below')
  .option('--stage <stage>', 'bulk: only this parked stage (ingest, transcode, retention, deletion, fixity)')
  .option('--since <time>', 'bulk: parked at or after this time (RFC 3339) or this long ago (PT6H, P2D)')
  .option('--device <id>', 'bulk: only this camera/device')
  .option('--policy <pack>', 'bulk: only this rule pack')
  .option('--limit <n>', 'bulk: at most this many recordings')
  .option('--rate <r/s>', 'bulk: at most this many replays per second (default 2)')
  .option('--dry-run', 'bulk: list what would be replayed, change nothing')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./replay-bulk.js')).replayEntryCommand));

program
  .command('release-quarantine <recordingId>')
  .description('send a quarantined recording back into processing (ingest runs again from the kept bytes)')
  .requiredOption('--reason <text>', 'why it may leave quarantine (custody log)')
  .option(
    '--accept-received-hash',
    'hash mismatch only: the declared hash was wrong; accept the received SHA-256 (a four-eyes request)',
  )
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./admin.js')).releaseQuarantineCommand));

program
  .command('reset [recordingId]')
  .description(
    "last resort for a failed or non-deterministic workflow: Temporal's reset to a completed workflow task",
  )
  .option('--to <point>', 'last-good (before the first failure; default) or first', 'last-good')
  .option('--reason <text>', 'why (Temporal and the custody log); required unless --dry-run')
  .option('--query <visibility query>', 'bulk: recording workflows matching this query (current runs only)')
  .option('--failed-workflows', 'bulk: recording workflows whose run failed (ExecutionStatus = "Failed")')
  .option('--limit <n>', 'bulk: at most this many workflows')
  .option('--rate <r/s>', 'bulk: at most this many resets per second (default 2)')
  .option('--dry-run', 'show the reset point of each, change nothing')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./reset.js')).resetCommand));

program
  .command('requests')
  .description('four-eyes requests waiting for a decision in your units (or all of one recording)')
  .option('--recording <id>', "one recording's requests, pending and decided")
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./requests.js')).requestsCommand));

const request = program.command('request').description('decide or withdraw a four-eyes request');
request
  .command('approve <recordingId> <requestId>')
  .description('approve (and so carry out) a request someone else made; needs the approver role')
  .requiredOption('--reason <text>', 'why (custody log)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./requests.js')).approveCommand));
request
  .command('reject <recordingId> <requestId>')
  .description('reject a request someone else made; needs the approver role')
  .requiredOption('--reason <text>', 'why (custody log)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./requests.js')).rejectCommand));
request
  .command('cancel <recordingId> <requestId>')
  .description('withdraw your own pending request')
  .option('--reason <text>', 'why')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./requests.js')).cancelCommand));

const policy = program.command('policy').description('retention rule packs (policies/*.yaml)');
policy
  .command('list')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./policy.js')).policyListCommand));
policy
  .command('show <pack>')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./policy.js')).policyShowCommand));
policy
  .command('apply <pack>')
  .description(
    'ask to re-arm deadlines under <pack>: one four-eyes request per recording (once approved, a shortened deadline that is past deletes now)',
  )
  .option('--recording <id...>', 'these recordings')
  .option('--current <pack>', 'every running recording of your units now under this pack')
  .option('--dry-run', 'list old and new deadlines, change nothing')
  .option('--limit <n>', 'at most this many recordings')
  .option('--reason <text>', 'why (required unless --dry-run)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./policy.js')).policyApplyCommand));

const capacity = program
  .command('capacity')
  .description(
    'worker pools on Kubernetes: backlog beside replicas, scaling within the capacity policy, planning',
  );
capacity
  .command('status')
  .description("each pool's task-queue backlog and pollers (Temporal) beside its Deployment's replicas")
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./capacity.js')).capacityStatusCommand));
capacity
  .command('scale <pool> <replicas>')
  .description(
    "set a pool's replicas (the Deployment's scale subresource), within min/max of CUSTODY_CAPACITY_FILE",
  )
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./capacity.js')).capacityScaleCommand));
capacity
  .command('plan')
  .description('workers per pool for a recording load, from measured throughputs, with the arithmetic')
  .requiredOption('--cameras <n>', 'cameras recording')
  .requiredOption('--minutes-per-day <m>', 'minutes recorded per camera a day')
  .option('--bitrate-mbps <b>', "the recordings' bitrate in Mbit/s (default: the profile's)")
  .option('--profile <p>', 'capture profile of the capacity policy (default: plan.defaultProfile)')
  .option('--json', 'machine-readable output')
  .action(run(async () => (await import('./capacity.js')).capacityPlanCommand));

const outputOption = () =>
  new Option('--output <format>', 'table for people, json for programs')
    .choices(['table', 'json'])
    .default('table');

program
  .command('login')
  .description(
    'sign in at the OpenID Provider (device authorization: confirm a code in any browser); caches the sign-in',
  )
  .option('--api <url>', 'the custody API (default: CUSTODY_API_URL)')
  .option('--issuer <url>', 'the OpenID Provider (default: CUSTODY_OIDC_ISSUER, else the dev one on :9090)')
  .option(
    '--client-credentials',
    'a service account: check CUSTODY_CLIENT_ID and CUSTODY_CLIENT_SECRET_FILE (tokens fetched per run, not stored)',
  )
  .action(run(async () => (await import('./auth/commands.js')).loginCommand));

program
  .command('whoami')
  .description('who the custody API takes you to be: subject, issuer, roles, units, token expiry')
  .addOption(outputOption())
  .action(run(async () => (await import('./auth/commands.js')).whoamiCommand));

program
  .command('logout')
  .description("revoke the cached sign-in's refresh token at the OpenID Provider and remove it")
  .action(run(async () => (await import('./auth/commands.js')).logoutCommand));

program
  .command('access-log [recordingId]')
  .description('who read a recording (views, streams, downloads, log reads), or everything one person read')
  .option('--user <subject>', "instead of a recording: this subject's reads")
  .option('--from <time>', 'from this time on (RFC 3339)')
  .option('--to <time>', 'until this time (RFC 3339)')
  .addOption(outputOption())
  .addOption(new Option('--format <format>', "csv: the API's CSV export, as it sent it").choices(['csv']))
  .action(run(async () => (await import('./access-log.js')).accessLogCommand));

if (require.main === module) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`custody: ${String(err)}\n`);
    process.exitCode = EXIT.error;
  });
}
