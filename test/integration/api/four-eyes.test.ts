/**
 * People acting through the custody API, against the built API process, real Temporal, versitygw and workers,
 * and a real token issuer: one person's actions, four-eyes requests decided by a second person, and the attacks on
 * them — each refused with a clear reason and changing nothing (the custody log is compared before and after).
 * This file's workers run outside dev mode (CUSTODY_DEV_MODE=false): the demo pack may not be applied.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactVerify, createLocalJWKSet, decodeJwt, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { createTestStack, type TestStack } from '../../harness/stack';
import { syntheticClip } from '../../fixtures/media';
import { startApiProcess, type ApiProcess } from '../../harness/api-process';
import { startTestIssuer, type TestIssuer } from '../../harness/test-issuer';
import { readCustodyLog } from '../../../activities/custody-log/read';
import type { CustodyEntry } from '../../../activities/custody-log/chain';
import { loadRulePacks } from '../../../activities/policy/load';
import { workflowIdFor } from '../../../domain/ids';
import { ASSERTION_TYPE } from '../../../domain/assertion';
import * as messages from '../../../workflows/messages';

const run = randomBytes(3).toString('hex');
const NORD = `nord-${run}`;
const SUED = `sued-${run}`;
const OFFICER = `officer-${run}`;

let stack: TestStack;
let issuer: TestIssuer;
let api: ApiProcess;

const people = {
  viewer: { sub: `viewer-${run}`, roles: ['viewer'] },
  investigator: { sub: `investigator-${run}`, roles: ['investigator'] },
  investigatorSued: { sub: `investigator-sued-${run}`, roles: ['investigator'], units: [SUED] },
  recordsAdmin: { sub: `records-${run}`, roles: ['records-admin'] },
  /** Both roles: may ask and may decide — but never their own request. */
  adminApprover: { sub: `admin-approver-${run}`, roles: ['records-admin', 'approver'] },
  approver: { sub: `approver-${run}`, roles: ['approver'] },
  operator: { sub: `operator-${run}`, roles: ['operator'] },
  /** The officer who made the recordings, as records administrator and as approver. */
  officerAdmin: { sub: `officer-admin-${run}`, roles: ['records-admin'], officer: OFFICER },
  officerApprover: { sub: `officer-approver-${run}`, roles: ['approver'], officer: OFFICER },
} as const;
type Who = keyof typeof people;
const tokens = {} as Record<Who, string>;

const ids = { held: '', early: '', policy: '', sued: '' };

beforeAll(async () => {
  stack = await createTestStack('api-four-eyes', { overrides: { CUSTODY_DEV_MODE: 'false' } });
  issuer = await startTestIssuer();
  const clip = readFileSync(
    await syntheticClip({ durationS: 1, width: 160, height: 120, fps: 10, audio: false }),
  );
  const ingest = async (name: string, unit: string) => {
    const source = await stack.putInbox(`${run}/${name}.mp4`, Buffer.concat([clip, Buffer.from(name)]));
    const started = await stack.start(source, {
      transcode: false,
      declared: { deviceId: `cam-${name}`, unit, officerId: OFFICER },
    });
    return started.recordingId;
  };
  [ids.held, ids.early, ids.policy, ids.sued] = await Promise.all([
    ingest('held', NORD),
    ingest('early', NORD),
    ingest('policy', NORD),
    ingest('sued', SUED),
  ]);
  await Promise.all(Object.values(ids).map((id) => stack.waitForState(id, 'retained')));
  for (const [who, p] of Object.entries(people) as [Who, (typeof people)[Who]][]) {
    const claims: JWTPayload = {
      sub: p.sub,
      custody_roles: [...p.roles],
      custody_units: 'units' in p ? [...p.units] : [NORD],
      ...('officer' in p && { custody_officer_id: p.officer }),
    };
    tokens[who] = await issuer.mint(claims, { expiresIn: 3600 });
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
  body: Record<string, unknown> & { message?: string };
}

async function call(method: string, route: string, who: Who | null, body?: unknown): Promise<Answer> {
  const response = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      ...(who && { authorization: `Bearer ${tokens[who]}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const post = (route: string, who: Who | null, body: unknown = {}) => call('POST', route, who, body);

async function log(recordingId: string): Promise<CustodyEntry[]> {
  return (await readCustodyLog(stack.clients.s3, stack.config.buckets.audit, recordingId)).sort(
    (a, b) => a.seq - b.seq,
  );
}

/** Runs `attack`, expects its answer, and that the recording's custody log did not change. */
async function refusedWithoutTrace(
  recordingId: string,
  attack: () => Promise<Answer>,
  status: number,
  message: RegExp,
) {
  const before = (await log(recordingId)).length;
  const answer = await attack();
  expect(answer.status).toBe(status);
  expect(answer.body.message).toMatch(message);
  expect((await log(recordingId)).length).toBe(before);
}

async function requestId(recordingId: string, who: Who, creation: object): Promise<string> {
  const created = await post(`/v1/recordings/${recordingId}/requests`, who, creation);
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe('one person acting', () => {
  test('an investigator places a hold: the log names them, with the API-signed assertion a third party can verify', async () => {
    const answer = await post(`/v1/recordings/${ids.held}/holds`, 'investigator', {
      caseId: 'AZ-1',
      reason: 'complaint filed',
    });
    expect(answer).toEqual({ status: 201, body: { holdId: 'hold-1', activeHolds: 1 } });
    const entry = (await log(ids.held)).find((e) => e.action === 'hold.placed')!;
    expect(entry.actor).toBe(people.investigator.sub);
    const details = entry.details as { assertion: string; signedBy: { issuer: string; roles: string[] } };
    expect(details.signedBy).toEqual({ issuer: issuer.issuer, roles: ['investigator'] });
    // Anyone with the API's public key (the JWKS the workers trust) can check who authorised the step.
    const jwks = JSON.parse(readFileSync(process.env.CUSTODY_ASSERTION_PUBLIC_KEYS_FILE!, 'utf8')) as {
      keys: object[];
    };
    const verified = await compactVerify(details.assertion, createLocalJWKSet(jwks as never));
    expect(verified.protectedHeader).toMatchObject({ alg: 'EdDSA', typ: ASSERTION_TYPE });
    expect(decodeJwt(details.assertion)).toMatchObject({
      sub: people.investigator.sub,
      idp: issuer.issuer,
      act: 'hold.place',
      rec: ids.held,
      prm: { caseId: 'AZ-1', reason: 'complaint filed' },
    });
  });

  test('role escalation: a viewer placing a hold gets 403 naming the permission', async () => {
    await refusedWithoutTrace(
      ids.early,
      () => post(`/v1/recordings/${ids.early}/holds`, 'viewer', { caseId: 'AZ-2', reason: 'x' }),
      403,
      /permission hold\.place/,
    );
  });

  test("another unit's recording: acting on it answers 404, as for an unknown id", async () => {
    await refusedWithoutTrace(
      ids.early,
      () => post(`/v1/recordings/${ids.early}/holds`, 'investigatorSued', { caseId: 'AZ-3', reason: 'x' }),
      404,
      /no recording .* among the recordings of your units/,
    );
  });

  test('a hold release is no single-person action: the old Update is refused by the workflow', async () => {
    const handle = stack.clients.client.workflow.getHandle(workflowIdFor(ids.held));
    const before = (await log(ids.held)).length;
    const refusal = await handle
      .executeUpdate(messages.releaseUpdate, { args: [{ by: 'mallory', approvedBy: 'mallory2' }] })
      .catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(/four-eyes request/);
    expect((await log(ids.held)).length).toBe(before);
  });
});

describe('four-eyes requests', () => {
  test('a hold release: asked by the investigator, approved by an approver; both people in the log', async () => {
    const id = await requestId(ids.held, 'investigator', {
      kind: 'hold.release',
      reason: 'complaint withdrawn',
      params: {},
    });
    // The approvers' list reads visibility, which follows the workflow within moments.
    let listed: string[] = [];
    for (let tries = 0; tries < 50 && !listed.includes(id); tries++) {
      const answer = await call('GET', '/v1/requests', 'approver');
      expect(answer.status).toBe(200);
      listed = (answer.body.requests as { id: string }[]).map((r) => r.id);
      if (!listed.includes(id)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toContain(id);

    const decided = await post(`/v1/recordings/${ids.held}/requests/${id}/decision`, 'approver', {
      decision: 'approve',
      reason: 'withdrawal confirmed by the prosecutor',
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({
      request: { id, state: 'approved', decidedBy: { subject: people.approver.sub } },
      outcome: { released: ['hold-1'] },
    });
    const entries = await log(ids.held);
    expect(entries.slice(-3).map((e) => `${e.actor}:${e.action}`)).toEqual([
      `${people.investigator.sub}:request.created`,
      `${people.approver.sub}:request.approved`,
      `${people.investigator.sub}:hold.released`,
    ]);
    expect(entries.at(-1)!.details).toMatchObject({ approvedBy: people.approver.sub, requestId: id });
  });

  test('self-approval: a person with both roles cannot decide their own request', async () => {
    const id = await requestId(ids.early, 'adminApprover', {
      kind: 'deletion.early',
      reason: 'recorded by mistake',
      params: {},
    });
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'adminApprover', {
          decision: 'approve',
          reason: 'mine',
        }),
      409,
      /four-eyes: .* asked for request .* may not decide it/,
    );
    // Only its requester may withdraw it.
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests/${id}/cancel`, 'recordsAdmin', { reason: 'not yours' }),
      409,
      /only its requester may cancel/,
    );
    const cancelled = await post(`/v1/recordings/${ids.early}/requests/${id}/cancel`, 'adminApprover', {
      reason: 'asked the wrong way',
    });
    expect(cancelled.body).toMatchObject({ id, state: 'cancelled' });
  });

  test('role escalation: an investigator cannot decide; a viewer cannot ask for an early deletion', async () => {
    const id = await requestId(ids.early, 'recordsAdmin', {
      kind: 'deletion.early',
      reason: 'irrelevant recording',
      params: {},
    });
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'investigator', {
          decision: 'approve',
          reason: 'x',
        }),
      403,
      /permission request\.decide/,
    );
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests`, 'viewer', {
          kind: 'deletion.early',
          reason: 'x',
          params: {},
        }),
      403,
      /permission deletion\.request-early/,
    );
    const rejected = await post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'approver', {
      decision: 'reject',
      reason: 'the recording documents a complaint',
    });
    expect(rejected.body).toMatchObject({ request: { id, state: 'rejected' } });
    // An already decided request cannot be decided again.
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'approver', {
          decision: 'approve',
          reason: 'x',
        }),
      409,
      /is rejected: only a pending request can be decided/,
    );
  });

  test('the recording officer may neither ask for nor approve the early deletion of their recording', async () => {
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests`, 'officerAdmin', {
          kind: 'deletion.early',
          reason: 'my own recording',
          params: {},
        }),
      409,
      /is the recording officer .* may not ask for its early deletion/,
    );
    const id = await requestId(ids.early, 'recordsAdmin', {
      kind: 'deletion.early',
      reason: 'recorded by mistake',
      params: {},
    });
    await refusedWithoutTrace(
      ids.early,
      () =>
        post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'officerApprover', {
          decision: 'approve',
          reason: 'fine by me',
        }),
      409,
      /is the recording officer .* may not approve its early deletion/,
    );
    // A second approver who is not the officer approves: the recording is deleted, and the certificate names both.
    const decided = await post(`/v1/recordings/${ids.early}/requests/${id}/decision`, 'approver', {
      decision: 'approve',
      reason: 'checked with the station',
    });
    expect(decided.status).toBe(200);
    const deleted = await stack.waitForState(ids.early, 'deleted', 120_000);
    const certificate = await call('GET', `/v1/recordings/${ids.early}/certificate`, 'recordsAdmin');
    expect(deleted.state).toBe('deleted');
    expect(certificate.body).toMatchObject({
      certificate: {
        requestedBy: people.recordsAdmin.sub,
        approvals: [{ actor: people.approver.sub }],
      },
    });
  });

  test('replaying an approval: the signed assertion from the log, sent again to Temporal, is refused', async () => {
    const approvedEntry = (await log(ids.held)).find((e) => e.action === 'request.approved')!;
    const assertion = (approvedEntry.details as { assertion: string }).assertion;
    const handle = stack.clients.client.workflow.getHandle(workflowIdFor(ids.held));
    const before = (await log(ids.held)).length;
    const refusal = await handle
      .executeUpdate(messages.decideRequestUpdate, { args: [{ assertion }] })
      .catch((err: unknown) => err);
    expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(/was used already/);
    expect((await log(ids.held)).length).toBe(before);
  });

  test('a forged assertion (signed by a key the workers do not trust) is refused by the workflow', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      idp: issuer.issuer,
      roles: ['investigator'],
      units: ['*'],
      act: 'hold.place',
      prm: { caseId: 'AZ-X', reason: 'forged' },
      rec: ids.policy,
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: ASSERTION_TYPE, kid: 'mallory' })
      .setIssuer('custody-api')
      .setAudience('custody-workflows')
      .setSubject('mallory')
      .setJti(`forged-${run}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const handle = stack.clients.client.workflow.getHandle(workflowIdFor(ids.policy));
    const before = (await log(ids.policy)).length;
    const refusal = await handle
      .executeUpdate(messages.holdUpdate, { args: [{ assertion: forged }] })
      .catch((err: unknown) => err);
    expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(
      /signed by key mallory, which this worker does not trust/,
    );
    expect((await log(ids.policy)).length).toBe(before);
  });
});

describe('policy changes', () => {
  const packs = () => loadRulePacks(stack.config.policy.dir);

  test('an unknown pack (404) and a fingerprint other than the one here (409) are refused before anyone decides', async () => {
    await refusedWithoutTrace(
      ids.policy,
      () =>
        post(`/v1/recordings/${ids.policy}/requests`, 'recordsAdmin', {
          kind: 'policy.apply',
          reason: 'x',
          params: { packId: 'no-such-pack', fingerprint: 'a'.repeat(64) },
        }),
      404,
      /no-such-pack/,
    );
    await refusedWithoutTrace(
      ids.policy,
      () =>
        post(`/v1/recordings/${ids.policy}/requests`, 'recordsAdmin', {
          kind: 'policy.apply',
          reason: 'x',
          params: { packId: 'nrw-polg-15c', fingerprint: 'b'.repeat(64) },
        }),
      409,
      /fingerprint .* look at it again/,
    );
  });

  test('the demo pack outside dev mode: approved, then refused by the worker — the request ends failed', async () => {
    const demo = (await packs()).getPack('demo');
    const id = await requestId(ids.policy, 'recordsAdmin', {
      kind: 'policy.apply',
      reason: 'try the demo',
      params: { packId: 'demo', fingerprint: demo.fingerprint },
    });
    const decided = await post(`/v1/recordings/${ids.policy}/requests/${id}/decision`, 'approver', {
      decision: 'approve',
      reason: 'ok',
    });
    expect(decided.status).toBe(409);
    expect(decided.body.message).toMatch(/demo pack .* not in dev mode/);
    const requests = await call('GET', `/v1/recordings/${ids.policy}/requests`, 'recordsAdmin');
    expect(requests.body.requests).toEqual([expect.objectContaining({ id, state: 'failed' })]);
    expect((await log(ids.policy)).at(-1)!.action).toBe('request.failed');
  });

  test('a statute pack by id and fingerprint, approved: the worker applies its own copy', async () => {
    const nrw = (await packs()).getPack('nrw-polg-15c');
    const listed = await call('GET', '/v1/policies', 'recordsAdmin');
    expect(listed.body.packs).toContainEqual(
      expect.objectContaining({ id: 'nrw-polg-15c', fingerprint: nrw.fingerprint }),
    );
    const id = await requestId(ids.policy, 'recordsAdmin', {
      kind: 'policy.apply',
      reason: 'the station moved to NRW rules',
      params: { packId: 'nrw-polg-15c', fingerprint: nrw.fingerprint },
    });
    const decided = await post(`/v1/recordings/${ids.policy}/requests/${id}/decision`, 'approver', {
      decision: 'approve',
      reason: 'confirmed',
    });
    expect(decided.body).toMatchObject({ request: { state: 'approved' }, outcome: { change: 'shortened' } });
    const applied = (await log(ids.policy)).at(-1)!;
    expect(applied).toMatchObject({
      actor: people.recordsAdmin.sub,
      action: 'policy.applied',
      details: {
        pack: { id: 'nrw-polg-15c', fingerprint: nrw.fingerprint },
        approvedBy: people.approver.sub,
        requestId: id,
      },
    });
  });
});

describe('input', () => {
  test('CSRF: a form or text/plain POST (what a foreign page can send) is 415; cookies authenticate nobody', async () => {
    for (const contentType of [
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
    ]) {
      const response = await fetch(`${api.url}/v1/recordings/${ids.policy}/holds`, {
        method: 'POST',
        headers: { 'content-type': contentType, cookie: `session=${tokens.investigator}` },
        body: 'caseId=AZ-9&reason=csrf',
      });
      expect(response.status).toBe(415);
    }
    const withCookie = await fetch(`${api.url}/v1/recordings/${ids.policy}/holds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `session=${tokens.investigator}` },
      body: JSON.stringify({ caseId: 'AZ-9', reason: 'csrf' }),
    });
    expect(withCookie.status).toBe(401);
  });

  test('oversized, malformed and unknown-field bodies are 413/400 before anything acts', async () => {
    const route = `/v1/recordings/${ids.policy}/holds`;
    const send = (body: string) =>
      fetch(`${api.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.investigator}` },
        body,
      }).then((r) => r.status);
    const before = (await log(ids.policy)).length;
    expect(await send(JSON.stringify({ caseId: 'AZ', reason: 'x'.repeat(70_000) }))).toBe(413);
    expect(await send('{"caseId": "AZ", "reason": ')).toBe(400);
    expect(await send(JSON.stringify({ caseId: 'AZ', reason: 'r', by: 'someone-else' }))).toBe(400);
    expect(await send(JSON.stringify({ caseId: ' ', reason: 'r' }))).toBe(400);
    expect((await log(ids.policy)).length).toBe(before);
  });
});
