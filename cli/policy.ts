/**
 * `custody policy list | show | apply`: the rule packs (policies/*.yaml), and re-arming the deadlines of running
 * recordings under a pack. `apply` selects recordings with a visibility query and sends each an Update, a few at
 * a time; `--dry-run` computes old and new deadlines from each recording's status and changes nothing.
 */
import { stringify } from 'yaml';
import { loadRulePacks, type LoadedRulePack } from '../activities/policy/load';
import { toRulePackRef } from '../activities/resolve-rule-pack';
import { statusQuery, applyPolicyUpdate } from '../workflows/messages';
import { recordingIdFromWorkflowId } from '../domain/ids';
import { rearmDeadline } from '../domain/retention';
import { CliError, type CliContext } from './context';
import { formatTable, printJson } from './output';
import { sendUpdate } from './admin';

async function packs(ctx: CliContext) {
  try {
    return await loadRulePacks(ctx.config.policy.dir);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function getPack(registry: Awaited<ReturnType<typeof loadRulePacks>>, id: string): LoadedRulePack {
  try {
    return registry.getPack(id);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export async function policyListCommand(ctx: CliContext, o: { json?: boolean }) {
  const registry = await packs(ctx);
  const rows = registry.packs.map((p) => ({
    id: p.id,
    version: p.version,
    retention: p.retention,
    citation: p.citation ?? '(not a statute)',
    title: p.title,
    default: p.id === ctx.config.policy.defaultPack,
  }));
  if (o.json) return printJson(rows);
  process.stdout.write(
    `${formatTable(
      ['ID', 'VERSION', 'RETENTION', 'CITATION', 'TITLE'],
      rows.map((r) => [`${r.id}${r.default ? ' *' : ''}`, r.version, r.retention, r.citation, r.title]),
    )}\n* default (CUSTODY_DEFAULT_POLICY)\n`,
  );
}

export async function policyShowCommand(ctx: CliContext, id: string, o: { json?: boolean }) {
  const pack = getPack(await packs(ctx), id);
  if (o.json) return printJson(pack);
  process.stdout.write(stringify(pack));
}

export interface PolicyApplyOptions {
  selector?: string;
  dryRun?: boolean;
  by?: string;
  reason?: string;
  limit?: string;
  json?: boolean;
}

export async function policyApplyCommand(ctx: CliContext, id: string, o: PolicyApplyOptions) {
  if (!o.dryRun && !o.by)
    throw new CliError(
      'policy apply changes deadlines: say who you are with --by <user id> (or use --dry-run)',
    );
  const pack = getPack(await packs(ctx), id);
  const ref = toRulePackRef(pack);
  const client = await ctx.temporal();
  const query = [
    `WorkflowType = 'recordingLifecycle'`,
    `ExecutionStatus = 'Running'`,
    `CustodyState IN ('transcoding', 'retained', 'held', 'needs-attention')`,
    ...(o.selector ? [`(${o.selector})`] : []),
  ].join(' AND ');
  const limit = o.limit ? Number(o.limit) : Infinity;
  const rows: {
    recordingId: string;
    pack: string;
    deleteAfter: string;
    newDeleteAfter: string;
    change: string;
    error?: string;
  }[] = [];
  const pending: Promise<void>[] = [];
  const concurrency = 8;
  for await (const execution of client.workflow.list({ query })) {
    if (rows.length >= limit) break;
    const recordingId = recordingIdFromWorkflowId(execution.workflowId);
    const row = { recordingId, pack: '', deleteAfter: '', newDeleteAfter: '', change: '' };
    rows.push(row);
    const work = (async () => {
      try {
        if (o.dryRun) {
          const status = await client.workflow.getHandle(execution.workflowId).query(statusQuery);
          if (!status.retention) throw new Error('no deadline yet');
          const { retention } = status;
          const next = rearmDeadline(
            { ...retention.deadline, deleteAfter: retention.deleteAfter },
            ref.retention,
            retention.extensions,
          );
          Object.assign(row, {
            pack: status.retention.pack.id,
            deleteAfter: status.retention.deleteAfter,
            newDeleteAfter: next.deleteAfter,
            change: next.change,
          });
        } else {
          const result = await sendUpdate(ctx, recordingId, applyPolicyUpdate, {
            pack: ref,
            by: o.by!,
            ...(o.reason && { reason: o.reason }),
          });
          Object.assign(row, {
            pack: result.previous.pack,
            deleteAfter: result.previous.deleteAfter,
            newDeleteAfter: result.next.deleteAfter,
            change: result.change,
          });
        }
      } catch (err) {
        Object.assign(row, { error: (err as Error).message });
      }
    })();
    pending.push(work);
    if (pending.length >= concurrency) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const failed = rows.filter((r) => 'error' in r);
  if (o.json) printJson({ pack: ref, dryRun: Boolean(o.dryRun), query, recordings: rows });
  else {
    process.stdout.write(
      `${formatTable(
        ['RECORDING', 'PACK', 'DEADLINE', `NEW DEADLINE (${ref.id})`, 'CHANGE'],
        rows.map((r) => [
          r.recordingId,
          r.pack,
          r.deleteAfter,
          r.newDeleteAfter,
          'error' in r ? `error: ${(r as { error: string }).error}` : r.change,
        ]),
      )}\n${o.dryRun ? 'dry run: nothing changed' : `applied ${ref.id} v${ref.version} to ${rows.length - failed.length} recordings`}` +
        `${failed.length ? `; ${failed.length} failed` : ''}\n`,
    );
  }
  if (failed.length) process.exitCode = 1;
}
