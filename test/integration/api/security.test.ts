/**
 * The custody API's security suite, against the built API process (dist/api/main.js) with real Temporal and
 * versitygw from the integration harness, real workers in this process, and a real token issuer (a key pair
 * served as a JWKS over HTTP from this process). Every attack must fail closed with a clear error and change
 * nothing; docs/security.md lists each one with the name of its test here.
 */
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { JWTPayload } from 'jose';
import { statusQuery } from '../../../workflows/messages';
import { createTestStack, type TestStack } from '../../harness/stack';
import { testPolicyDir } from '../../harness/test-policies';
import { syntheticClip } from '../../fixtures/media';
import { startApiProcess, type ApiProcess } from '../../harness/api-process';
import { signedInAs } from '../../harness/cli-session';
import { builtEntryPoint, envFor, envForConfig, runNode, startNode } from '../../harness/processes';
import {
  createTestKey,
  publicKeyAsHmacSecretToken,
  startTestIssuer,
  tamperedClaims,
  tamperedSignature,
  unsignedToken,
  type TestIssuer,
} from '../../harness/test-issuer';
import { createPseudonymiser } from '../../../api/pseudonym';
import { readCustodyLog } from '../../../activities/custody-log/read';
import { freeLoopbackPort } from '../../../workers/ports';
import { temporalCredentials, temporalEnvAs } from '../../harness/temporal-server';

const run = randomBytes(3).toString('hex');
/** Units of this run only: the namespace is shared with other test files. */
const NORD = `nord-${run}`;
const SUED = `sued-${run}`;

let stack: TestStack;
let issuer: TestIssuer;
let api: ApiProcess;
const ids = { nord: '', sued: '', unitless: '', deletedNord: '' };
const tokens: Record<'viewerNord' | 'investigatorNord' | 'investigatorSued' | 'auditorAll', string> = {
  viewerNord: '',
  investigatorNord: '',
  investigatorSued: '',
  auditorAll: '',
};
const subjects = {
  viewerNord: `viewer-nord-${run}`,
  investigatorNord: `investigator-nord-${run}`,
  investigatorSued: `investigator-sued-${run}`,
  auditorAll: `auditor-${run}`,
};

/** The API's certificate and token for the production-shaped Temporal. */
const apiTemporalEnv = () => temporalEnvAs(temporalCredentials(), 'api');

function person(sub: string, roles: string[], units: string[]): JWTPayload {
  return { sub, custody_roles: roles, custody_units: units };
}

beforeAll(async () => {
  // On the production-shaped Temporal: the workers (and this file's client) with the worker's certificate and
  // token, each API process with the API's (apiTemporalEnv).
  stack = await createTestStack('api-security', {
    overrides: {
      CUSTODY_POLICY_DIR: testPolicyDir({ 'test-api-3s': 'PT3S' }),
      ...temporalEnvAs(temporalCredentials(), 'worker'),
    },
  });
  issuer = await startTestIssuer();
  const clip = readFileSync(
    await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false }),
  );
  const ingest = async (
    name: string,
    declared: { unit?: string },
    policy = stack.config.policy.defaultPack,
  ) => {
    const source = await stack.putInbox(`${run}/${name}.mp4`, Buffer.concat([clip, Buffer.from(name)]));
    const started = await stack.start(source, {
      policy,
      transcode: false,
      declared: { deviceId: `cam-${name}`, ...declared },
    });
    return started.recordingId;
  };
  [ids.nord, ids.sued, ids.unitless, ids.deletedNord] = await Promise.all([
    ingest('nord', { unit: NORD }),
    ingest('sued', { unit: SUED }),
    ingest('unitless', {}),
    ingest('deleted-nord', { unit: NORD }, 'test-api-3s'),
  ]);
  await Promise.all([
    stack.waitForState(ids.nord, 'retained'),
    stack.waitForState(ids.sued, 'retained'),
    stack.waitForState(ids.unitless, 'retained'),
    stack.waitForState(ids.deletedNord, 'deleted', 120_000),
  ]);
  tokens.viewerNord = await issuer.mint(person(subjects.viewerNord, ['viewer'], [NORD]));
  tokens.investigatorNord = await issuer.mint(person(subjects.investigatorNord, ['investigator'], [NORD]));
  tokens.investigatorSued = await issuer.mint(person(subjects.investigatorSued, ['investigator'], [SUED]));
  tokens.auditorAll = await issuer.mint(person(subjects.auditorAll, ['auditor'], ['*']));
  api = await startApiProcess(stack.config, issuer.issuer, {
    ...apiTemporalEnv(),
    CUSTODY_OIDC_JWKS_COOLDOWN_SECONDS: '1',
  });
}, 240_000);

afterAll(async () => {
  await api?.stop();
  await issuer?.close();
  await stack?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  body: { statusCode?: number; error?: string; message?: string; requestId?: string } & Record<
    string,
    unknown
  >;
  text: string;
}

async function get(route: string, token?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${api.url}${route}`, {
    headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...headers },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: JSON.parse(text) as Answer['body'],
    text,
  };
}

/** A GET whose path goes out exactly as written: fetch and URL parsing would resolve dot segments first. */
function rawGet(
  rawPath: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const request = http.get(
      {
        hostname,
        port,
        path: rawPath,
        headers: { ...headers, ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
  });
}

/** A 401 that names what was wrong in both the challenge and the body, and never echoes the token. */
function expectInvalidToken(answer: Answer, token: string, reason: RegExp) {
  expect({ status: answer.status, error: answer.body.error }).toEqual({
    status: 401,
    error: 'invalid_token',
  });
  expect(answer.body.message).toMatch(reason);
  const challenge = answer.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer realm="custody", error="invalid_token", error_description="[^"]+"$/);
  expect(challenge).toMatch(reason);
  const signature = token.split('.')[2] ?? '';
  expect(answer.text).not.toContain(token);
  if (signature.length > 8) expect(answer.text + challenge).not.toContain(signature);
}

async function logLength(recordingId: string): Promise<number> {
  return (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).length;
}

/** Only a valid token of our issuer, for our audience, gets in. */
describe('authentication', () => {
  let before: { entries: number; head: unknown };
  const snapshot = async () => ({
    entries: await logLength(ids.nord),
    head: (await stack.clients.client.workflow.getHandle(`rec-${ids.nord}`).query(statusQuery))
      .custodyLogHead,
  });
  beforeAll(async () => {
    before = await snapshot();
  });

  test('no token: 401 with a bare Bearer challenge', async () => {
    const answer = await get(`/v1/recordings/${ids.nord}`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="custody"');
    expect(answer.body.message).toBe('authentication required: send Authorization: Bearer <access token>');
  });

  test('Basic credentials instead of a Bearer token: 401 invalid_request', async () => {
    const answer = await get('/v1/me', undefined, { authorization: 'Basic YWxpY2U6c2VjcmV0' });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  test('a token in the query string is no credential: 400 before anything else', async () => {
    const answer = await get(`/v1/me?access_token=${tokens.auditorAll}`);
    expect(answer.status).toBe(400);
    expect(answer.text).not.toContain(tokens.auditorAll);
  });

  test('expired beyond the clock skew: 401 naming the expiry; within the skew it is accepted', async () => {
    const expired = await issuer.mint(person('late', ['viewer'], [NORD]), { expiresIn: -120 });
    expectInvalidToken(
      await get('/v1/me', expired),
      expired,
      /the token expired at \S+ \(clock skew allowed: 30 s\)/,
    );
    const justExpired = await issuer.mint(person('late', ['viewer'], [NORD]), { expiresIn: -10 });
    expect((await get('/v1/me', justExpired)).status).toBe(200);
  });

  test('not yet valid (nbf beyond the skew): 401', async () => {
    const early = await issuer.mint(person('early', ['viewer'], [NORD]), { notBefore: 600 });
    expectInvalidToken(await get('/v1/me', early), early, /the token is not valid before/);
  });

  test('wrong audience: 401', async () => {
    const token = await issuer.mint(person('aud', ['auditor'], ['*']), { audience: 'another-api' });
    expectInvalidToken(
      await get('/v1/me', token),
      token,
      /wrong audience: the token is not issued for custody-api/,
    );
  });

  test('wrong issuer (signed with the right key): 401', async () => {
    const token = await issuer.mint(person('iss', ['auditor'], ['*']), { issuer: 'https://idp.example.org' });
    expectInvalidToken(
      await get('/v1/me', token),
      token,
      /wrong issuer: this API accepts tokens of http:\/\/127/,
    );
  });

  test('alg none (no signature at all): 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = unsignedToken({
      ...person('none', ['auditor'], ['*']),
      iss: issuer.issuer,
      aud: issuer.audience,
      iat: now,
      exp: now + 300,
    });
    expectInvalidToken(await get('/v1/me', token), token, /signing algorithm none is not accepted/);
  });

  test('HS256 signed with the RSA public key as the secret: 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await publicKeyAsHmacSecretToken(issuer.key, {
      ...person('hs', ['auditor'], ['*']),
      iss: issuer.issuer,
      aud: issuer.audience,
      iat: now,
      exp: now + 300,
    });
    expectInvalidToken(
      await get('/v1/me', token),
      token,
      /signing algorithm HS256 is not accepted \(allowed: RS256, ES256\)/,
    );
  });

  test('tampered signature: 401', async () => {
    const token = tamperedSignature(tokens.viewerNord);
    expectInvalidToken(await get('/v1/me', token), token, /the token signature does not verify/);
  });

  test('claims changed in transit (viewer made auditor of every unit): 401', async () => {
    const token = tamperedClaims(tokens.viewerNord, (claims) => ({
      ...claims,
      custody_roles: ['auditor'],
      custody_units: ['*'],
    }));
    expectInvalidToken(
      await get(`/v1/recordings/${ids.sued}/custody-log`, token),
      token,
      /the token signature does not verify/,
    );
  });

  test("signed by a key that is not in the issuer's JWKS: 401", async () => {
    const attackerKey = await createTestKey('attacker-key');
    const token = await issuer.mint(person('mallory', ['auditor'], ['*']), { key: attackerKey });
    expectInvalidToken(
      await get('/v1/me', token),
      token,
      /the token is signed by a key that is not in the issuer's key set/,
    );
  });

  test('no subject: 401', async () => {
    const token = await issuer.mint({ custody_roles: ['auditor'], custody_units: ['*'] });
    expectInvalidToken(await get('/v1/me', token), token, /the token lacks the sub claim/);
  });

  test('garbage in the Authorization header: 401, not a crash', async () => {
    expectInvalidToken(await get('/v1/me', 'not-a-jwt'), 'not-a-jwt', /not a signed JWT/);
  });

  test('after every attack above, the recording and its custody log are unchanged', async () => {
    expect(await snapshot()).toEqual(before);
  });
});

describe('key rotation', () => {
  test('a token signed by a key the JWKS serves only after the API started is accepted, without a restart', async () => {
    expect((await get('/v1/me', tokens.viewerNord)).status).toBe(200);
    const rotated = await createTestKey('test-key-2', 'ES256');
    const token = await issuer.mint(person(subjects.viewerNord, ['viewer'], [NORD]), { key: rotated });
    // Not published yet: refused like any foreign key.
    expect((await get('/v1/me', token)).status).toBe(401);
    issuer.publish(rotated);
    const fetchesBefore = issuer.jwksFetches();
    await new Promise((r) => setTimeout(r, 1500)); // CUSTODY_OIDC_JWKS_COOLDOWN_SECONDS=1
    const answer = await get('/v1/me', token);
    expect(answer.status).toBe(200);
    expect(answer.body.subject).toBe(subjects.viewerNord);
    expect(issuer.jwksFetches()).toBeGreaterThan(fetchesBefore);
  });
});

/** Roles grant permissions; units scope what a caller sees. */
describe('authorisation', () => {
  test('/v1/me shows the verified subject, issuer, roles and units', async () => {
    const answer = await get('/v1/me', tokens.investigatorNord);
    expect(answer.body).toMatchObject({
      subject: subjects.investigatorNord,
      issuer: issuer.issuer,
      roles: ['investigator'],
      units: [NORD],
    });
  });

  test('role escalation: a viewer reading the custody log gets 403 naming the permission', async () => {
    const answer = await get(`/v1/recordings/${ids.nord}/custody-log`, tokens.viewerNord);
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(
      'this needs the permission custody-log.read (roles: investigator, auditor); your roles: viewer',
    );
    expect(answer.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  test('role escalation: a viewer reading a deletion certificate gets 403', async () => {
    const answer = await get(`/v1/recordings/${ids.deletedNord}/certificate`, tokens.viewerNord);
    expect(answer.status).toBe(403);
    expect(answer.body.message).toMatch(/^this needs the permission certificate\.read/);
  });

  test('the own unit: status, custody log and certificate are readable', async () => {
    const status = await get(`/v1/recordings/${ids.nord}`, tokens.viewerNord);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ recordingId: ids.nord, unit: NORD, state: 'retained' });
    const log = await get(`/v1/recordings/${ids.nord}/custody-log`, tokens.investigatorNord);
    expect(log.status).toBe(200);
    expect(log.body.chain).toEqual({ ok: true, problems: [] });
    expect((log.body.entries as { action: string }[])[0]?.action).toBe('recording.received');
    const certificate = await get(`/v1/recordings/${ids.deletedNord}/certificate`, tokens.investigatorNord);
    expect(certificate.status).toBe(200);
    expect(certificate.body).toMatchObject({ recordingId: ids.deletedNord, verified: true, problems: [] });
    expect((certificate.body.certificate as { recordingId?: string }).recordingId).toBe(ids.deletedNord);
  });

  test("another unit's recording: 404 for status, custody log and certificate, as for an unknown id", async () => {
    const unknown = await get(`/v1/recordings/${'0'.repeat(20)}`, tokens.investigatorSued);
    for (const route of [
      `/v1/recordings/${ids.nord}`,
      `/v1/recordings/${ids.nord}/custody-log`,
      `/v1/recordings/${ids.deletedNord}/certificate`,
    ]) {
      const answer = await get(route, tokens.investigatorSued);
      expect({ route, status: answer.status }).toEqual({ route, status: 404 });
      expect(answer.body.message).toMatch(/^no recording [0-9a-f]{20} among the recordings of your units$/);
    }
    expect(unknown.status).toBe(404);
  });

  test('a recording without a unit is visible only to callers of every unit', async () => {
    expect((await get(`/v1/recordings/${ids.unitless}`, tokens.investigatorNord)).status).toBe(404);
    const auditor = await get(`/v1/recordings/${ids.unitless}`, tokens.auditorAll);
    expect(auditor.status).toBe(200);
    expect(auditor.body.unit).toBeUndefined();
    expect((await get(`/v1/recordings/${ids.sued}/custody-log`, tokens.auditorAll)).status).toBe(200);
  });

  test('custody ingest --unit files the recording under that unit; a bad unit is refused', async () => {
    const clipFile = await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false });
    const dock = await issuer.mint(person(`dock-${SUED}`, ['dock'], [SUED]));
    const env = { ...envForConfig(stack.config), ...signedInAs(api.url, issuer.issuer, dock) };
    const custody = (args: string[]) => runNode(builtEntryPoint('cli/main.js'), args, env, 120_000);
    const refused = await custody(['ingest', clipFile, '--unit', '../nord']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--unit ../nord is not a unit id');
    const ingested = await custody(['ingest', clipFile, '--unit', SUED, '--json']);
    expect(ingested.stderr).toBe('');
    const { recordingId } = JSON.parse(ingested.stdout) as { recordingId: string };
    const own = await get(`/v1/recordings/${recordingId}`, tokens.investigatorSued);
    expect(own.status).toBe(200);
    expect(own.body.unit).toBe(SUED);
    expect((await get(`/v1/recordings/${recordingId}`, tokens.investigatorNord)).status).toBe(404);
  });

  test("the list shows the caller's units only", async () => {
    const listed = async (token: string) => {
      // Visibility is eventually consistent: wait until this run's recordings are listed.
      for (let attempt = 0; ; attempt++) {
        const answer = await get('/v1/recordings?limit=100', token);
        expect(answer.status).toBe(200);
        const rows = answer.body.rows as { recordingId: string; unit: string | null }[];
        if (rows.length >= 2 || attempt > 50) return rows;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const nord = await listed(tokens.viewerNord);
    expect(nord.map((r) => r.recordingId).sort()).toEqual([ids.nord, ids.deletedNord].sort());
    expect(new Set(nord.map((r) => r.unit))).toEqual(new Set([NORD]));
    const sued = await get('/v1/recordings?state=retained', tokens.investigatorSued);
    const suedRows = sued.body.rows as { recordingId: string; unit: string | null; state: string }[];
    expect(suedRows.map((r) => r.recordingId)).toContain(ids.sued);
    expect(suedRows.every((r) => r.unit === SUED && r.state === 'retained')).toBe(true);
  });
});

/** Ids, traversal, parameters: refused by the schemas before anything else runs. */
describe('input', () => {
  let badIds = 0;
  test.each([
    ['path traversal, encoded', '..%2F..%2Fetc%2Fpasswd'],
    ['dot segments, encoded', '%2e%2e'],
    ['upper-case hex', 'ABCDEFABCDEFABCDEFAB'],
    ['one character too many', 'a'.repeat(21)],
    ['a NUL byte', `${'a'.repeat(19)}%00`],
    ['a workflow id instead of a recording id', `rec-${'a'.repeat(20)}`],
  ])('%s in an id: 400 before anything is read', async (_name, id) => {
    for (const token of [tokens.auditorAll, undefined]) {
      const requestId = `bad-id-${run}-${++badIds}`;
      const answer = await rawGet(`/v1/recordings/${id}/custody-log`, token, { 'x-request-id': requestId });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({
        message: expect.stringMatching(/^invalid request: params\/id must match pattern/) as unknown,
      });
      // Refused before the token was even looked at: the access log knows no caller for it.
      await new Promise((r) => setTimeout(r, 50));
      expect(api.accessLines().find((l) => l.requestId === requestId)).toMatchObject({
        status: 400,
        who: null,
      });
    }
  });

  test('raw dot segments in the path reach no route: 404', async () => {
    for (const rawPath of [
      '/v1/recordings/../../etc/passwd',
      `/v1/recordings/${ids.nord}/../../../openapi.json`,
    ]) {
      expect({ rawPath, status: (await rawGet(rawPath, tokens.auditorAll)).status }).toEqual({
        rawPath,
        status: 404,
      });
    }
  });

  test('unknown query parameters and out-of-range values: 400', async () => {
    expect((await get('/v1/recordings?state=archived', tokens.auditorAll)).status).toBe(400);
    expect((await get('/v1/recordings?limit=100000', tokens.auditorAll)).status).toBe(400);
    expect((await get("/v1/recordings?unit=*'", tokens.viewerNord)).status).toBe(400);
    expect((await get('/v1/recordings?pageToken=%27%20OR%201%3D1', tokens.viewerNord)).status).toBe(400);
  });
});

/** Documents, headers, request ids, the access log. */
describe('the process', () => {
  test('the OpenAPI document validates as OpenAPI 3 and lists every route', async () => {
    const document = (await get('/openapi.json')).body;
    await SwaggerParser.validate(
      structuredClone(document) as unknown as Parameters<typeof SwaggerParser.validate>[0],
    );
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths as object).sort()).toEqual([
      '/healthz',
      '/openapi.json',
      '/v1/access-log',
      '/v1/me',
      '/v1/policies',
      '/v1/recordings',
      '/v1/recordings/{id}',
      '/v1/recordings/{id}/access-log',
      '/v1/recordings/{id}/admin-notes',
      '/v1/recordings/{id}/certificate',
      '/v1/recordings/{id}/custody-log',
      '/v1/recordings/{id}/evidence',
      '/v1/recordings/{id}/extensions',
      '/v1/recordings/{id}/holds',
      '/v1/recordings/{id}/media/{object}',
      '/v1/recordings/{id}/quarantine-release',
      '/v1/recordings/{id}/replay',
      '/v1/recordings/{id}/requests',
      '/v1/recordings/{id}/requests/{requestId}/cancel',
      '/v1/recordings/{id}/requests/{requestId}/decision',
      '/v1/requests',
      '/v1/uploads',
      '/v1/uploads/abort',
      '/v1/uploads/complete',
      '/v1/uploads/parts',
    ]);
  });

  test('security headers on answers and refusals alike', async () => {
    for (const answer of [await get('/v1/me', tokens.viewerNord), await get('/v1/me')]) {
      expect({
        csp: answer.headers.get('content-security-policy'),
        nosniff: answer.headers.get('x-content-type-options'),
        frame: answer.headers.get('x-frame-options'),
        referrer: answer.headers.get('referrer-policy'),
        hsts: answer.headers.get('strict-transport-security'),
        cache: answer.headers.get('cache-control'),
        corp: answer.headers.get('cross-origin-resource-policy'),
      }).toEqual({
        csp: "default-src 'none';frame-ancestors 'none'",
        nosniff: 'nosniff',
        frame: 'DENY',
        referrer: 'no-referrer',
        hsts: 'max-age=31536000; includeSubDomains',
        cache: 'no-store',
        corp: 'same-origin',
      });
      expect(answer.headers.get('x-powered-by')).toBeNull();
    }
  });

  test("a request id on every answer: the caller's when plain, a generated one otherwise", async () => {
    expect(
      (await get('/healthz', undefined, { 'x-request-id': 'case-4711.1' })).headers.get('x-request-id'),
    ).toBe('case-4711.1');
    const generated = await get('/healthz', undefined, { 'x-request-id': 'evil" id=1' });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f-]{27}$/);
    expect((await get('/v1/me')).body.requestId).toMatch(/^[0-9a-f]{8}-/);
  });

  test('the access log has a line per request with the pseudonym, never the subject, token or address', async () => {
    await get(`/v1/recordings/${ids.nord}`, tokens.viewerNord, { 'x-request-id': `access-${run}` });
    await new Promise((r) => setTimeout(r, 200));
    const line = api.accessLines().find((l) => l.requestId === `access-${run}`);
    expect(line).toMatchObject({
      who: createPseudonymiser(api.pseudonymKey).subject(issuer.issuer, subjects.viewerNord),
      method: 'GET',
      route: '/v1/recordings/:id',
      recordingId: ids.nord,
      status: 200,
    });
    const output = api.output();
    for (const secret of [...Object.values(subjects), ...Object.values(tokens)])
      expect(output).not.toContain(secret);
    const accessText = JSON.stringify(api.accessLines());
    expect(accessText).not.toContain('127.0.0.1');
    expect(accessText).not.toContain('::1');
  });
});

describe('rate limits', () => {
  test('per subject, then per client address: 429 with Retry-After', async () => {
    const limited = await startApiProcess(stack.config, issuer.issuer, {
      ...apiTemporalEnv(),
      CUSTODY_API_RATE_LIMIT_PER_SUBJECT: '3',
      CUSTODY_API_RATE_LIMIT_PER_IP: '8',
    });
    try {
      const call = async (token?: string) => {
        const response = await fetch(`${limited.url}${token ? '/v1/me' : '/healthz'}`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.text(),
        };
      };
      const alice = [];
      for (let i = 0; i < 4; i++) alice.push(await call(tokens.viewerNord));
      expect(alice.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(alice[3]!.body).toContain('rate limit exceeded for this subject: at most 3 requests per minute');
      expect(Number(alice[3]!.retryAfter)).toBeGreaterThan(0);
      // Another person is not throttled by the first one's limit.
      expect((await call(tokens.investigatorNord)).status).toBe(200);
      // The address has made 5 requests here, and at least one readiness probe before: at most 3 more pass,
      // then every request is refused, authenticated or not.
      const anonymous: number[] = [];
      for (let i = 0; i < 5; i++) anonymous.push((await call()).status);
      const passed = anonymous.indexOf(429);
      expect(passed).toBeGreaterThanOrEqual(0);
      expect(passed).toBeLessThanOrEqual(2);
      expect(anonymous.slice(0, passed).every((s) => s === 200)).toBe(true);
      expect(anonymous.slice(passed).every((s) => s === 429)).toBe(true);
      const refused = await call(tokens.investigatorSued);
      expect(refused.status).toBe(429);
      expect(refused.body).toContain(
        'rate limit exceeded for this client address: at most 8 requests per minute',
      );
    } finally {
      await limited.stop();
    }
  });
});

describe('starting the process', () => {
  const apiMain = () => builtEntryPoint('api/main.js');

  test('without CUSTODY_OIDC_ISSUER it refuses to start (exit 78), saying what to set', async () => {
    // The harness points every process at its dev provider; '' unsets it.
    const env = envFor({ CUSTODY_API_INSECURE_HTTP: 'true', CUSTODY_OIDC_ISSUER: '' });
    const result = await runNode(apiMain(), [], env, 30_000);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('CUSTODY_OIDC_ISSUER is not set');
  });

  test('without TLS and without the explicit dev switch it refuses plain HTTP (exit 78)', async () => {
    const result = await runNode(apiMain(), [], envFor({ CUSTODY_OIDC_ISSUER: issuer.issuer }), 30_000);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('The API serves HTTPS only: set CUSTODY_API_TLS_CERT_PATH');
  });

  test('an unknown custody role in the role mapping stops it (exit 78) naming file, line and field', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custody-roles-'));
    const file = path.join(dir, 'roles.yaml');
    writeFileSync(file, 'version: 1\nroles:\n  chef: superuser\n');
    const result = await runNode(
      apiMain(),
      [],
      envFor({
        CUSTODY_OIDC_ISSUER: issuer.issuer,
        CUSTODY_API_INSECURE_HTTP: 'true',
        CUSTODY_ROLES_FILE: file,
        CUSTODY_PSEUDONYM_KEY_FILE: path.join(dir, 'pseudonym.key'),
      }),
      30_000,
    );
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/roles\.yaml:3 roles\.chef: expected a custody role/);
  });

  test('with a certificate it serves HTTPS, and no plain HTTP on the same port', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custody-tls-'));
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    writeFileSync(path.join(dir, 'pseudonym.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    const port = await freeLoopbackPort();
    const child = startNode(
      apiMain(),
      envForConfig(stack.config, {
        ...apiTemporalEnv(),
        CUSTODY_OIDC_ISSUER: issuer.issuer,
        CUSTODY_API_PORT: String(port),
        CUSTODY_API_TLS_CERT_PATH: cert,
        CUSTODY_API_TLS_KEY_PATH: key,
        CUSTODY_PSEUDONYM_KEY_FILE: path.join(dir, 'pseudonym.key'),
      }),
    );
    try {
      const overTls = () =>
        new Promise<number>((resolve, reject) => {
          https
            .get(`https://127.0.0.1:${port}/healthz`, { ca: readFileSync(cert) }, (response) => {
              response.resume();
              resolve(response.statusCode ?? 0);
            })
            .on('error', reject);
        });
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        status = await overTls().catch(() => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
