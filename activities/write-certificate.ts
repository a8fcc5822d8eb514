/**
 * Seals a recording's deletion certificate (certificate.ts) and writes it to the audit store at
 * certificateKey(recordingId): WORM (Object Lock COMPLIANCE until the deletion time + the audit retention) and
 * `If-None-Match: *`, so there is exactly one certificate per recording. A retry that finds a certificate with
 * the same certificateHash (a crash after the write) succeeds; a different one fails with the non-retryable
 * `CertificateConflict`.
 *
 * It takes the facts rather than a finished certificate because sealing hashes with node:crypto, which
 * workflow code cannot use; building is deterministic, so a retry rebuilds the very same certificate.
 */
import {
  PutObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import {
  buildCertificate,
  verifyCertificate,
  CertificateInputError,
  type CertificateInput,
  type CertificateVerdict,
  type DeletionCertificate,
} from './certificate';
import { certificateKey } from './storage/keys';
import { firstAndLater, versionsOfKeys } from './storage/versions';
import { isNotFound, isPreconditionFailed } from './storage/errors';
import { addDuration } from '../domain/duration';
import type { MetricsPort } from '../domain/metrics';

export interface WriteCertificateDeps {
  s3: S3Client;
  auditBucket: string;
  /** ISO 8601 duration the certificate stays locked after the deletion, e.g. P10Y. */
  auditRetention: string;
  metrics?: MetricsPort;
}

export interface WrittenCertificate {
  bucket: string;
  key: string;
  certificateHash: string;
  /** When the WORM lock on the certificate ends (ISO UTC). */
  retainUntil: string;
  /** True when a retry found its certificate already written. */
  alreadyWritten: boolean;
  certificate: DeletionCertificate;
}

export function makeWriteCertificate(deps: WriteCertificateDeps) {
  return async function writeCertificate(input: CertificateInput): Promise<WrittenCertificate> {
    let certificate: DeletionCertificate;
    try {
      certificate = buildCertificate(input);
    } catch (err) {
      if (err instanceof CertificateInputError)
        throw ApplicationFailure.nonRetryable(err.message, 'CertificateInvalid');
      throw err;
    }
    const key = certificateKey(certificate.recordingId);
    const retainUntil = addDuration(certificate.deletedAt, deps.auditRetention);
    const written = {
      bucket: deps.auditBucket,
      key,
      certificateHash: certificate.certificateHash,
      retainUntil,
    };
    try {
      await deps.s3.send(
        new PutObjectCommand({
          Bucket: deps.auditBucket,
          Key: key,
          // Indented for the people who read it; the hash is over canonical JSON, not these bytes.
          Body: `${JSON.stringify(certificate, null, 2)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: '*',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(retainUntil),
        }),
      );
      // Counted once, when the certificate is first written: the deletion is complete and documented.
      deps.metrics?.certificatesWritten.inc();
      deps.metrics?.deletions.inc({ cause: certificate.cause });
      deps.metrics?.deletionLag.observe(
        Math.max(0, Date.parse(certificate.deletedAt) - Date.parse(certificate.deadline)) / 1000,
      );
      return { ...written, alreadyWritten: false, certificate };
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
    }
    const stored = await readCertificate(deps.s3, deps.auditBucket, certificate.recordingId);
    if (stored?.verdict.ok && stored.verdict.certificateHash === certificate.certificateHash) {
      return { ...written, alreadyWritten: true, certificate };
    }
    const found = stored
      ? stored.verdict.ok
        ? `a certificate with hash ${stored.verdict.certificateHash}`
        : `a certificate that fails verification (${stored.verdict.problems.join('; ')})`
      : 'an object that vanished while it was read';
    throw ApplicationFailure.nonRetryable(
      `Recording ${certificate.recordingId} already has a deletion certificate at s3://${deps.auditBucket}/${key}, ` +
        `and it differs from this one (hash ${certificate.certificateHash}): found ${found}. There is one ` +
        `certificate per recording; compare the two and the custody log before doing anything else.`,
      'CertificateConflict',
    );
  };
}

export interface StoredCertificate {
  bucket: string;
  key: string;
  versionId?: string;
  /** The stored JSON as parsed (undefined when it is not JSON); trust it only when `verdict.ok`. */
  certificate: DeletionCertificate | undefined;
  verdict: CertificateVerdict;
  lock?: { mode: string; retainUntil: string };
}

function parseStored(text: string): {
  certificate: DeletionCertificate | undefined;
  verdict: CertificateVerdict;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return {
      certificate: undefined,
      verdict: { ok: false, problems: [`not JSON: ${(err as Error).message}`] },
    };
  }
  return { certificate: parsed as DeletionCertificate, verdict: verifyCertificate(parsed) };
}

/**
 * The stored certificate of a recording with its verification, or undefined when there is none. Read from the key's
 * FIRST version, the certificate as written: Object Lock protects versions, not keys, so a later PUT by anyone with
 * write access to the audit store would otherwise be read instead. Any later version or delete marker fails the
 * verdict, named by key and version.
 */
export async function readCertificate(
  s3: S3Client,
  auditBucket: string,
  recordingId: string,
): Promise<StoredCertificate | undefined> {
  const key = certificateKey(recordingId);
  const { first, later: shadows } = firstAndLater(await versionsOfKeys(s3, auditBucket, [key]));
  if (!first) return undefined;
  try {
    const object = await s3.send(
      new GetObjectCommand({ Bucket: auditBucket, Key: key, VersionId: first.versionId }),
    );
    const text = await object.Body!.transformToString();
    // GetObject does not always carry the lock headers (versitygw omits them); ask for the retention itself.
    const retention = await s3
      .send(new GetObjectRetentionCommand({ Bucket: auditBucket, Key: key, VersionId: first.versionId }))
      .then((result) => result.Retention)
      .catch(() => undefined);
    const stored = parseStored(text);
    const shadowProblems = shadows.map(
      (v) =>
        `s3://${auditBucket}/${key} (version ${first.versionId}) is shadowed by ` +
        `${v.kind === 'delete-marker' ? 'a delete marker' : `version ${v.versionId}`}${v.lastModified ? ` (${v.lastModified})` : ''}: ` +
        'someone wrote to the audit store over the WORM certificate — this is its first version',
    );
    const verdict: CertificateVerdict =
      shadowProblems.length === 0
        ? stored.verdict
        : { ok: false, problems: [...(stored.verdict.ok ? [] : stored.verdict.problems), ...shadowProblems] };
    return {
      bucket: auditBucket,
      key,
      versionId: first.versionId,
      certificate: stored.certificate,
      verdict,
      ...(retention?.Mode &&
        retention.RetainUntilDate && {
          lock: { mode: retention.Mode, retainUntil: new Date(retention.RetainUntilDate).toISOString() },
        }),
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
