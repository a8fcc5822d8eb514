/**
 * Uploading a recording through the API (api/uploads.ts says how): begin (the duplicate check, then a multipart
 * upload), the part URLs, complete (the lifecycle starts), abort. Needs `recording.ingest` (docks, operators);
 * the recording is filed under one of the uploader's units, and takes the deployment's rule pack: an uploader
 * names neither another unit nor (outside dev mode) a rule pack.
 */
import { randomUUID } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  type Part,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import { ALL_UNITS, UNIT_ID_PATTERN } from '../../domain/roles';
import type { DeclaredFacts, LifecycleInput } from '../../domain/types';
import {
  stillVerifying,
  startUploadedRecording,
  uploadFactsMetadata,
  UPLOAD_FACTS_MAX_BYTES,
  UPLOAD_PREFIX,
} from '../../activities/start-uploaded-recording';
import { contentRecordingIdFor } from '../../activities/start-lifecycle';
import { loadRulePacks, RulePackError } from '../../activities/policy/load';
import { recordingFacts, type RequestAuditor } from '../access-audit';
import { ApiError } from '../errors';
import type { RecordingReads } from '../reads';
import {
  expectedPartBytes,
  MAX_PARTS,
  MAX_UPLOAD_BYTES,
  PART_URL_SECONDS,
  planUpload,
  signPartUrls,
  UploadTicketError,
  type UploadTicket,
  type UploadTickets,
} from '../uploads';
import { authenticatedErrors, errorBody, noQuery } from '../schemas';

export interface UploadSettings {
  /** The client the part URLs are signed with (its endpoint is their host) and the upload is driven with. */
  s3: S3Client;
  /** The incoming store. */
  bucket: string;
  /** The deployment's rule pack (CUSTODY_DEFAULT_POLICY). */
  policy: string;
  /** CUSTODY_DEV_MODE: an uploader may name the rule pack (the dev demo's 30-second pack). */
  devMode: boolean;
  /** The rule packs a dev-mode uploader may name (the workers' policy directory). */
  policyDir: string;
  taskQueues: LifecycleInput['taskQueues'];
  transcode: boolean;
  temporal: () => Promise<Client>;
  tickets: UploadTickets;
}

/** Seconds to wait before asking again while the first arrival of the same bytes is being verified. */
const RETRY_PENDING_SECONDS = 15;

const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Lowercase hex SHA-256.' } as const;
const uploadToken = {
  type: 'string',
  minLength: 1,
  maxLength: 4096,
  description: 'The upload ticket POST /v1/uploads answered.',
} as const;
const shortText = (description: string) =>
  ({ type: 'string', minLength: 1, maxLength: 128, description }) as const;

const beginBody = {
  type: 'object',
  properties: {
    fileName: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[^/\\\\\\u0000-\\u001f]+$',
      description: 'The file’s own name (no directory): kept in the log, never used as a key.',
    },
    bytes: { type: 'integer', minimum: 1, maximum: MAX_UPLOAD_BYTES },
    sha256: {
      ...sha256,
      description: 'The SHA-256 of the bytes about to be uploaded, as the uploader computed it.',
    },
    declared: {
      type: 'object',
      description: 'What the dock or the uploader knows of the recording (its manifest).',
      properties: {
        deviceId: shortText('The camera.'),
        officerId: shortText('The recording officer.'),
        unit: { type: 'string', pattern: UNIT_ID_PATTERN.source, description: 'One of your units.' },
        recordedAt: { type: 'string', format: 'date-time' },
        sha256: {
          ...sha256,
          description: 'The hash a manifest declares: a mismatch quarantines the recording.',
        },
      },
      additionalProperties: false,
    },
    policy: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9-]{0,63}$',
      description:
        'Dev mode only: a rule pack id. Otherwise the deployment’s pack applies and naming one is refused.',
    },
  },
  required: ['fileName', 'bytes', 'sha256'],
  additionalProperties: false,
} as const;

const recordingOutcome = {
  type: 'object',
  properties: {
    outcome: { type: 'string', enum: ['recorded', 'duplicate'] },
    recordingId: { type: 'string' },
    state: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['outcome', 'recordingId', 'message'],
  additionalProperties: false,
} as const;

const beganBody = {
  type: 'object',
  properties: {
    outcome: { type: 'string', enum: ['upload'] },
    upload: { type: 'string' },
    partSize: { type: 'integer' },
    partCount: { type: 'integer' },
    expiresAt: { type: 'string' },
  },
  required: ['outcome', 'upload', 'partSize', 'partCount', 'expiresAt'],
  additionalProperties: false,
} as const;

const partsBody = {
  type: 'object',
  properties: {
    upload: uploadToken,
    partNumbers: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_PARTS,
      uniqueItems: true,
      items: { type: 'integer', minimum: 1, maximum: MAX_PARTS },
    },
  },
  required: ['upload', 'partNumbers'],
  additionalProperties: false,
} as const;

const ticketBody = {
  type: 'object',
  properties: { upload: uploadToken },
  required: ['upload'],
  additionalProperties: false,
} as const;

const errors = { ...authenticatedErrors, 409: errorBody, 415: errorBody } as const;

/** The unit an upload is filed under: the declared one if it is the uploader's, else their only unit. */
export function uploadUnit(units: readonly string[], declared: string | undefined): string | undefined {
  const everyUnit = units.includes(ALL_UNITS);
  if (declared !== undefined) {
    if (everyUnit || units.includes(declared)) return declared;
    throw new ApiError(
      403,
      `unit ${declared} is not one of yours (${units.join(', ') || 'none'}): a recording is filed under its uploader's unit`,
    );
  }
  const own = units.filter((unit) => unit !== ALL_UNITS);
  if (own.length === 1) return own[0];
  if (everyUnit) return undefined;
  throw new ApiError(
    400,
    own.length === 0
      ? 'you belong to no unit, so a recording of yours would belong to nobody: ask for a unit in your identity provider'
      : `name the unit the recording belongs to (declared.unit, custody ingest --unit): one of ${own.join(', ')}`,
  );
}

export function uploadRoutes(
  app: FastifyInstance,
  reads: RecordingReads,
  auditor: RequestAuditor,
  settings: UploadSettings,
): void {
  const { s3, bucket } = settings;

  async function checkNamedPolicy(policy: string): Promise<void> {
    if (!settings.devMode) {
      throw new ApiError(
        400,
        `an upload takes the deployment's rule pack (${settings.policy}); naming one (here ${policy}) is for dev mode (CUSTODY_DEV_MODE=true) only`,
      );
    }
    try {
      (await loadRulePacks(settings.policyDir)).getPack(policy);
    } catch (err) {
      if (err instanceof RulePackError) throw new ApiError(400, err.message);
      throw err;
    }
  }

  async function ticketOf(request: FastifyRequest, token: string): Promise<UploadTicket> {
    let ticket: UploadTicket;
    try {
      ticket = await settings.tickets.verify(token);
    } catch (err) {
      if (err instanceof UploadTicketError) throw new ApiError(400, err.message);
      throw err;
    }
    const identity = request.identity!;
    if (ticket.subject !== identity.subject || ticket.issuer !== identity.issuer) {
      throw new ApiError(403, 'this upload was begun by someone else: only its uploader may continue it');
    }
    return ticket;
  }

  app.post<{
    Body: { fileName: string; bytes: number; sha256: string; declared?: DeclaredFacts; policy?: string };
  }>(
    '/v1/uploads',
    {
      config: { permission: 'recording.ingest' },
      schema: {
        summary:
          'Begin an upload: answered with the recording when the same bytes are already one, else with an upload ticket and its part size.',
        tags: ['uploads'],
        querystring: noQuery,
        body: beginBody,
        response: { 200: recordingOutcome, 201: beganBody, ...errors },
      },
    },
    async (request, reply) => {
      const { fileName, bytes, sha256: hash, declared = {}, policy } = request.body;
      const identity = request.identity!;
      const unit = uploadUnit(identity.units, declared.unit);
      if (policy !== undefined) await checkNamedPolicy(policy);

      const existingId = contentRecordingIdFor({ sha256: hash, size: bytes });
      const existing = await reads.status(existingId);
      if (existing && existing.sha256 === undefined && stillVerifying(existing.state)) {
        throw new ApiError(
          409,
          `the same bytes are being taken in as recording ${existingId} and are not verified yet: ask again in ${RETRY_PENDING_SECONDS} s`,
          { 'retry-after': String(RETRY_PENDING_SECONDS) },
        );
      }
      // A recording whose stored bytes have another hash was declared falsely: these bytes get their own.
      if (existing && existing.sha256 === hash) {
        await auditor.recorded(request, 'upload.duplicate', {
          recordingId: existingId,
          recording: recordingFacts(existing),
        });
        if (existing.state === 'deleted') {
          throw new ApiError(
            409,
            `these bytes were recording ${existingId}, deleted under its deadline: they are not taken into custody again`,
          );
        }
        return reply.code(200).send({
          outcome: 'duplicate',
          recordingId: existingId,
          state: existing.state,
          message: `these bytes are already recording ${existingId} (${existing.state}): nothing to upload`,
        });
      }

      const metadata = uploadFactsMetadata({
        version: 1,
        originalName: fileName,
        sha256: hash,
        bytes,
        declared: { ...declared, ...(unit !== undefined ? { unit } : {}) },
        actor: identity.subject,
        ...(policy !== undefined && { policy }),
      });
      const metadataBytes = Object.entries(metadata).reduce((n, [k, v]) => n + k.length + v.length, 0);
      if (metadataBytes > UPLOAD_FACTS_MAX_BYTES) {
        throw new ApiError(
          400,
          `the file name and declared facts take ${metadataBytes} bytes of object metadata, more than the ${UPLOAD_FACTS_MAX_BYTES} a store keeps: shorten the file name`,
        );
      }
      const plan = planUpload(bytes);
      const key = `${UPLOAD_PREFIX}${new Date().toISOString().slice(0, 10)}/${randomUUID()}`;
      const created = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: 'application/octet-stream',
          Metadata: metadata,
        }),
      );
      if (!created.UploadId) throw new Error(`the incoming store returned no upload id for ${key}`);
      const { token, expiresAt } = await settings.tickets.issue({
        subject: identity.subject,
        issuer: identity.issuer,
        key,
        uploadId: created.UploadId,
        sha256: hash,
        bytes,
        ...plan,
      });
      return reply.code(201).send({ outcome: 'upload', upload: token, ...plan, expiresAt });
    },
  );

  app.post<{ Body: { upload: string; partNumbers: number[] } }>(
    '/v1/uploads/parts',
    {
      config: { permission: 'recording.ingest' },
      schema: {
        summary: `Presigned PUT URLs of an upload's parts, valid ${PART_URL_SECONDS} s: ask for the next ones as you go.`,
        tags: ['uploads'],
        querystring: noQuery,
        body: partsBody,
        response: {
          200: {
            type: 'object',
            properties: {
              parts: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    partNumber: { type: 'integer' },
                    bytes: { type: 'integer' },
                    url: { type: 'string' },
                  },
                  required: ['partNumber', 'bytes', 'url'],
                  additionalProperties: false,
                },
              },
              expiresAt: { type: 'string' },
            },
            required: ['parts', 'expiresAt'],
            additionalProperties: false,
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const ticket = await ticketOf(request, request.body.upload);
      const beyond = request.body.partNumbers.find((n) => n > ticket.partCount);
      if (beyond !== undefined) {
        throw new ApiError(400, `part ${beyond} does not exist: this upload has ${ticket.partCount} parts`);
      }
      return signPartUrls(s3, { ...ticket, bucket }, request.body.partNumbers);
    },
  );

  app.post<{ Body: { upload: string } }>(
    '/v1/uploads/complete',
    {
      config: { permission: 'recording.ingest' },
      schema: {
        summary:
          'Complete an upload: the API checks every part, joins them and starts the recording (or answers with the recording the same bytes already are). Safe to repeat.',
        tags: ['uploads'],
        querystring: noQuery,
        body: ticketBody,
        response: { 200: recordingOutcome, 201: recordingOutcome, ...errors },
      },
    },
    async (request, reply) => {
      const ticket = await ticketOf(request, request.body.upload);
      const parts = await listParts(s3, bucket, ticket);
      if (parts) {
        const problem = partProblem(ticket, parts);
        if (problem)
          throw new ApiError(409, `${problem}; the parts received are kept: upload the missing ones again`);
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: ticket.key,
            UploadId: ticket.uploadId,
            MultipartUpload: {
              Parts: parts.map((p) => ({ PartNumber: p.PartNumber!, ETag: p.ETag! })),
            },
          }),
        );
      }
      const started = await startUploadedRecording(
        { s3, client: await settings.temporal() },
        {
          bucket,
          key: ticket.key,
          policy: settings.policy,
          taskQueues: settings.taskQueues,
          transcode: settings.transcode,
          expected: { sha256: ticket.sha256, size: ticket.bytes },
        },
      );
      switch (started.kind) {
        case 'started':
          return reply.code(started.fresh ? 201 : 200).send({
            outcome: 'recorded',
            recordingId: started.recordingId,
            message: `recording ${started.recordingId} is being taken into custody`,
          });
        case 'duplicate':
          await auditor.recorded(request, 'upload.duplicate', { recordingId: started.recordingId });
          return reply.code(200).send({
            outcome: 'duplicate',
            recordingId: started.recordingId,
            state: started.state,
            message: `these bytes are already recording ${started.recordingId} (${started.state}): the second upload is dropped`,
          });
        case 'pending':
          throw new ApiError(
            409,
            `the same bytes are being taken in as recording ${started.recordingId} and are not verified yet; your upload is kept: complete it again in ${RETRY_PENDING_SECONDS} s`,
            { 'retry-after': String(RETRY_PENDING_SECONDS) },
          );
        case 'missing':
          throw new ApiError(
            409,
            'this upload is neither in progress nor stored: it was aborted or has expired; begin it again',
          );
      }
    },
  );

  app.post<{ Body: { upload: string } }>(
    '/v1/uploads/abort',
    {
      config: { permission: 'recording.ingest' },
      schema: {
        summary: 'Abort an upload that is not complete: its parts are discarded.',
        tags: ['uploads'],
        querystring: noQuery,
        body: ticketBody,
        response: {
          200: {
            type: 'object',
            properties: { aborted: { type: 'boolean' } },
            required: ['aborted'],
            additionalProperties: false,
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const ticket = await ticketOf(request, request.body.upload);
      try {
        await s3.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: ticket.key, UploadId: ticket.uploadId }),
        );
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchUpload') return { aborted: false };
        throw err;
      }
      return { aborted: true };
    },
  );
}

/** The parts the store holds, in order; undefined when the upload is no longer in progress (completed). */
async function listParts(s3: S3Client, bucket: string, ticket: UploadTicket): Promise<Part[] | undefined> {
  const parts: Part[] = [];
  let marker: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListPartsCommand({
          Bucket: bucket,
          Key: ticket.key,
          UploadId: ticket.uploadId,
          ...(marker !== undefined && { PartNumberMarker: marker }),
        }),
      );
      parts.push(...(page.Parts ?? []));
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker !== undefined);
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchUpload') return undefined;
    throw err;
  }
  return parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
}

/** What is wrong with the parts received, if anything: a part missing, or of another size than planned. */
export function partProblem(ticket: UploadTicket, parts: readonly Part[]): string | undefined {
  const byNumber = new Map(parts.map((p) => [p.PartNumber, p]));
  for (let n = 1; n <= ticket.partCount; n++) {
    const part = byNumber.get(n);
    const expected = expectedPartBytes(ticket, ticket.bytes, n);
    if (!part) return `part ${n} of ${ticket.partCount} has not arrived`;
    if (part.Size !== expected) return `part ${n} has ${part.Size ?? 0} bytes, not the ${expected} planned`;
  }
  if (parts.length > ticket.partCount)
    return `the store holds more parts than the ${ticket.partCount} planned`;
  return undefined;
}
