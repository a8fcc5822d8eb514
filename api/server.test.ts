/**
 * The API in-process (fastify's inject, no socket) with a real token verifier against a real test issuer on
 * the loopback interface, and in-memory reads: route schemas, OpenAPI, claims mapping, permissions, unit
 * scoping. The attacks against the built process on real servers are in test/integration/api/.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createOidcVerifier } from './auth/oidc';
import { createPseudonymiser } from './pseudonym';
import type { RecordingReads } from './reads';
import { buildApiServer, type AccessLogLine } from './server';
import { startTestIssuer, type TestIssuer } from '../test/harness/test-issuer';
import type { RecordingFilter } from '../activities/visibility/list-recordings';
import type { RecordingStatus } from '../domain/types';
import { ROLE_PERMISSIONS } from '../domain/roles';
import { S3Client } from '@aws-sdk/client-s3';
import type { AccessAudit } from './access-audit';

const NORD_ID = 'aaaaaaaaaaaaaaaaaaaa';
const SUED_ID = 'bbbbbbbbbbbbbbbbbbbb';

function status(recordingId: string, unit: string): RecordingStatus {
  return {
    recordingId,
    state: 'retained',
    originalName: 'clip.mp4',
    ingestedAt: '2026-01-01T00:00:00.000Z',
    policy: 'bw-polg-44',
    reviewReady: true,
    unit,
    custodyLogHead: { seq: 5, hash: 'f'.repeat(64) },
  };
}

let issuer: TestIssuer;
let app: FastifyInstance;
const listed: RecordingFilter[] = [];
const accessLines: AccessLogLine[] = [];

const reads: RecordingReads = {
  status: (id) =>
    Promise.resolve(
      id === NORD_ID ? status(NORD_ID, 'nord') : id === SUED_ID ? status(SUED_ID, 'sued') : undefined,
    ),
  list: (filter) => {
    listed.push(filter);
    return Promise.resolve({ rows: [] });
  },
  custodyLog: () => Promise.resolve([]),
  certificate: () => Promise.resolve(undefined),
  close: () => Promise.resolve(),
};

/** An access audit that takes every record and keeps none: the real one is tested in test/integration/api/. */
const accessAudit: AccessAudit = {
  where: 'memory',
  retention: 'P10Y',
  write: () => Promise.resolve(),
  ofRecording: () => Promise.resolve([]),
  ofPerson: () => Promise.resolve([]),
};

beforeAll(async () => {
  issuer = await startTestIssuer();
  app = await buildApiServer({
    verifier: createOidcVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 30,
      jwksCooldownSeconds: 30,
    }),
    claims: { roles: 'realm_access.roles', units: 'custody_units', officer: 'custody_officer_id' },
    roleMapping: { 'polizei-ermittlung': ['investigator'], 'kdo-lesen': ['viewer'] },
    pseudonyms: createPseudonymiser(Buffer.alloc(32, 7)),
    reads,
    rateLimit: { perSubject: 1000, perIp: 1000 },
    logLevel: 'silent',
    accessAudit: {
      audit: accessAudit,
      media: {
        s3: new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1' }),
        lifetimeSeconds: 300,
      },
    },
    accessLog: new Writable({
      write(chunk: Buffer, _encoding, done) {
        accessLines.push(JSON.parse(chunk.toString()) as AccessLogLine);
        done();
      },
    }),
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await issuer.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('every route is in the OpenAPI document, with its parameters and answers', async () => {
  const response = await app.inject({ url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  const document = response.json<{
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  }>();
  expect(document.openapi).toBe('3.1.0');
  expect(Object.keys(document.paths).sort()).toEqual([
    '/healthz',
    '/openapi.json',
    '/v1/access-log',
    '/v1/me',
    '/v1/recordings',
    '/v1/recordings/{id}',
    '/v1/recordings/{id}/access-log',
    '/v1/recordings/{id}/certificate',
    '/v1/recordings/{id}/custody-log',
    '/v1/recordings/{id}/media/{object}',
  ]);
  expect(Object.keys(document.paths['/v1/recordings/{id}/custody-log']!.get!.responses).sort()).toEqual(
    ['200', '400', '401', '403', '404', '429', '500', '503'].sort(),
  );
  expect(document.paths['/healthz']!.get!.security).toEqual([]);
});

test('a route without a JSON schema is refused when it is added', () => {
  const unschemed = buildApiServer({
    verifier: { verify: () => Promise.reject(new Error('unused')) },
    claims: { roles: 'r', units: 'u', officer: 'o' },
    roleMapping: {},
    pseudonyms: createPseudonymiser(Buffer.alloc(32, 1)),
    reads,
    rateLimit: { perSubject: 1, perIp: 1 },
    logLevel: 'silent',
  }).then((server) => {
    try {
      server.post('/v1/recordings/:id/holds', () => ({}));
    } finally {
      void server.close();
    }
  });
  return expect(unschemed).rejects.toThrow(
    'route POST /v1/recordings/:id/holds has no JSON schema for response, querystring, params, body',
  );
});

test('roles come from a nested claim through the mapping; unknown role names are ignored', async () => {
  const token = await issuer.mint({
    sub: 'kc-4711',
    realm_access: { roles: ['polizei-ermittlung', 'offline_access'] },
    custody_units: ['nord'],
    custody_officer_id: 'PK-0815',
  });
  const response = await app.inject({ url: '/v1/me', headers: bearer(token) });
  expect(response.statusCode).toBe(200);
  expect(response.json()).toEqual({
    subject: 'kc-4711',
    issuer: issuer.issuer,
    roles: ['investigator'],
    permissions: [
      'recording.read',
      'custody-log.read',
      'certificate.read',
      'media.view',
      'hold.place',
      'hold.request-release',
      'evidence.mark',
    ],
    units: ['nord'],
    officerId: 'PK-0815',
  });
});

test.each([
  [{ realm_access: { roles: 'kdo-lesen,polizei-ermittlung' } }, true],
  [{ realm_access: { roles: [1, 2] } }, false],
  [{ custody_units: [{ unit: 'nord' }] }, false],
  [{ custody_units: ['../sued'] }, false],
  [{ custody_officer_id: 17 }, false],
])('claims %j: accepted %s (a claim of the wrong shape refuses the token)', async (claims, accepted) => {
  const token = await issuer.mint({ sub: 'kc-1', ...claims });
  const response = await app.inject({ url: '/v1/me', headers: bearer(token) });
  expect(response.statusCode).toBe(accepted ? 200 : 401);
  if (!accepted) expect(response.headers['www-authenticate']).toMatch(/error="invalid_token".*claim/);
});

test('a missing permission is a 403 naming it and the roles that grant it', async () => {
  const token = await issuer.mint({
    sub: 'kc-2',
    realm_access: { roles: ['kdo-lesen'] },
    custody_units: ['nord'],
  });
  const response = await app.inject({ url: `/v1/recordings/${NORD_ID}/custody-log`, headers: bearer(token) });
  expect(response.statusCode).toBe(403);
  expect(response.json<{ message: string }>().message).toBe(
    'this needs the permission custody-log.read (roles: investigator, auditor); your roles: viewer',
  );
  expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
});

test("another unit's recording is answered like an unknown one; the list asks for the caller's units only", async () => {
  const token = await issuer.mint({
    sub: 'kc-3',
    realm_access: { roles: ['kdo-lesen'] },
    custody_units: ['nord'],
  });
  const own = await app.inject({ url: `/v1/recordings/${NORD_ID}`, headers: bearer(token) });
  expect(own.statusCode).toBe(200);
  expect(own.json<RecordingStatus>().unit).toBe('nord');
  const other = await app.inject({ url: `/v1/recordings/${SUED_ID}`, headers: bearer(token) });
  const unknown = await app.inject({ url: `/v1/recordings/${'c'.repeat(20)}`, headers: bearer(token) });
  expect([other.statusCode, unknown.statusCode]).toEqual([404, 404]);
  expect(other.json<{ message: string }>().message).toBe(
    `no recording ${SUED_ID} among the recordings of your units`,
  );
  await app.inject({ url: '/v1/recordings?state=retained', headers: bearer(token) });
  expect(listed.at(-1)).toEqual({ state: 'retained', units: ['nord'] });
});

test('a caller of no unit lists nothing, without asking Temporal', async () => {
  const before = listed.length;
  const token = await issuer.mint({ sub: 'kc-5', realm_access: { roles: ['kdo-lesen'] } });
  const response = await app.inject({ url: '/v1/recordings', headers: bearer(token) });
  expect(response.json()).toEqual({ rows: [] });
  expect(listed.length).toBe(before);
});

test('the access log names the caller by pseudonym and the recording by id, nothing more', async () => {
  const token = await issuer.mint({
    sub: 'kc-6',
    realm_access: { roles: ['kdo-lesen'] },
    custody_units: ['nord'],
  });
  const response = await app.inject({
    url: `/v1/recordings/${NORD_ID}`,
    headers: { ...bearer(token), 'x-request-id': 'req-42' },
  });
  expect(response.headers['x-request-id']).toBe('req-42');
  const line = accessLines.find((l) => l.requestId === 'req-42')!;
  expect(line).toMatchObject({
    kind: 'access',
    requestId: 'req-42',
    who: createPseudonymiser(Buffer.alloc(32, 7)).subject(issuer.issuer, 'kc-6'),
    method: 'GET',
    route: '/v1/recordings/:id',
    recordingId: NORD_ID,
    status: 200,
  });
  expect(line.client).toMatch(/^a-[0-9a-f]{32}$/);
  expect(Object.keys(line).sort()).toEqual(
    ['kind', 'time', 'requestId', 'who', 'client', 'method', 'route', 'recordingId', 'status', 'ms'].sort(),
  );
  expect(JSON.stringify(line)).not.toContain('kc-6');
});

test('a request id that could forge log lines is replaced by a generated one', async () => {
  const response = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'x" injected="1' } });
  expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
});

describe('docs/api.md', () => {
  const page = readFileSync(path.join(__dirname, '..', 'docs', 'api.md'), 'utf8');
  const rows = page
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );

  it('shows the role → permission table of domain/roles.ts', () => {
    const documented = Object.fromEntries(
      rows
        .filter(([first]) => /^`[a-z-]+`$/.test(first ?? ''))
        .map(([role, permissions]) => [
          role!.slice(1, -1),
          [...(permissions ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]),
        ]),
    );
    expect(documented).toEqual(ROLE_PERMISSIONS);
  });

  it('lists every route of the OpenAPI document', async () => {
    const document = (await app.inject({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    const documented = rows
      .map(([first]) => /^`GET ([^`?]+)/.exec(first ?? '')?.[1])
      .filter((route): route is string => route !== undefined);
    expect(documented.sort()).toEqual(Object.keys(document.paths).sort());
  });
});

test('the client address comes from X-Forwarded-For only when the peer is a trusted proxy (the ingress)', async () => {
  const lines: AccessLogLine[] = [];
  const pseudonyms = createPseudonymiser(Buffer.alloc(32, 7));
  const behindIngress = await buildApiServer({
    verifier: createOidcVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['RS256'],
      clockSkewSeconds: 30,
      jwksCooldownSeconds: 30,
    }),
    claims: { roles: 'realm_access.roles', units: 'custody_units', officer: 'custody_officer_id' },
    roleMapping: {},
    pseudonyms,
    reads,
    rateLimit: { perSubject: 1000, perIp: 1000 },
    trustedProxies: ['10.0.0.0/8'],
    logLevel: 'silent',
    accessLog: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as AccessLogLine);
        done();
      },
    }),
  });
  try {
    const forwarded = { 'x-forwarded-for': '203.0.113.7' };
    await behindIngress.inject({ url: '/healthz', remoteAddress: '10.1.2.3', headers: forwarded });
    await behindIngress.inject({ url: '/healthz', remoteAddress: '198.51.100.9', headers: forwarded });
    expect(lines.map((line) => line.client)).toEqual([
      pseudonyms.address('203.0.113.7'), // from the ingress: the client it names
      pseudonyms.address('198.51.100.9'), // from anyone else: the header is not believed
    ]);
  } finally {
    await behindIngress.close();
  }
});
