import { fixitySlotAt, slotOfRecording, chooseFixityCandidates } from './fixity-plan';

describe('fixity slots', () => {
  it('splits a 30-day cycle into one slot per hourly run and walks through them', () => {
    const hour = 3_600_000;
    const first = fixitySlotAt(0, 3600, 30);
    expect(first).toEqual({ slot: 0, slots: 720 });
    expect(fixitySlotAt(5 * hour + 59_000, 3600, 30).slot).toBe(5);
    expect(fixitySlotAt(720 * hour, 3600, 30).slot).toBe(0); // the next cycle starts over
  });

  it('has at least one slot when the interval is longer than the cycle', () => {
    expect(fixitySlotAt(123_456_789, 86_400 * 40, 30)).toEqual({ slot: 0, slots: 1 });
  });

  it('checks every recording exactly once per full cycle', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => (i * 7919).toString(16).padStart(20, '0'));
    const slots = 24;
    const seen = new Map<string, number>();
    for (let slot = 0; slot < slots; slot++) {
      for (const id of chooseFixityCandidates(ids, { slot, slots, sample: 0 }).cycle)
        seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    expect(seen.size).toBe(ids.length);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // …and spreads them: no slot gets more than twice its fair share.
    const perSlot = Array.from(
      { length: slots },
      (_, slot) => ids.filter((id) => slotOfRecording(id, slots) === slot).length,
    );
    expect(Math.max(...perSlot)).toBeLessThan((2 * ids.length) / slots);
  });

  it('adds a random sample from outside the slot, without repeats', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `rec${i}`);
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const { cycle, sampled } = chooseFixityCandidates(ids, { slot: 3, slots: 10, sample: 7, random });
    expect(sampled).toHaveLength(7);
    expect(new Set(sampled).size).toBe(7);
    expect(sampled.some((id) => cycle.includes(id))).toBe(false);
    expect(chooseFixityCandidates(ids.slice(0, 3), { slot: 0, slots: 1, sample: 7 }).sampled).toHaveLength(0);
  });
});
