import { deviceInstructions, formatExpiry, whoamiFields } from './commands';

const now = new Date('2030-01-01T12:00:00Z');
const after = (seconds: number) => new Date(now.getTime() + seconds * 1000);

test.each([
  [299, 'in 4 min 59 s'],
  [60, 'in 1 min'],
  [45, 'in 45 s'],
  [0, 'in 0 s'],
  [7500, 'in 2 h 5 min'],
  [3600, 'in 1 h'],
  [-30, 'expired 30 s ago'],
])('a token expiring %i s from now: %s', (seconds, text) => {
  expect(formatExpiry(after(seconds), now)).toBe(text);
});

test('the device instructions show where to go, the code, the prefilled link and when the code expires', () => {
  const text = deviceInstructions(
    {
      device_code: 'secret-device-code',
      user_code: 'WDJB-MJHT',
      verification_uri: 'http://127.0.0.1:9090/device',
      verification_uri_complete: 'http://127.0.0.1:9090/device?user_code=WDJB-MJHT',
      expires_in: 600,
      interval: 5,
    },
    'http://127.0.0.1:9090',
    now,
  );
  expect(text).toContain('open        http://127.0.0.1:9090/device\n');
  expect(text).toContain('enter code  WDJB-MJHT\n');
  expect(text).toContain('http://127.0.0.1:9090/device?user_code=WDJB-MJHT (the code filled in)');
  expect(text).toContain('expires in 10 min (2030-01-01T12:10:00.000Z)');
  expect(text).not.toContain('secret-device-code');
});

test('whoami shows subject, issuer, roles, units, officer id and when the token expires', () => {
  const text = whoamiFields(
    {
      subject: '29edfdfc-2cd2-42aa-be97-b1335e74fce4',
      issuer: 'http://127.0.0.1:9090',
      roles: ['records-admin', 'approver'],
      permissions: ['recording.read'],
      units: ['ka-nord'],
      officerId: 'officer-0815',
    },
    { kind: 'person', expiresAt: after(240) },
    'http://127.0.0.1:8443',
    now,
  );
  expect(text.split('\n')).toEqual([
    'subject        29edfdfc-2cd2-42aa-be97-b1335e74fce4',
    'kind           person',
    'issuer         http://127.0.0.1:9090',
    'roles          records-admin, approver',
    'units          ka-nord',
    'officer id     officer-0815',
    'permissions    recording.read',
    'api            http://127.0.0.1:8443',
    'token expires  2030-01-01T12:04:00.000Z (in 4 min)',
  ]);
});
