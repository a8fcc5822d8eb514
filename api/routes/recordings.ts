/**
 * The read-only recording routes. Every answer is scoped to the caller's organisational units: a recording of
 * another unit is answered exactly like an unknown id (404), so that the API is no oracle for which ids
 * exist.
 */
import type { FastifyInstance } from 'fastify';
import { ALL_UNITS, unitVisible } from '../../domain/roles';
import type { LifecycleState, Stage } from '../../domain/types';
import { verifyChain } from '../../activities/custody-log/chain';
import { unitFromLog } from '../../activities/custody-log/status-from-log';
import type { Identity } from '../auth/identity';
import type { RecordingReads } from '../reads';
import { ApiError } from '../errors';
import {
  authenticatedErrors,
  certificateBody,
  custodyLogBody,
  errorBody,
  listBody,
  listQuerystring,
  noQuery,
  recordingIdParams,
  recordingStatusBody,
} from '../schemas';

interface IdParams {
  id: string;
}

/** How long one GET …?wait=review-ready is held: below common proxy idle timeouts (60 s). */
export const REVIEW_READY_WAIT_MS = 50_000;

const notYours = (id: string) => new ApiError(404, `no recording ${id} among the recordings of your units`);

/** The unit filter of a listing: undefined for callers of every unit. */
function unitsFilter(identity: Identity): string[] | undefined {
  return identity.units.includes(ALL_UNITS) ? undefined : identity.units;
}

export function recordingRoutes(app: FastifyInstance, reads: RecordingReads): void {
  const withNotFound = { ...authenticatedErrors, 404: errorBody };

  app.get<{ Params: IdParams; Querystring: { wait?: 'review-ready' } }>(
    '/v1/recordings/:id',
    {
      config: { permission: 'recording.read' },
      schema: {
        summary:
          "A recording's status: state, hashes, media facts, retention, last error. With wait=review-ready, answered once it is review-ready or stopped short of it, or after at most 50 s (header x-custody-wait: done or timeout): ask again.",
        tags: ['recordings'],
        params: recordingIdParams,
        querystring: {
          type: 'object',
          properties: { wait: { type: 'string', enum: ['review-ready'] } },
          additionalProperties: false,
        },
        response: { 200: recordingStatusBody, ...withNotFound },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const status = await reads.status(id);
      if (!status || !unitVisible(request.identity!.units, status.unit)) throw notYours(id);
      if (request.query.wait !== 'review-ready' || !reads.awaitReviewReady) return status;
      const waited = await reads.awaitReviewReady(status, REVIEW_READY_WAIT_MS);
      void reply.header('x-custody-wait', waited === 'timeout' ? 'timeout' : 'done');
      return waited === 'timeout' ? ((await reads.status(id)) ?? status) : waited;
    },
  );

  app.get<{
    Querystring: {
      state?: LifecycleState;
      stage?: Stage;
      policy?: string;
      limit: number;
      pageToken?: string;
    };
  }>(
    '/v1/recordings',
    {
      config: { permission: 'recording.read' },
      schema: {
        summary: "Recordings of the caller's units from Temporal visibility, paged.",
        tags: ['recordings'],
        querystring: listQuerystring,
        response: { 200: listBody, ...authenticatedErrors },
      },
    },
    async (request) => {
      const { state, stage, policy, limit, pageToken } = request.query;
      const units = unitsFilter(request.identity!);
      // A caller of no unit sees nothing; there is nothing to ask Temporal.
      if (units?.length === 0) return { rows: [] };
      return reads.list(
        {
          ...(state && { state }),
          ...(stage && { stage }),
          ...(policy && { policy }),
          ...(units && { units }),
        },
        { limit, ...(pageToken && { pageToken }) },
      );
    },
  );

  app.get<{ Params: IdParams }>(
    '/v1/recordings/:id/custody-log',
    {
      config: { permission: 'custody-log.read' },
      schema: {
        summary: "A recording's custody log, in chain order, with the verdict on its hash chain.",
        tags: ['recordings'],
        params: recordingIdParams,
        querystring: noQuery,
        response: { 200: custodyLogBody, ...withNotFound },
      },
    },
    async (request) => {
      const { id } = request.params;
      const entries = await reads.custodyLog(id);
      if (entries.length === 0 || !unitVisible(request.identity!.units, unitFromLog(entries))) {
        throw notYours(id);
      }
      const chain = verifyChain(entries, { recordingId: id });
      return {
        recordingId: id,
        chain: { ok: chain.ok, problems: chain.ok ? [] : chain.problems.map((p) => p.message) },
        entries,
      };
    },
  );

  app.get<{ Params: IdParams }>(
    '/v1/recordings/:id/certificate',
    {
      config: { permission: 'certificate.read' },
      schema: {
        summary: "A deleted recording's deletion certificate, as stored in the audit store, verified.",
        tags: ['recordings'],
        params: recordingIdParams,
        querystring: noQuery,
        response: { 200: certificateBody, ...withNotFound },
      },
    },
    async (request) => {
      const { id } = request.params;
      // The unit comes from the log, which outlives the recording as the certificate does.
      const entries = await reads.custodyLog(id);
      if (entries.length === 0 || !unitVisible(request.identity!.units, unitFromLog(entries))) {
        throw notYours(id);
      }
      const stored = await reads.certificate(id);
      if (!stored) throw new ApiError(404, `recording ${id} has no deletion certificate (it is not deleted)`);
      return {
        recordingId: id,
        bucket: stored.bucket,
        key: stored.key,
        ...(stored.versionId && { versionId: stored.versionId }),
        verified: stored.verdict.ok,
        problems: stored.verdict.ok ? [] : stored.verdict.problems,
        ...(stored.lock && { lock: stored.lock }),
        ...(stored.certificate && { certificate: stored.certificate }),
      };
    },
  );
}
