/**
 * The access audit (issue 15 item 8, BSI OPS.1.1.5): every read of a recording by a person — its status, custody
 * log, certificate, requests, a media URL — every list, and every export of this audit is recorded BEFORE the
 * answer leaves, as a WORM JSON object in the audit store. When the record cannot be written the read is refused
 * (503 naming the audit store) and nothing is shown: an unrecorded read is the failure this exists to prevent.
 *
 * Each record is written twice, under two prefixes, so that both exports are plain listings:
 *
 *   access-log/by-recording/<recordingId>/<stamp>-<recordId>.json   (reads of one recording)
 *   access-log/by-person/<pseudonym>/<stamp>-<recordId>.json         (reads by one person)
 *
 * `<stamp>` is the record's time (20260304T101500123Z: fixed width, so a listing is in time order), `<pseudonym>`
 * the keyed pseudonym of the person (api/pseudonym.ts): object keys show up in store logs and listings, so they
 * never hold the subject in clear; the record's body does (who read what is its purpose). A list read, or an
 * export by person, concerns no single recording and is written under the person's prefix only.
 *
 * Refused reads (403, 404) of an audited route are recorded too, best effort: they show nothing, so a store
 * that cannot take their record does not change the answer.
 *
 * Retention: COMPLIANCE until max(read time, the recording's deadline in force or evidence lock) + the audit
 * retention (CUSTODY_AUDIT_RETENTION). A custody-log entry is locked for the audit retention from its own time,
 * and the log's last entries are written when the recording is deleted, at its deadline: so the record of a read
 * stays at least as long as the custody log written up to the recording's scheduled deletion.
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { addDuration } from '../domain/duration';
import { RECORDING_ID_PATTERN } from '../domain/ids';
import type { RecordingStatus } from '../domain/types';
import { putWormJson, readFirstVersions } from '../activities/storage/worm-json';
import type { Pseudonymiser } from './pseudonym';
import type { RecordingReads } from './reads';
import { BackendUnavailableError } from './temporal';

export const ACCESS_ACTIONS = [
  'recording.status',
  'recording.list',
  'custody-log.read',
  'certificate.read',
  'requests.read',
  'requests.list',
  'media.url',
  'access-log.export',
  /** Bytes uploaded again that were already a recording: answered with its id, not taken in twice. */
  'upload.duplicate',
] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

export const MEDIA_OBJECTS = ['proxy', 'poster', 'sprite', 'original'] as const;
export type MediaObjectKind = (typeof MEDIA_OBJECTS)[number];

/** granted: the answer shows what was asked; forbidden: 403; not-found: 404 (unknown, or another unit's). */
export type AccessOutcome = 'granted' | 'forbidden' | 'not-found';

/**
 * The audited reads, by method and route template. A GET route under /v1/recordings that is missing here stops
 * the server from being built (installAccessAudit): a new read cannot escape the audit by being forgotten.
 */
export const AUDITED_ROUTES: Readonly<Record<string, AccessAction>> = {
  'GET /v1/recordings': 'recording.list',
  'GET /v1/recordings/:id': 'recording.status',
  'GET /v1/recordings/:id/custody-log': 'custody-log.read',
  'GET /v1/recordings/:id/certificate': 'certificate.read',
  'GET /v1/recordings/:id/requests': 'requests.read',
  'GET /v1/requests': 'requests.list',
  'GET /v1/recordings/:id/media/:object': 'media.url',
  'GET /v1/recordings/:id/access-log': 'access-log.export',
  'GET /v1/access-log': 'access-log.export',
};

export type FilterValue = string | number | boolean;

/** One access record, as stored (version 1). */
export interface AccessRecord {
  version: 1;
  /** The same in both copies (per recording, per person). */
  recordId: string;
  time: string;
  requestId: string;
  action: AccessAction;
  method: string;
  /** The route template, e.g. /v1/recordings/:id/media/:object. */
  route: string;
  recordingId?: string;
  /** The recording's unit when it was read: scopes the export by person to the auditor's units. */
  recordingUnit?: string;
  /** The media object a URL was issued for (only its kind when the request was refused). */
  object?: { kind: string; bucket?: string; key?: string; versionId?: string; sha256?: string };
  /** What a list or an export asked for (its query). */
  filter?: Record<string, FilterValue>;
  /** How many records an export held. */
  count?: number;
  who: {
    issuer: string;
    subject: string;
    /** The keyed pseudonym the access log (stdout) shows for this person. */
    pseudonym: string;
    roles: string[];
    units: string[];
    officerId?: string;
  };
  client: { address: string };
  outcome: AccessOutcome;
  status: number;
  /** When the record's COMPLIANCE lock ends. */
  retainUntil: string;
}

/** A record as exported: the stored body, where it lies, and anything wrong with it. */
export type ExportedAccessRecord = Partial<AccessRecord> & {
  stored: { key: string; versionId: string };
  /** Empty for an intact record: a version laid over it, a body that is not JSON, a record out of place. */
  problems: string[];
};

/** Raised when a record cannot be written: the read is refused with 503 (server.ts), naming the audit store. */
export class AccessAuditUnavailableError extends BackendUnavailableError {
  override name = 'AccessAuditUnavailableError';
}

// ---- key layout -------------------------------------------------------------------------------------------

export const ACCESS_LOG_ROOT = 'access-log/';
export const recordingAccessPrefix = (recordingId: string) =>
  `${ACCESS_LOG_ROOT}by-recording/${recordingId}/`;
export const personAccessPrefix = (pseudonym: string) => `${ACCESS_LOG_ROOT}by-person/${pseudonym}/`;

/** 2026-03-04T10:15:00.123Z → 20260304T101500123Z: fixed width, ordered as the instants are. */
export function keyStamp(instant: string): string {
  return new Date(instant).toISOString().replace(/[-:.]/g, '');
}
const STAMP_LENGTH = keyStamp('2000-01-01T00:00:00.000Z').length;

/** The keys of one record: under the person's prefix always, under the recording's when it names one. */
export function accessRecordKeys(
  record: Pick<AccessRecord, 'time' | 'recordId' | 'recordingId'> & { who: { pseudonym: string } },
): {
  person: string;
  recording?: string;
} {
  const name = `${keyStamp(record.time)}-${record.recordId}.json`;
  return {
    person: `${personAccessPrefix(record.who.pseudonym)}${name}`,
    ...(record.recordingId !== undefined && {
      recording: `${recordingAccessPrefix(record.recordingId)}${name}`,
    }),
  };
}

/** A time window over keys of one prefix: [from, to), either end open. */
export interface AccessWindow {
  from?: string;
  to?: string;
}

/**
 * The narrowest prefix that holds every key of the window (the stamps' common beginning: a window within one
 * month lists that month only), and whether a key lies inside it.
 */
export function windowListing(
  prefix: string,
  window: AccessWindow,
): { listPrefix: string; inWindow: (key: string) => boolean } {
  const from = window.from === undefined ? undefined : keyStamp(window.from);
  const to = window.to === undefined ? undefined : keyStamp(window.to);
  let common = '';
  if (from !== undefined && to !== undefined) {
    while (common.length < from.length && from[common.length] === to[common.length]) {
      common += from[common.length];
    }
  }
  return {
    listPrefix: `${prefix}${common}`,
    inWindow: (key) => {
      const stamp = key.slice(prefix.length, prefix.length + STAMP_LENGTH);
      return (from === undefined || stamp >= from) && (to === undefined || stamp < to);
    },
  };
}

/** The lock of a record: the audit retention from the read, or from the recording's end when that is later. */
export function accessRetainUntil(time: string, retention: string, keepUntil?: string): string {
  const basis = keepUntil !== undefined && Date.parse(keepUntil) > Date.parse(time) ? keepUntil : time;
  return addDuration(new Date(basis).toISOString(), retention);
}

// ---- the store --------------------------------------------------------------------------------------------

export interface AccessAudit {
  /** The audit store, for messages. */
  readonly where: string;
  /** CUSTODY_AUDIT_RETENTION: how long past a read (or the recording's end) its record stays locked. */
  readonly retention: string;
  /** Writes both copies of a record; throws AccessAuditUnavailableError when either cannot be written. */
  write(record: AccessRecord): Promise<void>;
  /** Every record of one recording, oldest first, each from its first version. */
  ofRecording(recordingId: string, window?: AccessWindow): Promise<ExportedAccessRecord[]>;
  /** Every record of one person (by pseudonym), oldest first, each from its first version. */
  ofPerson(pseudonym: string, window?: AccessWindow): Promise<ExportedAccessRecord[]>;
}

export function createAccessAudit(deps: { s3: S3Client; bucket: string; retention: string }): AccessAudit {
  const { s3, bucket } = deps;
  const where = `the audit store (s3://${bucket}/${ACCESS_LOG_ROOT})`;

  async function read(
    prefix: string,
    window: AccessWindow,
    belongs: (record: Partial<AccessRecord>) => string | undefined,
  ): Promise<ExportedAccessRecord[]> {
    const { listPrefix, inWindow } = windowListing(prefix, window);
    let stored;
    try {
      stored = await readFirstVersions(s3, bucket, listPrefix, { keyFilter: inWindow });
    } catch (err) {
      throw new AccessAuditUnavailableError(`cannot read ${where}: ${(err as Error).message}`);
    }
    return stored.map((item) => {
      const body =
        typeof item.value === 'object' && item.value !== null && !Array.isArray(item.value)
          ? (item.value as Partial<AccessRecord>)
          : {};
      const misplaced = item.value === undefined ? undefined : belongs(body);
      return {
        ...body,
        stored: { key: item.key, versionId: item.versionId },
        problems: [...item.problems, ...(misplaced ? [`s3://${bucket}/${item.key}: ${misplaced}`] : [])],
      };
    });
  }

  return {
    where,
    retention: deps.retention,
    async write(record) {
      const keys = accessRecordKeys(record);
      try {
        await Promise.all(
          [keys.recording, keys.person]
            .filter((key): key is string => key !== undefined)
            .map((key) => putWormJson(s3, { bucket, key, value: record, retainUntil: record.retainUntil })),
        );
      } catch (err) {
        throw new AccessAuditUnavailableError(
          `${where} cannot take the access record of this read (${(err as Error).message}), so nothing is shown`,
        );
      }
    },
    ofRecording(recordingId, window = {}) {
      return read(recordingAccessPrefix(recordingId), window, (r) =>
        r.recordingId === recordingId
          ? undefined
          : `a record of ${String(r.recordingId)} in the place of ${recordingId}'s`,
      );
    },
    ofPerson(pseudonym, window = {}) {
      return read(personAccessPrefix(pseudonym), window, (r) =>
        r.who?.pseudonym === pseudonym
          ? undefined
          : `a record of ${String(r.who?.pseudonym)} in the place of ${pseudonym}'s`,
      );
    },
  };
}

// ---- what the record needs to know about the recording ----------------------------------------------------

/** The recording's unit, and until when it is kept at the latest (deadline in force, evidence lock). */
export interface RecordingFacts {
  unit?: string;
  keepUntil?: string;
}

export function recordingFacts(status: RecordingStatus): RecordingFacts {
  const ends = [status.retention?.deleteAfter, status.retention?.evidence?.lockedUntil].filter(
    (instant): instant is string => instant !== undefined && !Number.isNaN(Date.parse(instant)),
  );
  const keepUntil = ends.sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
  return { ...(status.unit !== undefined && { unit: status.unit }), ...(keepUntil && { keepUntil }) };
}

/**
 * Recording facts by id, remembered for a minute from every status the routes read (so a status read costs one
 * query, not two); a recording unknown to both Temporal and the audit store has none.
 */
function factsSource(reads: RecordingReads, ttlMs = 60_000, maxEntries = 1000) {
  const remembered = new Map<string, { facts: RecordingFacts; at: number }>();
  const remember = (status: RecordingStatus) => {
    remembered.delete(status.recordingId);
    remembered.set(status.recordingId, { facts: recordingFacts(status), at: Date.now() });
    // A Map iterates in insertion order: the first key is the oldest.
    if (remembered.size > maxEntries) remembered.delete(remembered.keys().next().value!);
  };
  const observed: RecordingReads = {
    ...(reads.awaitReviewReady && {
      awaitReviewReady: (current, timeoutMs) => reads.awaitReviewReady!(current, timeoutMs),
    }),
    status: async (recordingId) => {
      const status = await reads.status(recordingId);
      if (status) remember(status);
      return status;
    },
    list: (filter, page) => reads.list(filter, page),
    custodyLog: (recordingId) => reads.custodyLog(recordingId),
    certificate: (recordingId) => reads.certificate(recordingId),
    close: () => reads.close(),
  };
  return {
    observed,
    async of(recordingId: string): Promise<RecordingFacts | undefined> {
      const known = remembered.get(recordingId);
      if (known && Date.now() - known.at < ttlMs) return known.facts;
      const status = await observed.status(recordingId);
      return status && recordingFacts(status);
    },
  };
}

// ---- the requests ---------------------------------------------------------------------------------------

/** What a route adds to its record beyond who, when, from where and the route. */
export interface AccessDetails {
  recordingId?: string;
  /** The recording's facts when the handler has its status (no second read). */
  recording?: RecordingFacts;
  object?: AccessRecord['object'];
  filter?: Record<string, FilterValue>;
  count?: number;
}

export interface RequestAuditor {
  /**
   * Writes the record of a granted read now, before the route builds its answer (a media URL is signed only
   * after this). Throws AccessAuditUnavailableError when it cannot be written.
   */
  granted(request: FastifyRequest, details: AccessDetails): Promise<void>;
  /** Writes the record of an action that is not a route's read (an upload's duplicate arrival). */
  recorded(request: FastifyRequest, action: AccessAction, details: AccessDetails): Promise<void>;
  /** The reads the routes use: every status read tells the auditor the recording's unit and deadline. */
  reads: RecordingReads;
}

function outcomeOf(status: number): AccessOutcome | undefined {
  if (status >= 200 && status < 300) return 'granted';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  return undefined;
}

/** The action a request performs, if audited; HEAD (which fastify answers for every GET) counts as its GET. */
export function auditedAction(method: string, route: string | undefined): AccessAction | undefined {
  if (route === undefined) return undefined;
  return AUDITED_ROUTES[`${method === 'HEAD' ? 'GET' : method} ${route}`];
}

/** The query of a request as a record's filter; undefined when it has none. */
function queryFilter(query: unknown): Record<string, FilterValue> | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const entries = Object.entries(query as Record<string, unknown>).filter(
    (entry): entry is [string, FilterValue] => ['string', 'number', 'boolean'].includes(typeof entry[1]),
  );
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * Audits every route of AUDITED_ROUTES: call before the routes are added. A route records explicitly with
 * `granted` when the record must precede its own work (a presigned URL); every other audited answer is recorded
 * by an onSend hook, after the handler and before a byte is sent — a granted read whose record fails becomes a
 * 503 without the body.
 */
export function installAccessAudit(
  app: FastifyInstance,
  deps: { audit: AccessAudit; pseudonyms: Pseudonymiser; reads: RecordingReads },
): RequestAuditor {
  const facts = factsSource(deps.reads);
  const recorded = new WeakSet<FastifyRequest>();

  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) {
      if (method === 'GET' && route.url.startsWith('/v1/recordings') && !auditedAction(method, route.url)) {
        throw new Error(
          `route GET ${route.url} reads recordings but is not audited: add it to AUDITED_ROUTES (api/access-audit.ts)`,
        );
      }
    }
  });

  async function write(
    request: FastifyRequest,
    action: AccessAction,
    outcome: AccessOutcome,
    status: number,
    details: AccessDetails,
  ): Promise<void> {
    recorded.add(request);
    const identity = request.identity!;
    const { recordingId } = details;
    let about: RecordingFacts | undefined = details.recording;
    if (recordingId !== undefined && about === undefined) {
      try {
        about = await facts.of(recordingId);
      } catch (err) {
        throw new AccessAuditUnavailableError(
          `cannot read the unit and deadline of recording ${recordingId} for its access record (${(err as Error).message}), so nothing is shown`,
        );
      }
    }
    const time = new Date().toISOString();
    const record: AccessRecord = {
      version: 1,
      recordId: randomUUID(),
      time,
      requestId: request.id,
      action,
      method: request.method,
      route: request.routeOptions.url ?? '',
      ...(recordingId !== undefined && { recordingId }),
      ...(about?.unit !== undefined && { recordingUnit: about.unit }),
      ...(details.object && { object: details.object }),
      ...(details.filter && { filter: details.filter }),
      ...(details.count !== undefined && { count: details.count }),
      who: {
        issuer: identity.issuer,
        subject: identity.subject,
        pseudonym: deps.pseudonyms.subject(identity.issuer, identity.subject),
        roles: [...identity.roles],
        units: [...identity.units],
        ...(identity.officerId !== undefined && { officerId: identity.officerId }),
      },
      client: { address: request.ip },
      outcome,
      status,
      retainUntil: accessRetainUntil(time, deps.audit.retention, about?.keepUntil),
    };
    await deps.audit.write(record);
  }

  /** What the hook knows of a request without its handler: the recording id, the media kind, the query. */
  function detailsOf(request: FastifyRequest): AccessDetails {
    const params = (request.params ?? {}) as { id?: unknown; object?: unknown };
    const filter = queryFilter(request.query);
    return {
      ...(typeof params.id === 'string' &&
        RECORDING_ID_PATTERN.test(params.id) && { recordingId: params.id }),
      ...(typeof params.object === 'string' && { object: { kind: params.object } }),
      ...(filter && { filter }),
    };
  }

  app.addHook('onSend', async (request, reply, payload) => {
    const action = auditedAction(request.method, request.routeOptions.url);
    if (!action || !request.identity || recorded.has(request)) return payload;
    const outcome = outcomeOf(reply.statusCode);
    if (!outcome) return payload;
    const writing = write(request, action, outcome, reply.statusCode, detailsOf(request));
    if (outcome === 'granted') {
      // The 503 that follows must not look like an attachment of what was refused.
      await writing.catch((err: unknown) => {
        reply.removeHeader('content-disposition');
        throw err;
      });
    } else {
      await writing.catch((err: unknown) =>
        request.log.warn({ err }, 'the access record of a refused read could not be written'),
      );
    }
    return payload;
  });

  return {
    reads: facts.observed,
    async granted(request, details) {
      const action = auditedAction(request.method, request.routeOptions.url);
      if (!action) throw new Error(`route ${request.routeOptions.url ?? '?'} is not in AUDITED_ROUTES`);
      const status = 200;
      await write(request, action, 'granted', status, { ...detailsOf(request), ...details });
    },
    async recorded(request, action, details) {
      await write(request, action, 'granted', 200, details);
    },
  };
}
