/**
 * The shipped role mapping loads and maps every custody role to itself; policies/roles/roles.schema.json
 * matches the zod schema; a bad file is refused with the file, the line, the field and what is expected.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CUSTODY_ROLES } from '../domain/roles';
import { loadRoleMapping, parseRoleMapping, RoleMappingError, roleMappingJsonSchema } from './roles-file';
import { loadConfig } from '../workers/config';

const ROLES_DIR = path.join(__dirname, '..', 'policies', 'roles');
const SCHEMA_FILE = path.join(ROLES_DIR, 'roles.schema.json');

function problemsOf(text: string): string[] {
  try {
    parseRoleMapping(text, 'roles.yaml');
  } catch (err) {
    if (err instanceof RoleMappingError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the mapping to be refused');
}

test('the shipped mapping (the config default) maps each custody role name to itself', async () => {
  const mapping = await loadRoleMapping(loadConfig({}).api.rolesFile);
  expect(mapping.roles).toEqual(Object.fromEntries(CUSTODY_ROLES.map((role) => [role, [role]])));
});

test('policies/roles/roles.schema.json matches the zod schema', () => {
  const generated = roleMappingJsonSchema();
  if (process.env.UPDATE_ROLES_SCHEMA === '1')
    writeFileSync(SCHEMA_FILE, `${JSON.stringify(generated, null, 2)}\n`);
  const committed: unknown = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
  if (JSON.stringify(committed) !== JSON.stringify(generated)) {
    throw new Error(
      'policies/roles/roles.schema.json is out of date: run UPDATE_ROLES_SCHEMA=1 npx jest --testPathPatterns api/roles-file --selectProjects unit, then npx prettier --write policies/roles/roles.schema.json',
    );
  }
  expect(committed).toEqual(generated);
});

test('a role may map to a list of custody roles (Keycloak-style names)', () => {
  const mapping = parseRoleMapping(
    'version: 1\nroles:\n  polizei-dienstgruppenleitung: [approver, viewer, approver]\n  datenschutz: auditor\n',
    'roles.yaml',
  );
  expect(mapping.roles).toEqual({
    'polizei-dienstgruppenleitung': ['approver', 'viewer'],
    datenschutz: ['auditor'],
  });
});

test('an unknown custody role names the file, line, field and the roles there are', () => {
  expect(problemsOf('version: 1\nroles:\n  viewer: viewer\n  boss: superuser\n')).toEqual([
    expect.stringMatching(
      /^roles\.yaml:4 roles\.boss: expected a custody role \(one of viewer, investigator, records-admin, approver, operator, auditor, dock\) or a list of them$/,
    ),
  ]);
});

test('an unknown field and a missing version are refused', () => {
  expect(problemsOf('roles:\n  viewer: viewer\nadmins: [alice]\n')).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/version/),
      expect.stringMatching(/^roles\.yaml:3 \(top level\): unknown field admins$/),
    ]),
  );
});

test('a file that cannot be read says which variable to set', async () => {
  await expect(loadRoleMapping('/nonexistent/roles.yaml')).rejects.toThrow(/CUSTODY_ROLES_FILE/);
});
