import { MAX_HEARTBEAT_INTERVAL_MS, throttledHeartbeat, type ActivityContextPort } from './context';

function recordingContext(heartbeatTimeoutMs?: number) {
  const beats: unknown[] = [];
  const context: ActivityContextPort = {
    heartbeat: (details) => beats.push(details),
    cancellationSignal: new AbortController().signal,
    attempt: 1,
    heartbeatDetails: undefined,
    heartbeatTimeoutMs,
  };
  return { context, beats };
}

/** Calls `beat` every `stepMs` for `totalMs` of a fake clock; returns the fake times at which beats went out. */
function drive(heartbeatTimeoutMs: number | undefined, stepMs: number, totalMs: number): number[] {
  const { context, beats } = recordingContext(heartbeatTimeoutMs);
  let now = 1_000_000;
  const beat = throttledHeartbeat(context, () => now);
  for (let elapsed = stepMs; elapsed <= totalMs; elapsed += stepMs) {
    now += stepMs;
    beat(() => now);
  }
  return beats as number[];
}

test('progress every 100 ms heartbeats every 5 s when the heartbeat timeout is long', () => {
  const times = drive(60_000, 100, 30_000);
  expect(times).toHaveLength(30_000 / MAX_HEARTBEAT_INTERVAL_MS);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  expect(new Set(gaps)).toEqual(new Set([MAX_HEARTBEAT_INTERVAL_MS]));
});

test('a short heartbeat timeout gets four heartbeats per timeout', () => {
  const times = drive(2000, 100, 10_000);
  expect(times).toHaveLength(20);
  expect(Math.max(...times.slice(1).map((t, i) => t - times[i]!))).toBe(500);
});

test('without a heartbeat timeout (outside Temporal) it still heartbeats every 5 s', () => {
  expect(drive(undefined, 1000, 20_000)).toHaveLength(4);
});

test('details are built only when a heartbeat goes out', () => {
  const { context, beats } = recordingContext(4000);
  let now = 0;
  let built = 0;
  const beat = throttledHeartbeat(context, () => now);
  for (now = 1; now <= 3000; now += 1)
    beat(() => {
      built++;
      return { at: now };
    });
  expect(built).toBe(beats.length);
  expect(beats).toEqual([{ at: 1000 }, { at: 2000 }, { at: 3000 }]);
});
