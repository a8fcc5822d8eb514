/**
 * Which recordings a fixity run re-hashes. The cycle is split into slots, one per scheduled run; every
 * recording belongs to one slot by a hash of its id, so each recording is checked once per full cycle without
 * any per-recording bookkeeping. On top, a random sample of the rest catches damage between cycles.
 */
export interface FixitySlot {
  /** This run's slot, 0 ≤ slot < slots. */
  slot: number;
  /** Runs per full cycle: fullCycleDays / interval, at least 1. */
  slots: number;
}

export function fixitySlotAt(runAtMs: number, intervalSeconds: number, fullCycleDays: number): FixitySlot {
  const slots = Math.max(1, Math.floor((fullCycleDays * 86_400) / intervalSeconds));
  const slot = Math.floor(runAtMs / 1000 / intervalSeconds) % slots;
  return { slot, slots };
}

/** FNV-1a (32 bit) of the id: stable across processes and versions, spreads similar ids evenly. */
export function slotOfRecording(recordingId: string, slots: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < recordingId.length; i++) {
    hash ^= recordingId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % slots;
}

export function chooseFixityCandidates(
  recordingIds: readonly string[],
  opts: FixitySlot & { sample: number; random?: () => number },
): { cycle: string[]; sampled: string[] } {
  const random = opts.random ?? Math.random;
  const cycle: string[] = [];
  const rest: string[] = [];
  for (const id of recordingIds) (slotOfRecording(id, opts.slots) === opts.slot ? cycle : rest).push(id);
  // Partial Fisher–Yates: the first `sample` entries of `rest` become a uniform random sample.
  const take = Math.min(opts.sample, rest.length);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (rest.length - i));
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return { cycle, sampled: rest.slice(0, take) };
}
