/**
 * `node dist/api/dev-idp/main.js`: the development identity provider as a process, on http://127.0.0.1:<port>
 * (loopback only). The dev stack (scripts/dev-stack.ts) and the integration tests (test/harness/servers.ts)
 * start it; see docs/identity.md.
 *   --port N                    the port (default 9090); part of the issuer, so keep it across restarts
 *   --dir DIR                   keys and generated secrets (default .run/dev-idp/)
 *   --console-redirect-uri URL  where custody-console may return after sign-in (repeatable)
 * Prints one JSON line `{"event":"dev-idp.ready","issuer":…}` once it listens; SIGTERM/SIGINT stop it.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONSOLE_REDIRECT_URIS, DEFAULT_DEV_IDP_PORT } from './constants';
import { startDevIdp } from './provider';

async function main() {
  const repoRoot = path.resolve(__dirname, '..', '..').replace(/[/\\]dist$/, '');
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: String(DEFAULT_DEV_IDP_PORT) },
      dir: { type: 'string', default: path.join(repoRoot, '.run', 'dev-idp') },
      'console-redirect-uri': { type: 'string', multiple: true, default: DEFAULT_CONSOLE_REDIRECT_URIS },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`--port ${values.port}: not a port`);
  const running = await startDevIdp({
    issuer: `http://127.0.0.1:${port}`,
    dir: path.resolve(values.dir),
    consoleRedirectUris: values['console-redirect-uri'],
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'dev-idp.ready', issuer: running.issuer, pid: process.pid })}\n`,
  );
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `dev-idp: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
