import { ConsoleSessions, PENDING_SIGN_IN_MS } from './sessions';

const tokens = { accessToken: 'a', accessTokenExpiresAt: 0 };

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('console sessions', () => {
  test('a session lives until its idle time passes without a request', () => {
    const time = clock();
    const sessions = new ConsoleSessions(
      { absoluteMs: 8 * 3_600_000, idleMs: 30 * 60_000, maxSessions: 10, maxPending: 10 },
      time.now,
    );
    const { id } = sessions.create('alice', tokens);
    time.advance(29 * 60_000);
    expect(sessions.touch(id)?.subject).toBe('alice');
    time.advance(29 * 60_000); // 58 min after sign-in, 29 after the last request
    expect(sessions.touch(id)?.subject).toBe('alice');
    time.advance(30 * 60_000);
    expect(sessions.touch(id)).toBeUndefined();
    expect(sessions.size).toBe(0);
  });

  test('and never beyond its absolute lifetime, however busy', () => {
    const time = clock();
    const sessions = new ConsoleSessions(
      { absoluteMs: 3_600_000, idleMs: 30 * 60_000, maxSessions: 10, maxPending: 10 },
      time.now,
    );
    const { id, session } = sessions.create('alice', tokens);
    expect(session.expiresAt).toBe(time.now() + 3_600_000);
    for (let minute = 0; minute < 59; minute += 10) {
      time.advance(10 * 60_000);
      if (minute + 10 < 60) expect(sessions.touch(id)).toBeDefined();
    }
    time.advance(10 * 60_000);
    expect(sessions.touch(id)).toBeUndefined();
  });

  test('ids are random and distinct, each with its own CSRF token; an unknown or absent id finds nothing', () => {
    const sessions = new ConsoleSessions({ absoluteMs: 1e7, idleMs: 1e7, maxSessions: 10, maxPending: 10 });
    const first = sessions.create('alice', tokens);
    const second = sessions.create('alice', tokens);
    expect(first.id).not.toBe(second.id);
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.session.csrfToken).not.toBe(second.session.csrfToken);
    expect(first.session.csrfToken).not.toBe(first.id);
    expect(sessions.touch(undefined)).toBeUndefined();
    expect(sessions.touch(`${first.id}x`)).toBeUndefined();
  });

  test('ending a session forgets it', () => {
    const sessions = new ConsoleSessions({ absoluteMs: 1e7, idleMs: 1e7, maxSessions: 10, maxPending: 10 });
    const { id } = sessions.create('alice', tokens);
    expect(sessions.end(id)?.subject).toBe('alice');
    expect(sessions.touch(id)).toBeUndefined();
  });

  test('beyond the limit, the least recently seen session goes first', () => {
    const time = clock();
    const sessions = new ConsoleSessions(
      { absoluteMs: 1e7, idleMs: 1e7, maxSessions: 2, maxPending: 10 },
      time.now,
    );
    const a = sessions.create('a', tokens);
    time.advance(1);
    const b = sessions.create('b', tokens);
    time.advance(1);
    sessions.touch(a.id); // a is now more recent than b
    sessions.create('c', tokens);
    expect(sessions.touch(b.id)).toBeUndefined();
    expect(sessions.touch(a.id)?.subject).toBe('a');
  });

  test('a pending sign-in is found once, within ten minutes', () => {
    const time = clock();
    const sessions = new ConsoleSessions(
      { absoluteMs: 1e7, idleMs: 1e7, maxSessions: 10, maxPending: 10 },
      time.now,
    );
    const pending = { codeVerifier: 'v', nonce: 'n', returnTo: '/console/' };
    sessions.beginSignIn('state-1', pending);
    expect(sessions.finishSignIn('state-1')).toMatchObject(pending);
    expect(sessions.finishSignIn('state-1')).toBeUndefined(); // a replayed callback
    sessions.beginSignIn('state-2', pending);
    time.advance(PENDING_SIGN_IN_MS);
    expect(sessions.finishSignIn('state-2')).toBeUndefined();
  });

  test('pending sign-ins are bounded: a flood of sign-in starts drops the oldest', () => {
    const sessions = new ConsoleSessions({ absoluteMs: 1e7, idleMs: 1e7, maxSessions: 10, maxPending: 3 });
    for (let i = 0; i < 5; i++)
      sessions.beginSignIn(`s${i}`, { codeVerifier: 'v', nonce: 'n', returnTo: '/' });
    expect(sessions.finishSignIn('s0')).toBeUndefined();
    expect(sessions.finishSignIn('s1')).toBeUndefined();
    expect(sessions.finishSignIn('s4')).toBeDefined();
  });
});
