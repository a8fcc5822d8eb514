import { decideReplicas, recordDecision, type PoolHistory } from './decide';
import type { PoolRules } from './capacity-policy';

const transcode: PoolRules = {
  minReplicas: 0,
  maxReplicas: 4,
  targetBacklogPerReplica: 1,
  maxStepUp: 2,
  maxStepDown: 1,
  scaleUpCooldownSeconds: 60,
  scaleDownCooldownSeconds: 900,
};
const mediaIo: PoolRules = { ...transcode, minReplicas: 1, maxReplicas: 8, targetBacklogPerReplica: 4 };
const T0 = Date.parse('2026-11-23T08:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;

test('backlog ÷ target, rounded up, is the wanted count; a step limits how far one decision goes', () => {
  // 9 tasks ÷ 4 per replica = 2.25 → 3 wanted; from 1 replica +2 is allowed: 3.
  expect(decideReplicas({ rules: mediaIo, backlog: 9, current: 1, now: T0, history: {} })).toEqual({
    desired: 3,
    wanted: 3,
    reason: 'scale-up',
  });
  // 30 tasks ÷ 4 = 7.5 → 8 wanted, but +2 per decision: 1 → 3.
  expect(decideReplicas({ rules: mediaIo, backlog: 30, current: 1, now: T0, history: {} })).toEqual({
    desired: 3,
    wanted: 8,
    reason: 'scale-up',
  });
});

test('never beyond maxReplicas, however long the queue', () => {
  const decision = decideReplicas({ rules: transcode, backlog: 500, current: 3, now: T0, history: {} });
  expect(decision).toEqual({ desired: 4, wanted: 4, reason: 'scale-up' });
  expect(decideReplicas({ rules: transcode, backlog: 500, current: 4, now: T0, history: {} })).toEqual({
    desired: 4,
    wanted: 4,
    reason: 'steady',
  });
});

test('transcode scales from zero on the first queued task and back to zero when idle', () => {
  expect(decideReplicas({ rules: transcode, backlog: 1, current: 0, now: T0, history: {} })).toEqual({
    desired: 1,
    wanted: 1,
    reason: 'scale-up',
  });
  expect(decideReplicas({ rules: transcode, backlog: 0, current: 1, now: T0, history: {} })).toEqual({
    desired: 0,
    wanted: 0,
    reason: 'scale-down',
  });
});

test('a scale-up waits out the up cooldown, counted from the last scale-up', () => {
  const history: PoolHistory = { lastScaleUpAt: s(0), lastChangeAt: s(0) };
  expect(decideReplicas({ rules: transcode, backlog: 4, current: 2, now: s(59), history })).toEqual({
    desired: 2,
    wanted: 4,
    reason: 'up-cooldown',
    waitSeconds: 1,
  });
  expect(decideReplicas({ rules: transcode, backlog: 4, current: 2, now: s(60), history })).toEqual({
    desired: 4,
    wanted: 4,
    reason: 'scale-up',
  });
});

test('a scale-down waits out the down cooldown after any change, one replica at a time', () => {
  const history: PoolHistory = { lastScaleUpAt: s(0), lastChangeAt: s(0) };
  expect(decideReplicas({ rules: transcode, backlog: 0, current: 4, now: s(300), history })).toEqual({
    desired: 4,
    wanted: 0,
    reason: 'down-cooldown',
    waitSeconds: 600,
  });
  const first = decideReplicas({ rules: transcode, backlog: 0, current: 4, now: s(900), history });
  expect(first).toEqual({ desired: 3, wanted: 0, reason: 'scale-down' });
  // The step down restarts the down cooldown, but not the up cooldown: a new backlog is served at once.
  const after = recordDecision(history, 4, first.desired, s(900));
  expect(after).toEqual({ lastScaleUpAt: s(0), lastChangeAt: s(900) });
  expect(decideReplicas({ rules: transcode, backlog: 0, current: 3, now: s(901), history: after })).toEqual({
    desired: 3,
    wanted: 0,
    reason: 'down-cooldown',
    waitSeconds: 899,
  });
  expect(decideReplicas({ rules: transcode, backlog: 4, current: 3, now: s(901), history: after })).toEqual({
    desired: 4,
    wanted: 4,
    reason: 'scale-up',
  });
});

test('replicas set by hand outside min/max go back to the nearest bound at once', () => {
  const recent: PoolHistory = { lastScaleUpAt: s(0), lastChangeAt: s(0) };
  expect(decideReplicas({ rules: mediaIo, backlog: 0, current: 12, now: s(1), history: recent })).toEqual({
    desired: 8,
    wanted: 1,
    reason: 'above-max',
  });
  expect(decideReplicas({ rules: mediaIo, backlog: 0, current: 0, now: s(1), history: recent })).toEqual({
    desired: 1,
    wanted: 1,
    reason: 'below-min',
  });
});

test('recordDecision leaves the history alone when nothing changed', () => {
  const history: PoolHistory = { lastChangeAt: s(5) };
  expect(recordDecision(history, 2, 2, s(10))).toBe(history);
  expect(recordDecision(history, 2, 3, s(10))).toEqual({ lastChangeAt: s(10), lastScaleUpAt: s(10) });
});
