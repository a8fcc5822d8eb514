/**
 * The workflow is the only writer of its recording's custody log. Appends are serialised here — the main
 * path and Update handlers may append concurrently — and each entry's seq and prevHash come from the
 * previous append's result, so the chain has no gaps and a retried append rewrites the identical entry.
 */
import { isCancellation } from '@temporalio/workflow';
import type { AppendedEntry, CustodyEntryInput, CustodyEntryRun } from '../domain/types';
import { GENESIS_HASH, type CustodyAction, type EntrySpec } from '../domain/custody-log';

export { GENESIS_HASH };
export type { EntrySpec };

export interface CustodyLogOps {
  appendEntry: (entry: CustodyEntryInput) => Promise<AppendedEntry>;
  /** A run of entries in one activity (optional: runs started before it existed replay without it). */
  appendEntries?: (run: CustodyEntryRun) => Promise<AppendedEntry[]>;
  /** The last stored entry from a known head on: after a step that writes entries itself failed part-way. */
  headFrom?: (input: { recordingId: string; from: AppendedEntry }) => Promise<AppendedEntry>;
}

export class CustodyLogWriter {
  private nextSeq: number;
  private headHash: string;
  private tail: Promise<unknown> = Promise.resolve();
  /** Set when a self-writing step failed: the store may hold entries this writer has not seen. */
  private unsure = false;
  /** Entries stamped already, written at the head of the next append (defer). */
  private deferred: (EntrySpec & { time: string })[] = [];

  constructor(
    private readonly recordingId: string,
    private readonly ops: CustodyLogOps,
    resumeFrom?: { seq: number; hash: string },
  ) {
    this.nextSeq = resumeFrom ? resumeFrom.seq + 1 : 0;
    this.headHash = resumeFrom?.hash ?? GENESIS_HASH;
  }

  /** The last written entry (seq −1 and the genesis hash before the first). */
  get head(): { seq: number; hash: string } {
    return { seq: this.nextSeq - 1, hash: this.headHash };
  }

  /**
   * Stamps an entry now and writes it with the next append, in the same activity: for an entry that no effect
   * depends on (recording.received: ingest's first result follows it into the log). The next append comes
   * whatever happens — the stage's result, its park (stage.failed) or a quarantine.
   */
  defer(actor: string, action: CustodyAction, details: Record<string, unknown>): void {
    this.deferred.push({ time: new Date().toISOString(), actor, action, details });
  }

  append(actor: string, action: CustodyAction, details: Record<string, unknown>): Promise<AppendedEntry> {
    return this.appendAll([{ actor, action, details }], action);
  }

  /** Entries that follow each other with no effect in between: one activity when the run has several. */
  appendAll(entries: EntrySpec[], what = entries.map((e) => e.action).join(', ')): Promise<AppendedEntry> {
    const written = this.serialised(() => {
      const time = new Date().toISOString();
      return this.writeRun(entries.map((e) => ({ time, ...e })));
    });
    return written.catch((err: unknown) => this.appendFailed(err, what));
  }

  /**
   * Runs a step that writes entries itself, starting at the next seq; it returns its last entry. Its failure
   * is the caller's to handle (a stage parks), and the next append first asks the store where the log ends.
   */
  writeThrough<T extends { head: AppendedEntry }>(
    step: (at: { seq: number; prevHash: string }) => Promise<T>,
  ): Promise<T> {
    return this.serialised(async () => {
      if (this.deferred.length > 0) {
        await this.writeRun([]).catch((err: unknown) => this.appendFailed(err, 'deferred entries'));
      }
      try {
        const result = await step({ seq: this.nextSeq, prevHash: this.headHash });
        this.moveTo(result.head);
        return result;
      } catch (err) {
        this.unsure = true;
        throw err;
      }
    });
  }

  /** Writes the deferred entries and then these, in one activity when there are several. */
  private async writeRun(stamped: (EntrySpec & { time: string })[]): Promise<AppendedEntry> {
    const run = [...this.deferred, ...stamped];
    const appendEntries = this.ops.appendEntries;
    let last: AppendedEntry | undefined;
    if (run.length > 1 && appendEntries) {
      const appended = await appendEntries({
        recordingId: this.recordingId,
        seq: this.nextSeq,
        prevHash: this.headHash,
        entries: run,
      });
      last = appended.at(-1)!;
      this.moveTo(last);
    } else {
      for (const entry of run) {
        last = await this.ops.appendEntry({
          recordingId: this.recordingId,
          seq: this.nextSeq,
          prevHash: this.headHash,
          ...entry,
        });
        this.moveTo(last);
      }
    }
    // Only the entries this run wrote: one deferred while it was being written goes with the next append.
    this.deferred.splice(0, run.length - stamped.length);
    return last!;
  }

  /**
   * A failed append (a conflicting entry: the chain needs a person) must not fail the recording's workflow —
   * a failed workflow drops out of the deadline's watch. A plain Error fails the workflow task instead: the
   * workflow stays open, Temporal retries the task, and a fix or a reset continues it.
   */
  private appendFailed(err: unknown, what: string): never {
    if (isCancellation(err)) throw err; // an append in a cancelled scope: the scope's owner handles it
    throw new Error(
      `custody log append failed for ${this.recordingId} (${what}): ${err instanceof Error ? (err.cause?.toString() ?? err.message) : String(err)}`,
    );
  }

  private serialised<T>(body: () => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.unsure && this.ops.headFrom) {
        this.moveTo(await this.ops.headFrom({ recordingId: this.recordingId, from: this.head }));
        this.unsure = false;
      }
      return body();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private moveTo(entry: AppendedEntry) {
    this.nextSeq = entry.seq + 1;
    this.headHash = entry.hash;
  }
}
