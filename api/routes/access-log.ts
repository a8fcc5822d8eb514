/**
 * The exports of the access audit (api/access-audit.ts), for auditors (access-log.read) and scoped to their
 * units: every record of one recording, or every record of one person, oldest first, as JSON for programs or CSV
 * (RFC 4180) for the data-protection officer. Each export is an audited read itself.
 */
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ALL_UNITS, unitVisible } from '../../domain/roles';
import {
  recordingFacts,
  type AccessAudit,
  type AccessWindow,
  type ExportedAccessRecord,
  type FilterValue,
  type RequestAuditor,
} from '../access-audit';
import { ApiError } from '../errors';
import type { Pseudonymiser } from '../pseudonym';
import type { RecordingReads } from '../reads';
import {
  accessLogBody,
  authenticatedErrors,
  errorBody,
  personAccessLogQuerystring,
  recordingAccessLogQuerystring,
  recordingIdParams,
} from '../schemas';

type Format = 'json' | 'csv';
interface WindowQuery {
  format: Format;
  from?: string;
  to?: string;
}

/** The CSV columns, in order: header and how each is read from a record. */
const CSV_COLUMNS: readonly [string, (record: ExportedAccessRecord) => string | number | undefined][] = [
  ['time', (r) => r.time],
  ['recordId', (r) => r.recordId],
  ['requestId', (r) => r.requestId],
  ['action', (r) => r.action],
  ['outcome', (r) => r.outcome],
  ['status', (r) => r.status],
  ['method', (r) => r.method],
  ['route', (r) => r.route],
  ['recordingId', (r) => r.recordingId],
  ['recordingUnit', (r) => r.recordingUnit],
  ['object', (r) => r.object?.kind],
  ['objectKey', (r) => r.object?.key],
  ['objectVersionId', (r) => r.object?.versionId],
  ['objectSha256', (r) => r.object?.sha256],
  ['filter', (r) => (r.filter ? JSON.stringify(r.filter) : undefined)],
  ['count', (r) => r.count],
  ['issuer', (r) => r.who?.issuer],
  ['subject', (r) => r.who?.subject],
  ['pseudonym', (r) => r.who?.pseudonym],
  ['roles', (r) => r.who?.roles?.join(' ')],
  ['units', (r) => r.who?.units?.join(' ')],
  ['officerId', (r) => r.who?.officerId],
  ['clientAddress', (r) => r.client?.address],
  ['retainUntil', (r) => r.retainUntil],
  ['storedKey', (r) => r.stored.key],
  ['storedVersionId', (r) => r.stored.versionId],
  ['problems', (r) => r.problems.join(' | ')],
];

/**
 * The records as CSV per RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, quote or
 * line break. A cell that a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with ' (OWASP's
 * advice for CSV injection): subjects and filters come from outside.
 */
export function accessLogCsv(records: readonly ExportedAccessRecord[]): string {
  return stringify(
    records.map((record) =>
      CSV_COLUMNS.map(([, read]) => {
        const value = read(record);
        return value === undefined ? '' : String(value);
      }),
    ),
    {
      header: true,
      columns: CSV_COLUMNS.map(([header]) => header),
      record_delimiter: 'windows',
      escape_formulas: true,
    },
  );
}

/** The window of a query; a date alone is its start in UTC; `from` after `to` is a 400. */
export function windowOf(query: { from?: string; to?: string }): AccessWindow {
  const instant = (text: string | undefined) =>
    text === undefined ? undefined : new Date(Date.parse(text)).toISOString();
  const from = instant(query.from);
  const to = instant(query.to);
  if (from !== undefined && to !== undefined && from > to) {
    throw new ApiError(400, `invalid request: from ${query.from} is after to ${query.to}`);
  }
  return { ...(from && { from }), ...(to && { to }) };
}

/**
 * Whether a caller of `units` may see a record found under a person's prefix: records of a recording by the
 * recording's unit (as for every recording route); lists and exports, which concern no recording, when the
 * person acted for one of the caller's units; an unreadable record only by callers of every unit.
 */
export function recordVisible(units: readonly string[], record: ExportedAccessRecord): boolean {
  if (units.includes(ALL_UNITS)) return true;
  if (record.recordingId !== undefined) return unitVisible(units, record.recordingUnit);
  const actedFor = record.who?.units ?? [];
  return actedFor.includes(ALL_UNITS) || actedFor.some((unit) => units.includes(unit));
}

function send(reply: FastifyReply, records: ExportedAccessRecord[], format: Format, name: string) {
  if (format === 'json') return { records };
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .send(accessLogCsv(records));
}

const exportAnswers = {
  200: {
    description: 'The records, oldest first: JSON ({ records }) or CSV (format=csv).',
    content: {
      'application/json': { schema: accessLogBody },
      'text/csv': { schema: { type: 'string', description: 'RFC 4180, one row per record, a header row.' } },
    },
  },
  ...authenticatedErrors,
  404: errorBody,
} as const;

function filterOf(query: Record<string, FilterValue | undefined>): Record<string, FilterValue> {
  return Object.fromEntries(
    Object.entries(query).filter((entry): entry is [string, FilterValue] => entry[1] !== undefined),
  );
}

export function accessLogRoutes(
  app: FastifyInstance,
  deps: { reads: RecordingReads; audit: AccessAudit; auditor: RequestAuditor; pseudonyms: Pseudonymiser },
): void {
  const { reads, audit, auditor, pseudonyms } = deps;

  app.get<{ Params: { id: string }; Querystring: WindowQuery }>(
    '/v1/recordings/:id/access-log',
    {
      config: { permission: 'access-log.read' },
      schema: {
        summary: 'Every access record of a recording (who read what, when, from where), oldest first.',
        tags: ['access log'],
        params: recordingIdParams,
        querystring: recordingAccessLogQuerystring,
        response: exportAnswers,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const window = windowOf(request.query);
      const status = await reads.status(id);
      if (!status || !unitVisible(request.identity!.units, status.unit)) {
        throw new ApiError(404, `no recording ${id} among the recordings of your units`);
      }
      const records = await audit.ofRecording(id, window);
      await auditor.granted(request, {
        recordingId: id,
        recording: recordingFacts(status),
        filter: filterOf({ ...request.query }),
        count: records.length,
      });
      return send(reply, records, request.query.format, `access-log-${id}`);
    },
  );

  app.get<{ Querystring: WindowQuery & { subject: string } }>(
    '/v1/access-log',
    {
      config: { permission: 'access-log.read' },
      schema: {
        summary:
          "Every access record of one person (a subject of this API's issuer), oldest first; records of recordings outside the caller's units are left out.",
        tags: ['access log'],
        querystring: personAccessLogQuerystring,
        response: exportAnswers,
      },
    },
    async (request, reply) => {
      const identity = request.identity!;
      const { subject } = request.query;
      const window = windowOf(request.query);
      // Tokens come from one issuer: the person asked for is a subject of the caller's issuer.
      const pseudonym = pseudonyms.subject(identity.issuer, subject);
      const records = (await audit.ofPerson(pseudonym, window)).filter((record) =>
        recordVisible(identity.units, record),
      );
      await auditor.granted(request, {
        filter: filterOf({ ...request.query, subjectPseudonym: pseudonym }),
        count: records.length,
      });
      return send(reply, records, request.query.format, `access-log-${pseudonym}`);
    },
  );
}
