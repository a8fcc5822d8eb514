/**
 * Writes one custody-log entry to the audit store as an immutable object: Object Lock COMPLIANCE for the audit
 * retention, and `If-None-Match: *` so an entry is written once. A retry that finds its entry already there
 * (a crash after the write) returns the stored hash when the content is identical, and fails loudly when it is
 * not — two different entries for one seq would be a broken chain.
 */
import { PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { hashEntry, type CustodyEntry, type JsonObject } from './custody-log/chain';
import { custodyLogEntryKey } from './storage/keys';
import { addDuration } from '../workflows/retention';
import type { AppendedEntry, CustodyEntryInput } from './types';
import type { CustodyMetrics } from '../workers/metrics';

export interface AppendCustodyEntryDeps {
  s3: S3Client;
  auditBucket: string;
  /** ISO 8601 duration the entries stay locked, e.g. P10Y. */
  auditRetention: string;
  metrics?: CustodyMetrics;
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

function preconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

export function makeAppendCustodyEntry(deps: AppendCustodyEntryDeps) {
  return async function appendCustodyEntry(input: CustodyEntryInput): Promise<AppendedEntry> {
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
    } catch (err) {
      if (!preconditionFailed(err)) throw err;
      const existing = await deps.s3.send(new GetObjectCommand({ Bucket: deps.auditBucket, Key: key }));
      const stored = JSON.parse(await existing.Body!.transformToString()) as CustodyEntry;
      if (stored.hash === entry.hash) return { seq: entry.seq, hash: entry.hash };
      // The same step written by an earlier execution: a local activity whose workflow task then timed out runs
      // again with a later workflow clock, so `time` (and clock-derived details) differ. The stored entry is the
      // record; the writer continues the chain from its hash.
      if (sameStep(stored, entry)) return { seq: stored.seq, hash: stored.hash };
      throw ApplicationFailure.nonRetryable(
        `Custody log of ${input.recordingId} already has a different entry at seq ${input.seq} ` +
          `(stored ${stored.hash}, new ${entry.hash}): the chain must be inspected with \`custody verify\`.`,
        'CustodyLogConflict',
      );
    }
    return { seq: entry.seq, hash: entry.hash };
  };
}
