/**
 * The development identity provider's secrets — demo passwords, client secrets, cookie-signing keys — generated at
 * the first start into its directory (`.run/dev-idp/` for the dev stack, a temp dir in tests) and reused after,
 * so logins stay the same across restarts. Nothing of this is committed; the file is readable by its owner only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEMO_PEOPLE } from './demo-people';

/** The confidential clients; `custody-cli` is public and has no secret. */
export const CONFIDENTIAL_CLIENT_IDS = ['custody-console', 'dock-ka-west', 'custody-automation'] as const;
export type ConfidentialClientId = (typeof CONFIDENTIAL_CLIENT_IDS)[number];

export interface DevIdpSecrets {
  /** username → password */
  passwords: Record<string, string>;
  clientSecrets: Record<ConfidentialClientId, string>;
  /** Keys that sign the provider's session and interaction cookies. */
  cookieKeys: string[];
}

export const SECRETS_FILE = 'secrets.json';

function randomSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Writes `content` so that a reader never sees half a file, readable by the owner only. */
export function writePrivateFile(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, file);
}

/** The secrets in `dir`, as written by loadOrCreateSecrets; throws, saying so, when there are none yet. */
export function readSecrets(dir: string): DevIdpSecrets {
  const file = path.join(dir, SECRETS_FILE);
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: the development identity provider has not started in ${dir}`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as DevIdpSecrets;
}

/** Reads the secrets in `dir`, adding whatever is missing (a demo person added since, a first start). */
export function loadOrCreateSecrets(dir: string): DevIdpSecrets {
  const file = path.join(dir, SECRETS_FILE);
  const existing: Partial<DevIdpSecrets> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevIdpSecrets>)
    : {};
  const passwords = { ...existing.passwords };
  for (const person of DEMO_PEOPLE) passwords[person.username] ??= randomSecret(9);
  const clientSecrets = { ...existing.clientSecrets } as Record<ConfidentialClientId, string>;
  for (const clientId of CONFIDENTIAL_CLIENT_IDS) clientSecrets[clientId] ??= randomSecret(32);
  const cookieKeys = existing.cookieKeys?.length ? existing.cookieKeys : [randomSecret(32)];
  const secrets: DevIdpSecrets = { passwords, clientSecrets, cookieKeys };
  const serialized = `${JSON.stringify(secrets, null, 2)}\n`;
  if (!existsSync(file) || readFileSync(file, 'utf8') !== serialized) writePrivateFile(file, serialized);
  return secrets;
}
