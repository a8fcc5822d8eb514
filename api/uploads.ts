/**
 * Uploads through the API (issue 15 item 7, the write half), so that no uploader holds S3 credentials: the API
 * authorises an upload, opens a multipart upload in the incoming store, and hands out presigned URLs of its
 * parts; the bytes go straight to the store (the API never carries them: a plain multipart PUT's speed), and
 * the API completes the upload and starts the recording's lifecycle (activities/start-uploaded-recording.ts).
 *
 * Between those calls the API keeps nothing: the upload is described by a ticket it signs with its own key (the
 * assertion key; another type and audience, so neither can pass for the other) and the client hands back. The
 * ticket binds the upload to its uploader: another subject cannot fetch its part URLs or complete it.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { jwtVerify, SignJWT } from 'jose';
import type { AssertionSigningKey } from '../workers/assertion-keys';

export const UPLOAD_TICKET_TYPE = 'custody-upload+jwt';
export const UPLOAD_TICKET_AUDIENCE = 'custody-api/uploads';
const UPLOAD_TICKET_ISSUER = 'custody-api';
/** A day to upload the parts; a multipart upload left longer is aborted by the inbox sweep. */
export const UPLOAD_TICKET_SECONDS = 24 * 3600;
/** How long a part's presigned URL is valid: the client asks for the next parts' URLs as it goes. */
export const PART_URL_SECONDS = 900;

const MiB = 1024 * 1024;
/** The part size of small and medium files (the CLI's old direct uploads used it too: bench/cases/ingest.ts). */
export const MIN_PART_BYTES = 8 * MiB;
/** Parts per upload at most: keeps listing them one or two pages and the part count readable. */
export const MAX_PARTS = 1000;
/** The largest upload taken: 256 GiB, far above a bodycam's longest recording. */
export const MAX_UPLOAD_BYTES = 256 * 1024 * MiB;

export interface UploadPlan {
  partSize: number;
  partCount: number;
}

/** 8 MiB parts, larger (whole MiB) where the file would need more than MAX_PARTS of them. */
export function planUpload(bytes: number): UploadPlan {
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(bytes / MAX_PARTS / MiB) * MiB);
  return { partSize, partCount: Math.max(1, Math.ceil(bytes / partSize)) };
}

/** The size the store must hold for `partNumber` (1-based) of a plan over `bytes`. */
export function expectedPartBytes(plan: UploadPlan, bytes: number, partNumber: number): number {
  return partNumber < plan.partCount ? plan.partSize : bytes - (plan.partCount - 1) * plan.partSize;
}

export interface UploadTicket extends UploadPlan {
  /** The uploader: only they may continue the upload. */
  subject: string;
  issuer: string;
  /** The object in the incoming store and its multipart upload. */
  key: string;
  uploadId: string;
  sha256: string;
  bytes: number;
}

export class UploadTicketError extends Error {
  override name = 'UploadTicketError';
}

export interface UploadTickets {
  issue(ticket: UploadTicket): Promise<{ token: string; expiresAt: string }>;
  /** The ticket; UploadTicketError when it is not one this API issued, or expired. */
  verify(token: string): Promise<UploadTicket>;
}

export function createUploadTickets(
  signing: AssertionSigningKey,
  now: () => Date = () => new Date(),
): UploadTickets {
  const publicKey: KeyObject = createPublicKey(signing.key);
  return {
    async issue(ticket) {
      const iat = Math.floor(now().getTime() / 1000);
      const exp = iat + UPLOAD_TICKET_SECONDS;
      const token = await new SignJWT({
        idp: ticket.issuer,
        key: ticket.key,
        uid: ticket.uploadId,
        sha: ticket.sha256,
        n: ticket.bytes,
        ps: ticket.partSize,
        pc: ticket.partCount,
      })
        .setProtectedHeader({ alg: 'EdDSA', typ: UPLOAD_TICKET_TYPE, kid: signing.kid })
        .setIssuer(UPLOAD_TICKET_ISSUER)
        .setAudience(UPLOAD_TICKET_AUDIENCE)
        .setSubject(ticket.subject)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(signing.key);
      return { token, expiresAt: new Date(exp * 1000).toISOString() };
    },
    async verify(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, publicKey, {
          algorithms: ['EdDSA'],
          typ: UPLOAD_TICKET_TYPE,
          issuer: UPLOAD_TICKET_ISSUER,
          audience: UPLOAD_TICKET_AUDIENCE,
          currentDate: now(),
        }));
      } catch (err) {
        throw new UploadTicketError(
          `the upload ticket is not valid (${(err as Error).message}): begin the upload again with POST /v1/uploads`,
        );
      }
      const { sub, idp, key, uid, sha, n, ps, pc } = payload;
      if (
        typeof sub !== 'string' ||
        typeof idp !== 'string' ||
        typeof key !== 'string' ||
        typeof uid !== 'string' ||
        typeof sha !== 'string' ||
        typeof n !== 'number' ||
        typeof ps !== 'number' ||
        typeof pc !== 'number'
      ) {
        throw new UploadTicketError(
          'the upload ticket lacks a claim: begin the upload again with POST /v1/uploads',
        );
      }
      return {
        subject: sub,
        issuer: idp,
        key,
        uploadId: uid,
        sha256: sha,
        bytes: n,
        partSize: ps,
        partCount: pc,
      };
    },
  };
}

/** Presigned PUT URLs of parts of a multipart upload, valid PART_URL_SECONDS from now (whole seconds). */
export async function signPartUrls(
  s3: S3Client,
  upload: { bucket: string; key: string; uploadId: string; bytes: number } & UploadPlan,
  partNumbers: readonly number[],
): Promise<{ parts: { partNumber: number; bytes: number; url: string }[]; expiresAt: string }> {
  // SigV4 dates have whole seconds: the URL expires PART_URL_SECONDS after the signing second.
  const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
  const parts = await Promise.all(
    partNumbers.map(async (partNumber) => ({
      partNumber,
      bytes: expectedPartBytes(upload, upload.bytes, partNumber),
      url: await getSignedUrl(
        s3,
        new UploadPartCommand({
          Bucket: upload.bucket,
          Key: upload.key,
          UploadId: upload.uploadId,
          PartNumber: partNumber,
        }),
        { expiresIn: PART_URL_SECONDS, signingDate },
      ),
    })),
  );
  return { parts, expiresAt: new Date(signingDate.getTime() + PART_URL_SECONDS * 1000).toISOString() };
}
