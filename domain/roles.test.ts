import {
  CUSTODY_ROLES,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  custodyRolesFor,
  isUnitId,
  permissionsOf,
  unitVisible,
} from './roles';

test('every role grants reading metadata; only the auditor and investigator read custody logs', () => {
  for (const role of CUSTODY_ROLES) expect(ROLE_PERMISSIONS[role]).toContain('recording.read');
  const readers = CUSTODY_ROLES.filter((role) => ROLE_PERMISSIONS[role].includes('custody-log.read'));
  expect(readers).toEqual(['investigator', 'auditor']);
});

test('the auditor changes nothing and does not watch footage', () => {
  expect(ROLE_PERMISSIONS.auditor).toEqual([
    'recording.read',
    'custody-log.read',
    'certificate.read',
    'access-log.read',
  ]);
});

test('only the approver decides requests; the viewer holds nothing', () => {
  expect(CUSTODY_ROLES.filter((role) => ROLE_PERMISSIONS[role].includes('request.decide'))).toEqual([
    'approver',
  ]);
  expect(permissionsOf(['viewer'])).toEqual(['recording.read']);
});

test('every permission is granted by some role', () => {
  const granted = new Set(CUSTODY_ROLES.flatMap((role) => ROLE_PERMISSIONS[role]));
  expect(PERMISSIONS.filter((p) => !granted.has(p))).toEqual([]);
});

test('permissions of several roles are their union, in table order, each once', () => {
  expect(permissionsOf(['auditor', 'viewer'])).toEqual([
    'recording.read',
    'custody-log.read',
    'certificate.read',
    'access-log.read',
  ]);
});

test('identity-provider roles map through the mapping; unknown names and prototype keys are ignored', () => {
  const mapping = {
    'kdo-ermittlung': ['investigator' as const],
    leitung: ['approver' as const, 'viewer' as const],
  };
  expect(
    custodyRolesFor(['leitung', 'kdo-ermittlung', 'offline_access', 'constructor', '__proto__'], mapping),
  ).toEqual(['viewer', 'investigator', 'approver']);
  expect(custodyRolesFor(['auditor'], mapping)).toEqual([]);
});

test.each([
  ['rev-nord', true],
  ['PP.Herne:KOD-1', true],
  ['*', false],
  ['', false],
  ['../etc', false],
  ['nord süd', false],
  ['a'.repeat(129), false],
])('isUnitId(%j) is %s', (text, expected) => {
  expect(isUnitId(text)).toBe(expected);
});

test('a recording is visible to its unit and to callers of every unit; one without a unit only to the latter', () => {
  expect(unitVisible(['nord'], 'nord')).toBe(true);
  expect(unitVisible(['nord'], 'sued')).toBe(false);
  expect(unitVisible(['nord'], undefined)).toBe(false);
  expect(unitVisible([], 'nord')).toBe(false);
  expect(unitVisible(['*'], undefined)).toBe(true);
  expect(unitVisible(['*'], 'sued')).toBe(true);
});
