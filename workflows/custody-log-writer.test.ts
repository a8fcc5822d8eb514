/**
 * The writer's bookkeeping, with the activities replaced by an in-memory log (pure logic): runs of entries
 * chain on, and after a self-writing step fails part-way the next append continues where the store ends.
 */
import type { CustodyAction } from '../domain/custody-log';
import { CustodyLogWriter, GENESIS_HASH } from './custody-log-writer';
import type { AppendedEntry, CustodyEntryInput, CustodyEntryRun } from '../domain/types';

function memoryLog() {
  const stored: { seq: number; prevHash: string; action: string; hash: string }[] = [];
  const calls: string[] = [];
  const write = (seq: number, prevHash: string, action: string): AppendedEntry => {
    const last = stored.at(-1);
    if (seq !== stored.length || prevHash !== (last?.hash ?? GENESIS_HASH))
      throw new Error(`conflict at seq ${seq}`);
    const entry = { seq, prevHash, action, hash: `h${seq}-${action}` };
    stored.push(entry);
    return { seq, hash: entry.hash };
  };
  return {
    stored,
    calls,
    ops: {
      appendEntry: (e: CustodyEntryInput) => {
        calls.push(`one:${e.action}`);
        return Promise.resolve(write(e.seq, e.prevHash, e.action));
      },
      appendEntries: (run: CustodyEntryRun) => {
        calls.push(`run:${run.entries.map((e) => e.action).join('+')}`);
        let { seq, prevHash } = run;
        const out: AppendedEntry[] = [];
        for (const e of run.entries) {
          const w = write(seq, prevHash, e.action);
          out.push(w);
          seq = w.seq + 1;
          prevHash = w.hash;
        }
        return Promise.resolve(out);
      },
      headFrom: ({ from }: { from: AppendedEntry }) => {
        calls.push(`head-from:${from.seq}`);
        const last = stored.at(-1);
        return Promise.resolve(last ? { seq: last.seq, hash: last.hash } : from);
      },
    },
    write,
  };
}

const spec = (action: CustodyAction) => ({ actor: 'system', action, details: {} });

test('a run of entries is one activity; single entries keep the single-entry activity', async () => {
  const log = memoryLog();
  const writer = new CustodyLogWriter('rec', log.ops);
  await writer.append('system', 'recording.received', {});
  await writer.appendAll([spec('original.stored'), spec('media.probed'), spec('ingest.completed')]);
  expect(log.calls).toEqual(['one:recording.received', 'run:original.stored+media.probed+ingest.completed']);
  expect(writer.head).toEqual({ seq: 3, hash: 'h3-ingest.completed' });
});

test('concurrent appends are serialised in call order', async () => {
  const log = memoryLog();
  const writer = new CustodyLogWriter('rec', log.ops);
  await Promise.all([
    writer.append('a', 'hold.placed', {}),
    writer.appendAll([spec('hold.released'), spec('deadline.extended')]),
    writer.append('b', 'evidence.marked', {}),
  ]);
  expect(log.stored.map((e) => e.action)).toEqual([
    'hold.placed',
    'hold.released',
    'deadline.extended',
    'evidence.marked',
  ]);
});

test('after a self-writing step fails part-way, the next append asks the store where the log ends', async () => {
  const log = memoryLog();
  const writer = new CustodyLogWriter('rec', log.ops);
  await writer.append('system', 'recording.received', {});
  const failing = writer.writeThrough((at) => {
    log.write(at.seq, at.prevHash, 'deletion.started'); // written, then the step fails
    return Promise.reject(new Error('DeletionBlockedByLock'));
  });
  await expect(failing).rejects.toThrow('DeletionBlockedByLock');
  await writer.append('system', 'stage.failed', {});
  expect(log.calls).toEqual(['one:recording.received', 'head-from:0', 'one:stage.failed']);
  expect(log.stored.map((e) => e.action)).toEqual(['recording.received', 'deletion.started', 'stage.failed']);

  // A step that succeeds moves the head to what it reports, with no lookup.
  const done = await writer.writeThrough((at) =>
    Promise.resolve({ head: log.write(at.seq, at.prevHash, 'certificate.written') }),
  );
  expect(writer.head).toEqual(done.head);
  await writer.append('system', 'hold.placed', {});
  expect(log.calls.filter((c) => c.startsWith('head-from'))).toHaveLength(1);
});

test('a failed append fails the workflow task (a plain Error naming the entry), not the workflow', async () => {
  const log = memoryLog();
  const writer = new CustodyLogWriter('rec', {
    ...log.ops,
    appendEntry: () => Promise.reject(new Error('CustodyLogConflict')),
  });
  const failed = writer.append('system', 'recording.received', {});
  await expect(failed).rejects.toThrow(/custody log append failed for rec \(recording\.received\)/);
  // Exactly Error: an ApplicationFailure (or any TemporalFailure) would fail the workflow itself.
  expect(await failed.catch((err: unknown) => (err as Error).constructor)).toBe(Error);
});

test('a deferred entry goes into the log with the next append, in one activity', async () => {
  const log = memoryLog();
  const writer = new CustodyLogWriter('rec', log.ops);
  writer.defer('officer-7', 'recording.received', {});
  expect(log.calls).toEqual([]);
  expect(writer.head.seq).toBe(-1);
  await writer.append('system', 'stage.failed', {});
  expect(log.calls).toEqual(['run:recording.received+stage.failed']);
  expect(log.stored.map((e) => e.action)).toEqual(['recording.received', 'stage.failed']);

  // Before a self-writing step, deferred entries are written first, so the step starts after them.
  writer.defer('system', 'admin.reset', {});
  await writer.writeThrough((at) => Promise.resolve({ head: log.write(at.seq, at.prevHash, 'step') }));
  expect(log.stored.map((e) => e.action)).toEqual([
    'recording.received',
    'stage.failed',
    'admin.reset',
    'step',
  ]);
});

test('an entry deferred while an append is being written is not lost: it goes with the next append', async () => {
  const log = memoryLog();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const writer = new CustodyLogWriter('rec', {
    ...log.ops,
    appendEntry: async (entry) => {
      if (entry.action === 'stage.replay-requested') await held;
      return log.ops.appendEntry(entry);
    },
  });
  const first = writer.append('admin-1', 'stage.replay-requested', {});
  await Promise.resolve();
  writer.defer('system', 'deadline.set', {});
  release();
  await first;
  await writer.append('system', 'original.stored', {});
  expect(log.stored.map((e) => e.action)).toEqual([
    'stage.replay-requested',
    'deadline.set',
    'original.stored',
  ]);
});
