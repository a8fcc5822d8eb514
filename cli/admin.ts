/**
 * Administrative actions on one recording, each a Temporal Update into its workflow: the workflow's validator
 * decides (four-eyes, only-lengthen, not while held …) and a rejection comes back with its reason, exit 4.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import * as messages from '../workflows/messages';
import { workflowIdFor } from '../domain/ids';
import { readCertificate } from '../activities/write-certificate';
import { CliError, EXIT, type CliContext } from './context';
import { formatFields, printJson } from './output';

async function handleFor(ctx: CliContext, recordingId: string): Promise<WorkflowHandle> {
  const client = await ctx.temporal();
  const handle = client.workflow.getHandle(workflowIdFor(recordingId));
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') {
      throw new CliError(
        `recording ${recordingId} is closed (${description.status.name.toLowerCase()}): nothing can change it`,
        EXIT.rejected,
      );
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`unknown recording id ${recordingId}`, EXIT.unknown);
    throw err;
  }
  return handle;
}

/** Sends an Update and turns a validator's rejection into exit code 4 with the workflow's own reason. */
export async function sendUpdate<Ret, Arg>(
  ctx: CliContext,
  recordingId: string,
  update: UpdateDefinition<Ret, [Arg]>,
  arg: Arg,
): Promise<Ret> {
  const handle = await handleFor(ctx, recordingId);
  try {
    return await handle.executeUpdate(update, { args: [arg] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new CliError(`rejected: ${err.cause?.message ?? err.message}`, EXIT.rejected);
    }
    throw err;
  }
}

function show(result: object, json: boolean | undefined, headline: string) {
  if (json) return printJson(result);
  process.stdout.write(
    `${headline}\n${formatFields(Object.entries(result as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : (v as string)]))}\n`,
  );
}

export async function holdCommand(
  ctx: CliContext,
  id: string,
  o: { case: string; reason: string; by: string; json?: boolean },
) {
  const result = await sendUpdate(ctx, id, messages.holdUpdate, {
    caseId: o.case,
    reason: o.reason,
    by: o.by,
  });
  show(result, o.json, `hold placed on ${id}`);
}

export async function releaseCommand(
  ctx: CliContext,
  id: string,
  o: { by: string; approvedBy: string; hold?: string; reason?: string; json?: boolean },
) {
  const result = await sendUpdate(ctx, id, messages.releaseUpdate, {
    by: o.by,
    approvedBy: o.approvedBy,
    ...(o.hold && { holdId: o.hold }),
    ...(o.reason && { reason: o.reason }),
  });
  show(result, o.json, `hold released on ${id}`);
}

export async function extendCommand(
  ctx: CliContext,
  id: string,
  o: { until?: string; for?: string; reason: string; by: string; case?: string; json?: boolean },
) {
  if (Boolean(o.until) === Boolean(o.for))
    throw new CliError('give exactly one of --until DATE or --for DURATION (ISO 8601, e.g. P30D)');
  const target = o.until ? { until: o.until } : { for: o.for! };
  const result = await sendUpdate(ctx, id, messages.extendUpdate, {
    ...target,
    reason: o.reason,
    by: o.by,
    ...(o.case && { caseId: o.case }),
  });
  show(result, o.json, `deadline of ${id} extended`);
}

export async function markEvidenceCommand(
  ctx: CliContext,
  id: string,
  o: { case: string; by: string; reason?: string; json?: boolean },
) {
  const result = await sendUpdate(ctx, id, messages.markEvidenceUpdate, {
    caseId: o.case,
    by: o.by,
    ...(o.reason && { reason: o.reason }),
  });
  show(result, o.json, `${id} marked as evidence (Object Lock COMPLIANCE)`);
}

export async function deleteEarlyCommand(
  ctx: CliContext,
  id: string,
  o: { reason: string; by: string; approvedBy: string; json?: boolean },
) {
  const result = await sendUpdate(ctx, id, messages.deleteEarlyUpdate, {
    reason: o.reason,
    by: o.by,
    approvedBy: o.approvedBy,
  });
  show(result, o.json, `early deletion of ${id} approved; it is deleted now`);
}

export async function certificateCommand(ctx: CliContext, id: string, o: { json?: boolean }) {
  const stored = await readCertificate(ctx.s3(), ctx.config.buckets.audit, id);
  if (!stored)
    throw new CliError(`no deletion certificate for recording ${id} (not deleted, or unknown)`, EXIT.unknown);
  if (o.json) {
    printJson(stored);
    if (!stored.verdict.ok) process.exitCode = EXIT.mismatch;
    return;
  }
  const c = stored.certificate;
  if (!c)
    throw new CliError(
      `the stored certificate of ${id} is unreadable: ${stored.verdict.ok ? '' : stored.verdict.problems.join('; ')}`,
      EXIT.mismatch,
    );
  process.stdout.write(
    `${formatFields([
      ['recordingId', c.recordingId],
      [
        'verified',
        stored.verdict.ok ? 'certificate hash OK' : `INVALID: ${stored.verdict.problems.join('; ')}`,
      ],
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
  if (!stored.verdict.ok) process.exitCode = EXIT.mismatch;
}

export async function replayCommand(
  ctx: CliContext,
  id: string,
  o: { by: string; reason?: string; json?: boolean },
) {
  const result = await sendUpdate(ctx, id, messages.replayUpdate, {
    by: o.by,
    ...(o.reason && { reason: o.reason }),
  });
  show(result, o.json, `${id}: stage ${result.stage} runs again from its start`);
}

/** Sends a quarantined recording back into processing; the workflow's validator decides (e.g. a hash mismatch
 * needs --accept-received-hash) and a rejection comes back with its reason, exit 4. */
export async function releaseQuarantineCommand(
  ctx: CliContext,
  id: string,
  o: { reason: string; by: string; acceptReceivedHash?: boolean; json?: boolean },
) {
  if (!o.reason.trim())
    throw new CliError(
      '--reason must say why the recording may leave quarantine (it goes to the custody log)',
    );
  if (!o.by.trim()) throw new CliError('--by must name a person (an id)');
  const result = await sendUpdate(ctx, id, messages.releaseQuarantineUpdate, {
    by: o.by,
    reason: o.reason,
    ...(o.acceptReceivedHash && { acceptReceivedHash: true }),
  });
  show(result, o.json, `${id} released from quarantine (was ${result.reason}): ingest runs again`);
}
