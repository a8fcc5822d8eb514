/**
 * A person's action as an Update validator and handler see it. The validator verifies the custody API's signed
 * assertion (signature, audience, recording, action, lifetime), the roles it names, the person's units and that it
 * was not used before; the handler — which also runs on replay, without keys — only decodes what was verified.
 */
import {
  decodeActionAssertion,
  personOf,
  requirePermission,
  verifyActionAssertion,
  type ActionClaims,
  type AssertedAction,
  ASSERTION_CLOCK_SKEW_SECONDS,
} from '../../domain/assertion';
import { unitVisible } from '../../domain/roles';
import type { SignedAction } from '../messages';
import { trustedAssertionKeys } from '../trust';
import type { Actor } from './actions';
import type { RecordingRun } from './state';

export function isSigned(request: object): request is SignedAction {
  return typeof (request as Partial<SignedAction>).assertion === 'string';
}

/** For validators: the verified claims, or an Error naming what is wrong. */
export function verifiedAction<A extends AssertedAction>(
  run: RecordingRun,
  request: object,
  action: A,
): ActionClaims<A> {
  if (!isSigned(request)) {
    throw new Error(
      `a person's action reaches a recording only through the custody API, signed by it: this ${action} names ` +
        'its people itself (the --by of older tools), which is no longer accepted',
    );
  }
  const claims = verifyActionAssertion(request.assertion, {
    keys: trustedAssertionKeys(),
    now: new Date(),
    recordingId: run.recordingId,
    action,
  });
  requirePermission(claims);
  if (!unitVisible(claims.units, run.status.unit))
    throw new Error(`recording ${run.recordingId} is not among the recordings of ${claims.sub}'s units`);
  if (run.seenAssertions.has(claims.jti))
    throw new Error(`action assertion ${claims.jti} was used already: an assertion acts once`);
  return claims;
}

/**
 * For handlers, before any await: the claims of the (verified) assertion, remembered so that the same assertion
 * is refused next time, and the actor as the custody log records it — with the assertion itself, so that a third
 * party can verify the signature.
 */
export function acceptAction<A extends AssertedAction>(
  run: RecordingRun,
  request: SignedAction,
): { claims: ActionClaims<A>; actor: Actor } {
  const claims = decodeActionAssertion<A>(request.assertion);
  const nowSeconds = Date.now() / 1000;
  for (const [jti, exp] of run.seenAssertions)
    if (exp + ASSERTION_CLOCK_SKEW_SECONDS < nowSeconds) run.seenAssertions.delete(jti);
  run.seenAssertions.set(claims.jti, claims.exp);
  const person = personOf(claims);
  return {
    claims,
    actor: {
      by: claims.sub,
      proof: { signedBy: { issuer: person.issuer, roles: person.roles }, assertion: request.assertion },
    },
  };
}

/** An action of the time before signed assertions, replayed from history. */
export function legacyActor(by: string): Actor {
  return { by, proof: {} };
}
