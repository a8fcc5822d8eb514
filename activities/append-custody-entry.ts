/**
 * Writes custody-log entries to the audit store as immutable objects: Object Lock COMPLIANCE for the audit
 * retention, and `If-None-Match: *` so an entry is written once. A retry that finds its entry already there
 * (a crash after the write) returns the stored hash when the content is identical, and fails loudly when it is
 * not — two different entries for one seq would be a broken chain.
 *
 * `appendCustodyEntry` writes one entry; `appendCustodyEntries` writes a run of entries that follow each other
 * with no effect in between (one task-queue activity instead of one per entry); `custodyLogHead` finds the last
 * stored entry after a step that writes entries itself failed part-way.
 */
import { PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { hashEntry, type CustodyEntry, type JsonObject } from './custody-log/chain';
import { custodyLogEntryKey } from './storage/keys';
import { isNotFound, isPreconditionFailed } from './storage/errors';
import { addDuration } from '../domain/duration';
import type { AppendedEntry, CustodyEntryInput, CustodyEntryRun } from '../domain/types';
import type { MetricsPort } from '../domain/metrics';

export interface AppendCustodyEntryDeps {
  s3: S3Client;
  auditBucket: string;
  /** ISO 8601 duration the entries stay locked, e.g. P10Y. */
  auditRetention: string;
  metrics?: MetricsPort;
}

function sameStep(a: CustodyEntry, b: CustodyEntry): boolean {
  return (
    a.recordingId === b.recordingId &&
    a.seq === b.seq &&
    a.prevHash === b.prevHash &&
    a.actor === b.actor &&
    a.action === b.action
  );
}

async function readEntry(deps: AppendCustodyEntryDeps, key: string): Promise<CustodyEntry> {
  const existing = await deps.s3.send(new GetObjectCommand({ Bucket: deps.auditBucket, Key: key }));
  return JSON.parse(await existing.Body!.transformToString()) as CustodyEntry;
}

/**
 * Writes one entry, or adopts the stored one of the same step, and returns what the log now holds at that seq:
 * callers that build on an entry's content (a certificate naming the deletion time) must use the stored one.
 */
export async function writeCustodyEntry(
  deps: AppendCustodyEntryDeps,
  input: CustodyEntryInput,
): Promise<CustodyEntry> {
  const unhashed = { ...input, details: input.details as JsonObject };
  const entry: CustodyEntry = { ...unhashed, hash: hashEntry(unhashed) };
  const key = custodyLogEntryKey(input.recordingId, input.seq);
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.auditBucket,
        Key: key,
        Body: JSON.stringify(entry),
        ContentType: 'application/json',
        IfNoneMatch: '*',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(addDuration(input.time, deps.auditRetention)),
      }),
    );
    deps.metrics?.custodyEntries.inc();
    return entry;
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
  }
  const stored = await readEntry(deps, key);
  // Identical: a retry after a crash. The same step with another clock: a re-run workflow task or a retried
  // activity that stamps its own time. Either way the stored entry is the record; the chain continues from it.
  if (stored.hash === entry.hash || sameStep(stored, entry)) return stored;
  throw ApplicationFailure.nonRetryable(
    `Custody log of ${input.recordingId} already has a different entry at seq ${input.seq} ` +
      `(stored ${stored.hash}, new ${entry.hash}): the chain must be inspected with \`custody verify\`.`,
    'CustodyLogConflict',
  );
}

export function makeAppendCustodyEntry(deps: AppendCustodyEntryDeps) {
  return async function appendCustodyEntry(input: CustodyEntryInput): Promise<AppendedEntry> {
    const stored = await writeCustodyEntry(deps, input);
    return { seq: stored.seq, hash: stored.hash };
  };
}

/** Writes entries in order, each chained to the one before; returns every entry's seq and hash. */
export async function writeCustodyEntries(
  deps: AppendCustodyEntryDeps,
  run: CustodyEntryRun,
): Promise<CustodyEntry[]> {
  const written: CustodyEntry[] = [];
  let seq = run.seq;
  let prevHash = run.prevHash;
  for (const step of run.entries) {
    const stored = await writeCustodyEntry(deps, { recordingId: run.recordingId, seq, prevHash, ...step });
    written.push(stored);
    seq = stored.seq + 1;
    prevHash = stored.hash;
  }
  return written;
}

export function makeAppendCustodyEntries(deps: AppendCustodyEntryDeps) {
  return async function appendCustodyEntries(run: CustodyEntryRun): Promise<AppendedEntry[]> {
    if (run.entries.length === 0)
      throw ApplicationFailure.nonRetryable('appendCustodyEntries: no entries to write', 'InvalidRequest');
    const written = await writeCustodyEntries(deps, run);
    return written.map((e) => ({ seq: e.seq, hash: e.hash }));
  };
}

/**
 * The last stored entry at or after `from` (the writer's last known head): a step that writes entries itself
 * may have failed after writing some, and the next entry must follow the last one actually stored.
 */
export function makeCustodyLogHead(deps: AppendCustodyEntryDeps) {
  return async function custodyLogHead(input: {
    recordingId: string;
    from: AppendedEntry;
  }): Promise<AppendedEntry> {
    let head = input.from;
    for (;;) {
      let next: CustodyEntry;
      try {
        next = await readEntry(deps, custodyLogEntryKey(input.recordingId, head.seq + 1));
      } catch (err) {
        if (isNotFound(err)) return head;
        throw err;
      }
      if (next.prevHash !== head.hash) {
        throw ApplicationFailure.nonRetryable(
          `Custody log of ${input.recordingId}: entry ${next.seq} does not chain to entry ${head.seq} ` +
            `(prevHash ${next.prevHash}, expected ${head.hash}): inspect it with \`custody verify\`.`,
          'CustodyLogConflict',
        );
      }
      head = { seq: next.seq, hash: next.hash };
    }
  };
}
