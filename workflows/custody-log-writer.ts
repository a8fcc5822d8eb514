/**
 * The workflow is the only writer of its recording's custody log. Appends are serialised here — the main
 * path and Update handlers may append concurrently — and each entry's seq and prevHash come from the
 * previous append's result, so the chain has no gaps and a retried append rewrites the identical entry.
 */
import { isCancellation } from '@temporalio/workflow';
import type { AppendedEntry, CustodyEntryInput } from '../activities/types';

export const GENESIS_HASH = '0'.repeat(64);

export class CustodyLogWriter {
  private nextSeq: number;
  private headHash: string;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly recordingId: string,
    private readonly appendEntry: (entry: CustodyEntryInput) => Promise<AppendedEntry>,
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
    const written = this.tail.then(async () => {
      const result = await this.appendEntry({
        recordingId: this.recordingId,
        seq: this.nextSeq,
        prevHash: this.headHash,
        time: new Date().toISOString(),
        actor,
        action,
        details,
      });
      this.nextSeq = result.seq + 1;
      this.headHash = result.hash;
      return result;
    });
    this.tail = written.catch(() => undefined);
    // A failed append (a conflicting entry: the chain needs a person) must not fail the recording's workflow —
    // a failed workflow drops out of the deadline's watch. A plain Error fails the workflow task instead: the
    // workflow stays open, Temporal retries the task, and a fix or a reset continues it.
    return written.catch((err: unknown) => {
      if (isCancellation(err)) throw err; // an append in a cancelled scope: the scope's owner handles it
      throw new Error(
        `custody log append failed for ${this.recordingId} (${action}): ${err instanceof Error ? (err.cause?.toString() ?? err.message) : String(err)}`,
      );
    });
  }
}
