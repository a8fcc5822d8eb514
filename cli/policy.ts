/**
 * `custody policy list | show | apply`: the rule packs (policies/*.yaml), and asking for the deadlines of running
 * recordings to be re-armed under a pack — one four-eyes request per recording, through the custody API.
 */
import { stringify } from 'yaml';
import { loadRulePacks, type LoadedRulePack } from '../activities/policy/load';
import { rearmDeadline } from '../domain/retention';
import type { FourEyesRequest } from '../domain/requests';
import type { RecordingStatus } from '../domain/types';
import { connectApi, type ApiClient } from './api-client';
import { CliError, type CliContext } from './context';
import { formatTable, printJson } from './output';
import { actOn } from './admin';

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
  recording?: string[];
  current?: string;
  dryRun?: boolean;
  reason?: string;
  limit?: string;
  json?: boolean;
}

interface PackSeen {
  id: string;
  version: number;
  retention: string;
  fingerprint: string;
}

interface Row {
  recordingId: string;
  pack: string;
  deleteAfter: string;
  newDeleteAfter: string;
  change: string;
  request?: string;
  error?: string;
}

/** The recordings to ask for: those named, or every running one of the caller's units under `current`. */
async function selectRecordings(api: ApiClient, o: PolicyApplyOptions, limit: number): Promise<string[]> {
  if (o.recording?.length) return o.recording.slice(0, limit);
  if (!o.current) throw new CliError('name the recordings: --recording <id …> or --current <pack>');
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await api.getJson<{
      rows: { recordingId: string; state: string }[];
      nextPageToken?: string;
    }>('/v1/recordings', { policy: o.current, limit: 200, ...(pageToken && { pageToken }) });
    for (const row of page.rows)
      if (['transcoding', 'retained', 'held', 'needs-attention'].includes(row.state))
        ids.push(row.recordingId);
    pageToken = page.nextPageToken;
  } while (pageToken && ids.length < limit);
  return ids.slice(0, limit);
}

/**
 * A policy change is a four-eyes request per recording, naming the pack by id and the fingerprint shown here
 * (from the API: the workers' own copy); `--dry-run` shows each deadline before and after, changing nothing.
 */
export async function policyApplyCommand(ctx: CliContext, id: string, o: PolicyApplyOptions) {
  if (!o.dryRun && !o.reason?.trim())
    throw new CliError('a policy change is asked for with a reason: --reason <why> (or use --dry-run)');
  const api = connectApi(ctx.config);
  const { packs: seen } = await api.getJson<{ packs: PackSeen[] }>('/v1/policies');
  const pack = seen.find((p) => p.id === id);
  if (!pack) throw new CliError(`no rule pack ${id}; known: ${seen.map((p) => p.id).join(', ')}`);
  const limit = o.limit ? Number(o.limit) : Infinity;
  const rows: Row[] = [];
  for (const recordingId of await selectRecordings(api, o, limit)) {
    const row: Row = { recordingId, pack: '', deleteAfter: '', newDeleteAfter: '', change: '' };
    rows.push(row);
    try {
      const status = await api.getJson<RecordingStatus>(`/v1/recordings/${recordingId}`);
      if (!status.retention) throw new Error('no deadline yet');
      const { retention } = status;
      const next = rearmDeadline(
        { ...retention.deadline, deleteAfter: retention.deleteAfter },
        pack.retention,
        retention.extensions,
      );
      Object.assign(row, {
        pack: retention.pack.id,
        deleteAfter: retention.deleteAfter,
        newDeleteAfter: next.deleteAfter,
        change: next.change,
      });
      if (!o.dryRun) {
        const request = await actOn<FourEyesRequest>(ctx, recordingId, 'requests', {
          kind: 'policy.apply',
          reason: o.reason!,
          params: { packId: pack.id, fingerprint: pack.fingerprint },
        });
        row.request = request.id;
      }
    } catch (err) {
      row.error = (err as Error).message;
    }
  }
  const failed = rows.filter((r) => r.error !== undefined);
  if (o.json) printJson({ pack, dryRun: Boolean(o.dryRun), recordings: rows });
  else {
    process.stdout.write(
      `${formatTable(
        ['RECORDING', 'PACK', 'DEADLINE', `NEW DEADLINE (${pack.id})`, 'CHANGE', 'REQUEST'],
        rows.map((r) => [
          r.recordingId,
          r.pack,
          r.deleteAfter,
          r.newDeleteAfter,
          r.error !== undefined ? `error: ${r.error}` : r.change,
          r.request ?? '',
        ]),
      )}\n${
        o.dryRun
          ? 'dry run: nothing changed'
          : `asked for ${pack.id} v${pack.version} on ${rows.length - failed.length} recordings: an approver decides each (custody requests)`
      }${failed.length ? `; ${failed.length} failed` : ''}\n`,
    );
  }
  if (failed.length) process.exitCode = 1;
}
