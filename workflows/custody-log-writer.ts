/**
 * The workflow is the only writer of its recording's custody log. Appends are serialised here — the main
 * path and Update handlers may append concurrently — and each entry's seq and prevHash come from the
 * previous append's result, so the chain has no gaps and a retried append rewrites the identical entry.
 */
import { isCancellation } from '@temporalio/workflow';
import type { AppendedEntry, CustodyEntryInput, CustodyEntryRun } from '../activities/types';

export const GENESIS_HASH = '0'.repeat(64);

export interface CustodyLogOps {
  appendEntry: (entry: CustodyEntryInput) => Promise<AppendedEntry>;
  /** A run of entries in one activity (optional: runs started before it existed replay without it). */
  appendEntries?: (run: CustodyEntryRun) => Promise<AppendedEntry[]>;
  /** The last stored entry from a known head on: after a step that writes entries itself failed part-way. */
  headFrom?: (input: { recordingId: string; from: AppendedEntry }) => Promise<AppendedEntry>;
}

export type EntrySpec = { actor: string; action: string; details: Record<string, unknown> };

export class CustodyLogWriter {
  private nextSeq: number;
  private headHash: string;
  private tail: Promise<unknown> = Promise.resolve();
  /** Set when a self-writing step failed: the store may hold entries this writer has not seen. */
  private unsure = false;

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

  append(actor: string, action: string, details: Record<string, unknown>): Promise<AppendedEntry> {
    return this.appendAll([{ actor, action, details }], action);
  }

  /** Entries that follow each other with no effect in between: one activity when the run has several. */
  appendAll(entries: EntrySpec[], what = entries.map((e) => e.action).join(', ')): Promise<AppendedEntry> {
    const time = () => new Date().toISOString();
    const written = this.serialised(async () => {
      const appendEntries = this.ops.appendEntries;
      if (entries.length === 1 || !appendEntries) {
        let last: AppendedEntry | undefined;
        for (const entry of entries) {
          last = await this.ops.appendEntry({
            recordingId: this.recordingId,
            seq: this.nextSeq,
            prevHash: this.headHash,
            time: time(),
            ...entry,
          });
          this.moveTo(last);
        }
        return last!;
      }
      const appended = await appendEntries({
        recordingId: this.recordingId,
        seq: this.nextSeq,
        prevHash: this.headHash,
        entries: entries.map((e) => ({ time: time(), ...e })),
      });
      const last = appended.at(-1)!;
      this.moveTo(last);
      return last;
    });
    // A failed append (a conflicting entry: the chain needs a person) must not fail the recording's workflow —
    // a failed workflow drops out of the deadline's watch. A plain Error fails the workflow task instead: the
    // workflow stays open, Temporal retries the task, and a fix or a reset continues it.
    return written.catch((err: unknown) => {
      if (isCancellation(err)) throw err; // an append in a cancelled scope: the scope's owner handles it
      throw new Error(
        `custody log append failed for ${this.recordingId} (${what}): ${err instanceof Error ? (err.cause?.toString() ?? err.message) : String(err)}`,
      );
    });
  }

  /**
   * Runs a step that writes entries itself, starting at the next seq; it returns its last entry. Its failure
   * is the caller's to handle (a stage parks), and the next append first asks the store where the log ends.
   */
  writeThrough<T extends { head: AppendedEntry }>(
    step: (at: { seq: number; prevHash: string }) => Promise<T>,
  ): Promise<T> {
    return this.serialised(async () => {
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
