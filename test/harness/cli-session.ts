/**
 * The custody command as a signed-in person, for tests that run the built CLI: a real API process (built entry
 * point) trusting a test token issuer, and per person a config dir holding a credentials file as `custody login`
 * writes it (0600 in a 0700 dir), with an access token the issuer minted for them. The CLI then acts through the
 * API exactly as it does for a person who logged in.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CustodyConfig } from '../../workers/config';
import { CREDENTIALS_FILE_NAME, type StoredCredentials } from '../../cli/auth/credentials';
import { startApiProcess, type ApiProcess } from './api-process';
import { startTestIssuer, type TestIssuer } from './test-issuer';

export interface CliPerson {
  subject: string;
  roles: string[];
  /** Default: every unit. */
  units?: string[];
  officerId?: string;
}

export interface CliApi {
  api: ApiProcess;
  issuer: TestIssuer;
  /** The environment (CUSTODY_CONFIG_DIR) under which the CLI runs as `person`. */
  as(person: CliPerson): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** Every custody role of a person (`dock` is a service account's): tests that are not about authorisation. */
export const ALL_ROLES = ['viewer', 'investigator', 'records-admin', 'approver', 'operator', 'auditor'];

/**
 * The environment (CUSTODY_CONFIG_DIR) of a CLI signed in to the API at `apiUrl` with `accessToken`: a config
 * dir (0700) holding the credentials file as `custody login` writes it (0600).
 */
export function signedInAs(apiUrl: string, issuer: string, accessToken: string): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-cli-session-'));
  const configDir = path.join(dir, 'custody');
  mkdirSync(configDir, { mode: 0o700 });
  chmodSync(configDir, 0o700);
  const credentials: StoredCredentials = {
    version: 1,
    issuer,
    apiUrl,
    clientId: 'custody-cli',
    accessToken,
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  };
  writeFileSync(path.join(configDir, CREDENTIALS_FILE_NAME), JSON.stringify(credentials), { mode: 0o600 });
  return { CUSTODY_CONFIG_DIR: configDir };
}

export async function startCliApi(config: CustodyConfig): Promise<CliApi> {
  const issuer = await startTestIssuer();
  const api = await startApiProcess(config, issuer.issuer);
  return {
    api,
    issuer,
    async as(person) {
      const token = await issuer.mint(
        {
          sub: person.subject,
          custody_roles: person.roles,
          custody_units: person.units ?? ['*'],
          ...(person.officerId !== undefined && { custody_officer_id: person.officerId }),
        },
        { expiresIn: 3600 },
      );
      return signedInAs(api.url, issuer.issuer, token);
    },
    async stop() {
      await api.stop();
      await issuer.close();
    },
  };
}
