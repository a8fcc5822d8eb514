/**
 * The API's side of action assertions (domain/assertion.ts): once a person's token is verified and their
 * permission checked, the API signs what they asked for — who, which action with which parameters, on which
 * recording — with its own Ed25519 key, and forwards only that to the recording's workflow.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import {
  ASSERTION_AUDIENCE,
  ASSERTION_TYPE,
  type ActionParams,
  type AssertedAction,
} from '../domain/assertion';
import type { CustodyRole } from '../domain/roles';
import type { AssertionSigningKey } from '../workers/assertion-keys';

/** The API's name in the `iss` of its assertions. */
export const ASSERTION_ISSUER = 'custody-api';
/** Long enough for Temporal to deliver the Update, short enough that a captured one is soon worthless. */
export const ASSERTION_LIFETIME_SECONDS = 120;

export interface AssertedIdentity {
  subject: string;
  issuer: string;
  roles: readonly CustodyRole[];
  units: readonly string[];
  officerId?: string;
}

export interface ActionToSign<A extends AssertedAction> {
  identity: AssertedIdentity;
  action: A;
  recordingId: string;
  params: ActionParams[A];
  /** Unique: the request id of the API call, so the log entry and the access log meet (default: a new UUID). */
  id?: string;
}

export interface AssertionSigner {
  sign<A extends AssertedAction>(action: ActionToSign<A>): Promise<{ assertion: string; id: string }>;
}

export function createAssertionSigner(
  key: AssertionSigningKey,
  now: () => Date = () => new Date(),
): AssertionSigner {
  return {
    async sign({ identity, action, recordingId, params, id = randomUUID() }) {
      const iat = Math.floor(now().getTime() / 1000);
      const assertion = await new SignJWT({
        idp: identity.issuer,
        roles: [...identity.roles],
        units: [...identity.units],
        ...(identity.officerId !== undefined && { officer: identity.officerId }),
        act: action,
        prm: params,
        rec: recordingId,
      })
        .setProtectedHeader({ alg: 'EdDSA', typ: ASSERTION_TYPE, kid: key.kid })
        .setIssuer(ASSERTION_ISSUER)
        .setAudience(ASSERTION_AUDIENCE)
        .setSubject(identity.subject)
        .setJti(id)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
        .sign(key.key);
      return { assertion, id };
    },
  };
}
