/**
 * `npm run dev`: the whole stack on this machine — Temporal dev server with its UI, versitygw, all worker pools —
 * on the dev-default ports, so the `custody` CLI works from another terminal with no settings. Then a demo:
 * a generated clip is ingested and followed through its states. Ctrl-C stops everything.
 *   --demo-only   stop the stack after the demo (used by CI to prove the command works)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import {
  startTemporalDevServer,
  startVersityGw,
  REPO_ROOT,
  type RunningServer,
} from '../test/harness/servers';
import { loadConfigOrExit } from '../workers/config';
import { createS3Client, bootstrapStores } from '../activities/storage/s3';

const demoOnly = process.argv.includes('--demo-only');
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is pinned on purpose
const runDir = path.join(REPO_ROOT, '.run');
const cliPath = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
const workerPath = path.join(REPO_ROOT, 'dist', 'workers', 'main.js');

function say(text: string) {
  process.stdout.write(`\x1b[1m[dev]\x1b[0m ${text}\n`);
}

function portOf(hostPort: string): number {
  return Number(hostPort.split(':').pop());
}

function custody(args: string[]): string {
  return execFileSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function main() {
  const config = loadConfigOrExit();
  mkdirSync(runDir, { recursive: true });
  const servers: RunningServer[] = [];
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.stop()));
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

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
  const s3 = createS3Client(config.s3);
  const report = await bootstrapStores(s3, config.buckets);
  s3.destroy();
  say(
    `Temporal ${temporal.address} (UI ${temporal.uiUrl}) · S3 ${s3server.endpoint} · stores: ${[...report.created, ...report.existing].join(', ')}`,
  );

  const worker = spawn(process.execPath, [workerPath], {
    stdio: 'inherit',
    env: { CUSTODY_LOG_LEVEL: 'warn', ...process.env },
  });
  children.push(worker);
  worker.on('exit', (code) => {
    if (code !== 0 && code !== null) say(`worker exited with ${code}`);
  });
  await waitForReady(`http://127.0.0.1:${config.http.port}/readyz`);
  say(
    `workers ready (pools ${config.pools.join(', ')}); metrics at http://127.0.0.1:${config.http.port}/metrics`,
  );

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
  say(`demo: custody ingest ${path.relative(REPO_ROOT, clip)} --device cam-demo-01 --policy demo`);
  const recordingId = custody([
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
    '--by',
    'demo-admin',
  ]).trim();
  await followStates(recordingId, ['retained', 'deleting', 'deleted']);
  say(`custody status ${recordingId}:`);
  process.stdout.write(custody(['status', recordingId]));
  say(`custody verify ${recordingId}:`);
  process.stdout.write(custody(['verify', recordingId]));
  say('the demo rule pack keeps recordings 30 s; waiting for the deadline …');
  await followStates(recordingId, ['deleted']);
  say(`custody certificate ${recordingId}:`);
  process.stdout.write(custody(['certificate', recordingId]));

  if (demoOnly) {
    await stopAll();
    return;
  }
  say('the stack keeps running; from another terminal try:');
  say(`  npm run -s custody -- status ${recordingId}      npm run -s custody -- log ${recordingId}`);
  say(`Temporal UI: ${temporal.uiUrl}   ·   Ctrl-C stops everything (state is kept in .run/)`);
  await new Promise(() => undefined);
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
  throw new Error(`workers did not become ready at ${url}`);
}

/** Prints each state the recording passes through until it reaches one of `targets` (or gets stuck). */
async function followStates(recordingId: string, targets: string[]) {
  const stuck = new Set(['quarantined', 'needs-attention']);
  let last = '';
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const status = JSON.parse(custody(['status', recordingId, '--json'])) as { state: string };
    if (status.state !== last) {
      say(`${recordingId}: ${status.state}`);
      last = status.state;
    }
    if (targets.includes(status.state)) return;
    if (stuck.has(status.state))
      throw new Error(`recording ${recordingId} is ${status.state}: see custody status ${recordingId}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`recording ${recordingId} did not settle within 3 minutes (last state ${last})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
