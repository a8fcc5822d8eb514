/**
 * Keyed pseudonyms for the access log: HMAC-SHA256 under a secret key, so that the lines of one person (or
 * one client address) can be followed without the log naming either; only a holder of the key can test a
 * guess. The dev default key is generated into the run directory on first start; a key file set explicitly
 * must exist.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** 256 bits: as strong as HMAC-SHA256 itself. */
export const MIN_KEY_BYTES = 32;

export class PseudonymKeyError extends Error {
  override name = 'PseudonymKeyError';
}

export async function loadPseudonymKey(settings: {
  file: string;
  generateIfMissing: boolean;
}): Promise<{ key: Buffer; generated: boolean }> {
  let text: string;
  try {
    text = await readFile(settings.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !settings.generateIfMissing) {
      throw new PseudonymKeyError(
        `cannot read the pseudonym key ${settings.file} (CUSTODY_PSEUDONYM_KEY_FILE): ${(err as Error).message}. ` +
          `Create one with: openssl rand -hex ${MIN_KEY_BYTES} > ${settings.file}`,
      );
    }
    text = randomBytes(MIN_KEY_BYTES).toString('hex');
    await mkdir(path.dirname(settings.file), { recursive: true });
    // 'wx': two processes starting at once must not overwrite each other's key.
    await writeFile(settings.file, `${text}\n`, { mode: 0o600, flag: 'wx' }).catch(async (e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      text = await readFile(settings.file, 'utf8');
    });
    return { key: keyFrom(text, settings.file), generated: true };
  }
  return { key: keyFrom(text, settings.file), generated: false };
}

function keyFrom(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'utf8');
  if (key.length < MIN_KEY_BYTES) {
    throw new PseudonymKeyError(
      `the pseudonym key ${file} (CUSTODY_PSEUDONYM_KEY_FILE) has ${key.length} bytes; it needs at least ${MIN_KEY_BYTES} (openssl rand -hex ${MIN_KEY_BYTES})`,
    );
  }
  return key;
}

export interface Pseudonymiser {
  /** The pseudonym of a person: one issuer's subject. */
  subject(issuer: string, subject: string): string;
  /** The pseudonym of a client address. */
  address(ip: string): string;
}

/** 128 bits of the HMAC: collisions stay out of reach, and the lines stay short. */
const PSEUDONYM_HEX = 32;

export function createPseudonymiser(key: Buffer): Pseudonymiser {
  const hmac = (kind: string, ...parts: string[]) =>
    createHmac('sha256', key)
      .update([kind, ...parts].join('\n'))
      .digest('hex')
      .slice(0, PSEUDONYM_HEX);
  return {
    subject: (issuer, subject) => `s-${hmac('subject', issuer, subject)}`,
    address: (ip) => `a-${hmac('address', ip)}`,
  };
}
