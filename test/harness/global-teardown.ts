import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__CUSTODY_TEST_SERVERS__;
  if (!state) return;
  await Promise.all(state.servers.map((server) => server.stop()));
  await Promise.all(state.closers.map((close) => close()));
  if (!process.env.CUSTODY_KEEP_TEST_DATA) rmSync(state.dataDir, { recursive: true, force: true });
}
