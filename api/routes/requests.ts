/**
 * Four-eyes requests (domain/requests.ts) through the API: a hold release, an early deletion, a policy change, an
 * extension beyond the bound and a quarantine release that accepts the received hash are asked for by one person
 * and decided by another with the approver role. The workflow enforces every rule (different people, the
 * recording officer, expiry, once-only); the API checks the permission first, scopes to units, and lists the
 * requests waiting for a decision. The rule packs a policy change may name are listed with their fingerprints.
 */
import type { FastifyInstance } from 'fastify';
import { permissionFor, REQUEST_KINDS, type RequestCreation } from '../../domain/assertion';
import { requestStateAt, type FourEyesRequest } from '../../domain/requests';
import { ALL_UNITS, CUSTODY_ROLES, ROLE_PERMISSIONS } from '../../domain/roles';
import { loadRulePacks, RulePackError } from '../../activities/policy/load';
import type { RecordingActions } from '../actions';
import type { RecordingReads } from '../reads';
import { ApiError } from '../errors';
import { authenticatedErrors, noQuery, recordingIdParams } from '../schemas';
import { actionErrors, assertedIdentity, requireVisibleRecording } from './actions';

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '\\S' }) as const;
const person = {
  type: 'object',
  properties: {
    issuer: { type: 'string' },
    subject: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
  },
  additionalProperties: false,
} as const;

export const fourEyesRequestBody = {
  type: 'object',
  description: 'A four-eyes request; `state` is as of now (a pending request past expiresAt reads expired).',
  properties: {
    id: { type: 'string' },
    recordingId: { type: 'string' },
    kind: { type: 'string', enum: [...REQUEST_KINDS] },
    params: { type: 'object', additionalProperties: true },
    reason: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'approved', 'rejected', 'cancelled', 'expired', 'failed'] },
    requestedBy: person,
    requestedAt: { type: 'string' },
    expiresAt: { type: 'string' },
    decidedBy: person,
    decidedAt: { type: 'string' },
    decisionReason: { type: 'string' },
    failure: { type: 'string' },
  },
  required: [
    'id',
    'recordingId',
    'kind',
    'params',
    'reason',
    'state',
    'requestedBy',
    'requestedAt',
    'expiresAt',
  ],
  additionalProperties: false,
} as const;

const requestCreationBody = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: [...REQUEST_KINDS] },
    reason: text(2000),
    params: {
      type: 'object',
      properties: {
        holdId: { type: 'string', pattern: '^hold-[0-9]{1,6}$' },
        packId: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
        fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        until: { type: 'string', maxLength: 64 },
        for: { type: 'string', maxLength: 64 },
        caseId: text(128),
        acceptReceivedHash: { type: 'boolean', const: true },
      },
      additionalProperties: false,
    },
  },
  required: ['kind', 'reason', 'params'],
  additionalProperties: false,
} as const;

const requestIdParams = {
  type: 'object',
  properties: {
    id: recordingIdParams.properties.id,
    requestId: { type: 'string', pattern: '^[0-9a-f-]{36}$', description: 'A request id (UUID).' },
  },
  required: ['id', 'requestId'],
  additionalProperties: false,
} as const;

const asOfNow = (recordingId: string, request: FourEyesRequest, now = new Date()) => ({
  ...request,
  recordingId,
  state: requestStateAt(request, now),
});

export function requestRoutes(
  app: FastifyInstance,
  reads: RecordingReads,
  actions: RecordingActions,
  policyDir: string,
): void {
  app.post<{ Params: { id: string }; Body: RequestCreation }>(
    '/v1/recordings/:id/requests',
    {
      schema: {
        summary: 'Ask for an action that needs a second person; an approver decides it.',
        tags: ['requests'],
        params: recordingIdParams,
        querystring: noQuery,
        body: requestCreationBody,
        response: { 201: fourEyesRequestBody, ...actionErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const needed = permissionFor('request.create', request.body)!;
      if (!request.identity!.permissions.includes(needed)) {
        const holders = CUSTODY_ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(needed)).join(', ');
        throw new ApiError(
          403,
          `a ${request.body.kind} request needs the permission ${needed} (roles: ${holders})`,
        );
      }
      await requireVisibleRecording(reads, request, id);
      if (request.body.kind === 'policy.apply') await checkPackAsSeen(policyDir, request.body.params);
      const created = (await actions.perform({
        identity: assertedIdentity(request),
        recordingId: id,
        action: 'request.create',
        params: request.body,
      })) as FourEyesRequest;
      return reply.code(201).send(asOfNow(id, created));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/recordings/:id/requests',
    {
      config: { permission: 'recording.read' },
      schema: {
        summary: "A recording's four-eyes requests, pending and decided.",
        tags: ['requests'],
        params: recordingIdParams,
        querystring: noQuery,
        response: {
          200: { type: 'object', properties: { requests: { type: 'array', items: fourEyesRequestBody } } },
          ...actionErrors,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const status = await requireVisibleRecording(reads, request, id);
      return { requests: (status.requests ?? []).map((r) => asOfNow(id, r)) };
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/v1/requests',
    {
      config: { permission: 'recording.read' },
      schema: {
        summary: "The pending four-eyes requests of the caller's units: the approvers' work list.",
        tags: ['requests'],
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { requests: { type: 'array', items: fourEyesRequestBody } } },
          ...authenticatedErrors,
        },
      },
    },
    async (request) => {
      const units = request.identity!.units;
      const page = await reads.list(
        { openRequests: REQUEST_KINDS, ...(!units.includes(ALL_UNITS) && { units }) },
        { limit: request.query.limit },
      );
      const now = new Date();
      const statuses = await Promise.all(page.rows.map((row) => reads.status(row.recordingId)));
      return {
        requests: statuses.flatMap((status) =>
          (status?.requests ?? [])
            .map((r) => asOfNow(status!.recordingId, r, now))
            .filter((r) => r.state === 'pending'),
        ),
      };
    },
  );

  app.post<{
    Params: { id: string; requestId: string };
    Body: { decision: 'approve' | 'reject'; reason: string };
  }>(
    '/v1/recordings/:id/requests/:requestId/decision',
    {
      config: { permission: 'request.decide' },
      schema: {
        summary: 'Approve (and so carry out) or reject a request made by someone else.',
        tags: ['requests'],
        params: requestIdParams,
        querystring: noQuery,
        body: {
          type: 'object',
          properties: { decision: { type: 'string', enum: ['approve', 'reject'] }, reason: text(2000) },
          required: ['decision', 'reason'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              request: fourEyesRequestBody,
              outcome: { type: 'object', additionalProperties: true },
            },
            additionalProperties: false,
          },
          ...actionErrors,
        },
      },
    },
    async (request) => {
      const { id, requestId } = request.params;
      await requireVisibleRecording(reads, request, id);
      const decided = (await actions.perform({
        identity: assertedIdentity(request),
        recordingId: id,
        action: 'request.decide',
        params: { requestId, decision: request.body.decision, reason: request.body.reason },
      })) as { request: FourEyesRequest; outcome?: Record<string, unknown> };
      return { ...decided, request: asOfNow(id, decided.request) };
    },
  );

  app.post<{ Params: { id: string; requestId: string }; Body: { reason?: string } }>(
    '/v1/recordings/:id/requests/:requestId/cancel',
    {
      schema: {
        summary: 'Withdraw your own pending request.',
        tags: ['requests'],
        params: requestIdParams,
        querystring: noQuery,
        body: { type: 'object', properties: { reason: text(2000) }, additionalProperties: false },
        response: { 200: fourEyesRequestBody, ...actionErrors },
      },
    },
    async (request) => {
      const { id, requestId } = request.params;
      await requireVisibleRecording(reads, request, id);
      const cancelled = (await actions.perform({
        identity: assertedIdentity(request),
        recordingId: id,
        action: 'request.cancel',
        params: { requestId, ...(request.body.reason && { reason: request.body.reason }) },
      })) as FourEyesRequest;
      return asOfNow(id, cancelled);
    },
  );

  app.get(
    '/v1/policies',
    {
      config: { permission: 'recording.read' },
      schema: {
        summary: 'The rule packs of this deployment, with the fingerprints a policy-change request names.',
        tags: ['requests'],
        querystring: noQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              packs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    version: { type: 'integer' },
                    kind: { type: 'string' },
                    retention: { type: 'string' },
                    citation: { type: 'string' },
                    fingerprint: { type: 'string' },
                  },
                  additionalProperties: false,
                },
              },
            },
          },
          ...authenticatedErrors,
        },
      },
    },
    async () => {
      const registry = await loadRulePacks(policyDir);
      return {
        packs: registry.packs.map((p) => ({
          id: p.id,
          version: p.version,
          kind: p.kind,
          retention: p.retention,
          ...(p.citation && { citation: p.citation }),
          fingerprint: p.fingerprint,
        })),
      };
    },
  );
}

/** The requester must have seen the pack as it is here: a stale fingerprint is refused before anyone approves. */
async function checkPackAsSeen(policyDir: string, params: { packId?: string; fingerprint?: string }) {
  if (!params.packId || !params.fingerprint)
    throw new ApiError(
      400,
      'a policy.apply request names params.packId and params.fingerprint (GET /v1/policies)',
    );
  try {
    const pack = (await loadRulePacks(policyDir)).getPack(params.packId);
    if (pack.fingerprint !== params.fingerprint)
      throw new ApiError(
        409,
        `rule pack ${pack.id} has fingerprint ${pack.fingerprint}, not ${params.fingerprint}: look at it again (GET /v1/policies)`,
      );
  } catch (err) {
    if (err instanceof RulePackError) throw new ApiError(404, err.message);
    throw err;
  }
}
