import { bulkReplayQuery, createPacer, parseLimit, parseRate, parseSince, summarize } from './replay-bulk';
import type { BulkReplayRow } from './replay-bulk';

test('the bulk replay selects open parked recordings with the list filters', () => {
  expect(bulkReplayQuery({ stage: 'transcode', device: 'cam-9' })).toBe(
    "WorkflowType = 'recordingLifecycle' AND CustodyState = 'needs-attention' AND CustodyStage = 'transcode' " +
      "AND CustodyDeviceId = 'cam-9' AND ExecutionStatus = 'Running'",
  );
  expect(() => bulkReplayQuery({ stage: 'upload' })).toThrow(/--stage upload is not a stage/);
});

test('rates: replays per second, bounded', () => {
  expect(parseRate(undefined)).toBe(2);
  expect(parseRate('5')).toBe(5);
  expect(parseRate('0.5/s')).toBe(0.5);
  for (const bad of ['0', '-1', 'fast', '2/m', '500'])
    expect(() => parseRate(bad)).toThrow(/--rate .* replays per second/);
});

test('since: a time, or how long ago', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  expect(parseSince('PT6H', now).toISOString()).toBe('2026-11-23T06:00:00.000Z');
  expect(parseSince('P2D', now).toISOString()).toBe('2026-11-21T12:00:00.000Z');
  expect(parseSince('2026-11-20T08:00:00+01:00', now).toISOString()).toBe('2026-11-20T07:00:00.000Z');
  expect(() => parseSince('yesterday', now)).toThrow(/--since: invalid instant .* or how long ago/);
  expect(() => parseSince('P1.5D', now)).toThrow(/--since: invalid duration/);
});

test('limits are whole numbers ≥ 1; none means all', () => {
  expect(parseLimit(undefined)).toBe(Infinity);
  expect(parseLimit('2')).toBe(2);
  expect(() => parseLimit('0')).toThrow(/--limit 0 must be a whole number/);
  expect(() => parseLimit('1.5')).toThrow(/--limit/);
});

test('the pacer spaces calls by 1/rate and lets the first one through at once', async () => {
  const waits: number[] = [];
  const pace = createPacer(4, (ms) => {
    waits.push(ms);
    return Promise.resolve();
  });
  await pace();
  await pace();
  await pace();
  expect(waits).toHaveLength(2);
  for (const w of waits) expect(w).toBeGreaterThan(200);
  expect(waits[1]!).toBeLessThanOrEqual(500);
});

test('the summary counts outcomes', () => {
  const row = (outcome: BulkReplayRow['outcome']): BulkReplayRow => ({
    recordingId: 'r',
    stage: 'transcode',
    lastError: null,
    outcome,
    detail: '',
  });
  expect(summarize([row('replayed'), row('skipped'), row('replayed'), row('error')])).toEqual({
    replayed: 2,
    skipped: 1,
    errors: 1,
  });
});
