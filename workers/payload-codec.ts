/**
 * Encrypts every payload custody sends through Temporal (inputs, results, signals, updates, memo, failure
 * attributes), so Temporal's database, its backups and its Web UI hold no personal data in clear. The format is
 * Temporal's cross-SDK encryption convention: AES-256-GCM over the whole original payload (metadata and data,
 * serialised as the Payload proto), a random 12-byte IV before the ciphertext and its tag, and the metadata
 * `encoding: binary/encrypted` and `encryption-key-id: <id>`, so codec servers of other SDKs can decode it too.
 *
 * Keys rotate: the first key of the key file encrypts, every key in it decrypts. Payloads that are not
 * `binary/encrypted` pass through decode untouched: histories written before encryption still replay.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEYS_VARIABLE = 'CUSTODY_PAYLOAD_KEYS_FILE';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** A key set that cannot be used: the process refuses to start with this message (it says what to fix). */
export class PayloadKeyError extends Error {
  override name = 'PayloadKeyError';
}

const keyFileSchema = z
  .array(
    z.object({
      id: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'an id of letters, digits, . _ : - (at most 100)'),
      key: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
    }),
  )
  .min(1, 'at least one key');

/** Where keys come from, named in every error a decoder raises, so the message says where to look. */
export interface PayloadKeySet {
  keys: PayloadKey[];
  source: string;
}

/**
 * Reads and checks a key file: a JSON or YAML list of `{ id, key }` (key: base64 of 32 random bytes), the first
 * encrypts. Refuses a file that its group or others may read, a key of the wrong length and duplicate ids.
 */
export function loadPayloadKeys(file: string): PayloadKeySet {
  const where = `${file} (${KEYS_VARIABLE})`;
  if (!existsSync(file)) {
    throw new PayloadKeyError(
      `No payload encryption keys: ${where} does not exist. Set ${KEYS_VARIABLE} to a key file ` +
        '(docs/operations.md, "Payload encryption keys"), or start the dev stack (`bash scripts/dev.sh`), which ' +
        'generates .run/payload-keys.json. Only to read old unencrypted data: CUSTODY_PAYLOAD_ENCRYPTION=off.',
    );
  }
  const mode = statSync(file).mode & 0o777;
  // Group read is allowed: Kubernetes gives a Secret volume's files to the pod's fsGroup (the service's own group,
  // mode 0440). Others reading it, or anyone but the owner writing it, is refused.
  if (mode & 0o037) {
    throw new PayloadKeyError(
      `The payload key file ${where} has mode ${mode.toString(8)}: others may read it, or others than its owner may ` +
        `write it. Run \`chmod 600 ${file}\` (in Kubernetes: defaultMode 0400 on the Secret's volume).`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PayloadKeyError(`Cannot read the payload key file ${where}: ${(err as Error).message}`);
  }
  const checked = keyFileSchema.safeParse(parsed);
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`);
    throw new PayloadKeyError(
      `The payload key file ${where} must be a list of { id, key: base64 of ${KEY_BYTES} bytes }, the first ` +
        `encrypting: ${problems.join('; ')}`,
    );
  }
  return { keys: keySetFrom(checked.data, where), source: where };
}

function keySetFrom(entries: { id: string; key: string }[], where: string): PayloadKey[] {
  const seen = new Set<string>();
  return entries.map(({ id, key }) => {
    const bytes = Buffer.from(key, 'base64');
    if (bytes.length !== KEY_BYTES) {
      throw new PayloadKeyError(
        `Payload key "${id}" in ${where} is ${bytes.length} bytes; AES-256 needs ${KEY_BYTES} ` +
          '(e.g. `openssl rand -base64 32`).',
      );
    }
    if (seen.has(id)) throw new PayloadKeyError(`Payload key id "${id}" appears twice in ${where}.`);
    seen.add(id);
    return { id, key: bytes };
  });
}

/** A fresh key with an id that says when it was made (ids only need to be unique within a key file). */
export function newPayloadKey(now = new Date()): { id: string; key: string } {
  const stamp = now.toISOString().slice(0, 10).replace(/-/g, '');
  return {
    id: `k-${stamp}-${randomBytes(3).toString('hex')}`,
    key: randomBytes(KEY_BYTES).toString('base64'),
  };
}

/** One fresh key held in memory only: for a process that is its own only client and worker (tests, benches). */
export function ephemeralPayloadKeySet(purpose: string): PayloadKeySet {
  const { id, key } = newPayloadKey();
  return { keys: [{ id, key: Buffer.from(key, 'base64') }], source: `the in-memory key of ${purpose}` };
}

/**
 * Writes a key file with one fresh key (mode 0600) unless the file exists — the dev stack's and the test
 * harness's one key set, shared by every process they start. Returns whether it wrote one.
 */
export function ensurePayloadKeyFile(file: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify([newPayloadKey()], null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600); // the umask may have narrowed it further, never widened: make it exact
  return true;
}

const PayloadProto = temporal.api.common.v1.Payload;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(private readonly keySet: PayloadKeySet) {
    const [first] = keySet.keys;
    if (!first) throw new PayloadKeyError(`No payload keys in ${keySet.source}`);
    for (const { id, key } of keySet.keys) {
      if (key.length !== KEY_BYTES) {
        throw new PayloadKeyError(
          `Payload key "${id}" in ${keySet.source} is ${key.length} bytes; needs ${KEY_BYTES}`,
        );
      }
    }
    this.current = first;
    this.byId = new Map(keySet.keys.map((k) => [k.id, k.key]));
  }

  // A payload that fails rejects the promise (the executor catches the throw), as callers of a codec expect.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.encrypt(payload))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decrypt(payload))));
  }

  private encrypt(payload: Payload): Payload {
    const plain = PayloadProto.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv);
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(this.current.id),
      },
      data: sealed,
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    if (!idBytes) throw new Error(`An encrypted payload has no ${KEY_ID_METADATA} in its metadata`);
    const id = fromUtf8.decode(idBytes);
    const key = this.byId.get(id);
    if (!key) {
      throw new Error(
        `A payload is encrypted with key id "${id}", which is not in ${this.keySet.source}: ` +
          'add that key back to the file (older keys stay until no history needs them).',
      );
    }
    const sealed = payload.data ?? new Uint8Array();
    if (sealed.length < IV_BYTES + TAG_BYTES)
      throw new Error(`An encrypted payload (key "${id}") is truncated`);
    const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new Error(
        `An encrypted payload (key "${id}") fails authentication: it was altered or is corrupt`,
      );
    }
    return PayloadProto.decode(plain);
  }
}
