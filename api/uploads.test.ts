/**
 * The pure half of uploads through the API: the part plan, and the ticket that carries an upload between calls —
 * bound to its uploader, signed by the API, refused when altered, expired, or of another kind.
 */
import { SignJWT } from 'jose';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateAssertionKeyPair, loadAssertionSigningKey } from '../workers/assertion-keys';
import { createAssertionSigner } from './assertions';
import {
  createUploadTickets,
  expectedPartBytes,
  MAX_PARTS,
  MIN_PART_BYTES,
  planUpload,
  UploadTicketError,
  UPLOAD_TICKET_SECONDS,
  type UploadTicket,
} from './uploads';

const MiB = 1024 * 1024;

describe('planUpload', () => {
  test.each([
    [1, MIN_PART_BYTES, 1],
    [MIN_PART_BYTES, MIN_PART_BYTES, 1],
    [MIN_PART_BYTES + 1, MIN_PART_BYTES, 2],
    [20 * MiB, MIN_PART_BYTES, 3],
    [8000 * MiB, MIN_PART_BYTES, 1000],
  ])('%d bytes: parts of %d bytes, %d of them', (bytes, partSize, partCount) => {
    expect(planUpload(bytes)).toEqual({ partSize, partCount });
  });

  test('beyond 1000 parts of 8 MiB the parts grow, in whole MiB, and never number more than MAX_PARTS', () => {
    for (const bytes of [8000 * MiB + 1, 64 * 1024 * MiB, 256 * 1024 * MiB - 7]) {
      const plan = planUpload(bytes);
      expect(plan.partSize % MiB).toBe(0);
      expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
      expect(plan.partSize * plan.partCount).toBeGreaterThanOrEqual(bytes);
      expect(plan.partSize * (plan.partCount - 1)).toBeLessThan(bytes);
    }
  });

  test('every part is the part size but the last, which holds the rest', () => {
    const bytes = 20 * MiB;
    const plan = planUpload(bytes);
    expect([1, 2, 3].map((n) => expectedPartBytes(plan, bytes, n))).toEqual([8 * MiB, 8 * MiB, 4 * MiB]);
  });
});

describe('upload tickets', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-upload-ticket-'));
  const keyIn = (name: string) => {
    generateAssertionKeyPair(path.join(dir, `${name}.jwk`), path.join(dir, `${name}.public.json`));
    return loadAssertionSigningKey(path.join(dir, `${name}.jwk`));
  };
  const key = keyIn('signing');
  const ticket: UploadTicket = {
    subject: 'dock-ka-west',
    issuer: 'https://idp.example.org',
    key: 'uploads/2026-12-05/0f6c',
    uploadId: 'upload-1',
    sha256: 'ab'.repeat(32),
    bytes: 20 * MiB,
    ...planUpload(20 * MiB),
  };

  test('round trip: what was issued is what is read back', async () => {
    const tickets = createUploadTickets(key);
    const { token, expiresAt } = await tickets.issue(ticket);
    expect(await tickets.verify(token)).toEqual(ticket);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan((UPLOAD_TICKET_SECONDS - 60) * 1000);
  });

  test('an altered ticket is refused', async () => {
    const tickets = createUploadTickets(key);
    const { token } = await tickets.issue(ticket);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, n: 1 })).toString('base64url');
    await expect(tickets.verify(`${header}.${altered}.${signature}`)).rejects.toThrow(UploadTicketError);
  });

  test('an expired ticket is refused, saying to begin again', async () => {
    const past = createUploadTickets(key, () => new Date(Date.now() - (UPLOAD_TICKET_SECONDS + 60) * 1000));
    const { token } = await past.issue(ticket);
    await expect(createUploadTickets(key).verify(token)).rejects.toThrow(/begin the upload again/);
  });

  test('a ticket of another key, or an action assertion of the same key, is not a ticket', async () => {
    const otherKey = keyIn('other');
    const { token } = await createUploadTickets(otherKey).issue(ticket);
    await expect(createUploadTickets(key).verify(token)).rejects.toThrow(UploadTicketError);

    const { assertion } = await createAssertionSigner(key).sign({
      identity: { subject: 'x', issuer: 'y', roles: ['operator'], units: ['*'] },
      action: 'recording.replay',
      recordingId: '0123456789abcdef0123',
      params: { reason: 'stuck' },
    });
    await expect(createUploadTickets(key).verify(assertion)).rejects.toThrow(UploadTicketError);

    const untyped = await new SignJWT({ key: 'k' })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setAudience('custody-api/uploads')
      .setIssuer('custody-api')
      .setSubject('x')
      .setExpirationTime('1h')
      .sign(key.key);
    await expect(createUploadTickets(key).verify(untyped)).rejects.toThrow(UploadTicketError);
  });
});
