/**
 * The chart README's Temporal setup commands (§ 2), run as written with the real Temporal CLI against the test
 * Temporal server in a fresh namespace: they must register exactly the search attributes the workflows define
 * (workflows/search-attributes.ts), with the same types.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { searchAttributeRegistrations } from '../../../domain/search-attributes';
import { requireTestServers } from '../../harness/env';
import { kubeToolsDir } from '../../harness/kube';
import { CHART_DIR, run } from './platform';

function readmeTemporalBlock(): string {
  const readme = readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
  const section = readme.split(/^### /m).find((s) => s.startsWith('2. Temporal'));
  const block = section && /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('helm/custody/README.md has no ```sh block under "### 2. Temporal"');
  return block;
}

test('the README commands register every search attribute the workflows use', () => {
  requireTestServers();
  const temporalBin = path.join(kubeToolsDir(), 'bin', 'temporal');
  if (!existsSync(temporalBin)) {
    throw new Error(
      `the Temporal CLI is not installed at ${temporalBin}. Run \`bash scripts/install-tools.sh\`.`,
    );
  }
  const namespace = `custody-readme-${randomBytes(3).toString('hex')}`;
  const env = {
    ...process.env,
    PATH: `${path.dirname(temporalBin)}:${process.env.PATH ?? ''}`,
    TEMPORAL_NAMESPACE: namespace,
  };
  const result = run('bash', ['-euo', 'pipefail', '-c', readmeTemporalBlock()], { env });
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });

  // The block's last command lists the namespace's attributes: `  Name   Type` rows.
  const listed = [...result.stdout.matchAll(/^\s*(Custody\w+)\s+(\w+)\s*$/gm)].map((m) => `${m[1]}=${m[2]}`);
  expect(listed.sort()).toEqual(searchAttributeRegistrations().sort());
}, 60_000);
