/**
 * README command 1's stack (dist/scripts/dev-stack.js, as scripts/dev.sh runs it, on ports and a state directory
 * of the test's own) when its worker is SIGKILLed mid-transcode: it says which process died and how, kills the
 * orphaned ffmpeg, restarts the worker, and the recording still becomes review-ready. A worker that keeps dying
 * beyond --worker-restarts stops the stack with that message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtEntryPoint, envFor, runNode } from '../harness/processes';
import { devIdpSecrets } from '../harness/dev-idp-client';
import { REPO_ROOT } from '../harness/servers';
import { requireFfmpeg, syntheticClip } from '../fixtures/media';
import { freeLoopbackPort } from '../../workers/ports';
import type { RecordingStatus } from '../../domain/types';

const devStack = path.join(REPO_ROOT, 'dist', 'scripts', 'dev-stack.js');
const cli = builtEntryPoint('cli/main.js');

/** state, ppid and process group of a live process, from /proc/<pid>/stat; undefined once it is gone. */
function processStat(pid: number): { comm: string; state: string; ppid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      state: state!,
      ppid: Number(ppid),
      pgrp: Number(pgrp),
    };
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => ![undefined, 'Z', 'X'].includes(processStat(pid)?.state);

/** The transcoding ffmpeg the worker started (it also runs `ffmpeg -version`, briefly). */
function transcodingFfmpegOf(parent: number): number | undefined {
  for (const pid of readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)) {
    const stat = processStat(pid);
    if (stat?.ppid !== parent || stat.comm !== 'ffmpeg' || stat.state === 'Z') continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('-progress')) return pid;
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

/** Polls `probe` until it returns something truthy, and returns that. */
async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | null | false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let stack: ChildProcess | undefined;
let output = '';
let runDir: string | undefined;
const workerPids = () => [...output.matchAll(/worker started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
const waitForOutput = (pattern: RegExp, timeoutMs: number) =>
  waitUntil(`dev stack output ${pattern} (output so far:\n${output})`, timeoutMs, () => pattern.exec(output));

afterAll(async () => {
  if (stack && stack.exitCode === null && stack.signalCode === null) {
    const exited = once(stack, 'exit');
    stack.kill('SIGTERM');
    await exited;
  }
  for (const pid of workerPids()) {
    try {
      process.kill(-pid, 'SIGKILL'); // a worker group the stack failed to stop must not outlive the test
    } catch {
      /* gone, as it should be */
    }
  }
  if (runDir) rmSync(runDir, { recursive: true, force: true });
});

test('a worker SIGKILLed mid-transcode is named, its ffmpeg killed, and restarted; the recording gets ready', async () => {
  requireFfmpeg();
  if (!existsSync(devStack)) throw new Error(`${devStack} is missing: run \`npm run build\` first`);
  runDir = mkdtempSync(path.join(tmpdir(), 'custody-dev-stack-'));
  const [temporalPort, s3Port, httpPort, apiPort] = [
    await freeLoopbackPort(),
    await freeLoopbackPort(),
    await freeLoopbackPort(),
    await freeLoopbackPort(),
  ];
  const env = envFor({
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Port}`,
    CUSTODY_HTTP_PORT: String(httpPort),
    CUSTODY_API_PORT: String(apiPort),
    CUSTODY_SHUTDOWN_GRACE_SECONDS: '5',
  });
  stack = spawn(process.execPath, [devStack, '--no-demo', '--run-dir', runDir, '--worker-restarts', '1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stack.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  stack.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitForOutput(/workers ready/, 120_000);
  await waitForOutput(/custody API http:\/\/127\.0\.0\.1:\d+/, 60_000); // the upload goes through it
  const [firstWorker] = workerPids();
  if (!firstWorker) throw new Error(`the dev stack named no worker pid:\n${output}`);

  const clip = await syntheticClip({ durationS: 10, width: 1280, height: 720, fps: 30 });
  // Uploaded as the test identity provider's docking station (the stack's API trusts that provider).
  const secretFile = path.join(runDir, 'dock.secret');
  writeFileSync(secretFile, devIdpSecrets().clientSecrets['dock-ka-west'], { mode: 0o600 });
  const asDock = {
    ...env,
    CUSTODY_CLIENT_ID: 'dock-ka-west',
    CUSTODY_CLIENT_SECRET_FILE: secretFile,
    CUSTODY_API_URL: `http://127.0.0.1:${apiPort}`,
  };
  const ingest = await runNode(cli, ['ingest', clip, '--device', 'cam-kill-9'], asDock);
  if (ingest.code !== 0) throw new Error(`custody ingest exited ${ingest.code}: ${ingest.stderr}`);
  const recordingId = ingest.stdout.trim();

  const ffmpeg = await waitUntil('a transcoding ffmpeg started by the worker', 60_000, () =>
    transcodingFfmpegOf(firstWorker),
  );
  expect(processStat(ffmpeg)?.pgrp).toBe(firstWorker); // in the worker's own process group
  process.kill(firstWorker, 'SIGKILL');

  await waitForOutput(
    new RegExp(
      `worker \\(pid ${firstWorker}\\) was killed by SIGKILL; ` +
        `killed what was left of its process group: ffmpeg \\(pid ${ffmpeg}\\)`,
    ),
    10_000,
  );
  await waitUntil(`ffmpeg (pid ${ffmpeg}) gone`, 5000, () => !alive(ffmpeg));
  await waitForOutput(/restarting the worker in 1 s \(restart 1 of at most 1 within 10 minutes\)/, 1000);
  await waitUntil('a restarted worker', 10_000, () => workerPids().length === 2);

  // The transcode runs again once its heartbeat timeout (1 min) has passed on the server.
  const waited = await runNode(cli, ['status', recordingId, '--wait', '--json'], asDock, 240_000);
  expect(waited.code).toBe(0);
  const status = JSON.parse(waited.stdout) as RecordingStatus;
  expect(status).toMatchObject({ state: 'retained', reviewReady: true });
  expect(status.derivatives?.derivatives.map((d) => d.kind).sort()).toEqual(['poster', 'proxy', 'sprite']);

  // Dying again within 10 minutes is more than --worker-restarts 1 allows: the stack stops, and says why.
  const exited = once(stack, 'exit');
  process.kill(workerPids()[1]!, 'SIGKILL');
  const [code] = (await exited) as [number | null];
  expect(output).toMatch(
    /the worker died 2 times within 10 minutes, more than --worker-restarts 1 allows: stopping the stack/,
  );
  expect(code).toBe(1);
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(temporalPort, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  expect(refused).toBe(true); // Temporal was stopped with it
}, 360_000);
