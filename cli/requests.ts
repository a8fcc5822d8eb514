/**
 * Four-eyes requests from the command line: the pending ones of your units (an approver's work list), one
 * recording's, and deciding or withdrawing one. The recording's workflow enforces who may decide; a refusal comes
 * back with its reason, exit 4.
 */
import type { FourEyesRequest } from '../domain/requests';
import { connectApi } from './api-client';
import { actOn } from './admin';
import type { CliContext } from './context';
import { formatTable, printJson } from './output';

type ListedRequest = FourEyesRequest & { recordingId: string; state: string };

function printRequests(requests: ListedRequest[], json: boolean | undefined, empty: string) {
  if (json) return printJson(requests);
  if (requests.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  process.stdout.write(
    `${formatTable(
      ['RECORDING', 'REQUEST', 'KIND', 'STATE', 'ASKED BY', 'EXPIRES', 'REASON'],
      requests.map((r) => [
        r.recordingId,
        r.id,
        r.kind,
        r.state,
        r.requestedBy.subject,
        r.expiresAt,
        r.reason.length > 60 ? `${r.reason.slice(0, 57)}…` : r.reason,
      ]),
    )}\n`,
  );
}

export async function requestsCommand(ctx: CliContext, o: { recording?: string; json?: boolean }) {
  const api = connectApi(ctx.config);
  if (o.recording) {
    const { requests } = await api.getJson<{ requests: ListedRequest[] }>(
      `/v1/recordings/${o.recording}/requests`,
    );
    return printRequests(requests, o.json, `recording ${o.recording} has no requests`);
  }
  const { requests } = await api.getJson<{ requests: ListedRequest[] }>('/v1/requests');
  printRequests(requests, o.json, 'no request waits for a decision in your units');
}

export async function decideCommand(
  decision: 'approve' | 'reject',
  ctx: CliContext,
  recordingId: string,
  requestId: string,
  o: { reason: string; json?: boolean },
) {
  const result = await actOn<{ request: ListedRequest; outcome?: object }>(
    ctx,
    recordingId,
    `requests/${requestId}/decision`,
    { decision, reason: o.reason },
  );
  if (o.json) return printJson(result);
  process.stdout.write(
    `request ${requestId} (${result.request.kind}) ${result.request.state}` +
      (result.outcome ? `: ${JSON.stringify(result.outcome)}` : '') +
      '\n',
  );
}

export const approveCommand = (
  ctx: CliContext,
  recordingId: string,
  requestId: string,
  o: { reason: string },
) => decideCommand('approve', ctx, recordingId, requestId, o);
export const rejectCommand = (
  ctx: CliContext,
  recordingId: string,
  requestId: string,
  o: { reason: string },
) => decideCommand('reject', ctx, recordingId, requestId, o);

export async function cancelCommand(
  ctx: CliContext,
  recordingId: string,
  requestId: string,
  o: { reason?: string; json?: boolean },
) {
  const request = await actOn<ListedRequest>(ctx, recordingId, `requests/${requestId}/cancel`, {
    ...(o.reason && { reason: o.reason }),
  });
  if (o.json) return printJson(request);
  process.stdout.write(`request ${requestId} (${request.kind}) withdrawn\n`);
}
