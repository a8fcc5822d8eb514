/**
 * What one person may do to a recording alone: place a hold, mark evidence, extend (up to the bound), replay a
 * parked stage, release from quarantine, record a reset. Each is scoped to the caller's units (another unit's
 * recording answers 404, as an unknown one), signed by the API and sent to the recording's workflow, whose
 * validator has the last word (409 with its reason). Bodies are JSON only: a form or text body is 415, so a
 * browser cannot be tricked into acting (and no cookie authenticates anyway).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ActionParams, AssertedAction } from '../../domain/assertion';
import { unitVisible } from '../../domain/roles';
import type { Permission } from '../../domain/roles';
import type { RecordingActions } from '../actions';
import type { RecordingReads } from '../reads';
import { ApiError } from '../errors';
import { authenticatedErrors, errorBody, noQuery, recordingIdParams } from '../schemas';

export const actionErrors = {
  ...authenticatedErrors,
  404: errorBody,
  409: errorBody,
  415: errorBody,
} as const;

const text = (description: string, maxLength = 2000) =>
  ({ type: 'string', minLength: 1, maxLength, pattern: '\\S', description }) as const;
const caseId = text('The case number (Aktenzeichen) the action serves.', 128);
const reason = text('Why: recorded in the custody log.');
const instant = { type: 'string', maxLength: 64, description: 'An ISO 8601 instant with offset.' } as const;
const duration = { type: 'string', maxLength: 64, description: 'An ISO 8601 duration, e.g. P30D.' } as const;

/** The recording, if the caller may see it; otherwise the same 404 as an unknown id. */
export async function requireVisibleRecording(reads: RecordingReads, request: FastifyRequest, id: string) {
  const status = await reads.status(id);
  if (!status || !unitVisible(request.identity!.units, status.unit))
    throw new ApiError(404, `no recording ${id} among the recordings of your units`);
  return status;
}

export function assertedIdentity(request: FastifyRequest) {
  const { subject, issuer, roles, units, officerId } = request.identity!;
  return { subject, issuer, roles, units, ...(officerId !== undefined && { officerId }) };
}

interface DirectAction<A extends AssertedAction> {
  path: string;
  action: A;
  permission: Permission;
  summary: string;
  body: object;
  response: object;
  status?: number;
  params(body: never): ActionParams[A];
}

const result = (properties: Record<string, object>) =>
  ({ type: 'object', properties, additionalProperties: false }) as const;

const DIRECT_ACTIONS = [
  {
    path: 'holds',
    action: 'hold.place',
    permission: 'hold.place',
    summary:
      'Place a legal hold: the recording is kept past its deadline until the hold is released (by request).',
    body: {
      type: 'object',
      properties: { caseId, reason },
      required: ['caseId', 'reason'],
      additionalProperties: false,
    },
    response: result({ holdId: { type: 'string' }, activeHolds: { type: 'integer' } }),
    status: 201,
    params: (b: { caseId: string; reason: string }) => ({ caseId: b.caseId, reason: b.reason }),
  } satisfies DirectAction<'hold.place'>,
  {
    path: 'evidence',
    action: 'evidence.mark',
    permission: 'evidence.mark',
    summary: 'Mark as evidence for a case: its stored objects are WORM-locked to the deadline.',
    body: {
      type: 'object',
      properties: { caseId, reason },
      required: ['caseId'],
      additionalProperties: false,
    },
    response: result({ lockedUntil: { type: 'string' }, objects: { type: 'integer' } }),
    params: (b: { caseId: string; reason?: string }) => ({
      caseId: b.caseId,
      ...(b.reason && { reason: b.reason }),
    }),
  } satisfies DirectAction<'evidence.mark'>,
  {
    path: 'extensions',
    action: 'retention.extend',
    permission: 'retention.extend',
    summary:
      'Extend the deadline (until an instant, or for a duration). Beyond P90D past the statutory deadline it is a request.',
    body: {
      type: 'object',
      properties: { until: instant, for: duration, reason, caseId },
      required: ['reason'],
      oneOf: [{ required: ['until'] }, { required: ['for'] }],
      additionalProperties: false,
    },
    response: result({ deleteAfter: { type: 'string' }, previous: { type: 'string' } }),
    params: (b: { until?: string; for?: string; reason: string; caseId?: string }) => ({
      ...(b.until !== undefined && { until: b.until }),
      ...(b.for !== undefined && { for: b.for }),
      reason: b.reason,
      ...(b.caseId && { caseId: b.caseId }),
    }),
  } satisfies DirectAction<'retention.extend'>,
  {
    path: 'replay',
    action: 'recording.replay',
    permission: 'recording.replay',
    summary: 'Run the parked stage again from its start (needs-attention only).',
    body: { type: 'object', properties: { reason }, additionalProperties: false },
    response: result({ stage: { type: 'string' }, replayed: { type: 'boolean' } }),
    params: (b: { reason?: string }) => ({ ...(b.reason && { reason: b.reason }) }),
  } satisfies DirectAction<'recording.replay'>,
  {
    path: 'quarantine-release',
    action: 'quarantine.release',
    permission: 'quarantine.release',
    summary:
      'Send a quarantined recording back into ingest. A hash mismatch is released only by a request to accept the received hash.',
    body: { type: 'object', properties: { reason }, required: ['reason'], additionalProperties: false },
    response: result({ released: { type: 'boolean' }, reason: { type: 'string' } }),
    params: (b: { reason: string }) => ({ reason: b.reason }),
  } satisfies DirectAction<'quarantine.release'>,
  {
    path: 'admin-notes',
    action: 'admin.note',
    permission: 'recording.reset',
    summary:
      "Record an administrative action taken outside the workflow (a reset) in the recording's custody log.",
    body: {
      type: 'object',
      properties: {
        action: { type: 'string', enum: ['reset'] },
        reason,
        details: {
          type: 'object',
          maxProperties: 20,
          additionalProperties: { type: ['string', 'number', 'boolean', 'null'], maxLength: 500 },
        },
      },
      required: ['action', 'reason'],
      additionalProperties: false,
    },
    response: result({ recorded: { type: 'boolean' } }),
    params: (b: {
      action: 'reset';
      reason: string;
      details?: Record<string, string | number | boolean | null>;
    }) => ({
      action: b.action,
      reason: b.reason,
      details: b.details ?? {},
    }),
  } satisfies DirectAction<'admin.note'>,
] as const;

export function actionRoutes(app: FastifyInstance, reads: RecordingReads, actions: RecordingActions): void {
  for (const spec of DIRECT_ACTIONS as readonly DirectAction<AssertedAction>[]) {
    app.post<{ Params: { id: string } }>(
      `/v1/recordings/:id/${spec.path}`,
      {
        config: { permission: spec.permission },
        schema: {
          summary: spec.summary,
          tags: ['actions'],
          params: recordingIdParams,
          querystring: noQuery,
          body: spec.body,
          response: { [spec.status ?? 200]: spec.response, ...actionErrors },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        await requireVisibleRecording(reads, request, id);
        const outcome = await actions.perform({
          identity: assertedIdentity(request),
          recordingId: id,
          action: spec.action,
          params: spec.params(request.body as never),
        });
        return reply.code(spec.status ?? 200).send(outcome);
      },
    );
  }
}
