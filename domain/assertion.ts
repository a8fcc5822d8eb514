/**
 * Signed action assertions: how a person's action reaches a recording's workflow. The custody API, having verified
 * the person's OIDC token and permission, signs a compact JWS (EdDSA over Ed25519) naming who (issuer, subject,
 * roles, units, officer id), what (the action and its parameters), on which recording, with a unique id and a
 * lifetime of minutes. Workflow validators verify it with the public keys their worker was built with
 * (workflows/trust.ts): a holder of a Temporal credential cannot act as a person. The JWS goes into the custody
 * log, where anyone holding the API's public key can check again who authorised each step (RFC 7515/7519 with
 * RFC 8037: any JOSE library verifies it).
 *
 * Pure and sandbox-safe: @noble/curves and @scure/base are audited pure-JS code without I/O.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { base64urlnopad } from '@scure/base';
import { permissionsOf, isCustodyRole, type CustodyRole, type Permission } from './roles';

/** The JWS `typ` header: an assertion is never mistaken for (or replayed as) an access token. */
export const ASSERTION_TYPE = 'custody-action+jwt';
/** The `aud` claim: a recording's workflow. */
export const ASSERTION_AUDIENCE = 'custody-workflows';
/** Longest lifetime a workflow accepts (exp − iat): an assertion is made for one request, now. */
export const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** Clock difference tolerated between the API and the workflow's clock (workflow time). */
export const ASSERTION_CLOCK_SKEW_SECONDS = 60;

/** Actions that need a second person: a request now, executed when someone else approves it. */
export const REQUEST_KINDS = [
  'hold.release',
  'deletion.early',
  'policy.apply',
  'retention.extend',
  'quarantine.release',
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export interface RequestParams {
  /** One hold; every active hold when absent. */
  'hold.release': { holdId?: string };
  'deletion.early': Record<string, never>;
  /** The pack the requester saw: the worker resolves it from its own store and refuses another fingerprint. */
  'policy.apply': { packId: string; fingerprint: string };
  /** An extension beyond the bound a records administrator may set alone (domain/retention.ts). */
  'retention.extend': { until?: string; for?: string; caseId?: string };
  /** A release that accepts the received bytes' hash instead of the declared one. */
  'quarantine.release': { acceptReceivedHash: true };
}

export type RequestCreation = {
  [K in RequestKind]: { kind: K; reason: string; params: RequestParams[K] };
}[RequestKind];

export interface ActionParams {
  'hold.place': { caseId: string; reason: string };
  'evidence.mark': { caseId: string; reason?: string };
  'retention.extend': { until?: string; for?: string; reason: string; caseId?: string };
  'recording.replay': { reason?: string };
  /** Without --accept-received-hash: one operator may release (a hash release is a request). */
  'quarantine.release': { reason: string };
  'request.create': RequestCreation;
  'request.decide': { requestId: string; decision: 'approve' | 'reject'; reason: string };
  'request.cancel': { requestId: string; reason?: string };
  /** An administrative action outside the workflow (a Temporal reset) recorded in the custody log. */
  'admin.note': {
    action: 'reset';
    reason: string;
    details: Record<string, string | number | boolean | null>;
  };
}
export type AssertedAction = keyof ActionParams;

export interface ActionClaims<A extends AssertedAction = AssertedAction> {
  /** The API that signed it. */
  iss: string;
  aud: typeof ASSERTION_AUDIENCE;
  /** The person: subject at their OpenID Provider. */
  sub: string;
  /** The person's OpenID Provider (issuer URL). */
  idp: string;
  roles: CustodyRole[];
  units: string[];
  /** The person's officer id, when their provider issues one. */
  officer?: string;
  act: A;
  prm: ActionParams[A];
  /** The recording acted on. */
  rec: string;
  /** Unique per assertion (the API's request id): a workflow accepts each once. */
  jti: string;
  iat: number;
  exp: number;
}

/** A public key the worker trusts, as in a JWKS (`kty: OKP`, `crv: Ed25519`). */
export interface TrustedAssertionKey {
  kid: string;
  kty: 'OKP';
  crv: 'Ed25519';
  /** The 32-byte public key, base64url. */
  x: string;
}

/** The person an assertion names, as requests and log entries keep them. */
export interface AssertedPerson {
  issuer: string;
  subject: string;
  roles: CustodyRole[];
  officerId?: string;
}

export function personOf(claims: ActionClaims): AssertedPerson {
  return {
    issuer: claims.idp,
    subject: claims.sub,
    roles: [...claims.roles],
    ...(claims.officer !== undefined && { officerId: claims.officer }),
  };
}

export function samePerson(a: AssertedPerson, b: AssertedPerson): boolean {
  return a.issuer === b.issuer && a.subject === b.subject;
}

const PERMISSION_OF_REQUEST: Record<RequestKind, Permission> = {
  'hold.release': 'hold.request-release',
  'deletion.early': 'deletion.request-early',
  'policy.apply': 'policy.request-change',
  'retention.extend': 'retention.extend',
  'quarantine.release': 'quarantine.release',
};

/** The permission an action needs; `request.cancel` needs none beyond being the requester. */
export function permissionFor(action: AssertedAction, params: unknown): Permission | undefined {
  switch (action) {
    case 'hold.place':
      return 'hold.place';
    case 'evidence.mark':
      return 'evidence.mark';
    case 'retention.extend':
      return 'retention.extend';
    case 'recording.replay':
      return 'recording.replay';
    case 'quarantine.release':
      return 'quarantine.release';
    case 'request.create':
      return PERMISSION_OF_REQUEST[(params as RequestCreation).kind];
    case 'request.decide':
      return 'request.decide';
    case 'request.cancel':
      return undefined;
    case 'admin.note':
      return 'recording.reset';
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeSegment(value: unknown): string {
  return base64urlnopad.encode(utf8.encode(JSON.stringify(value)));
}

function decodeSegment(segment: string): unknown {
  return JSON.parse(fromUtf8.decode(base64urlnopad.decode(segment)));
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

interface Parsed {
  header: { alg?: unknown; typ?: unknown; kid?: unknown };
  claims: Record<string, unknown>;
  signingInput: string;
  signature: string;
}

function parse(jws: string): Parsed {
  if (typeof jws !== 'string' || jws.length > 16_384)
    throw new AssertionError('not an action assertion (a compact JWS)');
  const parts = jws.split('.');
  if (parts.length !== 3) throw new AssertionError('not an action assertion (a compact JWS)');
  const [header, payload, signature] = parts as [string, string, string];
  try {
    const decodedHeader = decodeSegment(header);
    const claims = decodeSegment(payload);
    if (typeof decodedHeader !== 'object' || decodedHeader === null || Array.isArray(decodedHeader))
      throw new Error('header');
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('claims');
    return {
      header: decodedHeader,
      claims: claims as Record<string, unknown>,
      signingInput: `${header}.${payload}`,
      signature,
    };
  } catch {
    throw new AssertionError('the action assertion is malformed (not base64url JSON)');
  }
}

/**
 * The claims of an assertion a validator has verified, for the Update handler (which runs again on replay,
 * where validators do not: it must not need the keys).
 */
export function decodeActionAssertion<A extends AssertedAction>(jws: string): ActionClaims<A> {
  return parse(jws).claims as unknown as ActionClaims<A>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export interface VerifyOptions {
  keys: readonly TrustedAssertionKey[];
  /** The workflow's current time. */
  now: Date;
  recordingId: string;
  /** The action the Update stands for: an assertion for another action is refused. */
  action: AssertedAction;
}

/**
 * Verifies signature, type, audience, recording, action, lifetime and the shape of the person's claims; throws an
 * AssertionError naming what is wrong. Permission, unit and once-only checks are the caller's (it knows the
 * recording).
 */
export function verifyActionAssertion<A extends AssertedAction>(
  jws: string,
  options: VerifyOptions & { action: A },
): ActionClaims<A> {
  if (options.keys.length === 0) {
    throw new AssertionError(
      'this worker trusts no action-assertion key, so it accepts no person’s action: configure ' +
        'CUSTODY_ASSERTION_PUBLIC_KEYS_FILE (the custody API’s public keys) and restart it',
    );
  }
  const { header, claims, signingInput, signature } = parse(jws);
  if (header.alg !== 'EdDSA')
    throw new AssertionError(`signing algorithm ${String(header.alg)} is not accepted (EdDSA only)`);
  if (header.typ !== ASSERTION_TYPE)
    throw new AssertionError(`not an action assertion (typ ${ASSERTION_TYPE})`);
  const key = options.keys.find((k) => k.kid === header.kid);
  if (!key) throw new AssertionError(`signed by key ${String(header.kid)}, which this worker does not trust`);
  let valid = false;
  try {
    valid = ed25519.verify(
      base64urlnopad.decode(signature),
      utf8.encode(signingInput),
      base64urlnopad.decode(key.x),
      {
        zip215: false,
      },
    );
  } catch {
    valid = false;
  }
  if (!valid) throw new AssertionError('the action assertion’s signature does not verify');

  const c = claims as Partial<Record<keyof ActionClaims, unknown>>;
  if (c.aud !== ASSERTION_AUDIENCE) throw new AssertionError('the action assertion is for another audience');
  if (c.rec !== options.recordingId)
    throw new AssertionError(
      `the action assertion is for recording ${String(c.rec)}, not ${options.recordingId}`,
    );
  if (c.act !== options.action)
    throw new AssertionError(`the action assertion is for ${String(c.act)}, not ${options.action}`);
  for (const name of ['iss', 'sub', 'idp', 'jti'] as const) {
    const value = c[name];
    if (typeof value !== 'string' || value.length === 0)
      throw new AssertionError(`the action assertion lacks ${name}`);
  }
  if (typeof c.iat !== 'number' || typeof c.exp !== 'number')
    throw new AssertionError('the action assertion lacks iat or exp');
  if (c.exp - c.iat > ASSERTION_MAX_LIFETIME_SECONDS || c.exp <= c.iat)
    throw new AssertionError(`the action assertion lives longer than ${ASSERTION_MAX_LIFETIME_SECONDS} s`);
  const nowSeconds = options.now.getTime() / 1000;
  if (c.exp + ASSERTION_CLOCK_SKEW_SECONDS < nowSeconds)
    throw new AssertionError(`the action assertion expired at ${new Date(c.exp * 1000).toISOString()}`);
  if (c.iat - ASSERTION_CLOCK_SKEW_SECONDS > nowSeconds)
    throw new AssertionError('the action assertion was issued in the future');
  if (!isStringArray(c.roles) || !c.roles.every(isCustodyRole))
    throw new AssertionError('the action assertion’s roles are not custody roles');
  if (!isStringArray(c.units))
    throw new AssertionError('the action assertion’s units are not a list of units');
  if (c.officer !== undefined && typeof c.officer !== 'string')
    throw new AssertionError('the action assertion’s officer id is not a string');
  if (typeof c.prm !== 'object' || c.prm === null || Array.isArray(c.prm))
    throw new AssertionError('the action assertion carries no parameters');
  return claims as unknown as ActionClaims<A>;
}

/** The permission check of a verified assertion: its roles must grant what the action needs. */
export function requirePermission(claims: ActionClaims): void {
  const needed = permissionFor(claims.act, claims.prm);
  if (needed && !permissionsOf(claims.roles).includes(needed)) {
    throw new AssertionError(
      `${claims.sub} may not ${claims.act}${claims.act === 'request.create' ? ` (${(claims.prm as RequestCreation).kind})` : ''}: ` +
        `it needs the permission ${needed}, which roles ${claims.roles.join(', ') || '(none)'} do not grant`,
    );
  }
}
