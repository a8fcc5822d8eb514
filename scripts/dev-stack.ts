/**
 * `npm run dev`: the whole stack on this machine — Temporal dev server with its UI, versitygw, all worker pools —
 * on the dev-default ports, so the `custody` CLI works from another terminal with no settings — and the
 * development identity provider (api/dev-idp) on http://127.0.0.1:9090 with its demo logins. Then a demo:
 * a generated clip is ingested and followed through its states. Ctrl-C stops everything.
 *   --demo-only           stop the stack after the demo (used by CI to prove the command works)
 *   --no-demo             start the stack only
 *   --run-dir DIR         where Temporal's database, the store's data and logs go (default .run/)
 *   --worker-restarts N   a worker that dies is restarted, up to N times within 10 minutes (default 5)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  startDevIdp,
  startTemporalDevServer,
  startVersityGw,
  REPO_ROOT,
  type RunningServer,
} from '../test/harness/servers';
import { demoLoginLines } from '../api/dev-idp/banner';
import { DEFAULT_DEV_IDP_PORT } from '../api/dev-idp/constants';
import { readSecrets, writePrivateFile } from '../api/dev-idp/secrets';
import { loadConfigOrExit } from '../workers/config';
import { createS3Client, bootstrapStores } from '../activities/storage/s3';
import { ensurePayloadKeyFile } from '../workers/payload-codec';
import { generateAssertionKeyPair } from '../workers/assertion-keys';

const { values: flags } = parseArgs({
  options: {
    'demo-only': { type: 'boolean', default: false },
    'no-demo': { type: 'boolean', default: false },
    'run-dir': { type: 'string', default: path.join(REPO_ROOT, '.run') },
    'worker-restarts': { type: 'string', default: '5' },
  },
});
const demoOnly = flags['demo-only'];
const maxWorkerRestarts = Number(flags['worker-restarts']);
if (!Number.isInteger(maxWorkerRestarts) || maxWorkerRestarts < 0) {
  throw new Error(`--worker-restarts ${flags['worker-restarts']}: expected an integer ≥ 0`);
}
const runDir = path.resolve(flags['run-dir']);
const cliPath = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
const workerPath = path.join(REPO_ROOT, 'dist', 'workers', 'main.js');
const apiPath = path.join(REPO_ROOT, 'dist', 'api', 'main.js');

function say(text: string) {
  process.stdout.write(`\x1b[1m[dev]\x1b[0m ${text}\n`);
}

function portOf(hostPort: string): number {
  return Number(hostPort.split(':').pop());
}

function custody(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
}

/**
 * The demo acts through the API as the development provider's service accounts, as real ones would: it uploads
 * as the docking station dock-ka-west (unit ka-west) and reads as custody-automation (operator and auditor, every
 * unit). Each secret goes into a file of the run dir that only its owner reads (the CLI takes it from a file
 * only). With a site's provider (CUSTODY_OIDC_ISSUER), its CUSTODY_CLIENT_ID serves for both.
 */
function serviceAccountEnvironment(
  idpDir: string | undefined,
  apiUrl: string,
  clientId: 'dock-ka-west' | 'custody-automation',
): Record<string, string> {
  if (!idpDir) {
    if (process.env.CUSTODY_CLIENT_ID && process.env.CUSTODY_CLIENT_SECRET_FILE)
      return { CUSTODY_API_URL: apiUrl };
    throw new Error(
      'the demo acts as service accounts: with CUSTODY_OIDC_ISSUER set, also set CUSTODY_CLIENT_ID and ' +
        'CUSTODY_CLIENT_SECRET_FILE to a client of that provider with the dock, operator and auditor roles ' +
        '(or run with --no-demo)',
    );
  }
  const secretFile = path.join(idpDir, `${clientId}.secret`);
  writePrivateFile(secretFile, readSecrets(idpDir).clientSecrets[clientId]);
  return { CUSTODY_CLIENT_ID: clientId, CUSTODY_CLIENT_SECRET_FILE: secretFile, CUSTODY_API_URL: apiUrl };
}

/** What a leftover of the worker's process group was: "ffmpeg (pid 4711)". Linux /proc; elsewhere nothing. */
function processGroupMembers(pgid: number): string[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const members: string[] = [];
  for (const pid of pids) {
    try {
      // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') {
        members.push(`${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))} (pid ${pid})`);
      }
    } catch {
      /* exited meanwhile */
    }
  }
  return members;
}

/** Kills whatever is left of a process group; returns what that was. */
function killProcessGroup(pgid: number): string[] {
  const members = processGroupMembers(pgid);
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* nothing left */
  }
  return members;
}

const RESTART_WINDOW_MS = 10 * 60_000;
/** The worker's exit code for an invalid configuration (EX_CONFIG): restarting cannot help. */
const EXIT_CONFIG = 78;

interface WorkerSupervisor {
  /** SIGTERM, the worker's shutdown grace, then SIGKILL to its whole process group. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Runs the worker entry point in a process group of its own and keeps it running. When it dies, says which
 * process died and how, kills what is left of its group (an ffmpeg it started would otherwise run on,
 * orphaned) and starts it again after a backoff: the recordings' state is in Temporal, so their activities
 * run again once their heartbeat timeout has passed. More than `maxRestarts` deaths within RESTART_WINDOW_MS,
 * or a configuration error, make it give up with that message instead.
 */
function superviseWorker(
  env: NodeJS.ProcessEnv,
  maxRestarts: number,
  giveUp: (reason: string) => void,
): WorkerSupervisor {
  let current: ChildProcess | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  const deaths: number[] = [];

  const start = () => {
    const worker = spawn(process.execPath, [workerPath], { stdio: 'inherit', env, detached: true });
    const pid = worker.pid!;
    current = worker;
    say(`worker started (pid ${pid})`);
    worker.on('exit', (code, signal) => {
      const leftovers = killProcessGroup(pid);
      if (stopping) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      say(
        `worker (pid ${pid}) ${how}` +
          (leftovers.length ? `; killed what was left of its process group: ${leftovers.join(', ')}` : ''),
      );
      if (code === EXIT_CONFIG) {
        giveUp('the worker refused its configuration (see above)');
        return;
      }
      const now = Date.now();
      deaths.push(now);
      const recent = deaths.filter((at) => now - at < RESTART_WINDOW_MS).length;
      if (recent > maxRestarts) {
        giveUp(
          `the worker died ${recent} times within ${RESTART_WINDOW_MS / 60_000} minutes, ` +
            `more than --worker-restarts ${maxRestarts} allows`,
        );
        return;
      }
      const delayMs = Math.min(30_000, 1000 * 2 ** (recent - 1));
      say(
        `restarting the worker in ${delayMs / 1000} s (restart ${recent} of at most ${maxRestarts} within ` +
          `${RESTART_WINDOW_MS / 60_000} minutes); its recordings continue where Temporal has them`,
      );
      restartTimer = setTimeout(start, delayMs);
    });
  };
  start();

  return {
    async stop(graceMs) {
      stopping = true;
      clearTimeout(restartTimer);
      const worker = current;
      if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      const force = setTimeout(() => killProcessGroup(worker.pid!), graceMs);
      await exited;
      clearTimeout(force);
    },
  };
}

const servers: RunningServer[] = [];
let worker: WorkerSupervisor | undefined;
let api: ChildProcess | undefined;
let workerGraceMs = 0;
let stopping: Promise<void> | undefined;

/** Stops the worker (within its grace), then the servers; once, however often it is asked. */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    if (api && api.exitCode === null && api.signalCode === null) {
      const exited = once(api, 'exit');
      api.kill('SIGTERM');
      await exited;
    }
    await worker?.stop(workerGraceMs);
    await Promise.all(servers.map((s) => s.stop()));
  })();
  return stopping;
}

function stopAndExit(code: number, reason?: string): void {
  if (reason) say(`${reason}: stopping the stack`);
  void stopAll().then(() => process.exit(code));
}

async function main() {
  const config = loadConfigOrExit();
  mkdirSync(runDir, { recursive: true });
  // One payload key set for the stack: generated once into the run dir (unless one is set), and handed to every
  // process started from here — workers and CLI runs inherit the variable.
  if (!process.env.CUSTODY_PAYLOAD_KEYS_FILE) {
    const payloadKeys = path.join(runDir, 'payload-keys.json');
    if (ensurePayloadKeyFile(payloadKeys)) say(`generated the payload encryption key ${payloadKeys} (dev)`);
    process.env.CUSTODY_PAYLOAD_KEYS_FILE = payloadKeys;
  }
  // Likewise the API's assertion key pair: the API signs people's actions, the workers' bundles trust its half.
  if (!process.env.CUSTODY_ASSERTION_SIGNING_KEY_FILE && !process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE) {
    const signing = path.join(runDir, 'assertion-keys', 'signing.json');
    const trusted = path.join(runDir, 'assertion-keys', 'public.json');
    if (!existsSync(signing)) {
      generateAssertionKeyPair(signing, trusted);
      say(`generated the API's assertion key pair ${signing} (dev)`);
    }
    process.env.CUSTODY_ASSERTION_SIGNING_KEY_FILE = signing;
    process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE = trusted;
  }
  // A development stack: the demo rule pack (seconds, not statute) may be applied by a policy change.
  process.env.CUSTODY_DEV_MODE ??= 'true';
  process.on('SIGINT', () => stopAndExit(0));
  process.on('SIGTERM', () => stopAndExit(0));

  say('starting Temporal dev server and versitygw …');
  const [temporal, s3server] = await Promise.all([
    startTemporalDevServer({
      dataDir: runDir,
      dbFile: path.join(runDir, 'temporal.db'),
      port: portOf(config.temporal.address),
      ui: true,
      uiPort: portOf(config.temporal.address) + 1000,
    }),
    startVersityGw({
      dataDir: runDir,
      port: Number(new URL(config.s3.endpoint).port),
      accessKeyId: config.s3.accessKeyId,
      secretAccessKey: config.s3.secretAccessKey,
    }),
  ]);
  servers.push(temporal, s3server);
  const oidcIssuer = await startIdentityProvider();
  const s3 = createS3Client(config.s3);
  const report = await bootstrapStores(s3, config.buckets);
  s3.destroy();
  say(
    `Temporal ${temporal.address} (UI ${temporal.uiUrl}) · S3 ${s3server.endpoint} · stores: ${[...report.created, ...report.existing].join(', ')}`,
  );

  // Servers are unref'd child processes: this watch also keeps the process alive while the stack runs.
  setInterval(() => {
    const dead = stopping ? undefined : servers.find((s) => s.exited());
    if (dead) stopAndExit(1, `${dead.name} (pid ${dead.pid}) exited; its log: ${dead.logFile}`);
  }, 1000);

  workerGraceMs = (config.shutdownGraceSeconds + 15) * 1000;
  worker = superviseWorker({ CUSTODY_LOG_LEVEL: 'warn', ...process.env }, maxWorkerRestarts, (reason) =>
    stopAndExit(1, reason),
  );
  await waitForReady(`http://127.0.0.1:${config.http.port}/readyz`);
  say(
    `workers ready (pools ${config.pools.join(', ')}); metrics at http://127.0.0.1:${config.http.port}/metrics`,
  );
  const apiUrl = `http://127.0.0.1:${config.api.port}`;
  api = spawn(process.execPath, [apiPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { CUSTODY_API_INSECURE_HTTP: 'true', CUSTODY_LOG_LEVEL: 'warn', ...process.env },
  });
  api.on('exit', (code, signal) => {
    if (!stopping) stopAndExit(1, `the custody API exited (${signal ?? `code ${code}`})`);
  });
  await waitForReady(`${apiUrl}/healthz`);
  say(
    `custody API ${apiUrl} (plain HTTP: dev only; OpenAPI at ${apiUrl}/openapi.json) — people act through it`,
  );
  if (flags['no-demo']) {
    showDemoLogins(oidcIssuer);
    say(`Temporal UI: ${temporal.uiUrl}   ·   Ctrl-C stops everything (state is kept in ${runDir})`);
    return;
  }

  const clip = path.join(runDir, 'demo-clip.mp4');
  if (!existsSync(clip)) {
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=30:duration=8',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:duration=8',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-c:a',
      'aac',
      '-shortest',
      '-y',
      clip,
    ]);
  }
  say(
    `demo: custody ingest ${path.relative(REPO_ROOT, clip)} --device cam-demo-01 --policy demo   (as the dock service account dock-ka-west)`,
  );
  const recordingId = custody(
    [
      'ingest',
      clip,
      '--device',
      'cam-demo-01',
      '--officer',
      'officer-4711',
      '--recorded-at',
      new Date().toISOString(),
      '--policy',
      'demo',
    ],
    serviceAccountEnvironment(oidcIssuer.dir, apiUrl, 'dock-ka-west'),
  ).trim();
  const reader = serviceAccountEnvironment(oidcIssuer.dir, apiUrl, 'custody-automation');
  await followStates(recordingId, ['retained', 'deleting', 'deleted'], reader);
  say(`custody status ${recordingId}:`);
  process.stdout.write(custody(['status', recordingId], reader));
  say(`custody verify ${recordingId}:`);
  process.stdout.write(custody(['verify', recordingId]));
  say('the demo rule pack keeps recordings 30 s; waiting for the deadline …');
  await followStates(recordingId, ['deleted'], reader);
  say(`custody certificate ${recordingId}:`);
  process.stdout.write(custody(['certificate', recordingId], reader));

  if (demoOnly) {
    await stopAll();
    process.exit(0);
  }
  showDemoLogins(oidcIssuer);
  say('the stack keeps running; from another terminal try:');
  say(`  npm run -s custody -- status ${recordingId}      npm run -s custody -- log ${recordingId}`);
  say(`Temporal UI: ${temporal.uiUrl}   ·   Ctrl-C stops everything (state is kept in ${runDir})`);
}

/**
 * The development identity provider on its fixed port, keys and generated secrets in <run dir>/dev-idp/ (so
 * logins survive a restart); its issuer goes to the processes started after it. A CUSTODY_OIDC_ISSUER already set
 * (a site's Keycloak, say) is kept, and nothing is started.
 */
async function startIdentityProvider(): Promise<{ issuer: string; dir?: string }> {
  const configured = process.env.CUSTODY_OIDC_ISSUER;
  if (configured) {
    say(`identity provider: ${configured} (CUSTODY_OIDC_ISSUER; the development one is not started)`);
    return { issuer: configured };
  }
  const identityProvider = await startDevIdp({
    dataDir: runDir,
    dir: path.join(runDir, 'dev-idp'),
    port: DEFAULT_DEV_IDP_PORT,
  });
  servers.push(identityProvider);
  process.env.CUSTODY_OIDC_ISSUER = identityProvider.issuer;
  say(`identity provider ${identityProvider.issuer} (development only: plain HTTP on loopback, demo people)`);
  return { issuer: identityProvider.issuer, dir: identityProvider.dir };
}

function showDemoLogins(idp: { issuer: string; dir?: string }) {
  if (!idp.dir) return;
  say(
    `demo logins at ${idp.issuer} (generated for this run dir, kept in ${path.join(idp.dir, 'secrets.json')}):`,
  );
  for (const line of demoLoginLines(readSecrets(idp.dir))) say(line && `  ${line}`);
}

async function waitForReady(url: string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`nothing ready at ${url} within 60 s`);
}

/** Prints each state the recording passes through until it reaches one of `targets` (or gets stuck). */
async function followStates(recordingId: string, targets: string[], reader: Record<string, string>) {
  const stuck = new Set(['quarantined', 'needs-attention']);
  let last = '';
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const status = JSON.parse(custody(['status', recordingId, '--json'], reader)) as { state: string };
    if (status.state !== last) {
      say(`${recordingId}: ${status.state}`);
      last = status.state;
    }
    if (targets.includes(status.state)) return;
    if (stuck.has(status.state))
      throw new Error(`recording ${recordingId} is ${status.state}: see custody status ${recordingId}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`recording ${recordingId} did not settle within 3 minutes (last state ${last})`);
}

main().catch((err: unknown) => {
  console.error(err);
  stopAndExit(1);
});
