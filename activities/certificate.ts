/**
 * The deletion certificate: the record that outlives a recording. It says what was deleted (every object
 * version with its hash), when, under which rule, why, by whose decision, and where the custody log stood —
 * and it seals all of that with `certificateHash`, the SHA-256 of the canonical JSON (see custody-log/chain.ts)
 * of every other field. Anyone can recompute it with verifyCertificate; an auditor needs nothing but the file.
 *
 * Pure (no I/O), but it hashes with node:crypto, so it runs in activities (write-certificate.ts), not in
 * workflow code. Building is deterministic: the same input gives the same certificate and hash, which is what
 * lets a retried write recognise its own earlier certificate.
 *
 * The certificate records decisions; it does not make them. Four-eyes and the other rules for early deletion
 * are enforced by the workflow before anything is deleted — refusing to certify a deletion that already
 * happened would only lose the record of it.
 */
import { canonicalJson, sha256Hex } from './custody-log/chain';
import type { ListedVersion } from './storage/versions';

/** Names the hashing rule and field set; a verifier that does not know the format must not guess. */
export const CERTIFICATE_FORMAT = 'custody.deletion-certificate/v2';
/** v1 required originalSha256; v2 allows null (custody never hashed an original). Both verify. */
const KNOWN_FORMATS: readonly string[] = ['custody.deletion-certificate/v1', CERTIFICATE_FORMAT];

export const DELETION_CAUSES = ['deadline', 'early', 'policy'] as const;
/** deadline: the retention deadline passed; early: people decided before it; policy: a rule-pack change. */
export type DeletionCause = (typeof DELETION_CAUSES)[number];

/** One removed object version or delete marker, as delete-recording.ts reports it. */
export interface CertifiedObject extends Omit<ListedVersion, 'lastModified'> {
  /** The SHA-256 the version was tagged with when it was written, when it had one. */
  sha256?: string;
}

export interface CertifiedRulePack {
  id: string;
  version: number;
  /** The loaded pack's content fingerprint (activities/policy/load.ts). */
  fingerprint: string;
  /** The statute, e.g. § 44 PolG BW; demo packs have none. */
  citation?: string;
}

export interface CertifiedApproval {
  /** A person id, never a name. */
  actor: string;
  at: string;
  reason?: string;
}

export interface CertificateInput {
  recordingId: string;
  /**
   * The SHA-256 of the original as received; null when custody never hashed one (a file quarantined before it was
   * stored — an empty file, a malformed manifest — or an ingest its deadline stopped).
   */
  originalSha256: string | null;
  objects: CertifiedObject[];
  rulePack: CertifiedRulePack;
  /** The retention deadline in force when the recording was deleted (ISO UTC). */
  deadline: string;
  /** When the deletion was verified complete (deleteRecording's verifiedAbsentAt). */
  deletedAt: string;
  cause: DeletionCause;
  /** Who asked for the deletion: a person id, or `system` when the deadline timer did. */
  requestedBy: string;
  /** Who agreed, in the order they did; empty when no approval was needed. */
  approvals: CertifiedApproval[];
  /** The custody log's head when the certificate was made: detects a log truncated afterwards. */
  custodyLog: { headSeq: number; headHash: string };
}

export interface DeletionCertificate extends CertificateInput {
  format: string;
  /** SHA-256 hex of the canonical JSON of every other field. */
  certificateHash: string;
}

export class CertificateInputError extends Error {
  override name = 'CertificateInputError';
}

const HEX_64 = /^[0-9a-f]{64}$/;

function isCanonicalInstant(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const epochMs = Date.parse(text);
  return !Number.isNaN(epochMs) && new Date(epochMs).toISOString() === text;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** Every problem with the certificate's fields, each naming the field and what is expected. */
function shapeProblems(input: CertificateInput): string[] {
  const problems: string[] = [];
  const instant = (value: unknown, field: string) => {
    // One spelling per instant, so equal facts hash equally.
    if (!isCanonicalInstant(value))
      problems.push(`${field} must be a UTC instant as toISOString() writes it, got ${String(value)}`);
  };
  const hex64 = (value: unknown, field: string) => {
    if (typeof value !== 'string' || !HEX_64.test(value))
      problems.push(`${field} must be 64 lower-case hex digits, got ${String(value)}`);
  };
  if (!isNonEmptyString(input.recordingId)) problems.push('recordingId must be a non-empty string');
  if (input.originalSha256 !== null) hex64(input.originalSha256, 'originalSha256');
  if (!Array.isArray(input.objects) || input.objects.length === 0) {
    problems.push('objects must list at least one deleted object version (a certificate of nothing is void)');
  } else {
    input.objects.forEach((object, index) => {
      const at = `objects[${index}]`;
      if (typeof object !== 'object' || object === null) {
        problems.push(`${at} must be an object`);
        return;
      }
      for (const field of ['bucket', 'key', 'versionId'] as const) {
        if (!isNonEmptyString(object[field])) problems.push(`${at}.${field} must be a non-empty string`);
      }
      if (object.kind !== 'version' && object.kind !== 'delete-marker')
        problems.push(`${at}.kind must be version or delete-marker`);
      if (!Number.isSafeInteger(object.bytes) || object.bytes < 0)
        problems.push(`${at}.bytes must be an integer ≥ 0`);
      if (object.etag !== undefined && !isNonEmptyString(object.etag))
        problems.push(`${at}.etag must be a non-empty string or absent`);
      if (object.sha256 !== undefined) hex64(object.sha256, `${at}.sha256`);
    });
  }
  const pack = input.rulePack as Partial<CertifiedRulePack> | undefined;
  if (typeof pack !== 'object' || pack === null) {
    problems.push('rulePack must be an object with id, version, fingerprint and citation');
  } else {
    if (!isNonEmptyString(pack.id)) problems.push('rulePack.id must be a non-empty string');
    if (!Number.isSafeInteger(pack.version) || (pack.version ?? 0) < 1)
      problems.push('rulePack.version must be an integer ≥ 1');
    hex64(pack.fingerprint, 'rulePack.fingerprint');
    if (pack.citation !== undefined && !isNonEmptyString(pack.citation))
      problems.push('rulePack.citation must be a non-empty string or absent');
  }
  instant(input.deadline, 'deadline');
  instant(input.deletedAt, 'deletedAt');
  if (!DELETION_CAUSES.includes(input.cause)) {
    problems.push(`cause must be one of ${DELETION_CAUSES.join(', ')}, got ${String(input.cause)}`);
  } else if (
    input.cause === 'deadline' &&
    isCanonicalInstant(input.deadline) &&
    input.deletedAt < input.deadline
  ) {
    // Canonical ISO UTC strings compare in time order.
    problems.push(
      `cause is deadline but deletedAt ${input.deletedAt} lies before the deadline ${input.deadline}: use early`,
    );
  }
  if (!isNonEmptyString(input.requestedBy))
    problems.push('requestedBy must be a person id or system, not empty');
  if (!Array.isArray(input.approvals)) {
    problems.push('approvals must be a list (empty when none was needed)');
  } else {
    input.approvals.forEach((approval, index) => {
      if (typeof approval !== 'object' || approval === null) {
        problems.push(`approvals[${index}] must be an object with actor and at`);
        return;
      }
      if (!isNonEmptyString(approval.actor)) problems.push(`approvals[${index}].actor must be a person id`);
      instant(approval.at, `approvals[${index}].at`);
      if (approval.reason !== undefined && typeof approval.reason !== 'string')
        problems.push(`approvals[${index}].reason must be a string or absent`);
    });
  }
  const log = input.custodyLog as Partial<CertificateInput['custodyLog']> | undefined;
  if (typeof log !== 'object' || log === null) {
    problems.push('custodyLog must be an object with headSeq and headHash');
  } else {
    if (!Number.isSafeInteger(log.headSeq) || (log.headSeq ?? -1) < 0)
      problems.push('custodyLog.headSeq must be an integer ≥ 0');
    hex64(log.headHash, 'custodyLog.headHash');
  }
  return problems;
}

/** Copies exactly the known fields, leaving out optional ones that are undefined (they cannot be hashed). */
function pickFields(input: CertificateInput): Omit<DeletionCertificate, 'certificateHash'> {
  return {
    format: CERTIFICATE_FORMAT,
    recordingId: input.recordingId,
    originalSha256: input.originalSha256,
    objects: input.objects.map((object) => ({
      bucket: object.bucket,
      key: object.key,
      versionId: object.versionId,
      kind: object.kind,
      bytes: object.bytes,
      ...(object.etag !== undefined && { etag: object.etag }),
      ...(object.sha256 !== undefined && { sha256: object.sha256 }),
    })),
    rulePack: {
      id: input.rulePack.id,
      version: input.rulePack.version,
      fingerprint: input.rulePack.fingerprint,
      ...(input.rulePack.citation !== undefined && { citation: input.rulePack.citation }),
    },
    deadline: input.deadline,
    deletedAt: input.deletedAt,
    cause: input.cause,
    requestedBy: input.requestedBy,
    approvals: input.approvals.map((approval) => ({
      actor: approval.actor,
      at: approval.at,
      ...(approval.reason !== undefined && { reason: approval.reason }),
    })),
    custodyLog: { headSeq: input.custodyLog.headSeq, headHash: input.custodyLog.headHash },
  };
}

export function hashCertificate(certificate: Omit<DeletionCertificate, 'certificateHash'>): string {
  return sha256Hex(canonicalJson(certificate));
}

/** Builds and seals a certificate; throws CertificateInputError listing every problem with the input. */
export function buildCertificate(input: CertificateInput): DeletionCertificate {
  const problems = shapeProblems(input);
  if (problems.length > 0) {
    throw new CertificateInputError(
      `cannot certify the deletion of ${String(input.recordingId)}: ${problems.join('; ')}`,
    );
  }
  const unsealed = pickFields(input);
  return { ...unsealed, certificateHash: hashCertificate(unsealed) };
}

export type CertificateVerdict = { ok: true; certificateHash: string } | { ok: false; problems: string[] };

/**
 * Checks a certificate as read from storage: known format, well-formed fields, and certificateHash equal to
 * the hash recomputed over every other field (unknown extra fields included, so none can be slipped in).
 */
export function verifyCertificate(certificate: unknown): CertificateVerdict {
  if (typeof certificate !== 'object' || certificate === null || Array.isArray(certificate)) {
    return { ok: false, problems: ['a certificate must be a JSON object'] };
  }
  const { certificateHash, ...rest } = certificate as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof rest.format !== 'string' || !KNOWN_FORMATS.includes(rest.format)) {
    problems.push(`format must be one of ${KNOWN_FORMATS.join(', ')}, got ${String(rest.format)}`);
  } else if (rest.format !== CERTIFICATE_FORMAT && rest.originalSha256 === null) {
    problems.push(`originalSha256 may be null only in ${CERTIFICATE_FORMAT}`);
  }
  try {
    problems.push(...shapeProblems(rest as unknown as CertificateInput));
  } catch (error) {
    problems.push(`malformed: ${(error as Error).message}`);
  }
  let recomputed: string | undefined;
  try {
    recomputed = sha256Hex(canonicalJson(rest));
  } catch (error) {
    problems.push(`cannot be hashed: ${(error as Error).message}`);
  }
  if (recomputed !== undefined && certificateHash !== recomputed) {
    problems.push(`certificateHash mismatch: expected ${recomputed}, found ${String(certificateHash)}`);
  }
  return problems.length === 0 && recomputed !== undefined
    ? { ok: true, certificateHash: recomputed }
    : { ok: false, problems };
}
