/**
 * The JSON schemas of every route: fastify validates requests with them before a handler runs (an id that is
 * not a recording id is refused with 400 before anything is looked up), serialises responses through them (a
 * field no schema names never leaves the process), and @fastify/swagger turns them into /openapi.json.
 */
import { RECORDING_ID_PATTERN } from '../domain/ids';
import { CUSTODY_ROLES, PERMISSIONS } from '../domain/roles';
import { LIFECYCLE_STATES, STAGES } from '../domain/types';
import { ACCESS_ACTIONS, MEDIA_OBJECTS } from './access-audit';

/** Request bodies larger than this are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

const looseObject = (description: string) =>
  ({ type: 'object', additionalProperties: true, description }) as const;
const nullableString = { type: ['string', 'null'] } as const;

export const recordingIdParams = {
  type: 'object',
  properties: {
    id: {
      type: 'string',
      pattern: RECORDING_ID_PATTERN.source,
      description: 'A recording id: 20 lowercase hexadecimal characters.',
    },
  },
  required: ['id'],
  additionalProperties: false,
} as const;

/** Routes without a query string take none: an unknown parameter (e.g. access_token) is a 400. */
export const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

export const errorBody = {
  type: 'object',
  description: 'What went wrong, for people; quote the request id when asking for help.',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string', description: 'The HTTP status text, or an OAuth error code.' },
    message: { type: 'string' },
    requestId: { type: 'string' },
  },
  required: ['statusCode', 'error', 'message', 'requestId'],
  additionalProperties: false,
} as const;

/** The error answers every authenticated route may give, besides its own. */
export const authenticatedErrors = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  429: errorBody,
  500: errorBody,
  503: errorBody,
} as const;

export const meBody = {
  type: 'object',
  properties: {
    subject: { type: 'string', description: "The token's sub: who acts." },
    issuer: { type: 'string' },
    roles: { type: 'array', items: { type: 'string', enum: [...CUSTODY_ROLES] } },
    permissions: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] } },
    units: {
      type: 'array',
      items: { type: 'string' },
      description: 'The organisational units whose recordings the caller sees; `*` is every unit.',
    },
    officerId: { type: 'string' },
  },
  required: ['subject', 'issuer', 'roles', 'permissions', 'units'],
  additionalProperties: false,
} as const;

export const recordingStatusBody = {
  type: 'object',
  description: 'What custody knows about one recording (the same status `custody status --json` prints).',
  properties: {
    recordingId: { type: 'string' },
    state: { type: 'string', enum: [...LIFECYCLE_STATES] },
    originalName: { type: 'string' },
    sha256: { type: 'string' },
    bytes: { type: 'integer' },
    media: looseObject('Container, codecs, dimensions and duration from the probe.'),
    deviceId: { type: 'string' },
    unit: { type: 'string' },
    recordedAt: { type: 'string', format: 'date-time' },
    ingestedAt: { type: 'string', format: 'date-time' },
    policy: { type: 'string' },
    original: looseObject('Where the original is stored, its version and hash.'),
    derivatives: looseObject('The review derivatives and how they were made.'),
    reviewReady: { type: 'boolean' },
    quarantine: looseObject('Why the recording is quarantined.'),
    lastError: looseObject('The error that parked the recording.'),
    retention: looseObject('Rule pack, deadline in force, extensions, holds, evidence.'),
    certificate: looseObject('The deletion certificate: key and hash.'),
    requests: {
      type: 'array',
      description:
        'Four-eyes requests, pending and decided (GET /v1/recordings/{id}/requests shows them as of now).',
      items: looseObject('A four-eyes request.'),
    },
    custodyLogHead: {
      type: 'object',
      properties: { seq: { type: 'integer' }, hash: { type: 'string' } },
      required: ['seq', 'hash'],
      additionalProperties: false,
    },
  },
  required: ['recordingId', 'state', 'ingestedAt', 'policy', 'reviewReady', 'custodyLogHead'],
  additionalProperties: false,
} as const;

export const listQuerystring = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...LIFECYCLE_STATES] },
    stage: { type: 'string', enum: [...STAGES], description: 'The stage a parked recording waits in.' },
    policy: { type: 'string', pattern: '^[a-z0-9-]{1,64}$', description: 'The rule pack in force.' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    pageToken: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]+$',
      maxLength: 4096,
      description: 'The nextPageToken of the previous page.',
    },
  },
  additionalProperties: false,
} as const;

export const listBody = {
  type: 'object',
  properties: {
    rows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          recordingId: { type: 'string' },
          state: { type: 'string' },
          stage: nullableString,
          policy: nullableString,
          deviceId: nullableString,
          unit: nullableString,
          deleteAfter: nullableString,
          held: { type: 'boolean' },
          evidence: { type: 'boolean' },
          started: { type: 'string' },
        },
        required: ['recordingId', 'state', 'held', 'evidence', 'started'],
        additionalProperties: false,
      },
    },
    nextPageToken: { type: 'string' },
  },
  required: ['rows'],
  additionalProperties: false,
} as const;

export const custodyLogBody = {
  type: 'object',
  properties: {
    recordingId: { type: 'string' },
    chain: {
      type: 'object',
      description: 'Whether the hash chain is intact, and what is wrong when not.',
      properties: { ok: { type: 'boolean' }, problems: { type: 'array', items: { type: 'string' } } },
      required: ['ok', 'problems'],
      additionalProperties: false,
    },
    entries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          recordingId: { type: 'string' },
          seq: { type: 'integer' },
          time: { type: 'string', format: 'date-time' },
          actor: { type: 'string' },
          action: { type: 'string' },
          details: looseObject("The action's details (docs/custody-log.md)."),
          prevHash: { type: 'string' },
          hash: { type: 'string' },
        },
        required: ['recordingId', 'seq', 'time', 'actor', 'action', 'details', 'prevHash', 'hash'],
        additionalProperties: false,
      },
    },
  },
  required: ['recordingId', 'chain', 'entries'],
  additionalProperties: false,
} as const;

export const certificateBody = {
  type: 'object',
  properties: {
    recordingId: { type: 'string' },
    bucket: { type: 'string' },
    key: { type: 'string' },
    versionId: { type: 'string' },
    verified: { type: 'boolean', description: 'The stored certificate hashes to the hash it carries.' },
    problems: { type: 'array', items: { type: 'string' } },
    lock: {
      type: 'object',
      properties: { mode: { type: 'string' }, retainUntil: { type: 'string' } },
      additionalProperties: false,
    },
    certificate: looseObject('The deletion certificate as stored (docs/retention.md).'),
  },
  required: ['recordingId', 'bucket', 'key', 'verified', 'problems'],
  additionalProperties: false,
} as const;

export const healthBody = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
  required: ['status'],
  additionalProperties: false,
} as const;

/** The media objects a URL can be asked for (api/routes/media.ts). */
export const mediaParams = {
  type: 'object',
  properties: {
    id: recordingIdParams.properties.id,
    object: {
      type: 'string',
      enum: [...MEDIA_OBJECTS],
      description: 'proxy (the review video), poster, sprite (thumbnails), or original (the evidence file).',
    },
  },
  required: ['id', 'object'],
  additionalProperties: false,
} as const;

export const mediaUrlBody = {
  type: 'object',
  description:
    'A presigned GET of exactly the stored version, valid until expiresAt; issued after it was audited.',
  properties: {
    url: { type: 'string' },
    expiresAt: { type: 'string', format: 'date-time' },
    sha256: { type: 'string', description: 'What the bytes hash to, as the custody log recorded it.' },
    contentType: { type: 'string' },
    bytes: { type: 'integer' },
  },
  required: ['url', 'expiresAt', 'contentType'],
  additionalProperties: false,
} as const;

/** An instant (RFC 3339), or a date meaning its start in UTC. */
const instantParameter = (description: string) =>
  ({
    type: 'string',
    maxLength: 40,
    anyOf: [
      { type: 'string', format: 'date-time' },
      { type: 'string', format: 'date' },
    ],
    description,
  }) as const;

const accessLogWindow = {
  format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
  from: instantParameter('Records at or after this instant.'),
  to: instantParameter('Records before this instant.'),
} as const;

export const recordingAccessLogQuerystring = {
  type: 'object',
  properties: accessLogWindow,
  additionalProperties: false,
} as const;

export const personAccessLogQuerystring = {
  type: 'object',
  properties: {
    subject: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
      description: "The person's sub, as the identity provider issues it (of this API's issuer).",
    },
    ...accessLogWindow,
  },
  required: ['subject'],
  additionalProperties: false,
} as const;

const stringList = { type: 'array', items: { type: 'string' } } as const;

export const accessRecordBody = {
  type: 'object',
  description: 'One access record as stored in the audit store (docs/api.md, "The access audit").',
  properties: {
    version: { type: 'integer' },
    recordId: { type: 'string' },
    time: { type: 'string', format: 'date-time' },
    requestId: { type: 'string' },
    action: { type: 'string', enum: [...ACCESS_ACTIONS] },
    method: { type: 'string' },
    route: { type: 'string' },
    recordingId: { type: 'string' },
    recordingUnit: { type: 'string' },
    object: {
      type: 'object',
      properties: {
        kind: { type: 'string' },
        bucket: { type: 'string' },
        key: { type: 'string' },
        versionId: { type: 'string' },
        sha256: { type: 'string' },
      },
      additionalProperties: false,
    },
    filter: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    count: { type: 'integer' },
    who: {
      type: 'object',
      properties: {
        issuer: { type: 'string' },
        subject: { type: 'string' },
        pseudonym: { type: 'string' },
        roles: stringList,
        units: stringList,
        officerId: { type: 'string' },
      },
      additionalProperties: false,
    },
    client: { type: 'object', properties: { address: { type: 'string' } }, additionalProperties: false },
    outcome: { type: 'string', enum: ['granted', 'forbidden', 'not-found'] },
    status: { type: 'integer' },
    retainUntil: { type: 'string', format: 'date-time' },
    stored: {
      type: 'object',
      description: 'The object and the version (its first) the record was read from.',
      properties: { key: { type: 'string' }, versionId: { type: 'string' } },
      required: ['key', 'versionId'],
      additionalProperties: false,
    },
    problems: {
      ...stringList,
      description:
        'Empty for an intact record; otherwise a version laid over it, or a body that is not JSON.',
    },
  },
  required: ['stored', 'problems'],
  additionalProperties: false,
} as const;

export const accessLogBody = {
  type: 'object',
  properties: { records: { type: 'array', items: accessRecordBody } },
  required: ['records'],
  additionalProperties: false,
} as const;
