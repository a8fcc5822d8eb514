/**
 * appendCustodyEntry against the real audit store (versitygw, Object Lock): an entry is written once; a retry of
 * the same step — even one re-run with a later clock, as a local activity is when its workflow task timed out —
 * continues from the stored entry; a different step at the same seq is refused.
 */
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { testConfig, connectTestClients } from '../harness/env';
import { makeAppendCustodyEntry } from '../../activities/append-custody-entry';
import { GENESIS_HASH } from '../../workflows/custody-log-writer';
import { readCustodyLog } from '../../activities/custody-log/read';
import { verifyChain } from '../../activities/custody-log/chain';
import type { CustodyEntryInput } from '../../domain/types';

const config = testConfig('custody-log');
let clients: Awaited<ReturnType<typeof connectTestClients>>;
beforeAll(async () => {
  clients = await connectTestClients(config);
});
afterAll(() => clients?.close());

test('a re-run of the same step keeps the stored entry; a different step at that seq is a conflict', async () => {
  const append = makeAppendCustodyEntry({
    s3: clients.s3,
    auditBucket: config.buckets.audit,
    auditRetention: 'PT1H',
  });
  const recordingId = `log${Date.now()}`;
  // Stamped from the clock: an entry is locked until its time + the retention, which must be in the future.
  const stampedAt = Date.now();
  const first: CustodyEntryInput = {
    recordingId,
    seq: 0,
    prevHash: GENESIS_HASH,
    time: new Date(stampedAt).toISOString(),
    actor: 'system',
    action: 'recording.received',
    details: { via: 'inbox' },
  };
  const written = await append(first);
  expect(await append(first)).toEqual(written); // a plain retry

  const rerun = {
    ...first,
    time: new Date(stampedAt + 12_500).toISOString(),
    details: { via: 'inbox', overdueMs: 12 },
  };
  expect(await append(rerun)).toEqual(written); // the stored entry is the record

  const next = await append({ ...first, seq: 1, prevHash: written.hash, action: 'original.stored' });
  const entries = await readCustodyLog(clients.s3, config.buckets.audit, recordingId);
  expect(entries.map((e) => e.time)).toEqual([first.time, first.time]);
  expect(verifyChain(entries, { recordingId }).ok).toBe(true);
  expect(next.seq).toBe(1);

  const conflict = append({ ...first, action: 'recording.quarantined' });
  await expect(conflict).rejects.toBeInstanceOf(ApplicationFailure);
  await expect(conflict).rejects.toMatchObject({ type: 'CustodyLogConflict', nonRetryable: true });
  const versions = await clients.s3.send(
    new ListObjectVersionsCommand({ Bucket: config.buckets.audit, Prefix: `custody-log/${recordingId}/` }),
  );
  expect(versions.Versions).toHaveLength(2); // nothing was overwritten
});
