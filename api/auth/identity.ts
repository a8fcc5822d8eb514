/**
 * Who the caller is, from a verified token: subject and issuer, custody roles (the roles claim mapped through
 * policies/roles/roles.yaml), organisational units, and the officer id. A claim of the wrong shape refuses
 * the token (fail closed) rather than being read as "no roles" by accident.
 */
import type { JWTPayload } from 'jose';
import {
  ALL_UNITS,
  custodyRolesFor,
  isUnitId,
  permissionsOf,
  type CustodyRole,
  type Permission,
} from '../../domain/roles';
import { AuthenticationError } from './oidc';

export interface Identity {
  subject: string;
  issuer: string;
  roles: CustodyRole[];
  permissions: Permission[];
  /** Unit ids, or `*` for every unit. */
  units: string[];
  /** The caller's own officer id, when the provider issues one (recordings they made carry it). */
  officerId?: string;
}

export interface ClaimNames {
  roles: string;
  units: string;
  officer: string;
}

/** A claim by its exact name, else by a dotted path into nested objects (Keycloak's realm_access.roles). */
export function claimAt(claims: JWTPayload, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Absent: []; one string: [it]; an array of strings: it. Anything else refuses the token. */
function stringList(claims: JWTPayload, name: string): string[] {
  const value = claimAt(claims, name);
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new AuthenticationError(`the ${name} claim must be an array of strings`);
}

export function identityFromClaims(
  claims: JWTPayload,
  names: ClaimNames,
  roleMapping: Readonly<Record<string, readonly CustodyRole[]>>,
): Identity {
  const roles = custodyRolesFor(stringList(claims, names.roles), roleMapping);
  const units = [...new Set(stringList(claims, names.units))];
  const badUnit = units.find((unit) => unit !== ALL_UNITS && !isUnitId(unit));
  if (badUnit !== undefined) {
    throw new AuthenticationError(
      `the ${names.units} claim holds a value that is not a unit id (letters, digits and . _ : -) or ${ALL_UNITS}`,
    );
  }
  const officer = claimAt(claims, names.officer);
  if (officer !== undefined && (typeof officer !== 'string' || officer.length === 0)) {
    throw new AuthenticationError(`the ${names.officer} claim must be a string`);
  }
  return {
    subject: claims.sub!,
    issuer: claims.iss!,
    roles,
    permissions: permissionsOf(roles),
    units: units.includes(ALL_UNITS) ? [ALL_UNITS] : units,
    ...(officer !== undefined && { officerId: officer }),
  };
}
