/**
 * Ingest's media-io work in one activity: copy + hash the original into the evidence store, compare with the
 * declared hash, probe it, and — only when all of that is well — take the file (and its manifest) out of the
 * inbox. One task-queue round trip instead of three; each part is idempotent on its own, so a retry after a
 * crash at any line repeats only what is left (the finished copy is found by its sha256 tag).
 *
 * Facts about the input (hash mismatch, not media, undecodable) are answers, not failures: the evidence copy
 * exists by then and the workflow needs its reference to quarantine it. The inbox copy stays for quarantine.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CopyAndHashInput } from './copy-and-hash-original';
import type { MediaInfo, ObjectRef, StoredOriginal } from '../domain/types';

export interface StoreOriginalInput extends CopyAndHashInput {
  source: CopyAndHashInput['source'] & Pick<ObjectRef, 'versionId'>;
  manifestKey?: string;
}

export type MediaProblemType = 'NotMedia' | 'CorruptMedia';

export interface StoredAndProbed {
  original: StoredOriginal;
  /** Set when the original is media and its hash is the declared one: the inbox copy is gone. */
  media?: MediaInfo;
  /** The declared hash differs from the received bytes: not probed, inbox kept. */
  hashMismatch?: boolean;
  /** The probe's verdict on a file that is not (usable) media: inbox kept. */
  mediaProblem?: { type: MediaProblemType; message: string };
}

export interface StoreOriginalDeps {
  copyAndHashOriginal: (input: CopyAndHashInput) => Promise<StoredOriginal>;
  probeMedia: (input: { object: ObjectRef }) => Promise<MediaInfo>;
  removeFromInbox: (input: { source: ObjectRef; manifestKey?: string }) => Promise<void>;
}

const MEDIA_PROBLEMS: readonly string[] = ['NotMedia', 'CorruptMedia'] satisfies MediaProblemType[];

export function makeStoreOriginal(deps: StoreOriginalDeps) {
  return async function storeOriginal(input: StoreOriginalInput): Promise<StoredAndProbed> {
    const { manifestKey, ...copyInput } = input;
    const original = await deps.copyAndHashOriginal(copyInput);
    if (input.declaredSha256 && input.declaredSha256.toLowerCase() !== original.sha256) {
      return { original, hashMismatch: true };
    }
    let media: MediaInfo;
    try {
      media = await deps.probeMedia({ object: original });
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable && MEDIA_PROBLEMS.includes(err.type ?? '')) {
        return { original, mediaProblem: { type: err.type as MediaProblemType, message: err.message } };
      }
      throw err;
    }
    await deps.removeFromInbox({ source: input.source, ...(manifestKey && { manifestKey }) });
    return { original, media };
  };
}
