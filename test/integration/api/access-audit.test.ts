/**
 * The access audit and media through presigned URLs, against the built API process (dist/api/main.js), real
 * Temporal, versitygw and workers from the integration harness, and a real token issuer. Every read of a recording
 * leaves one WORM record under the recording's prefix and one under the reader's pseudonym in the audit store,
 * before the answer leaves; the exports list them; the store refuses to delete them; and when the store cannot take
 * a record, nothing is shown. docs/security.md lists the attacks with the names of their tests here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import type { JWTPayload } from 'jose';
import { createTestStack, type TestStack } from '../../harness/stack';
import { syntheticClip } from '../../fixtures/media';
import { startApiProcess, type ApiProcess } from '../../harness/api-process';
import { startTestIssuer, type TestIssuer } from '../../harness/test-issuer';
import { createPseudonymiser } from '../../../api/pseudonym';
import { personAccessPrefix, recordingAccessPrefix, type AccessRecord } from '../../../api/access-audit';
import { addDuration } from '../../../domain/duration';
import { isRefusedByObjectLock } from '../../../activities/storage/errors';
import { freeLoopbackPort } from '../../../workers/ports';
import type { RecordingStatus } from '../../../domain/types';

const run = randomBytes(3).toString('hex');
const NORD = `nord-${run}`;
const SUED = `sued-${run}`;

let stack: TestStack;
let issuer: TestIssuer;
let api: ApiProcess;
const ids = { nord: '', sued: '' };
let nordStatus: RecordingStatus;

const people = {
  investigatorNord: { sub: `investigator-nord-${run}`, roles: ['investigator'], units: [NORD] },
  investigatorSued: { sub: `investigator-sued-${run}`, roles: ['investigator'], units: [SUED] },
  viewerNord: { sub: `viewer-nord-${run}`, roles: ['viewer'], units: [NORD] },
  auditorNord: { sub: `auditor-nord-${run}`, roles: ['auditor'], units: [NORD] },
  auditorSued: { sub: `auditor-sued-${run}`, roles: ['auditor'], units: [SUED] },
  auditorAll: { sub: `auditor-${run}`, roles: ['auditor'], units: ['*'] },
  tamperTarget: { sub: `tamper-target-${run}`, roles: ['viewer'], units: [NORD] },
} as const;
type Who = keyof typeof people;
const tokens = {} as Record<Who, string>;

beforeAll(async () => {
  stack = await createTestStack('api-access-audit');
  issuer = await startTestIssuer();
  const clip = readFileSync(
    await syntheticClip({ durationS: 2, width: 160, height: 120, fps: 10, audio: false }),
  );
  const ingest = async (name: string, unit: string, transcode: boolean) => {
    const source = await stack.putInbox(`${run}/${name}.mp4`, Buffer.concat([clip, Buffer.from(name)]));
    return (await stack.start(source, { transcode, declared: { deviceId: `cam-${name}`, unit } }))
      .recordingId;
  };
  [ids.nord, ids.sued] = await Promise.all([ingest('nord', NORD, true), ingest('sued', SUED, false)]);
  await stack.waitForState(ids.sued, 'retained');
  const deadline = Date.now() + 120_000;
  for (;;) {
    nordStatus = await stack.waitForState(ids.nord, 'retained');
    if (nordStatus.reviewReady) break;
    if (Date.now() > deadline) throw new Error(`recording ${ids.nord} was not transcoded within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const [who, person] of Object.entries(people) as [Who, (typeof people)[Who]][]) {
    tokens[who] = await issuer.mint({
      sub: person.sub,
      custody_roles: [...person.roles],
      custody_units: [...person.units],
    } satisfies JWTPayload);
  }
  api = await startApiProcess(stack.config, issuer.issuer);
}, 240_000);

afterAll(async () => {
  await api?.stop();
  await issuer?.close();
  await stack?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

async function get(route: string, who: Who, requestId?: string, base = api.url): Promise<Answer> {
  const response = await fetch(`${base}${route}`, {
    headers: { authorization: `Bearer ${tokens[who]}`, ...(requestId && { 'x-request-id': requestId }) },
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json');
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: json ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

const audit = () => stack.config.buckets.audit;
const pseudonymOf = (who: Who) =>
  createPseudonymiser(api.pseudonymKey).subject(issuer.issuer, people[who].sub);
let requests = 0;
const requestId = (name: string) => `${name}-${run}-${++requests}`;

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await stack.clients.s3.send(
    new ListObjectsV2Command({ Bucket: audit(), Prefix: prefix, MaxKeys: 1000 }),
  );
  return (listed.Contents ?? []).map((object) => object.Key!);
}

async function storedRecord(key: string): Promise<AccessRecord> {
  const object = await stack.clients.s3.send(new GetObjectCommand({ Bucket: audit(), Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as AccessRecord;
}

/** The records of one request under a prefix, as stored. */
async function recordsOf(prefix: string, id: string): Promise<{ key: string; record: AccessRecord }[]> {
  const found = [];
  for (const key of await keysUnder(prefix)) {
    const record = await storedRecord(key);
    if (record.requestId === id) found.push({ key, record });
  }
  return found;
}

describe('media through presigned URLs', () => {
  test('a presigned URL fetches exactly the stored bytes: their SHA-256 is the one in the status', async () => {
    const proxy = nordStatus.derivatives!.derivatives.find((d) => d.kind === 'proxy')!;
    for (const [object, expected, contentType] of [
      ['proxy', proxy.sha256, 'video/mp4'],
      ['original', nordStatus.original!.sha256, 'application/octet-stream'],
    ] as const) {
      const before = Date.now();
      const answer = await get(`/v1/recordings/${ids.nord}/media/${object}`, 'investigatorNord');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ sha256: expected, contentType });
      const expiresAt = Date.parse(answer.body.expiresAt as string);
      expect(expiresAt).toBeGreaterThanOrEqual(before - 1000 + 300_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);
      const url = new URL(answer.body.url as string);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
      // The URL carries a signature, never the store's secret key.
      expect(answer.text).not.toContain(stack.config.s3.secretAccessKey);
      const media = await fetch(url);
      expect(media.status).toBe(200);
      const bytes = Buffer.from(await media.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(expected);
    }
    expect(nordStatus.original!.sha256).toBe(nordStatus.sha256);
  });

  test('an expired URL is refused by the store', async () => {
    const shortLived = await startApiProcess(stack.config, issuer.issuer, {
      // Below 10 s only in dev mode, which the harness runs in.
      CUSTODY_API_MEDIA_URL_SECONDS: '1',
      CUSTODY_DEV_MODE: 'true',
    });
    try {
      const answer = await get(
        `/v1/recordings/${ids.nord}/media/poster`,
        'investigatorNord',
        undefined,
        shortLived.url,
      );
      expect(answer.status).toBe(200);
      const expiresAt = Date.parse(answer.body.expiresAt as string);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 1500));
      const late = await fetch(answer.body.url as string);
      expect(late.status).toBe(403);
      expect(await late.text()).toMatch(/expired/i);
    } finally {
      await shortLived.stop();
    }
  });

  test('a viewer (no media.view) gets 403, and no URL', async () => {
    const id = requestId('viewer-media');
    const answer = await get(`/v1/recordings/${ids.nord}/media/proxy`, 'viewerNord', id);
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(
      'this needs the permission media.view (roles: investigator); your roles: viewer',
    );
    expect(answer.text).not.toContain('X-Amz-Signature');
    // The attempt is on record, as refused.
    const [refused] = await recordsOf(recordingAccessPrefix(ids.nord), id);
    expect(refused?.record).toMatchObject({ outcome: 'forbidden', status: 403, object: { kind: 'proxy' } });
  });

  test("another unit's media: 404 as for an unknown id, and no URL", async () => {
    const id = requestId('other-unit-media');
    const other = await get(`/v1/recordings/${ids.nord}/media/original`, 'investigatorSued', id);
    const unknown = await get(`/v1/recordings/${'0'.repeat(20)}/media/original`, 'investigatorSued');
    expect(other.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(other.body.message).toBe(`no recording ${ids.nord} among the recordings of your units`);
    expect(other.text).not.toContain('X-Amz-Signature');
    const [refused] = await recordsOf(recordingAccessPrefix(ids.nord), id);
    expect(refused?.record).toMatchObject({ outcome: 'not-found', recordingUnit: NORD });
  });

  test('an object the recording does not have: 404 naming why', async () => {
    const answer = await get(`/v1/recordings/${ids.sued}/media/proxy`, 'investigatorSued');
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe(
      `recording ${ids.sued} has no proxy: it is not (yet) transcoded for review`,
    );
    expect((await get(`/v1/recordings/${ids.sued}/media/audio`, 'investigatorSued')).status).toBe(400);
  });
});

describe('the access records', () => {
  test('each read leaves exactly one record per prefix: who, what, when, from where, locked', async () => {
    const id = requestId('media-read');
    const before = new Date().toISOString();
    expect((await get(`/v1/recordings/${ids.nord}/media/sprite`, 'investigatorNord', id)).status).toBe(200);
    const after = new Date().toISOString();
    const byRecording = await recordsOf(recordingAccessPrefix(ids.nord), id);
    const byPerson = await recordsOf(personAccessPrefix(pseudonymOf('investigatorNord')), id);
    expect(byRecording).toHaveLength(1);
    expect(byPerson).toHaveLength(1);
    expect(byPerson[0]!.record).toEqual(byRecording[0]!.record);
    const record = byRecording[0]!.record;
    const sprite = nordStatus.derivatives!.derivatives.find((d) => d.kind === 'sprite')!;
    expect(record).toMatchObject({
      version: 1,
      action: 'media.url',
      route: '/v1/recordings/:id/media/:object',
      recordingId: ids.nord,
      recordingUnit: NORD,
      object: { kind: 'sprite', key: sprite.key, versionId: sprite.versionId, sha256: sprite.sha256 },
      who: {
        issuer: issuer.issuer,
        subject: people.investigatorNord.sub,
        pseudonym: pseudonymOf('investigatorNord'),
        roles: ['investigator'],
        units: [NORD],
      },
      client: { address: '127.0.0.1' },
      outcome: 'granted',
      status: 200,
    });
    expect(record.time >= before && record.time <= after).toBe(true);
    // The person's key holds their pseudonym, never their subject.
    expect(byPerson[0]!.key).not.toContain(people.investigatorNord.sub);
    // COMPLIANCE until the audit retention past the recording's deadline in force (later than the read).
    const retention = await stack.clients.s3.send(
      new GetObjectRetentionCommand({ Bucket: audit(), Key: byRecording[0]!.key }),
    );
    const expectedUntil = addDuration(nordStatus.retention!.deleteAfter, stack.config.auditRetention);
    expect(record.retainUntil).toBe(expectedUntil);
    expect(retention.Retention?.Mode).toBe('COMPLIANCE');
    // The store keeps the date to the second.
    const lockedUntil = new Date(retention.Retention!.RetainUntilDate!).getTime();
    expect(Math.abs(lockedUntil - Date.parse(expectedUntil))).toBeLessThan(1000);
  });

  test('status and custody-log reads are recorded; a list read is one record of the person, with its filter', async () => {
    const statusId = requestId('status-read');
    const logId = requestId('log-read');
    const listId = requestId('list-read');
    expect((await get(`/v1/recordings/${ids.nord}`, 'investigatorNord', statusId)).status).toBe(200);
    expect((await get(`/v1/recordings/${ids.nord}/custody-log`, 'investigatorNord', logId)).status).toBe(200);
    expect((await get('/v1/recordings?state=retained&limit=5', 'investigatorNord', listId)).status).toBe(200);
    const byRecording = await keysUnder(recordingAccessPrefix(ids.nord));
    const person = personAccessPrefix(pseudonymOf('investigatorNord'));
    expect((await recordsOf(recordingAccessPrefix(ids.nord), statusId))[0]?.record.action).toBe(
      'recording.status',
    );
    expect((await recordsOf(recordingAccessPrefix(ids.nord), logId))[0]?.record.action).toBe(
      'custody-log.read',
    );
    const list = await recordsOf(person, listId);
    expect(list).toHaveLength(1);
    expect(list[0]!.record).toMatchObject({
      action: 'recording.list',
      filter: { state: 'retained', limit: 5 },
    });
    expect(list[0]!.record.recordingId).toBeUndefined();
    // No per-recording record for the list read.
    const afterList = await keysUnder(recordingAccessPrefix(ids.nord));
    expect(afterList).toEqual(byRecording);
  });

  test('a record cannot be deleted (Object Lock); a version or delete marker laid over it is reported', async () => {
    const id = requestId('tampered');
    expect((await get(`/v1/recordings/${ids.nord}`, 'tamperTarget', id)).status).toBe(200);
    const found = await recordsOf(personAccessPrefix(pseudonymOf('tamperTarget')), id);
    expect(found).toHaveLength(1);
    const { key, record } = found[0]!;
    const head = await stack.clients.s3.send(new GetObjectCommand({ Bucket: audit(), Key: key }));
    const refused = await stack.clients.s3
      .send(new DeleteObjectCommand({ Bucket: audit(), Key: key, VersionId: head.VersionId! }))
      .then(() => undefined)
      .catch((err: unknown) => err);
    expect(isRefusedByObjectLock(refused)).toBe(true);
    // With the store's write access, one can lay a forged version over the record, and a delete marker.
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: audit(),
        Key: key,
        Body: JSON.stringify({ ...record, who: { ...record.who, subject: 'somebody-else' } }),
      }),
    );
    await stack.clients.s3.send(new DeleteObjectCommand({ Bucket: audit(), Key: key }));
    const exported = await get(
      `/v1/access-log?subject=${encodeURIComponent(people.tamperTarget.sub)}`,
      'auditorAll',
    );
    expect(exported.status).toBe(200);
    const rows = exported.body.records as (AccessRecord & {
      stored: { versionId: string };
      problems: string[];
    })[];
    const row = rows.find((r) => r.requestId === id)!;
    // Read from its first version: the subject as written, and both shadows named.
    expect(row.who.subject).toBe(people.tamperTarget.sub);
    expect(row.stored.versionId).toBe(head.VersionId);
    expect(row.problems).toHaveLength(2);
    expect(
      row.problems.some((p) => /is shadowed by version \S+ .*someone wrote over a WORM record/.test(p)),
    ).toBe(true);
    expect(row.problems.some((p) => /is shadowed by a delete marker/.test(p))).toBe(true);
  });
});

describe('the exports', () => {
  test('per recording: JSON and CSV list every record, oldest first; the export is audited itself', async () => {
    const id = requestId('export-json');
    const json = await get(`/v1/recordings/${ids.nord}/access-log?format=json`, 'auditorNord', id);
    expect(json.status).toBe(200);
    const records = json.body.records as (AccessRecord & { problems: string[] })[];
    expect(records.length).toBeGreaterThanOrEqual(5);
    expect(records.every((r) => r.recordingId === ids.nord && r.problems.length === 0)).toBe(true);
    const times = records.map((r) => r.time);
    expect(times).toEqual([...times].sort());
    expect(new Set(records.map((r) => r.action))).toEqual(
      new Set(['media.url', 'recording.status', 'custody-log.read']),
    );

    const csv = await get(`/v1/recordings/${ids.nord}/access-log?format=csv`, 'auditorNord');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="access-log-${ids.nord}.csv"`);
    const rows = parse<Record<string, string>>(csv.text, { columns: true });
    // One more than the JSON export showed: the JSON export's own record.
    expect(rows).toHaveLength(records.length + 1);
    expect(rows.at(-1)).toMatchObject({
      requestId: id,
      action: 'access-log.export',
      subject: people.auditorNord.sub,
      count: String(records.length),
    });
    expect(rows.slice(0, -1).map((r) => r.recordId)).toEqual(records.map((r) => r.recordId));
  });

  test('per person: every record of that person within the auditor’s units, in a time window', async () => {
    const subject = encodeURIComponent(people.investigatorNord.sub);
    // investigatorNord also tried a recording of another unit: only an auditor of that unit (or all) sees it.
    const probeId = requestId('probe-sued');
    expect((await get(`/v1/recordings/${ids.sued}`, 'investigatorNord', probeId)).status).toBe(404);
    const nordView = await get(`/v1/access-log?subject=${subject}`, 'auditorNord');
    const allView = await get(`/v1/access-log?subject=${subject}&format=json`, 'auditorAll');
    expect(nordView.status).toBe(200);
    const nordRecords = nordView.body.records as AccessRecord[];
    const allRecords = allView.body.records as AccessRecord[];
    expect(nordRecords.every((r) => r.who.subject === people.investigatorNord.sub)).toBe(true);
    expect(nordRecords.some((r) => r.requestId === probeId)).toBe(false);
    expect(allRecords.find((r) => r.requestId === probeId)).toMatchObject({
      outcome: 'not-found',
      recordingId: ids.sued,
      recordingUnit: SUED,
    });
    expect(allRecords.length).toBeGreaterThan(nordRecords.length);
    const times = allRecords.map((r) => r.time);
    expect(times).toEqual([...times].sort());

    const middle = allRecords[Math.floor(allRecords.length / 2)]!.time;
    const window = await get(
      `/v1/access-log?subject=${subject}&from=${encodeURIComponent(middle)}`,
      'auditorAll',
    );
    const windowed = window.body.records as AccessRecord[];
    expect(windowed.length).toBeGreaterThan(0);
    expect(windowed.length).toBeLessThan(allRecords.length);
    expect(windowed.every((r) => r.time >= middle)).toBe(true);
    const nothing = await get(`/v1/access-log?subject=${subject}&to=2000-01-01`, 'auditorAll');
    expect(nothing.body.records).toEqual([]);

    const csv = await get(`/v1/access-log?subject=${subject}&format=csv`, 'auditorAll');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(parse<Record<string, string>>(csv.text, { columns: true }).length).toBe(allRecords.length);

    // The exports are recorded under the auditor's own prefix, naming whose log they read.
    const ownExports = (
      await get(`/v1/access-log?subject=${encodeURIComponent(people.auditorAll.sub)}`, 'auditorAll')
    ).body.records as AccessRecord[];
    expect(ownExports.filter((r) => r.action === 'access-log.export').at(-1)?.filter).toMatchObject({
      subject: people.investigatorNord.sub,
      format: 'csv',
      subjectPseudonym: pseudonymOf('investigatorNord'),
    });
  });

  test("who may export: an auditor; not a viewer (403), not another unit's auditor (404)", async () => {
    expect((await get(`/v1/recordings/${ids.nord}/access-log`, 'viewerNord')).status).toBe(403);
    expect((await get(`/v1/recordings/${ids.nord}/access-log`, 'investigatorNord')).status).toBe(403);
    expect((await get(`/v1/recordings/${ids.nord}/access-log`, 'auditorSued')).status).toBe(404);
    expect((await get(`/v1/access-log?subject=x`, 'viewerNord')).status).toBe(403);
    expect((await get('/v1/access-log', 'auditorAll')).status).toBe(400);
    expect((await get(`/v1/access-log?subject=x&from=yesterday`, 'auditorAll')).status).toBe(400);
    expect((await get(`/v1/access-log?subject=x&format=xml`, 'auditorAll')).status).toBe(400);
  });
});

describe('the audit store unreachable', () => {
  test('503 naming the audit store, and nothing shown: no status, no URL', async () => {
    const closedPort = await freeLoopbackPort();
    const blind = await startApiProcess(stack.config, issuer.issuer, {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closedPort}`,
    });
    try {
      for (const route of [`/v1/recordings/${ids.nord}/media/proxy`, `/v1/recordings/${ids.nord}`]) {
        const answer = await get(route, 'investigatorNord', undefined, blind.url);
        expect({ route, status: answer.status }).toEqual({ route, status: 503 });
        expect(answer.body.message).toMatch(
          new RegExp(`^the audit store \\(s3://${audit()}/access-log/\\) cannot take the access record`),
        );
        expect(answer.text).not.toContain('X-Amz-Signature');
        expect(answer.text).not.toContain(nordStatus.sha256!);
      }
    } finally {
      await blind.stop();
    }
  });
});
