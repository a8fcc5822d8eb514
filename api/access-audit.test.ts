import Fastify, { type FastifyInstance } from 'fastify';
import {
  AUDITED_ROUTES,
  AccessAuditUnavailableError,
  accessRecordKeys,
  accessRetainUntil,
  installAccessAudit,
  keyStamp,
  personAccessPrefix,
  recordingAccessPrefix,
  recordingFacts,
  windowListing,
  type AccessAudit,
  type AccessRecord,
} from './access-audit';
import { createPseudonymiser } from './pseudonym';
import type { RecordingReads } from './reads';
import type { RecordingStatus } from '../domain/types';

const pseudonyms = createPseudonymiser(Buffer.alloc(32, 7));
const RECORDING = '0123456789abcdef0123';

describe('key layout', () => {
  const record = {
    time: '2026-03-04T10:15:00.123Z',
    recordId: '5f0c2a1e-0000-4000-8000-000000000001',
    recordingId: RECORDING,
    who: { pseudonym: pseudonyms.subject('https://idp.example.org', 'alice@example.org') },
  };

  test('one key per prefix, ordered by time, the person only as a pseudonym', () => {
    const keys = accessRecordKeys(record);
    expect(keys).toEqual({
      recording: `access-log/by-recording/${RECORDING}/20260304T101500123Z-${record.recordId}.json`,
      person: `access-log/by-person/${record.who.pseudonym}/20260304T101500123Z-${record.recordId}.json`,
    });
    expect(JSON.stringify(keys)).not.toContain('alice');
    expect(record.who.pseudonym).toMatch(/^s-[0-9a-f]{32}$/);
  });

  test('a read of no single recording (a list, an export by person) has the person key only', () => {
    const { recordingId: _none, ...list } = record;
    const keys = accessRecordKeys(list);
    expect(Object.keys(keys)).toEqual(['person']);
    expect(keys.person).toMatch(/^access-log\/by-person\//);
  });

  test('stamps have a fixed width and sort as the instants do', () => {
    const instants = [
      '2026-03-04T10:15:00.123Z',
      '2026-03-04T09:59:59.999Z',
      '2025-12-31T23:59:59.000Z',
      '2026-11-01T00:00:00.000Z',
    ];
    const stamps = instants.map(keyStamp);
    expect(new Set(stamps.map((s) => s.length))).toEqual(new Set([19]));
    expect([...stamps].sort()).toEqual([...instants].sort().map(keyStamp));
    expect(keyStamp('2026-03-04T11:15:00.123+01:00')).toBe('20260304T101500123Z');
  });

  test('a time window lists the narrowest prefix and keeps the keys in [from, to)', () => {
    const prefix = personAccessPrefix('s-1');
    const key = (instant: string) => `${prefix}${keyStamp(instant)}-x.json`;
    const march = windowListing(prefix, { from: '2026-03-01T00:00:00Z', to: '2026-03-31T00:00:00Z' });
    expect(march.listPrefix).toBe(`${prefix}202603`);
    expect(march.inWindow(key('2026-03-01T00:00:00.000Z'))).toBe(true);
    expect(march.inWindow(key('2026-03-30T23:59:59.999Z'))).toBe(true);
    expect(march.inWindow(key('2026-03-31T00:00:00.000Z'))).toBe(false);
    expect(march.inWindow(key('2026-02-28T23:59:59.999Z'))).toBe(false);
    const open = windowListing(prefix, { from: '2026-03-01T00:00:00Z' });
    expect(open.listPrefix).toBe(prefix);
    expect(open.inWindow(key('2031-01-01T00:00:00.000Z'))).toBe(true);
    expect(windowListing(prefix, {}).inWindow(key('1999-01-01T00:00:00.000Z'))).toBe(true);
    expect(recordingAccessPrefix(RECORDING)).toBe(`access-log/by-recording/${RECORDING}/`);
  });
});

describe('retention', () => {
  test('the audit retention from the read, or from the end of the recording when that is later', () => {
    expect(accessRetainUntil('2026-03-04T10:00:00.000Z', 'P10Y')).toBe('2036-03-04T10:00:00.000Z');
    expect(accessRetainUntil('2026-03-04T10:00:00.000Z', 'P10Y', '2026-04-01T00:00:00.000Z')).toBe(
      '2036-04-01T00:00:00.000Z',
    );
    // A read after the recording's deadline (its certificate, say) counts from the read.
    expect(accessRetainUntil('2026-05-01T00:00:00.000Z', 'P10Y', '2026-04-01T00:00:00.000Z')).toBe(
      '2036-05-01T00:00:00.000Z',
    );
  });

  test("the recording's end is the later of its deadline in force and its evidence lock", () => {
    const status = {
      recordingId: RECORDING,
      unit: 'nord',
      retention: {
        deleteAfter: '2026-04-01T00:00:00.000Z',
        evidence: {
          caseId: 'c',
          by: 'x',
          at: '2026-03-02T00:00:00.000Z',
          lockedUntil: '2026-06-01T00:00:00.000Z',
        },
      },
    } as unknown as RecordingStatus;
    expect(recordingFacts(status)).toEqual({ unit: 'nord', keepUntil: '2026-06-01T00:00:00.000Z' });
    expect(recordingFacts({ recordingId: RECORDING } as RecordingStatus)).toEqual({});
  });
});

describe('the request hooks', () => {
  const identity = {
    subject: 'alice',
    issuer: 'https://idp.example.org',
    roles: ['investigator' as const],
    permissions: [],
    units: ['nord'],
  };
  const status = { recordingId: RECORDING, unit: 'nord', state: 'retained' } as unknown as RecordingStatus;
  let statusReads = 0;
  const reads: RecordingReads = {
    status: (id) => {
      statusReads += 1;
      return Promise.resolve(id === RECORDING ? status : undefined);
    },
    list: () => Promise.resolve({ rows: [] }),
    custodyLog: () => Promise.resolve([]),
    certificate: () => Promise.resolve(undefined),
    close: () => Promise.resolve(),
  };

  function memoryAudit(failing = false): AccessAudit & { written: AccessRecord[] } {
    const written: AccessRecord[] = [];
    return {
      where: 'the test store',
      retention: 'P10Y',
      written,
      write: (record) =>
        failing
          ? Promise.reject(new AccessAuditUnavailableError('the test store cannot take the access record'))
          : Promise.resolve(void written.push(record)),
      ofRecording: () => Promise.resolve([]),
      ofPerson: () => Promise.resolve([]),
    };
  }

  async function app(audit: AccessAudit): Promise<FastifyInstance> {
    const server = Fastify();
    server.addHook('preHandler', (request, _reply, done) => {
      request.identity = identity;
      done(
        request.headers['x-forbid'] ? Object.assign(new Error('forbidden'), { statusCode: 403 }) : undefined,
      );
    });
    server.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) =>
      reply
        .code(error instanceof AccessAuditUnavailableError ? 503 : (error.statusCode ?? 500))
        .send({ message: error.message }),
    );
    const auditor = installAccessAudit(server, { audit, pseudonyms, reads });
    server.get<{ Params: { id: string } }>('/v1/recordings/:id', async (request, reply) => {
      const found = await auditor.reads.status(request.params.id);
      if (!found) return reply.code(404).send({ message: 'no such recording' });
      return reply.header('content-disposition', 'attachment').send({ secret: 'the status' });
    });
    server.get('/v1/recordings', () => ({ rows: [] }));
    await server.ready();
    return server;
  }

  beforeEach(() => {
    statusReads = 0;
  });

  test('a granted read is recorded before it is answered: who, what, when, from where, request id', async () => {
    const audit = memoryAudit();
    const server = await app(audit);
    const answer = await server.inject({
      url: `/v1/recordings/${RECORDING}`,
      headers: { 'x-request-id': 'r1' },
    });
    expect(answer.statusCode).toBe(200);
    expect(audit.written).toHaveLength(1);
    expect(audit.written[0]).toMatchObject({
      version: 1,
      action: 'recording.status',
      route: '/v1/recordings/:id',
      recordingId: RECORDING,
      recordingUnit: 'nord',
      who: {
        subject: 'alice',
        issuer: 'https://idp.example.org',
        pseudonym: pseudonyms.subject('https://idp.example.org', 'alice'),
        roles: ['investigator'],
        units: ['nord'],
      },
      client: { address: '127.0.0.1' },
      outcome: 'granted',
      status: 200,
    });
    // The handler's status read served the record: one read, not two.
    expect(statusReads).toBe(1);
  });

  test('the record cannot be written: 503, and nothing of the answer leaves', async () => {
    const server = await app(memoryAudit(true));
    const answer = await server.inject({ url: `/v1/recordings/${RECORDING}` });
    expect(answer.statusCode).toBe(503);
    expect(answer.body).not.toContain('the status');
    expect(answer.body).toContain('the test store cannot take the access record');
    expect(answer.headers['content-disposition']).toBeUndefined();
  });

  test('refusals are recorded too, and a failed record does not change them', async () => {
    const audit = memoryAudit();
    const server = await app(audit);
    expect((await server.inject({ url: `/v1/recordings/${'f'.repeat(20)}` })).statusCode).toBe(404);
    expect(
      (await server.inject({ url: `/v1/recordings/${RECORDING}`, headers: { 'x-forbid': '1' } })).statusCode,
    ).toBe(403);
    expect(audit.written.map((r) => r.outcome)).toEqual(['not-found', 'forbidden']);
    const failing = await app(memoryAudit(true));
    expect((await failing.inject({ url: `/v1/recordings/${'f'.repeat(20)}` })).statusCode).toBe(404);
  });

  test('HEAD, which fastify answers for every GET, is audited as that GET', async () => {
    const audit = memoryAudit();
    const server = await app(audit);
    expect((await server.inject({ method: 'HEAD', url: `/v1/recordings/${RECORDING}` })).statusCode).toBe(
      200,
    );
    expect(audit.written).toEqual([
      expect.objectContaining({ method: 'HEAD', action: 'recording.status', outcome: 'granted' }),
    ]);
  });

  test('a list read is one record of the person, with the filter', async () => {
    const audit = memoryAudit();
    const server = await app(audit);
    await server.inject({ url: '/v1/recordings?state=retained&limit=5' });
    expect(audit.written).toHaveLength(1);
    expect(audit.written[0]).toMatchObject({
      action: 'recording.list',
      filter: { state: 'retained', limit: '5' },
    });
    expect(audit.written[0]!.recordingId).toBeUndefined();
  });

  test('a GET route under /v1/recordings that is not audited stops the server from being built', () => {
    const server = Fastify();
    installAccessAudit(server, { audit: memoryAudit(), pseudonyms, reads });
    expect(() => server.get('/v1/recordings/:id/secrets', () => ({}))).toThrow(
      /route GET \/v1\/recordings\/:id\/secrets reads recordings but is not audited: add it to AUDITED_ROUTES/,
    );
    expect(Object.keys(AUDITED_ROUTES)).toContain('GET /v1/recordings/:id/media/:object');
  });
});
