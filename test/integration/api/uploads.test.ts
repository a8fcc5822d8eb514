/**
 * Uploads through the custody API (issue 15 item 7), against the built API process, real Temporal, versitygw
 * and workers, and a real token issuer: the bytes go to presigned part URLs (cli/upload.ts, as `custody ingest`
 * sends them), the API completes the upload and starts the lifecycle. The same bytes twice are one recording —
 * asked again, retried after a lost answer, or uploaded twice at once — and bytes that are not what their
 * uploader declared neither pass nor shadow the honest upload of those bytes. The refusals change nothing.
 * The workers run outside dev mode: an uploader may not name a rule pack.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import {
  CompleteMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { createTestStack, type TestStack } from '../../harness/stack';
import { syntheticClip } from '../../fixtures/media';
import { startApiProcess, type ApiProcess } from '../../harness/api-process';
import { startTestIssuer, type TestIssuer } from '../../harness/test-issuer';
import { readCustodyLog } from '../../../activities/custody-log/read';
import { uploadParts, type PartUrl } from '../../../cli/upload';
import { makeSweepInbox } from '../../../activities/sweep-inbox';
import { standaloneContext } from '../../../activities/context';
import { contentRecordingIdFor } from '../../../activities/start-lifecycle';
import { lifecycleTaskQueues } from '../../../workers/config';

const run = randomBytes(3).toString('hex');
const NORD = `nord-${run}`;
const SUED = `sued-${run}`;

let stack: TestStack;
let issuer: TestIssuer;
let api: ApiProcess;
let scratch: string;
let clip: Buffer;

const people = {
  dock: { sub: `dock-nord-${run}`, roles: ['dock'], units: [NORD] },
  otherDock: { sub: `dock-nord-2-${run}`, roles: ['dock'], units: [NORD] },
  viewer: { sub: `viewer-${run}`, roles: ['viewer'], units: [NORD] },
  /** Two units: must say which one a recording belongs to. */
  operator: { sub: `operator-${run}`, roles: ['operator'], units: [NORD, SUED] },
  auditor: { sub: `auditor-${run}`, roles: ['auditor'], units: ['*'] },
} as const;
type Who = keyof typeof people;
const tokens = {} as Record<Who, string>;

beforeAll(async () => {
  stack = await createTestStack('api-uploads', { overrides: { CUSTODY_DEV_MODE: 'false' } });
  issuer = await startTestIssuer();
  scratch = mkdtempSync(path.join(tmpdir(), 'custody-uploads-'));
  clip = readFileSync(await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false }));
  for (const [who, p] of Object.entries(people) as [Who, (typeof people)[Who]][]) {
    tokens[who] = await issuer.mint(
      { sub: p.sub, custody_roles: [...p.roles], custody_units: [...p.units] },
      { expiresIn: 3600 },
    );
  }
  api = await startApiProcess(stack.config, issuer.issuer, { CUSTODY_DEV_MODE: 'false' });
}, 240_000);

afterAll(async () => {
  await api?.stop();
  await issuer?.close();
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: Record<string, unknown> & { message?: string };
  retryAfter: string | null;
}

async function post(route: string, who: Who, body: unknown): Promise<Answer> {
  const response = await fetch(`${api.url}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Answer['body'],
    retryAfter: response.headers.get('retry-after'),
  };
}

/** A playable file of its own: the clip, then `tailBytes` bytes of `tag`'s own. */
function recordingFile(tag: string, tailBytes = 1024): { file: string; sha256: string; bytes: number } {
  const tail = Buffer.alloc(tailBytes, 0);
  Buffer.from(`${run}-${tag}`).copy(tail);
  randomBytes(Math.min(tailBytes, 64)).copy(tail, tailBytes - Math.min(tailBytes, 64));
  const body = Buffer.concat([clip, tail]);
  const file = path.join(scratch, `${tag}.mp4`);
  writeFileSync(file, body);
  return { file, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length };
}

const begin = (who: Who, f: { file: string; sha256: string; bytes: number }, extra: object = {}) =>
  post('/v1/uploads', who, { fileName: path.basename(f.file), bytes: f.bytes, sha256: f.sha256, ...extra });

/** Sends the parts of `file` as `custody ingest` does, on the URLs the API gives `who`. */
async function sendParts(who: Who, file: string, began: Answer): Promise<void> {
  const { upload, partSize, partCount } = began.body as {
    upload: string;
    partSize: number;
    partCount: number;
  };
  await uploadParts(file, { partSize, partCount }, async (partNumbers) => {
    const answer = await post('/v1/uploads/parts', who, { upload, partNumbers });
    expect(answer.status).toBe(200);
    return answer.body.parts as PartUrl[];
  });
}

const complete = (who: Who, began: Answer) =>
  post('/v1/uploads/complete', who, { upload: began.body.upload as string });

/** Completes, asking again while the API says the same bytes are still being verified. */
async function completePatiently(who: Who, began: Answer): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await complete(who, began);
    if (answer.status !== 409 || answer.retryAfter === null || attempt > 60) return answer;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const keyOf = (began: Answer) => decodeJwt(began.body.upload as string).key as string;

async function incomingHas(key: string): Promise<boolean> {
  try {
    await stack.clients.s3.send(new HeadObjectCommand({ Bucket: stack.config.buckets.incoming, Key: key }));
    return true;
  } catch {
    return false;
  }
}

let first: { file: string; sha256: string; bytes: number; recordingId: string };

test('a dock uploads a 20 MiB recording in parts: filed under its unit, the dock the actor, the upload taken out of the incoming store', async () => {
  const f = recordingFile('first', 20 * 1024 * 1024);
  const began = await begin('dock', f, { declared: { deviceId: `cam-${run}` } });
  expect(began.status).toBe(201);
  expect(began.body).toMatchObject({ outcome: 'upload', partSize: 8 * 1024 * 1024, partCount: 3 });
  await sendParts('dock', f.file, began);
  const done = await complete('dock', began);
  expect(done.status).toBe(201);
  expect(done.body).toMatchObject({ outcome: 'recorded' });
  const recordingId = done.body.recordingId as string;
  first = { ...f, recordingId };

  const status = await stack.waitForState(recordingId, 'retained');
  expect(status.sha256).toBe(f.sha256);
  expect(status.bytes).toBe(f.bytes);
  expect(status.unit).toBe(NORD);
  const received = (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).find(
    (e) => e.seq === 0,
  )!;
  expect(received.actor).toBe(people.dock.sub);
  expect(received.details).toMatchObject({ via: 'api' });
  expect(await incomingHas(keyOf(began))).toBe(false);
});

test('the same bytes again are the same recording: answered before a byte is sent, and in the access log', async () => {
  const again = await begin('otherDock', first);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({
    outcome: 'duplicate',
    recordingId: first.recordingId,
    state: 'retained',
  });
  expect(again.body.message).toContain(`already recording ${first.recordingId}`);

  const exported = await fetch(`${api.url}/v1/recordings/${first.recordingId}/access-log`, {
    headers: { authorization: `Bearer ${tokens.auditor}`, accept: 'application/json' },
  });
  expect(exported.status).toBe(200);
  const records = ((await exported.json()) as { records: { action: string; who: { subject: string } }[] })
    .records;
  expect(records.filter((r) => r.action === 'upload.duplicate').map((r) => r.who.subject)).toEqual([
    people.otherDock.sub,
  ]);
});

test('a completion asked again after a lost answer names the same recording, and starts nothing new', async () => {
  const f = recordingFile('retried');
  const began = await begin('dock', f);
  await sendParts('dock', f.file, began);
  const done = await complete('dock', began);
  expect(done.status).toBe(201);
  const again = await complete('dock', began);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ outcome: 'recorded', recordingId: done.body.recordingId });
  await stack.waitForState(done.body.recordingId as string, 'retained');
  const afterwards = await complete('dock', began); // the upload is gone from the store by now
  expect(afterwards.body).toMatchObject({ outcome: 'recorded', recordingId: done.body.recordingId });
});

test('the same bytes uploaded twice at once: one recording; the second upload is verified and dropped', async () => {
  const f = recordingFile('twice');
  const [a, b] = await Promise.all([begin('dock', f), begin('otherDock', f)]);
  expect([a.status, b.status]).toEqual([201, 201]);
  await Promise.all([sendParts('dock', f.file, a), sendParts('otherDock', f.file, b)]);
  const firstDone = await complete('dock', a);
  expect(firstDone.status).toBe(201);
  const secondDone = await completePatiently('otherDock', b);
  expect(secondDone.status).toBe(200);
  expect(secondDone.body).toMatchObject({ outcome: 'duplicate', recordingId: firstDone.body.recordingId });
  expect(await incomingHas(keyOf(b))).toBe(false);
  const listed = await stack.clients.s3.send(
    new ListObjectsV2Command({ Bucket: stack.config.buckets.incoming, Prefix: keyOf(b) }),
  );
  expect(listed.KeyCount ?? 0).toBe(0);
});

test('bytes that are not what their uploader declared are quarantined, and do not shadow the honest upload of those bytes', async () => {
  const honest = recordingFile('honest');
  const forged = recordingFile('forged'); // as long as `honest`, other bytes
  expect(forged.bytes).toBe(honest.bytes);
  const lie = await begin('dock', { ...forged, sha256: honest.sha256 });
  await sendParts('dock', forged.file, lie);
  const lied = await complete('dock', lie);
  expect(lied.status).toBe(201);
  const quarantined = await stack.waitForState(lied.body.recordingId as string, 'quarantined');
  expect(quarantined.sha256).toBe(forged.sha256);
  expect(quarantined.quarantine?.reason).toBe('hash-mismatch');

  const began = await begin('otherDock', honest);
  expect(began.status).toBe(201); // not "duplicate": the quarantined recording holds other bytes
  await sendParts('otherDock', honest.file, began);
  const done = await complete('otherDock', began);
  expect(done.status).toBe(201);
  expect(done.body.recordingId).not.toBe(lied.body.recordingId);
  const kept = await stack.waitForState(done.body.recordingId as string, 'retained');
  expect(kept.sha256).toBe(honest.sha256);
});

describe('the inbox sweep: no upload stays without a lifecycle', () => {
  const sweep = (input: { uploadOrphanSeconds?: number; uploadAbandonedSeconds?: number }) =>
    makeSweepInbox({
      s3: stack.clients.s3,
      temporal: () => Promise.resolve(stack.clients.client),
      context: standaloneContext(),
    })({
      bucket: stack.config.buckets.incoming,
      manifestGraceSeconds: 3600,
      policy: stack.config.policy.defaultPack,
      taskQueues: lifecycleTaskQueues(stack.config),
      ...input,
    });

  test('an upload completed while the API stopped before starting it is started by the sweep; the retried completion finds it', async () => {
    const f = recordingFile('orphan');
    const began = await begin('dock', f);
    await sendParts('dock', f.file, began);
    // What the API did before it stopped: the store joined the parts; no lifecycle was started.
    const key = keyOf(began);
    const uploadId = decodeJwt(began.body.upload as string).uid as string;
    const bucket = stack.config.buckets.incoming;
    const parts = await stack.clients.s3.send(
      new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
    );
    await stack.clients.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.Parts!.map((p) => ({ PartNumber: p.PartNumber!, ETag: p.ETag! })) },
      }),
    );
    const recordingId = contentRecordingIdFor({ sha256: f.sha256, size: f.bytes });
    expect((await sweep({ uploadOrphanSeconds: 3600 })).started).not.toContain(recordingId); // too young
    expect((await sweep({ uploadOrphanSeconds: 0 })).started).toContain(recordingId);
    const status = await stack.waitForState(recordingId, 'retained');
    expect(status.sha256).toBe(f.sha256);
    const again = await complete('dock', began);
    expect(again).toMatchObject({ status: 200, body: { outcome: 'recorded', recordingId } });
  });

  test('a multipart upload abandoned past its ticket is aborted by the sweep', async () => {
    const began = await begin('dock', recordingFile('abandoned'));
    expect((await sweep({ uploadAbandonedSeconds: 3600 })).uploadsAborted).toBe(0);
    expect((await sweep({ uploadAbandonedSeconds: 0 })).uploadsAborted).toBeGreaterThanOrEqual(1);
    const late = await complete('dock', began);
    expect(late.status).toBe(409);
    expect(late.body.message).toContain('aborted or has expired');
  });
});

describe('refused, with a reason, changing nothing', () => {
  const f = () => recordingFile('refused');

  test('a viewer may not upload', async () => {
    const answer = await begin('viewer', f());
    expect(answer.status).toBe(403);
    expect(answer.body.message).toMatch(/needs the permission recording\.ingest/);
  });

  test('a dock may not file a recording under another unit; a person of two units must name one', async () => {
    const other = await begin('dock', f(), { declared: { unit: SUED } });
    expect(other.status).toBe(403);
    expect(other.body.message).toContain(`unit ${SUED} is not one of yours`);
    const unnamed = await begin('operator', f());
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.message).toContain('name the unit the recording belongs to');
  });

  test('outside dev mode an uploader names no rule pack', async () => {
    const answer = await begin('dock', f(), { policy: 'demo' });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/deployment's rule pack .*dev mode/);
  });

  test('a file name with a directory or too long for object metadata, a size beyond the limit, a hash that is not one: 400', async () => {
    for (const body of [
      { fileName: '../etc/passwd', bytes: 10, sha256: 'ab'.repeat(32) },
      { fileName: 'a.mp4', bytes: 2 ** 50, sha256: 'ab'.repeat(32) },
      { fileName: 'a.mp4', bytes: 10, sha256: 'not-a-hash' },
    ]) {
      expect((await post('/v1/uploads', 'dock', body)).status).toBe(400);
    }
    // Within the schema, but more than a store keeps as object metadata: said before anything is stored.
    const long = await post('/v1/uploads', 'dock', {
      fileName: `${'📹'.repeat(250)}.mp4`,
      bytes: 10,
      sha256: 'ab'.repeat(32),
      declared: { deviceId: 'd'.repeat(128), officerId: 'o'.repeat(128), sha256: 'cd'.repeat(32) },
    });
    expect(long.status).toBe(400);
    expect(long.body.message).toMatch(
      /bytes of object metadata, more than the 2048 a store keeps: shorten the file name/,
    );
  });

  test("another's upload ticket, a forged one, a part beyond the plan, a completion with a part missing", async () => {
    const began = await begin('dock', f());
    expect(began.status).toBe(201);
    const upload = began.body.upload as string;
    const stolen = await post('/v1/uploads/parts', 'otherDock', { upload, partNumbers: [1] });
    expect(stolen.status).toBe(403);
    expect(stolen.body.message).toContain('begun by someone else');
    expect((await post('/v1/uploads/complete', 'otherDock', { upload })).status).toBe(403);

    const [header, payload, signature] = upload.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: people.otherDock.sub })).toString('base64url')}.${signature}`;
    const forgedAnswer = await post('/v1/uploads/parts', 'otherDock', { upload: forged, partNumbers: [1] });
    expect(forgedAnswer.status).toBe(400);
    expect(forgedAnswer.body.message).toContain('upload ticket is not valid');

    const beyond = await post('/v1/uploads/parts', 'dock', { upload, partNumbers: [2] });
    expect(beyond.status).toBe(400);
    expect(beyond.body.message).toContain('part 2 does not exist');

    const early = await post('/v1/uploads/complete', 'dock', { upload });
    expect(early.status).toBe(409);
    expect(early.body.message).toContain('part 1 of 1 has not arrived');
    expect(await incomingHas(keyOf(began))).toBe(false);

    const aborted = await post('/v1/uploads/abort', 'dock', { upload });
    expect(aborted).toMatchObject({ status: 200, body: { aborted: true } });
    const afterAbort = await post('/v1/uploads/complete', 'dock', { upload });
    expect(afterAbort.status).toBe(409);
    expect(afterAbort.body.message).toContain('aborted or has expired');
  });
});
