/**
 * Starts and stops the real servers custody runs against — the Temporal dev server and versitygw — for the jest
 * harness and for `npm run dev`. Each server runs in its own process group on a free loopback port and is
 * watched by a tiny shell watchdog that kills the group when the owning process dies, so no server outlives
 * the test run even when jest is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeRegistrations } from '../../domain/search-attributes';
import { freeLoopbackPort, freeLoopbackPorts } from '../../workers/ports';

export const REPO_ROOT = path.resolve(__dirname, '..', '..').replace(/[/\\]dist$/, '');

export function toolsBinDir(): string {
  return path.join(process.env.CUSTODY_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools'), 'bin');
}

export function requireTool(name: string): string {
  const binary = path.join(toolsBinDir(), name);
  if (!existsSync(binary)) {
    throw new Error(
      `${name} is not installed at ${binary}. Run \`bash scripts/install-tools.sh\` (it builds it with Go; needs Go ≥ 1.26 on PATH).`,
    );
  }
  return binary;
}

export const freePort = freeLoopbackPort;

export interface RunningServer {
  name: string;
  pid: number;
  logFile: string;
  /** True once the process has exited (e.g. it could not bind its port). */
  exited(): boolean;
  stop(): Promise<void>;
}

/** A server that exited while starting; with ports we chose, another try with new ones may succeed. */
export class ExitedDuringStartup extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spawns `command` in a new process group, with output to `logFile` and a watchdog bound to `ownerPid`. */
export function spawnServer(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  ownerPid: number,
): RunningServer {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (${command})`);
  // The watchdog outlives neither the server nor the owner: it exits once it has killed the group.
  const watchdog = spawn(
    'bash',
    [
      '-c',
      `while kill -0 ${ownerPid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; ` +
        `kill -TERM -${pid} 2>/dev/null; sleep 5; kill -KILL -${pid} 2>/dev/null; exit 0`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  return {
    name,
    pid,
    logFile,
    exited: () => exited,
    async stop() {
      const alive = () => {
        try {
          process.kill(pid, 0);
          return !exited;
        } catch {
          return false;
        }
      };
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 50 && alive(); i++) await sleep(100);
      if (alive()) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        for (let i = 0; i < 20 && alive(); i++) await sleep(100);
      }
    },
  };
}

export async function waitFor(
  what: string,
  server: RunningServer,
  timeoutMs: number,
  probe: () => Promise<boolean>,
) {
  const { logFile } = server;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (server.exited()) throw new ExitedDuringStartup(`${what} exited while starting (see ${logFile})`);
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  await server.stop();
  throw new Error(
    `${what} did not become ready within ${timeoutMs} ms (see ${logFile}): ${String(lastError)}`,
  );
}

export interface TemporalDevServer extends RunningServer {
  address: string;
  uiUrl?: string;
}

export async function startTemporalDevServer(opts: {
  dataDir: string;
  ownerPid?: number;
  /** Persist state in this SQLite file (survives a restart); in-memory when absent. */
  dbFile?: string;
  port?: number;
  ui?: boolean;
  uiPort?: number;
  namespace?: string;
  /** Server dynamic config, e.g. a low `limit.historyCount.suggestContinueAsNew` to exercise continue-as-new. */
  dynamicConfig?: Record<string, string | number | boolean>;
}): Promise<TemporalDevServer> {
  const binary = requireTool('temporal');
  return startOnFreshPorts(opts.port === undefined, async () => {
    const [free, http, metrics, ui] = await freeLoopbackPorts(4);
    const port = opts.port ?? free!;
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
    args.push('--http-port', String(http), '--metrics-port', String(metrics));
    if (opts.ui) args.push('--ui-port', String(opts.uiPort ?? ui));
    else args.push('--headless');
    if (opts.dbFile) args.push('--db-filename', opts.dbFile);
    if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
    for (const registration of searchAttributeRegistrations()) args.push('--search-attribute', registration);
    for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
      args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
    }
    const logFile = path.join(opts.dataDir, `temporal-${port}.log`);
    const server = spawnServer('temporal', binary, args, logFile, opts.ownerPid ?? process.pid);
    const address = `127.0.0.1:${port}`;
    await waitFor('Temporal dev server', server, 60_000, async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    });
    return {
      ...server,
      address,
      ...(opts.ui ? { uiUrl: `http://127.0.0.1:${opts.uiPort ?? ui}` } : {}),
    };
  });
}

/**
 * A port found free can be taken by another process before the server binds it; the server then exits. With
 * ports of our choosing that start is tried again (three times in all) on new ones.
 */
export async function startOnFreshPorts<T>(portsAreOurs: boolean, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof ExitedDuringStartup) || !portsAreOurs || attempt === 3) throw error;
    }
  }
}

export interface S3Server extends RunningServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * versitygw's posix backend with a versioning dir: buckets can have versioning and Object Lock (which we use
 * for evidence and the audit store). The root must be on a filesystem with user xattrs (ext4/xfs do).
 */
export async function startVersityGw(opts: {
  dataDir: string;
  ownerPid?: number;
  port?: number;
  accessKeyId?: string;
  secretAccessKey?: string;
}): Promise<S3Server> {
  const binary = requireTool('versitygw');
  return startOnFreshPorts(opts.port === undefined, async () => {
    const port = opts.port ?? (await freePort());
    const accessKeyId = opts.accessKeyId ?? 'custody-dev';
    const secretAccessKey = opts.secretAccessKey ?? 'custody-dev-secret';
    const root = path.join(opts.dataDir, 's3-root');
    const versions = path.join(opts.dataDir, 's3-versions');
    // Its own accounts (users.json, secrets in clear: dev and tests only) besides the root one, which stays the
    // admin: tests of least privilege create an account per storage identity (test/harness/storage-identities.ts).
    const iam = path.join(opts.dataDir, 's3-iam');
    for (const dir of [root, versions, iam]) mkdirSync(dir, { recursive: true });
    const args = [
      '--access',
      accessKeyId,
      '--secret',
      secretAccessKey,
      '--port',
      `127.0.0.1:${port}`,
      '--iam-dir',
      iam,
      '--quiet',
    ];
    args.push('posix', '--versioning-dir', versions, root);
    const logFile = path.join(opts.dataDir, `versitygw-${port}.log`);
    const server = spawnServer('versitygw', binary, args, logFile, opts.ownerPid ?? process.pid);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitFor('versitygw', server, 30_000, async () => {
      const response = await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return response.status > 0;
    });
    return { ...server, endpoint, accessKeyId, secretAccessKey };
  });
}

export interface DevIdpServer extends RunningServer {
  /** `http://127.0.0.1:<port>`: what CUSTODY_OIDC_ISSUER is set to. */
  issuer: string;
  port: number;
  /** Its keys, generated secrets (demo passwords, client secrets) and sessions. */
  dir: string;
}

/**
 * The development identity provider (api/dev-idp, built into dist/ by `npm run build`) on a loopback port. Its
 * keys and secrets live in `dir` (default `<dataDir>/dev-idp`): started again with the same dir and port, it is
 * the same issuer with the same keys, so tokens it issued before still verify.
 */
export async function startDevIdp(opts: {
  dataDir: string;
  dir?: string;
  ownerPid?: number;
  port?: number;
  consoleRedirectUris?: string[];
}): Promise<DevIdpServer> {
  const entryPoint = path.join(REPO_ROOT, 'dist', 'api', 'dev-idp', 'main.js');
  if (!existsSync(entryPoint)) {
    throw new Error(`${entryPoint} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  }
  const dir = opts.dir ?? path.join(opts.dataDir, 'dev-idp');
  return startOnFreshPorts(opts.port === undefined, async () => {
    const port = opts.port ?? (await freePort());
    const args = [entryPoint, '--port', String(port), '--dir', dir];
    for (const uri of opts.consoleRedirectUris ?? []) args.push('--console-redirect-uri', uri);
    const logFile = path.join(opts.dataDir, `dev-idp-${port}.log`);
    const server = spawnServer('dev-idp', process.execPath, args, logFile, opts.ownerPid ?? process.pid);
    const issuer = `http://127.0.0.1:${port}`;
    await waitFor('development identity provider', server, 30_000, async () => {
      const response = await fetch(`${issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(1000),
      });
      return response.ok;
    });
    return { ...server, issuer, port, dir };
  });
}
