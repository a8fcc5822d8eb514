/**
 * The custody log of one recording is a hash chain: every entry carries the SHA-256 of its predecessor,
 * so changing, removing or reordering an entry breaks every link after it.
 *
 * Canonical JSON (what is hashed), in the spirit of RFC 8785 (JCS):
 * - object keys sorted by UTF-16 code units (JavaScript's default sort, as in JCS), recursively;
 * - no whitespace; strings and numbers serialised as ECMAScript JSON.stringify does (as in JCS);
 * - only null, booleans, finite numbers, strings, arrays and plain objects; undefined, NaN, ±Infinity,
 *   bigint, functions, symbols, Dates, Maps, class instances, cycles and lone surrogates are refused
 *   rather than silently dropped or converted, so what was hashed is exactly what is stored;
 * - the resulting string is encoded as UTF-8 before hashing.
 */
import { createHash } from 'node:crypto';
import { GENESIS_HASH } from '../../domain/custody-log';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export { GENESIS_HASH };

export interface CustodyEntry {
  recordingId: string;
  /** 0-based position in this recording's chain. */
  seq: number;
  /** UTC instant as Date#toISOString writes it, e.g. 2024-03-01T08:15:00.000Z. */
  time: string;
  /** A person id or 'system'; never a name. */
  actor: string;
  action: string;
  details: JsonObject;
  /** Hash of the previous entry, GENESIS_HASH for seq 0. */
  prevHash: string;
  /** SHA-256 hex of the canonical JSON of every other field. */
  hash: string;
}

export type UnhashedEntry = Omit<CustodyEntry, 'hash'>;
export type EntryFields = Pick<CustodyEntry, 'recordingId' | 'time' | 'actor' | 'action' | 'details'>;

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Canonical JSON text of a value; throws CanonicalJsonError naming the offending path ($.a.b[2]). */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', new Set());
}

function encode(value: unknown, path: string, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value))
        throw new CanonicalJsonError(`${path} is ${value}; only finite numbers are JSON`);
      return JSON.stringify(value);
    case 'string':
      if (LONE_SURROGATE.test(value))
        throw new CanonicalJsonError(`${path} contains a lone UTF-16 surrogate`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(
        `${path} is ${typeof value}; use null or omit the key (only JSON values can be hashed)`,
      );
  }
  if (ancestors.has(value)) throw new CanonicalJsonError(`${path} refers back to itself (a cycle)`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      // Arrays are walked by index so holes (sparse arrays) surface as undefined and are refused.
      const items: string[] = [];
      for (let index = 0; index < value.length; index++) {
        items.push(encode((value as unknown[])[index], `${path}[${index}]`, ancestors));
      }
      return `[${items.join(',')}]`;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw new CanonicalJsonError(
        `${path} is a ${kind}, not a plain object; convert it (e.g. a Date to an ISO string)`,
      );
    }
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .map((key) => {
        if (LONE_SURROGATE.test(key))
          throw new CanonicalJsonError(`${path} has a key with a lone UTF-16 surrogate`);
        return `${JSON.stringify(key)}:${encode(record[key], `${path}.${key}`, ancestors)}`;
      });
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 hex over the canonical JSON of exactly the fields other than `hash`. */
export function hashEntry(entry: UnhashedEntry): string {
  const { recordingId, seq, time, actor, action, details, prevHash } = entry;
  return sha256Hex(canonicalJson({ recordingId, seq, time, actor, action, details, prevHash }));
}

/** Builds the entry that follows `prev` (or the first entry when prev is undefined). */
export function makeEntry(prev: CustodyEntry | undefined, fields: EntryFields): CustodyEntry {
  if (prev && prev.recordingId !== fields.recordingId) {
    throw new Error(
      `cannot chain an entry for ${fields.recordingId} after an entry of ${prev.recordingId}: each recording has its own log`,
    );
  }
  const unhashed: UnhashedEntry = {
    recordingId: fields.recordingId,
    seq: prev ? prev.seq + 1 : 0,
    time: fields.time,
    actor: fields.actor,
    action: fields.action,
    details: fields.details,
    prevHash: prev ? prev.hash : GENESIS_HASH,
  };
  const shapeProblems = checkShape(unhashed);
  if (shapeProblems.length > 0) throw new Error(`invalid custody entry: ${shapeProblems.join('; ')}`);
  return { ...unhashed, hash: hashEntry(unhashed) };
}

const HEX_64 = /^[0-9a-f]{64}$/;
const ENTRY_FIELDS = ['recordingId', 'seq', 'time', 'actor', 'action', 'details', 'prevHash', 'hash'];

function isCanonicalInstant(text: string): boolean {
  const epochMs = Date.parse(text);
  return !Number.isNaN(epochMs) && new Date(epochMs).toISOString() === text;
}

function checkShape(entry: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of ['recordingId', 'actor', 'action'] as const) {
    if (typeof entry[key] !== 'string' || entry[key] === '')
      problems.push(`${key} must be a non-empty string`);
  }
  if (!Number.isSafeInteger(entry.seq) || (entry.seq as number) < 0) {
    problems.push('seq must be an integer ≥ 0');
  }
  // One spelling per instant (Date#toISOString) so equal times hash equally; also refuses Feb 30.
  if (typeof entry.time !== 'string' || !isCanonicalInstant(entry.time)) {
    problems.push(
      `time must be a UTC instant as toISOString() writes it, e.g. 2024-03-01T08:15:00.000Z, got ${String(entry.time)}`,
    );
  }
  const details = entry.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    problems.push('details must be a JSON object');
  } else {
    try {
      canonicalJson(details);
    } catch (error) {
      problems.push(`details: ${(error as Error).message}`);
    }
  }
  if (typeof entry.prevHash !== 'string' || !HEX_64.test(entry.prevHash)) {
    problems.push('prevHash must be 64 lower-case hex digits');
  }
  if ('hash' in entry && (typeof entry.hash !== 'string' || !HEX_64.test(entry.hash))) {
    problems.push('hash must be 64 lower-case hex digits');
  }
  const unknown = Object.keys(entry).filter((key) => !ENTRY_FIELDS.includes(key));
  if (unknown.length > 0) problems.push(`unknown fields ${unknown.join(', ')} (they would not be hashed)`);
  return problems;
}

export type ChainProblemKind =
  | 'malformed'
  | 'wrong-recording'
  | 'seq-duplicate'
  | 'seq-gap'
  | 'seq-out-of-order'
  | 'prev-hash-mismatch'
  | 'hash-mismatch'
  | 'head-mismatch'
  | 'length-mismatch';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** Position in the array handed to verifyChain. */
  index: number;
  message: string;
}

export type ChainVerdict =
  { ok: true; headHash: string; length: number } | { ok: false; problems: ChainProblem[] };

export interface ChainExpectations {
  /** Defaults to the recordingId of the first entry. */
  recordingId?: string;
  /** A head hash kept elsewhere (workflow state, deletion certificate): detects a truncated tail. */
  headHash?: string;
  length?: number;
}

/**
 * Checks entries in the order given: shape, recordingId, seq = position, prevHash = hash of the entry
 * before it, and the stored hash against a recomputed one. Every problem is reported, not just the first.
 */
export function verifyChain(entries: readonly CustodyEntry[], expect: ChainExpectations = {}): ChainVerdict {
  const problems: ChainProblem[] = [];
  const report = (kind: ChainProblemKind, index: number, message: string) =>
    problems.push({ kind, index, message });
  const recordingId = expect.recordingId ?? entries[0]?.recordingId;
  const seenSeqs = new Set<number>();
  let previousHash = GENESIS_HASH;

  entries.forEach((entry, index) => {
    const shapeProblems = checkShape(entry as unknown as Record<string, unknown>);
    if (shapeProblems.length > 0) {
      report('malformed', index, `malformed entry at position ${index}: ${shapeProblems.join('; ')}`);
      previousHash = typeof entry.hash === 'string' ? entry.hash : previousHash;
      return;
    }
    const { seq } = entry;
    if (entry.recordingId !== recordingId) {
      report(
        'wrong-recording',
        index,
        `wrong recordingId at seq ${seq}: expected ${String(recordingId)}, found ${entry.recordingId}`,
      );
    }
    if (seenSeqs.has(seq)) {
      report('seq-duplicate', index, `duplicate seq ${seq} at position ${index}`);
    } else if (seq > index) {
      const missing = seq - 1 === index ? `seq ${index}` : `seq ${index}..${seq - 1}`;
      report(
        'seq-gap',
        index,
        `seq gap at position ${index}: expected seq ${index}, found seq ${seq} (${missing} missing)`,
      );
    } else if (seq < index) {
      report(
        'seq-out-of-order',
        index,
        `seq out of order at position ${index}: expected seq ${index}, found seq ${seq}`,
      );
    }
    seenSeqs.add(seq);
    if (entry.prevHash !== previousHash) {
      report(
        'prev-hash-mismatch',
        index,
        `prevHash mismatch at seq ${seq}: expected ${previousHash}, found ${entry.prevHash}`,
      );
    }
    const recomputed = hashEntry(entry);
    if (entry.hash !== recomputed) {
      report(
        'hash-mismatch',
        index,
        `hash mismatch at seq ${seq}: expected ${recomputed}, found ${entry.hash}`,
      );
    }
    previousHash = entry.hash;
  });

  if (expect.length !== undefined && entries.length !== expect.length) {
    report(
      'length-mismatch',
      entries.length,
      `length mismatch: expected ${expect.length} entries, found ${entries.length}`,
    );
  }
  if (expect.headHash !== undefined && previousHash !== expect.headHash) {
    report(
      'head-mismatch',
      entries.length,
      `head mismatch: expected ${expect.headHash}, found ${previousHash}`,
    );
  }
  return problems.length === 0
    ? { ok: true, headHash: previousHash, length: entries.length }
    : { ok: false, problems };
}
