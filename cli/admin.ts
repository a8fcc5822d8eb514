/**
 * A person's actions on one recording, through the custody API as the signed-in person: the API checks the
 * permission and the unit, signs the action, and the recording's workflow decides (only-lengthen, not while held
 * …); a refusal comes back with its reason, exit 4. Actions that need a second person become four-eyes requests,
 * which an approver decides (`custody request approve`).
 */
import type { FourEyesRequest } from '../domain/requests';
import type { DeletionCertificate } from '../activities/certificate';
import { ApiRequestError, connectApi } from './api-client';
import { CliError, EXIT, type CliContext } from './context';
import { formatFields, printJson } from './output';

/** POSTs a person's action on a recording to the API and returns its answer. */
export async function actOn<T>(
  ctx: CliContext,
  recordingId: string,
  route: string,
  body: object,
): Promise<T> {
  return connectApi(ctx.config).sendJson<T>('POST', `/v1/recordings/${recordingId}/${route}`, body);
}

function show(result: object, json: boolean | undefined, headline: string) {
  if (json) return printJson(result);
  process.stdout.write(
    `${headline}\n${formatFields(Object.entries(result as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : (v as string)]))}\n`,
  );
}

/** Asks for an action that needs a second person; prints how an approver decides it. */
export async function createRequest(
  ctx: CliContext,
  recordingId: string,
  creation: { kind: FourEyesRequest['kind']; reason: string; params: object },
  json: boolean | undefined,
): Promise<FourEyesRequest> {
  const request = await actOn<FourEyesRequest>(ctx, recordingId, 'requests', creation);
  if (json) printJson(request);
  else
    process.stdout.write(
      `request ${request.id} (${request.kind}) is pending until ${request.expiresAt}: it needs a second person.\n` +
        `An approver decides it with: custody request approve ${recordingId} ${request.id} --reason <why>\n`,
    );
  return request;
}

export async function holdCommand(
  ctx: CliContext,
  id: string,
  o: { case: string; reason: string; json?: boolean },
) {
  const result = await actOn<object>(ctx, id, 'holds', { caseId: o.case, reason: o.reason });
  show(result, o.json, `hold placed on ${id}`);
}

export async function releaseCommand(
  ctx: CliContext,
  id: string,
  o: { hold?: string; reason: string; json?: boolean },
) {
  await createRequest(
    ctx,
    id,
    { kind: 'hold.release', reason: o.reason, params: { ...(o.hold && { holdId: o.hold }) } },
    o.json,
  );
}

export async function extendCommand(
  ctx: CliContext,
  id: string,
  o: { until?: string; for?: string; reason: string; case?: string; request?: boolean; json?: boolean },
) {
  if (Boolean(o.until) === Boolean(o.for))
    throw new CliError('give exactly one of --until DATE or --for DURATION (ISO 8601, e.g. P30D)');
  const target = o.until ? { until: o.until } : { for: o.for! };
  if (o.request) {
    await createRequest(
      ctx,
      id,
      {
        kind: 'retention.extend',
        reason: o.reason,
        params: { ...target, ...(o.case && { caseId: o.case }) },
      },
      o.json,
    );
    return;
  }
  const result = await actOn<object>(ctx, id, 'extensions', {
    ...target,
    reason: o.reason,
    ...(o.case && { caseId: o.case }),
  });
  show(result, o.json, `deadline of ${id} extended`);
}

export async function markEvidenceCommand(
  ctx: CliContext,
  id: string,
  o: { case: string; reason?: string; json?: boolean },
) {
  const result = await actOn<object>(ctx, id, 'evidence', {
    caseId: o.case,
    ...(o.reason && { reason: o.reason }),
  });
  show(result, o.json, `${id} marked as evidence (Object Lock COMPLIANCE)`);
}

export async function deleteEarlyCommand(ctx: CliContext, id: string, o: { reason: string; json?: boolean }) {
  await createRequest(ctx, id, { kind: 'deletion.early', reason: o.reason, params: {} }, o.json);
}

/** GET /v1/recordings/{id}/certificate (api/schemas.ts certificateBody). */
interface CertificateAnswer {
  recordingId: string;
  bucket: string;
  key: string;
  versionId?: string;
  verified: boolean;
  problems: string[];
  lock?: { mode?: string; retainUntil?: string };
  certificate?: DeletionCertificate;
}

export async function certificateCommand(ctx: CliContext, id: string, o: { json?: boolean }) {
  let stored: CertificateAnswer;
  try {
    stored = await connectApi(ctx.config).getJson<CertificateAnswer>(`/v1/recordings/${id}/certificate`);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) {
      throw new CliError(
        `no deletion certificate for recording ${id} (not deleted, unknown, or not of your units)`,
        EXIT.unknown,
      );
    }
    throw err;
  }
  const verdict = stored.verified ? { ok: true as const } : { ok: false as const, problems: stored.problems };
  if (o.json) {
    printJson(stored);
    if (!verdict.ok) process.exitCode = EXIT.mismatch;
    return;
  }
  const c = stored.certificate;
  if (!c)
    throw new CliError(
      `the stored certificate of ${id} is unreadable: ${verdict.ok ? '' : verdict.problems.join('; ')}`,
      EXIT.mismatch,
    );
  process.stdout.write(
    `${formatFields([
      ['recordingId', c.recordingId],
      ['verified', verdict.ok ? 'certificate hash OK' : `INVALID: ${verdict.problems.join('; ')}`],
      ['cause', c.cause],
      [
        'rulePack',
        `${c.rulePack.id} v${c.rulePack.version}${c.rulePack.citation ? ` (${c.rulePack.citation})` : ''}`,
      ],
      ['deadline', c.deadline],
      ['deletedAt', c.deletedAt],
      ['requestedBy', c.requestedBy],
      ['approvals', c.approvals.map((a) => a.actor).join(', ')],
      ['originalSha256', c.originalSha256],
      ['objects', `${c.objects.length} versions/markers deleted`],
      ['custodyLogHead', `seq ${c.custodyLog.headSeq} ${c.custodyLog.headHash}`],
      ['certificateHash', c.certificateHash],
    ])}\n${c.objects.map((o) => `  ${o.kind.padEnd(13)} s3://${o.bucket}/${o.key} ${o.versionId}${o.sha256 ? ` sha256 ${o.sha256}` : ''}`).join('\n')}\n`,
  );
  if (!verdict.ok) process.exitCode = EXIT.mismatch;
}

export async function replayCommand(ctx: CliContext, id: string, o: { reason?: string; json?: boolean }) {
  const result = await actOn<{ stage: string }>(ctx, id, 'replay', { ...(o.reason && { reason: o.reason }) });
  show(result, o.json, `${id}: stage ${result.stage} runs again from its start`);
}

/**
 * Sends a quarantined recording back into processing. Accepting the received hash after a hash mismatch is a
 * four-eyes request; any other release the operator does alone. The workflow decides; a refusal is exit 4.
 */
export async function releaseQuarantineCommand(
  ctx: CliContext,
  id: string,
  o: { reason: string; acceptReceivedHash?: boolean; json?: boolean },
) {
  if (!o.reason.trim())
    throw new CliError(
      '--reason must say why the recording may leave quarantine (it goes to the custody log)',
    );
  if (o.acceptReceivedHash) {
    await createRequest(
      ctx,
      id,
      { kind: 'quarantine.release', reason: o.reason, params: { acceptReceivedHash: true } },
      o.json,
    );
    return;
  }
  const result = await actOn<{ reason: string }>(ctx, id, 'quarantine-release', { reason: o.reason });
  show(result, o.json, `${id} released from quarantine (was ${result.reason}): ingest runs again`);
}
