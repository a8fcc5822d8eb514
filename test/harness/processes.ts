/** Runs the built entry points (dist/) as real processes, the way operators and the README run them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './servers';
import type { CustodyConfig } from '../../workers/config';

export function builtEntryPoint(
  relative: 'workers/main.js' | 'cli/main.js' | 'api/main.js' | 'scripts/storage-policies.js',
): string {
  const file = path.join(REPO_ROOT, 'dist', relative);
  if (!existsSync(file))
    throw new Error(`${file} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  return file;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${path.basename(file)} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Environment for a child process. */
export function envFor(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, CUSTODY_LOG_LEVEL: 'warn', ...overrides };
}

/** The variables that make a child process (CLI, worker) use the same stores and queues as `config`. */
export function envForConfig(config: CustodyConfig, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { tls, apiKey } = config.temporal;
  return envFor({
    TEMPORAL_ADDRESS: config.temporal.address,
    // A production-shaped Temporal (test/harness/temporal-server.ts): the same certificate and token.
    ...(tls && { TEMPORAL_TLS: 'true' }),
    ...(tls?.serverCaCertPath && { TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.serverCaCertPath }),
    ...(tls?.serverName && { TEMPORAL_TLS_SERVER_NAME: tls.serverName }),
    ...(tls?.clientCertPath && { TEMPORAL_TLS_CLIENT_CERT_PATH: tls.clientCertPath }),
    ...(tls?.clientKeyPath && { TEMPORAL_TLS_CLIENT_KEY_PATH: tls.clientKeyPath }),
    ...(apiKey && { TEMPORAL_API_KEY: apiKey }),
    CUSTODY_TASK_QUEUE_PREFIX: config.taskQueues.orchestration.replace(/-orchestration$/, ''),
    CUSTODY_BUCKET_INCOMING: config.buckets.incoming,
    CUSTODY_BUCKET_EVIDENCE: config.buckets.evidence,
    CUSTODY_BUCKET_DERIVATIVES: config.buckets.derivatives,
    CUSTODY_BUCKET_AUDIT: config.buckets.audit,
    CUSTODY_BUCKET_QUARANTINE: config.buckets.quarantine,
    CUSTODY_POLICY_DIR: config.policy.dir,
    ...extra,
  });
}

export function startNode(file: string, env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}
