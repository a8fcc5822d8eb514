import { addDuration, isZeroDuration, parseDuration, parseInstant, requireDuration } from './duration';
import { applyExtension, computeDeadline, decideWake, rearmDeadline } from './retention';

function parseError(text: string): string {
  const parsed = parseDuration(text);
  if (parsed.ok) throw new Error(`expected ${text} to be rejected`);
  return parsed.error;
}

describe('parseDuration', () => {
  it.each([
    ['P28D', { days: 28 }],
    ['P14D', { days: 14 }],
    ['P30D', { days: 30 }],
    ['P2M', { months: 2 }],
    ['PT10S', { seconds: 10 }],
    ['PT30S', { seconds: 30 }],
    ['P4W', { weeks: 4 }],
    ['P1Y2M3W4DT5H6M7S', { years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7 }],
    ['PT1M', { minutes: 1 }],
    ['P0D', {}],
  ])('parses %s', (text, expected) => {
    const zero = { years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0 };
    expect(parseDuration(text)).toEqual({ ok: true, duration: { ...zero, ...expected } });
  });

  it.each([
    ['28 days', 'a duration starts with P'],
    ['', 'a duration starts with P'],
    ['P', 'it has no components'],
    ['PT', 'a T must be followed by hours, minutes or seconds'],
    ['P1DT', 'a T must be followed by hours, minutes or seconds'],
    ['p28d', 'unit letters must be upper case'],
    ['-P28D', 'signed or negative durations are not allowed'],
    ['P-28D', 'units must appear in the order'],
    [' P28D', 'remove the surrounding whitespace'],
    ['PT1.5H', 'fractions are not supported; use a smaller unit (PT90M, not PT1.5H)'],
    ['P1H', 'hours and seconds belong after a T (PT1H, not P1H)'],
    ['P1D2M', 'units must appear in the order Y, M, W, D, then T, H, M, S, each at most once'],
    ['P1D1D', 'units must appear in the order'],
    ['P99999999999999999999D', 'a number is too large'],
  ])('rejects %j: %s', (text, why) => {
    const error = parseError(text);
    expect(error).toContain(why);
    expect(error).toContain(`invalid duration ${JSON.stringify(text)}`);
    expect(error).toContain('expected an ISO 8601 duration PnYnMnWnDTnHnMnS');
  });

  it('requireDuration throws the same message', () => {
    expect(() => requireDuration('four weeks')).toThrow(
      'invalid duration "four weeks": a duration starts with P; expected an ISO 8601 duration',
    );
  });

  it('knows a zero duration', () => {
    expect(isZeroDuration(requireDuration('PT0S'))).toBe(true);
    expect(isZeroDuration(requireDuration('PT1S'))).toBe(false);
  });
});

describe('parseInstant', () => {
  it('honours offsets and truncates beyond milliseconds', () => {
    expect(parseInstant('2024-01-31T11:00:00+01:00')).toEqual({
      ok: true,
      epochMs: Date.UTC(2024, 0, 31, 10),
    });
    expect(parseInstant('2024-01-31T10:00:00.123999Z')).toEqual({
      ok: true,
      epochMs: Date.UTC(2024, 0, 31, 10, 0, 0, 123),
    });
  });

  it.each([
    ['2024-01-31T10:00:00', 'wrong form'],
    ['2024-01-31', 'wrong form'],
    ['yesterday', 'wrong form'],
    ['2023-02-29T00:00:00Z', 'day out of range for that month'],
    ['2024-13-01T00:00:00Z', 'month out of range'],
    ['2024-01-01T24:00:00Z', 'time out of range'],
    ['2024-01-01T00:00:00+24:00', 'offset out of range'],
  ])('rejects %s (%s)', (text, why) => {
    const parsed = parseInstant(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(why);
  });
});

describe('addDuration', () => {
  it.each([
    ['2024-03-01T12:00:00Z', 'P28D', '2024-03-29T12:00:00.000Z'],
    ['2024-03-01T12:00:00Z', 'P14D', '2024-03-15T12:00:00.000Z'],
    ['2024-03-01T12:00:00Z', 'P30D', '2024-03-31T12:00:00.000Z'],
    ['2024-03-01T12:00:00Z', 'P2M', '2024-05-01T12:00:00.000Z'],
    ['2024-03-01T12:00:00Z', 'PT10S', '2024-03-01T12:00:10.000Z'],
    ['2024-03-01T12:00:00Z', 'P4W', '2024-03-29T12:00:00.000Z'],
    // Month-end clamping; a duration is added in one step.
    ['2024-01-31T08:00:00Z', 'P2M', '2024-03-31T08:00:00.000Z'],
    ['2024-01-31T08:00:00Z', 'P1M', '2024-02-29T08:00:00.000Z'],
    ['2023-01-31T08:00:00Z', 'P1M', '2023-02-28T08:00:00.000Z'],
    ['2023-12-31T08:00:00Z', 'P2M', '2024-02-29T08:00:00.000Z'],
    ['2024-08-31T08:00:00Z', 'P2M', '2024-10-31T08:00:00.000Z'],
    ['2024-07-31T08:00:00Z', 'P2M', '2024-09-30T08:00:00.000Z'],
    ['2024-11-30T08:00:00Z', 'P2M', '2025-01-30T08:00:00.000Z'],
    // Leap years.
    ['2024-02-29T08:00:00Z', 'P1Y', '2025-02-28T08:00:00.000Z'],
    ['2024-02-29T08:00:00Z', 'P4Y', '2028-02-29T08:00:00.000Z'],
    ['2100-02-28T08:00:00Z', 'P1D', '2100-03-01T08:00:00.000Z'],
    ['2000-02-28T08:00:00Z', 'P1D', '2000-02-29T08:00:00.000Z'],
    ['2024-02-01T00:00:00Z', 'P28D', '2024-02-29T00:00:00.000Z'],
    ['2023-02-01T00:00:00Z', 'P28D', '2023-03-01T00:00:00.000Z'],
    // Months before days: Jan 31 + P1M1D = Feb 29 + 1 day.
    ['2024-01-31T00:00:00Z', 'P1M1D', '2024-03-01T00:00:00.000Z'],
    // Days are 24 h in UTC: the German spring-forward night (2024-03-31) changes nothing.
    ['2024-03-30T23:30:00+01:00', 'P1D', '2024-03-31T22:30:00.000Z'],
    // Time units carry across day and month boundaries.
    ['2024-12-31T23:59:50Z', 'PT10S', '2025-01-01T00:00:00.000Z'],
    ['2024-12-31T23:00:00Z', 'PT90M', '2025-01-01T00:30:00.000Z'],
    // Milliseconds survive.
    ['2024-05-05T05:05:05.5Z', 'PT1S', '2024-05-05T05:05:06.500Z'],
  ])('%s + %s = %s', (start, duration, expected) => {
    expect(addDuration(start, duration)).toBe(expected);
  });

  it('refuses a result outside the date range', () => {
    expect(() => addDuration('2024-01-01T00:00:00Z', 'P999999999Y')).toThrow('duration too large');
  });

  it('refuses garbage input', () => {
    expect(() => addDuration('soon', 'P1D')).toThrow('addDuration: invalid instant "soon"');
    expect(() => addDuration('2024-01-01T00:00:00Z', 'P1')).toThrow('invalid duration "P1"');
  });
});

describe('computeDeadline', () => {
  const ingestedAt = '2024-03-02T10:00:00Z';

  it('counts from the recording time when it is known', () => {
    expect(
      computeDeadline({ recordedAt: '2024-03-01T09:15:00+01:00', ingestedAt, retention: 'P28D' }),
    ).toEqual({
      deleteAfter: '2024-03-29T08:15:00.000Z',
      statutoryDeadline: '2024-03-29T08:15:00.000Z',
      basis: 'recordedAt',
      basisTime: '2024-03-01T08:15:00.000Z',
      warnings: [],
    });
  });

  it('falls back to the ingest time when the recording time is missing, and says so', () => {
    const deadline = computeDeadline({ ingestedAt, retention: 'P14D' });
    expect(deadline.basis).toBe('ingestedAt');
    expect(deadline.deleteAfter).toBe('2024-03-16T10:00:00.000Z');
    expect(deadline.warnings).toEqual([
      {
        code: 'recorded-at-missing',
        message: 'recording time unknown; the deadline counts from the ingest time',
      },
    ]);
  });

  it('falls back to the ingest time when the recording time is garbage', () => {
    const deadline = computeDeadline({ recordedAt: '01.03.2024 09:15', ingestedAt, retention: 'P30D' });
    expect(deadline.basis).toBe('ingestedAt');
    expect(deadline.deleteAfter).toBe('2024-04-01T10:00:00.000Z');
    expect(deadline.warnings.map((w) => w.code)).toEqual(['recorded-at-invalid']);
    expect(deadline.warnings[0]!.message).toContain('invalid instant "01.03.2024 09:15"');
  });

  it('uses the ingest time, silently, when the camera clock is slightly ahead', () => {
    const deadline = computeDeadline({ recordedAt: '2024-03-02T10:04:00Z', ingestedAt, retention: 'P28D' });
    expect(deadline.basis).toBe('ingestedAt');
    expect(deadline.basisTime).toBe('2024-03-02T10:00:00.000Z');
    expect(deadline.warnings).toEqual([]);
  });

  it('uses the ingest time and warns when the recording time is after ingest beyond tolerance', () => {
    const deadline = computeDeadline({ recordedAt: '2024-03-09T10:00:00Z', ingestedAt, retention: 'P28D' });
    expect(deadline.basis).toBe('ingestedAt');
    expect(deadline.deleteAfter).toBe('2024-03-30T10:00:00.000Z');
    expect(deadline.warnings.map((w) => w.code)).toEqual(['recorded-at-after-ingest']);
  });

  it('keeps a deadline that had already passed at ingest, with a warning', () => {
    const deadline = computeDeadline({ recordedAt: '2024-01-01T00:00:00Z', ingestedAt, retention: 'P28D' });
    expect(deadline.deleteAfter).toBe('2024-01-29T00:00:00.000Z');
    expect(deadline.warnings).toEqual([
      {
        code: 'deadline-passed-at-ingest',
        message:
          'the deadline 2024-01-29T00:00:00.000Z had passed when the recording was ingested at 2024-03-02T10:00:00.000Z',
      },
    ]);
  });

  it('applies the latest extension, never an earlier one', () => {
    const deadline = computeDeadline({
      recordedAt: '2024-03-01T00:00:00Z',
      ingestedAt,
      retention: 'P2M',
      extensions: [{ until: '2024-04-01T00:00:00Z' }, { until: '2024-07-01T00:00:00Z' }],
    });
    expect(deadline.statutoryDeadline).toBe('2024-05-01T00:00:00.000Z');
    expect(deadline.deleteAfter).toBe('2024-07-01T00:00:00.000Z');
  });

  it('handles the demo pack duration', () => {
    expect(computeDeadline({ recordedAt: ingestedAt, ingestedAt, retention: 'PT30S' }).deleteAfter).toBe(
      '2024-03-02T10:00:30.000Z',
    );
  });

  it('throws on invalid system-produced input', () => {
    expect(() => computeDeadline({ ingestedAt: 'now', retention: 'P28D' })).toThrow(
      'ingestedAt: invalid instant',
    );
    expect(() => computeDeadline({ ingestedAt, retention: '28d' })).toThrow('invalid duration "28d"');
  });
});

describe('applyExtension', () => {
  const current = '2024-03-29T08:15:00.000Z';

  it('lengthens to an instant', () => {
    expect(applyExtension(current, { until: '2024-06-30T00:00:00+02:00' })).toEqual({
      ok: true,
      deleteAfter: '2024-06-29T22:00:00.000Z',
      extension: { until: '2024-06-29T22:00:00.000Z' },
    });
  });

  it('lengthens by a duration counted from the current deadline', () => {
    const result = applyExtension(current, { for: 'P1M' });
    expect(result).toEqual({
      ok: true,
      deleteAfter: '2024-04-29T08:15:00.000Z',
      extension: { until: '2024-04-29T08:15:00.000Z' },
    });
  });

  it('refuses an extension that shortens or keeps the deadline', () => {
    expect(applyExtension(current, { until: '2024-03-01T00:00:00Z' })).toEqual({
      ok: false,
      reason:
        'an extension may only lengthen: 2024-03-01T00:00:00.000Z is not after the current deadline 2024-03-29T08:15:00.000Z',
    });
    expect(applyExtension(current, { until: current })).toMatchObject({ ok: false });
    expect(applyExtension(current, { for: 'P0D' })).toMatchObject({ ok: false });
  });

  it('refuses garbage with the parser message', () => {
    expect(applyExtension(current, { for: 'a while' })).toEqual({
      ok: false,
      reason: expect.stringContaining('invalid duration "a while"') as string,
    });
    expect(applyExtension(current, { until: 'next week' })).toEqual({
      ok: false,
      reason: expect.stringContaining('invalid instant "next week"') as string,
    });
  });
});

describe('rearmDeadline', () => {
  const original = computeDeadline({
    recordedAt: '2024-03-01T00:00:00Z',
    ingestedAt: '2024-03-01T06:00:00Z',
    retention: 'P30D',
  });

  it('lengthens from the same basis', () => {
    expect(rearmDeadline(original, 'P2M', [])).toEqual({
      deleteAfter: '2024-05-01T00:00:00.000Z',
      statutoryDeadline: '2024-05-01T00:00:00.000Z',
      basis: 'recordedAt',
      basisTime: '2024-03-01T00:00:00.000Z',
      change: 'lengthened',
    });
  });

  it('shortens, and an extension still keeps the recording longer', () => {
    const rearmed = rearmDeadline(original, 'P14D', [{ until: '2024-03-20T00:00:00Z' }]);
    expect(rearmed.statutoryDeadline).toBe('2024-03-15T00:00:00.000Z');
    expect(rearmed.deleteAfter).toBe('2024-03-20T00:00:00.000Z');
    expect(rearmed.change).toBe('shortened');
  });

  it('compares with the deadline in force: an extension beyond both packs leaves it unchanged', () => {
    const extended = { ...original, deleteAfter: '2024-06-01T00:00:00.000Z' };
    const rearmed = rearmDeadline(extended, 'P2M', [{ until: '2024-06-01T00:00:00Z' }]);
    expect(rearmed.deleteAfter).toBe('2024-06-01T00:00:00.000Z');
    expect(rearmed.change).toBe('unchanged');
  });

  it('reports unchanged for the same retention', () => {
    expect(rearmDeadline(original, 'P30D', []).change).toBe('unchanged');
  });

  it('a shortened deadline already past makes deletion due now', () => {
    const rearmed = rearmDeadline(original, 'P14D', []);
    expect(
      decideWake('2024-03-20T00:00:00Z', {
        deleteAfter: rearmed.deleteAfter,
        evidence: false,
        activeHolds: [],
      }),
    ).toEqual({ action: 'delete', overdueMs: 5 * 24 * 3600 * 1000 });
  });
});

describe('decideWake', () => {
  const deleteAfter = '2024-03-29T00:00:00.000Z';

  it('sleeps until the deadline', () => {
    expect(
      decideWake(new Date('2024-03-28T23:00:00Z'), { deleteAfter, evidence: false, activeHolds: [] }),
    ).toEqual({
      action: 'sleep',
      sleepMs: 3600_000,
      wakeAt: deleteAfter,
    });
  });

  it('is due exactly at the deadline and after it', () => {
    expect(decideWake(deleteAfter, { deleteAfter, evidence: false, activeHolds: [] })).toEqual({
      action: 'delete',
      overdueMs: 0,
    });
    expect(decideWake('2024-03-29T00:00:01Z', { deleteAfter, evidence: false, activeHolds: [] })).toEqual({
      action: 'delete',
      overdueMs: 1000,
    });
  });

  it('keeps evidence and held recordings past the deadline', () => {
    const late = '2024-05-01T00:00:00Z';
    expect(decideWake(late, { deleteAfter, evidence: true, activeHolds: [{ id: 'h1' }] })).toEqual({
      action: 'keep',
      reason: 'evidence',
      holdIds: ['h1'],
    });
    expect(
      decideWake(late, { deleteAfter, evidence: false, activeHolds: [{ id: 'h1' }, { id: 'h2' }] }),
    ).toEqual({
      action: 'keep',
      reason: 'legal-hold',
      holdIds: ['h1', 'h2'],
    });
  });
});
