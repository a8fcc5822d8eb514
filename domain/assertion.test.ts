/**
 * The verifier of action assertions against JWSs made the way any JOSE library makes them (node:crypto keys,
 * jose's SignJWT): what verifies, and every refusal with its message. Times are fixed instants: nothing here
 * depends on the date the tests run on.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { createAssertionSigner } from '../api/assertions';
import {
  ASSERTION_AUDIENCE,
  ASSERTION_CLOCK_SKEW_SECONDS,
  ASSERTION_MAX_LIFETIME_SECONDS,
  ASSERTION_TYPE,
  AssertionError,
  REQUEST_KINDS,
  decodeActionAssertion,
  encodeSegment,
  permissionFor,
  personOf,
  requirePermission,
  samePerson,
  verifyActionAssertion,
  type ActionClaims,
  type TrustedAssertionKey,
  type VerifyOptions,
} from './assertion';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const NOW_S = NOW.getTime() / 1000;
const RECORDING = '0123456789abcdef0123';

function keyPair(kid: string): { kid: string; privateKey: KeyObject; trusted: TrustedAssertionKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const { x } = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, trusted: { kid, kty: 'OKP', crv: 'Ed25519', x: x! } };
}
const api = keyPair('custody-api-1');
const stranger = keyPair('stranger-1');

/** The claims of a good assertion for a hold on RECORDING, issued ten seconds before NOW. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: 'custody-api',
    aud: ASSERTION_AUDIENCE,
    sub: 'inv-1',
    idp: 'https://idp.example',
    roles: ['investigator'],
    units: ['station-a'],
    act: 'hold.place',
    prm: { caseId: 'AZ-1', reason: 'complaint' },
    rec: RECORDING,
    jti: 'req-1',
    iat: NOW_S - 10,
    exp: NOW_S + 110,
    ...overrides,
  };
}

function sign(
  payload: Record<string, unknown>,
  { key = api.privateKey, header = {} }: { key?: KeyObject; header?: Record<string, unknown> } = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'EdDSA', typ: ASSERTION_TYPE, kid: api.kid, ...header })
    .sign(key);
}

function verify(jws: string, options: Partial<VerifyOptions> = {}): ActionClaims {
  return verifyActionAssertion(jws, {
    keys: [api.trusted],
    now: NOW,
    recordingId: RECORDING,
    action: 'hold.place',
    ...options,
  });
}

/** The AssertionError's message of a verification that must fail. */
function refusal(check: () => unknown): string {
  try {
    check();
  } catch (err) {
    expect(err).toBeInstanceOf(AssertionError);
    return (err as Error).message;
  }
  throw new Error('the assertion was accepted, but should have been refused');
}

/** The refusal of an assertion with `overrides` in its claims, signed as `signing` says. */
async function refused(
  overrides: Record<string, unknown>,
  options: Partial<VerifyOptions> = {},
  signing: Parameters<typeof sign>[1] = {},
): Promise<string> {
  const jws = await sign(claims(overrides), signing);
  return refusal(() => verify(jws, options));
}

describe('what verifies', () => {
  test('an EdDSA JWS made with node:crypto and jose: its claims, and the same decoded without keys', async () => {
    const jws = await sign(claims());
    expect(verify(jws)).toEqual(claims());
    expect(decodeActionAssertion(jws)).toEqual(claims());
  });

  test('during a key rotation, either trusted key', async () => {
    const next = keyPair('custody-api-2');
    const jws = await sign(claims(), { key: next.privateKey, header: { kid: next.kid } });
    expect(verify(jws, { keys: [api.trusted, next.trusted] })).toMatchObject({ sub: 'inv-1' });
    expect(refusal(() => verify(jws))).toBe('signed by key custody-api-2, which this worker does not trust');
  });

  test('what the custody API signs (api/assertions.ts) verifies here', async () => {
    const signer = createAssertionSigner({ kid: api.kid, key: api.privateKey }, () => NOW);
    const { assertion, id } = await signer.sign({
      identity: {
        subject: 'officer-a',
        issuer: 'https://idp.example',
        roles: ['records-admin'],
        units: ['station-a'],
        officerId: 'officer-7',
      },
      action: 'request.create',
      recordingId: RECORDING,
      params: { kind: 'deletion.early', reason: 'recorded by mistake', params: {} },
    });
    const verified = verify(assertion, { action: 'request.create' });
    expect(verified).toMatchObject({
      sub: 'officer-a',
      jti: id,
      officer: 'officer-7',
      prm: { kind: 'deletion.early' },
      iat: NOW_S,
    });
    expect(personOf(verified)).toEqual({
      issuer: 'https://idp.example',
      subject: 'officer-a',
      roles: ['records-admin'],
      officerId: 'officer-7',
    });
  });

  test('the clock skew and the longest lifetime are tolerated, to the second', async () => {
    const skew = ASSERTION_CLOCK_SKEW_SECONDS;
    const longest = ASSERTION_MAX_LIFETIME_SECONDS;
    expect(verify(await sign(claims({ iat: NOW_S - longest, exp: NOW_S })))).toBeDefined();
    expect(verify(await sign(claims({ iat: NOW_S - 200, exp: NOW_S - skew })))).toBeDefined();
    expect(verify(await sign(claims({ iat: NOW_S + skew, exp: NOW_S + skew + 1 })))).toBeDefined();
  });
});

describe('every refusal names what is wrong', () => {
  test('a worker without keys accepts nothing', async () => {
    expect(refusal(() => verify('x.y.z', { keys: [] }))).toBe(
      'this worker trusts no action-assertion key, so it accepts no person’s action: configure ' +
        'CUSTODY_ASSERTION_PUBLIC_KEYS_FILE (the custody API’s public keys) and restart it',
    );
    // Even a good assertion: the check comes first.
    expect(await refused({}, { keys: [] })).toMatch(/^this worker trusts no/);
  });

  test('not a compact JWS, or not base64url JSON', () => {
    const notJws = 'not an action assertion (a compact JWS)';
    expect(refusal(() => verify('abc'))).toBe(notJws);
    expect(refusal(() => verify('a.b'))).toBe(notJws);
    expect(refusal(() => verify('a.b.c.d'))).toBe(notJws);
    expect(refusal(() => verify(42 as never))).toBe(notJws);
    expect(refusal(() => verify(`${'a'.repeat(16_385)}..`))).toBe(notJws);
    const malformed = 'the action assertion is malformed (not base64url JSON)';
    expect(refusal(() => verify('x.y.z'))).toBe(malformed);
    expect(refusal(() => verify(`${encodeSegment([1])}.${encodeSegment(claims())}.`))).toBe(malformed);
    expect(refusal(() => verify(`${encodeSegment({ alg: 'EdDSA' })}.${encodeSegment('claims')}.`))).toBe(
      malformed,
    );
  });

  test('an algorithm other than EdDSA: HS256, none', async () => {
    const hs256 = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE, kid: api.kid })
      .sign(new TextEncoder().encode('a shared secret of at least thirty-two bytes'));
    expect(refusal(() => verify(hs256))).toBe('signing algorithm HS256 is not accepted (EdDSA only)');
    const unsigned = `${encodeSegment({ alg: 'none', typ: ASSERTION_TYPE, kid: api.kid })}.${encodeSegment(claims())}.`;
    expect(refusal(() => verify(unsigned))).toBe('signing algorithm none is not accepted (EdDSA only)');
  });

  test('another type: an access token is not an assertion', async () => {
    expect(await refused({}, {}, { header: { typ: 'at+jwt' } })).toBe(
      `not an action assertion (typ ${ASSERTION_TYPE})`,
    );
    expect(await refused({}, {}, { header: { typ: undefined } })).toBe(
      `not an action assertion (typ ${ASSERTION_TYPE})`,
    );
  });

  test('a key the worker does not know, by kid', async () => {
    expect(await refused({}, {}, { header: { kid: 'custody-api-0' } })).toBe(
      'signed by key custody-api-0, which this worker does not trust',
    );
    expect(await refused({}, {}, { header: { kid: undefined } })).toBe(
      'signed by key undefined, which this worker does not trust',
    );
  });

  test('a signature that does not verify: another key under a trusted kid, a changed payload, garbage', async () => {
    const doesNotVerify = 'the action assertion’s signature does not verify';
    expect(await refused({}, {}, { key: stranger.privateKey })).toBe(doesNotVerify);
    const [header, , signature] = (await sign(claims({ roles: ['viewer'] }))).split('.');
    const escalated = `${header}.${encodeSegment(claims({ roles: ['approver'] }))}.${signature}`;
    expect(refusal(() => verify(escalated))).toBe(doesNotVerify);
    expect(refusal(() => verify(`${header}.${encodeSegment(claims())}.`))).toBe(doesNotVerify);
    expect(refusal(() => verify(`${header}.${encodeSegment(claims())}.!!!`))).toBe(doesNotVerify);
  });

  test('another audience, recording or action', async () => {
    expect(await refused({ aud: 'custody-api' })).toBe('the action assertion is for another audience');
    expect(await refused({ rec: 'ffffffffffffffffffff' })).toBe(
      `the action assertion is for recording ffffffffffffffffffff, not ${RECORDING}`,
    );
    expect(await refused({}, { action: 'evidence.mark' })).toBe(
      'the action assertion is for hold.place, not evidence.mark',
    );
  });

  test('no issuer, subject, identity provider or id', async () => {
    for (const name of ['iss', 'sub', 'idp', 'jti']) {
      const message = `the action assertion lacks ${name}`;
      expect(await refused({ [name]: undefined })).toBe(message);
      expect(await refused({ [name]: '' })).toBe(message);
      expect(await refused({ [name]: 7 })).toBe(message);
    }
  });

  test('no times, too long a life, expired, issued in the future', async () => {
    const noTimes = 'the action assertion lacks iat or exp';
    expect(await refused({ iat: undefined })).toBe(noTimes);
    expect(await refused({ exp: String(NOW_S + 60) })).toBe(noTimes);
    const tooLong = `the action assertion lives longer than ${ASSERTION_MAX_LIFETIME_SECONDS} s`;
    expect(await refused({ iat: NOW_S - 10, exp: NOW_S + 291 })).toBe(tooLong);
    expect(await refused({ iat: NOW_S, exp: NOW_S })).toBe(tooLong);
    const exp = NOW_S - ASSERTION_CLOCK_SKEW_SECONDS - 1;
    expect(await refused({ iat: exp - 120, exp })).toBe(
      `the action assertion expired at ${new Date(exp * 1000).toISOString()}`,
    );
    const iat = NOW_S + ASSERTION_CLOCK_SKEW_SECONDS + 1;
    expect(await refused({ iat, exp: iat + 120 })).toBe('the action assertion was issued in the future');
  });

  test('roles that are not custody roles, units that are not a list, an officer id that is not a string', async () => {
    const notRoles = 'the action assertion’s roles are not custody roles';
    expect(await refused({ roles: ['admin'] })).toBe(notRoles);
    expect(await refused({ roles: 'investigator' })).toBe(notRoles);
    expect(await refused({ roles: undefined })).toBe(notRoles);
    const notUnits = 'the action assertion’s units are not a list of units';
    expect(await refused({ units: 'station-a' })).toBe(notUnits);
    expect(await refused({ units: [7] })).toBe(notUnits);
    expect(await refused({ officer: 7 })).toBe('the action assertion’s officer id is not a string');
  });

  test('no parameters', async () => {
    const noParams = 'the action assertion carries no parameters';
    expect(await refused({ prm: undefined })).toBe(noParams);
    expect(await refused({ prm: null })).toBe(noParams);
    expect(await refused({ prm: ['AZ-1'] })).toBe(noParams);
  });
});

describe('permissions and people', () => {
  const verified = (overrides: Record<string, unknown>) => claims(overrides) as unknown as ActionClaims;

  test('an action needs the permission its roles grant; cancelling needs only being the requester', () => {
    expect(() => requirePermission(verified({}))).not.toThrow();
    expect(refusal(() => requirePermission(verified({ roles: ['viewer'] })))).toBe(
      'inv-1 may not hold.place: it needs the permission hold.place, which roles viewer do not grant',
    );
    expect(refusal(() => requirePermission(verified({ roles: [] })))).toBe(
      'inv-1 may not hold.place: it needs the permission hold.place, which roles (none) do not grant',
    );
    expect(
      refusal(() =>
        requirePermission(
          verified({
            act: 'request.create',
            prm: { kind: 'deletion.early', reason: 'x', params: {} },
            roles: ['investigator'],
          }),
        ),
      ),
    ).toBe(
      'inv-1 may not request.create (deletion.early): it needs the permission deletion.request-early, ' +
        'which roles investigator do not grant',
    );
    expect(() =>
      requirePermission(verified({ act: 'request.cancel', prm: { requestId: 'r-1' }, roles: [] })),
    ).not.toThrow();
  });

  test('each kind of request needs its own permission; deciding needs request.decide', () => {
    expect(
      REQUEST_KINDS.map((kind) => permissionFor('request.create', { kind, reason: 'x', params: {} })),
    ).toEqual([
      'hold.request-release',
      'deletion.request-early',
      'policy.request-change',
      'retention.extend',
      'quarantine.release',
    ]);
    expect(permissionFor('request.decide', {})).toBe('request.decide');
    expect(permissionFor('admin.note', {})).toBe('recording.reset');
  });

  test('a person is an issuer and a subject: the same name at another provider is another person', () => {
    const alice = personOf(verified({ sub: 'alice' }));
    expect(alice).toEqual({ issuer: 'https://idp.example', subject: 'alice', roles: ['investigator'] });
    expect(samePerson(alice, { ...alice, roles: ['approver'] })).toBe(true);
    expect(samePerson(alice, { ...alice, subject: 'Alice' })).toBe(false);
    expect(samePerson(alice, { ...alice, issuer: 'https://other-idp.example' })).toBe(false);
  });
});
