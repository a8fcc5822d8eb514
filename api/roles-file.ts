/**
 * The role mapping (policies/roles/roles.yaml, path from CUSTODY_ROLES_FILE): which identity-provider role
 * names become which custody roles. Site data, not code: a Keycloak realm names its roles its own way. The
 * JSON Schema beside the file is generated from the zod schema below (for editors), and a unit test keeps the
 * two in step.
 */
import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { CUSTODY_ROLES, type CustodyRole } from '../domain/roles';

const roleNames = `one of ${CUSTODY_ROLES.join(', ')}`;
const CustodyRoleSchema = z.enum(CUSTODY_ROLES, { error: `expected a custody role: ${roleNames}` });

const RoleMappingSchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1' }).meta({ description: 'The format version of this file.' }),
  roles: z
    .record(
      z.string().min(1).max(256),
      z.union([CustodyRoleSchema, z.array(CustodyRoleSchema).min(1)], {
        error: `expected a custody role (${roleNames}) or a list of them`,
      }),
    )
    .meta({
      description:
        'Identity-provider role name → custody role (or a list of custody roles). Role names the map does not know are ignored.',
    }),
});

export interface RoleMapping {
  /** Identity-provider role name → custody roles. */
  roles: Readonly<Record<string, readonly CustodyRole[]>>;
  file: string;
}

/** The JSON Schema written to policies/roles/roles.schema.json. */
export function roleMappingJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RoleMappingSchema, { io: 'input' });
}

export class RoleMappingError extends Error {
  override name = 'RoleMappingError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `invalid role mapping ${file} (CUSTODY_ROLES_FILE):\n  ${problems.join('\n  ')}\n` +
        'Fix the file (policies/roles/roles.schema.json describes it) or point CUSTODY_ROLES_FILE at a valid one.',
    );
  }
}

/**
 * Parses and validates the mapping's YAML text; `file` labels the messages (with the line of each problem).
 */
export function parseRoleMapping(text: string, file: string): RoleMapping {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined) =>
    offset === undefined ? file : `${file}:${lineCounter.linePos(offset).line}`;
  if (document.errors.length > 0) {
    throw new RoleMappingError(
      file,
      document.errors.map((error) => `${where(error.pos[0])} invalid YAML: ${error.message}`),
    );
  }
  if (!isMap(document.contents)) {
    throw new RoleMappingError(file, [`${file} expected a YAML mapping with version and roles`]);
  }
  const result = RoleMappingSchema.safeParse(document.toJS());
  if (!result.success) {
    throw new RoleMappingError(
      file,
      result.error.issues.map((issue) => {
        const nodePath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
        const node = document.getIn(nodePath as unknown[], true) as { range?: [number, number] } | undefined;
        const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
        const message =
          issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
        return `${where(node?.range?.[0])} ${field}: ${message}`;
      }),
    );
  }
  const roles = Object.fromEntries(
    Object.entries(result.data.roles).map(([name, mapped]) => [
      name,
      typeof mapped === 'string' ? [mapped] : [...new Set(mapped)],
    ]),
  );
  return { roles, file };
}

export async function loadRoleMapping(file: string): Promise<RoleMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RoleMappingError(file, [
      `cannot read it (${(err as Error).message}); set CUSTODY_ROLES_FILE to the role mapping, e.g. policies/roles/roles.yaml`,
    ]);
  }
  return parseRoleMapping(text, file);
}
