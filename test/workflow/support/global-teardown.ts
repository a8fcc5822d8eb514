import { rmSync } from 'node:fs';

export default async function workflowTierTeardown(): Promise<void> {
  const state = globalThis.__CUSTODY_WORKFLOW_TIER__;
  if (!state) return;
  globalThis.__CUSTODY_WORKFLOW_TIER__ = undefined;
  await state.server.stop();
  if (!process.env.CUSTODY_KEEP_TEST_DATA) rmSync(state.dataDir, { recursive: true, force: true });
}
