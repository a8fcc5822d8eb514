/**
 * The chart README's Temporal setup commands (§ 2), run as written with the real Temporal CLI against the
 * production-shaped Temporal server (mutual TLS, JWT authorizer) in a fresh namespace: they must register exactly the search attributes the workflows define
 * (domain/search-attributes.ts), with the same types.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { searchAttributeRegistrations } from '../../../domain/search-attributes';
import { requireTestServers } from '../../harness/env';
import { temporalCredentials, temporalEnvAs } from '../../harness/temporal-server';
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
  // Against the production-shaped server, as the operator's bootstrap identity (its certificate and a
  // system-admin token), through the variables the Temporal CLI reads as well as custody does.
  const env = {
    ...process.env,
    ...temporalEnvAs(temporalCredentials(), 'admin'),
    PATH: `${path.dirname(temporalBin)}:${process.env.PATH ?? ''}`,
    TEMPORAL_NAMESPACE: namespace,
  };
  // No startup files: bash may read the bashrc even non-interactively when its standard input is a socket (as
  // spawnSync's pipes are), and a distribution's bashrc can fail under -u (`PS1: unbound variable`).
  const script = readmeTemporalBlock();
  const result = run('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script], { env });
  // The block ran to its end; stderr is in the diff when it did not.
  expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });

  // The block's last command lists the namespace's attributes: `  Name   Type` rows.
  const listed = [...result.stdout.matchAll(/^\s*(Custody\w+)\s+(\w+)\s*$/gm)].map((m) => `${m[1]}=${m[2]}`);
  expect(listed.sort()).toEqual(searchAttributeRegistrations().sort());
}, 60_000);
