/**
 * Who may do what: the custody roles, the permissions each grants, and the organisational units that scope
 * them. Pure data and rules, so the API, the console and the CLI all read one table. Which identity-provider
 * role becomes which custody role is site data (policies/roles/roles.yaml), not code.
 */

export const CUSTODY_ROLES = [
  'viewer',
  'investigator',
  'records-admin',
  'approver',
  'operator',
  'auditor',
  'dock',
] as const;
export type CustodyRole = (typeof CUSTODY_ROLES)[number];

export const PERMISSIONS = [
  /** Status and list: ids, states, dates, hashes; never the footage. */
  'recording.read',
  /** Upload a recording of one's own units through the API (docks, and staff who offload a camera by hand). */
  'recording.ingest',
  'custody-log.read',
  'certificate.read',
  /** The access log of reads (issue 15 item 8). */
  'access-log.read',
  'media.view',
  'hold.place',
  /** Ask for a hold's release: a request an approver decides. */
  'hold.request-release',
  'evidence.mark',
  'retention.extend',
  'deletion.request-early',
  'policy.request-change',
  /** Approve or reject a four-eyes request made by someone else. */
  'request.decide',
  'recording.replay',
  'quarantine.release',
  'recording.reset',
  'capacity.manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The role → permission table. Reading a recording's metadata comes with every role, so that a person can see
 * what they act on. The auditor reads every record about a recording (log, certificate, access log) but not
 * the footage itself, and changes nothing. `dock` is the role of docking stations' service accounts.
 */
export const ROLE_PERMISSIONS: Readonly<Record<CustodyRole, readonly Permission[]>> = {
  viewer: ['recording.read'],
  investigator: [
    'recording.read',
    'custody-log.read',
    'certificate.read',
    'media.view',
    'hold.place',
    'hold.request-release',
    'evidence.mark',
  ],
  'records-admin': [
    'recording.read',
    'certificate.read',
    'hold.request-release',
    'retention.extend',
    'deletion.request-early',
    'policy.request-change',
  ],
  approver: ['recording.read', 'request.decide'],
  operator: [
    'recording.read',
    'recording.replay',
    'quarantine.release',
    'recording.reset',
    'capacity.manage',
    'recording.ingest',
  ],
  auditor: ['recording.read', 'custody-log.read', 'certificate.read', 'access-log.read'],
  // A docking station's service account: it uploads, and sees only what it uploaded (to answer a retry).
  dock: ['recording.read', 'recording.ingest'],
};

export function isCustodyRole(text: string): text is CustodyRole {
  return (CUSTODY_ROLES as readonly string[]).includes(text);
}

/** Every permission the roles grant together, in the table's order. */
export function permissionsOf(roles: readonly CustodyRole[]): Permission[] {
  const granted = new Set(roles.flatMap((role) => ROLE_PERMISSIONS[role]));
  return PERMISSIONS.filter((permission) => granted.has(permission));
}

/**
 * Identity-provider role names → custody roles, as policies/roles/roles.yaml maps them. Names the mapping
 * does not know are ignored: a token carries many roles of other applications.
 */
export function custodyRolesFor(
  idpRoles: readonly string[],
  mapping: Readonly<Record<string, readonly CustodyRole[]>>,
): CustodyRole[] {
  const mapped = new Set(
    idpRoles.flatMap((name) => (Object.hasOwn(mapping, name) ? (mapping[name] ?? []) : [])),
  );
  return CUSTODY_ROLES.filter((role) => mapped.has(role));
}

/**
 * An organisational unit id (a station, a department): letters, digits and `. _ : -`, starting with a letter
 * or digit, at most 128 characters — the charset of the ids a dock writes into its manifest.
 */
export const UNIT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The units-claim value that means every unit: auditors and operators of the whole force. */
export const ALL_UNITS = '*';

export function isUnitId(text: string): boolean {
  return UNIT_ID_PATTERN.test(text);
}

/**
 * Whether a caller with `units` may see a recording of `recordingUnit`. A recording without a unit (ingested
 * before units existed, or by a dock that declares none) is visible only to callers of every unit.
 */
export function unitVisible(units: readonly string[], recordingUnit: string | undefined): boolean {
  if (units.includes(ALL_UNITS)) return true;
  return recordingUnit !== undefined && units.includes(recordingUnit);
}
