import { createHash } from 'node:crypto';
import {
  buildCertificate,
  verifyCertificate,
  CertificateInputError,
  CERTIFICATE_FORMAT,
  type CertificateInput,
} from './certificate';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function input(overrides: Partial<CertificateInput> = {}): CertificateInput {
  return {
    recordingId: 'rec-01',
    originalSha256: sha('original'),
    objects: [
      {
        bucket: 'custody-evidence',
        key: 'recordings/rec-01/original',
        versionId: 'v1',
        kind: 'version',
        bytes: 1234,
        etag: 'e1',
        sha256: sha('original'),
      },
      {
        bucket: 'custody-evidence',
        key: 'recordings/rec-01/original',
        versionId: 'm1',
        kind: 'delete-marker',
        bytes: 0,
      },
      {
        bucket: 'custody-derivatives',
        key: 'recordings/rec-01/proxy.mp4',
        versionId: 'v2',
        kind: 'version',
        bytes: 99,
        etag: 'e2',
      },
    ],
    rulePack: { id: 'bw-polg-44', version: 1, fingerprint: sha('pack'), citation: '§ 44 PolG BW' },
    deadline: '2026-12-18T08:15:00.000Z',
    deletedAt: '2026-12-18T08:15:07.250Z',
    cause: 'deadline',
    requestedBy: 'system',
    approvals: [],
    custodyLog: { headSeq: 7, headHash: sha('head') },
    ...overrides,
  };
}

describe('buildCertificate', () => {
  it('seals every field with the SHA-256 of its canonical JSON', () => {
    const certificate = buildCertificate(input());
    expect(certificate.format).toBe(CERTIFICATE_FORMAT);
    expect(certificate.certificateHash).toMatch(/^[0-9a-f]{64}$/);
    // Recomputed independently of the module: sorted keys, no whitespace, hash field left out.
    const { certificateHash, ...rest } = certificate;
    const sortKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(sortKeys)
        : typeof value === 'object' && value !== null
          ? Object.fromEntries(
              Object.keys(value)
                .sort()
                .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
            )
          : value;
    expect(certificateHash).toBe(sha(JSON.stringify(sortKeys(rest))));
  });

  it('is deterministic: the same facts give the same hash, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(input()).reverse()) as unknown as CertificateInput;
    expect(buildCertificate(reordered).certificateHash).toBe(buildCertificate(input()).certificateHash);
  });

  it('leaves out unknown fields and undefined optionals rather than hashing or refusing them', () => {
    const withExtra = { ...input(), stray: 'x', rulePack: { ...input().rulePack, citation: undefined } };
    const certificate = buildCertificate(withExtra);
    expect(certificate).not.toHaveProperty('stray');
    expect(certificate.rulePack).not.toHaveProperty('citation');
    expect(verifyCertificate(certificate).ok).toBe(true);
  });

  it.each([
    ['the cause', { cause: 'early' as const }],
    ['an object version', { objects: input().objects.slice(1) }],
    ['the rule pack version', { rulePack: { ...input().rulePack, version: 2 } }],
    ['the custody log head', { custodyLog: { headSeq: 8, headHash: sha('head') } }],
    ['the approvals', { approvals: [{ actor: 'p-2', at: '2026-12-18T08:00:00.000Z' }] }],
  ])('changes the hash when %s changes', (_what, change) => {
    expect(buildCertificate(input(change)).certificateHash).not.toBe(
      buildCertificate(input()).certificateHash,
    );
  });

  it('refuses bad input, naming every problem', () => {
    const bad = input({
      originalSha256: 'ABC',
      objects: [],
      deletedAt: '2026-12-18 08:15',
      rulePack: { id: '', version: 0, fingerprint: 'x' },
      custodyLog: { headSeq: -1, headHash: sha('head') },
      approvals: [{ actor: '', at: '2026-12-18T08:00:00Z' }],
    });
    let error: unknown;
    try {
      buildCertificate(bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CertificateInputError);
    const message = (error as Error).message;
    for (const field of [
      'originalSha256',
      'objects must list at least one',
      'deletedAt',
      'rulePack.id',
      'rulePack.version',
      'rulePack.fingerprint',
      'custodyLog.headSeq',
      'approvals[0].actor',
      'approvals[0].at', // not canonical: no milliseconds
    ]) {
      expect(message).toContain(field);
    }
  });

  it('refuses a deadline deletion dated before the deadline', () => {
    expect(() => buildCertificate(input({ deletedAt: '2026-12-17T00:00:00.000Z' }))).toThrow(/use early/);
    expect(() =>
      buildCertificate(input({ cause: 'early', deletedAt: '2026-12-17T00:00:00.000Z' })),
    ).not.toThrow();
  });

  it('refuses a malformed object entry and a sha256 that is not hex', () => {
    const objects = [{ ...input().objects[0]!, sha256: 'nothex', bytes: -1, kind: 'file' as 'version' }];
    expect(() => buildCertificate(input({ objects }))).toThrow(
      /objects\[0\]\.kind.*objects\[0\]\.bytes.*objects\[0\]\.sha256/,
    );
  });
});

describe('verifyCertificate', () => {
  it('accepts a certificate that went through JSON storage', () => {
    const stored: unknown = JSON.parse(JSON.stringify(buildCertificate(input()), null, 2));
    expect(verifyCertificate(stored)).toEqual({
      ok: true,
      certificateHash: buildCertificate(input()).certificateHash,
    });
  });

  it('detects a changed field', () => {
    const certificate = buildCertificate(input());
    const tampered = { ...certificate, objects: certificate.objects.slice(0, 2) };
    const verdict = verifyCertificate(tampered);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.problems.join()).toMatch(/certificateHash mismatch/);
  });

  it('detects a field slipped in after sealing', () => {
    const verdict = verifyCertificate({ ...buildCertificate(input()), note: 'added later' });
    expect(verdict.ok).toBe(false);
  });

  it('refuses an unknown format and things that are not certificates', () => {
    const certificate = buildCertificate(input());
    const other = { ...certificate, format: 'custody.deletion-certificate/v9' };
    expect(verifyCertificate(other)).toMatchObject({ ok: false });
    expect(!verifyCertificate(other).ok && JSON.stringify(verifyCertificate(other))).toMatch(
      /format must be/,
    );
    expect(verifyCertificate(null)).toMatchObject({ ok: false });
    expect(verifyCertificate([certificate])).toMatchObject({ ok: false });
    expect(verifyCertificate({ ...certificate, objects: [null] })).toMatchObject({ ok: false });
  });
});
