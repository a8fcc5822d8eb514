/**
 * The API as operators run it: the built entry point (dist/api/main.js) as its own process, on plain HTTP on
 * a free loopback port, pointed at a test issuer and at one test file's stores and task queues.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { CustodyConfig } from '../../workers/config';
import { freeLoopbackPort } from '../../workers/ports';
import type { AccessLogLine } from '../../api/server';
import { builtEntryPoint, envForConfig, startNode } from './processes';

/** One line of the access log as the API writes it. */
export type AccessLine = AccessLogLine;

export interface ApiProcess {
  url: string;
  /** The pseudonym key the process was given (to compute the pseudonyms its access log must show). */
  pseudonymKey: Buffer;
  child: ChildProcess;
  /** Everything it printed, stdout and stderr. */
  output(): string;
  accessLines(): AccessLine[];
  /** SIGTERM, and its exit code. */
  stop(): Promise<number | null>;
}

export async function startApiProcess(
  config: CustodyConfig,
  issuer: string,
  extra: Record<string, string> = {},
): Promise<ApiProcess> {
  // A port chosen beforehand (extra.CUSTODY_API_PORT) when the URL must be known first, e.g. for a redirect URI.
  const port = extra.CUSTODY_API_PORT ? Number(extra.CUSTODY_API_PORT) : await freeLoopbackPort();
  const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'custody-api-')), 'pseudonym.key');
  const pseudonymKey = Buffer.from(randomBytes(32).toString('hex'));
  writeFileSync(keyFile, pseudonymKey, { mode: 0o600 });
  const child = startNode(
    builtEntryPoint('api/main.js'),
    envForConfig(config, {
      CUSTODY_API_PORT: String(port),
      CUSTODY_API_INSECURE_HTTP: 'true',
      CUSTODY_OIDC_ISSUER: issuer,
      CUSTODY_PSEUDONYM_KEY_FILE: keyFile,
      ...extra,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the API exited with ${child.exitCode} while starting:\n${child.output()}`);
    }
    const up = await fetch(`${url}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the API did not answer /healthz within 30 s:\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pseudonymKey,
    child,
    output: () => child.output(),
    accessLines: () =>
      child
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{"kind":"access"'))
        .map((line) => JSON.parse(line) as AccessLine),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
