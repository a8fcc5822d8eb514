/**
 * `custody ingest <file>`: a recording taken into custody through the custody API, as the signed-in person or
 * service account (a dock): the file's SHA-256 first, then the API either answers that the same bytes are already
 * a recording (nothing is sent again), or hands out presigned URLs of the parts, which go straight to the
 * incoming store (cli/upload.ts); the API then completes the upload and starts the lifecycle. The workflow
 * re-hashes the bytes on their way into the evidence store: a recording is never accepted on the uploader's word.
 * The uploader is the actor (no --by); the unit one of theirs; the rule pack the deployment's.
 */
import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseManifest } from '../activities/manifest';
import type { DeclaredFacts } from '../domain/types';
import { isUnitId } from '../domain/roles';
import { CliError, EXIT, type CliContext } from './context';
import { reviewOutcome, waitForReviewReady } from './recording';
import { createProgress, printJson, humanBytes } from './output';
import { ApiRequestError, connectApi, type ApiClient } from './api-client';
import { hashFile, PartUploadError, uploadParts, type PartUrl } from './upload';

export interface IngestOptions {
  manifest?: string;
  device?: string;
  officer?: string;
  unit?: string;
  recordedAt?: string;
  sha256?: string;
  policy?: string;
  json?: boolean;
  wait?: boolean;
}

/** What POST /v1/uploads and /v1/uploads/complete answer (api/routes/uploads.ts). */
type UploadAnswer =
  | { outcome: 'upload'; upload: string; partSize: number; partCount: number; expiresAt: string }
  | { outcome: 'recorded' | 'duplicate'; recordingId: string; state?: string; message: string };

/** How long to keep asking while the first arrival of the same bytes is verified (a few transcodes' time). */
const PENDING_PATIENCE_MS = 10 * 60_000;

/** Calls `send` again while the API answers 409 with a Retry-After: the same bytes are being verified. */
async function patiently<T>(send: () => Promise<T>, say: (text: string) => void): Promise<T> {
  const giveUp = Date.now() + PENDING_PATIENCE_MS;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.status !== 409 || err.retryAfterSeconds === undefined)
        throw err;
      if (Date.now() > giveUp) throw err;
      say(`${err.apiMessage}; asking again in ${err.retryAfterSeconds} s`);
      await new Promise((resolve) => setTimeout(resolve, err.retryAfterSeconds! * 1000));
    }
  }
}

async function declaredFacts(options: IngestOptions): Promise<DeclaredFacts> {
  let declared: DeclaredFacts = {};
  if (options.manifest) {
    const text = await readFile(options.manifest, 'utf8').catch((err: Error) => {
      throw new CliError(`Cannot read manifest ${options.manifest}: ${err.message}`);
    });
    const parsed = parseManifest(text, options.manifest);
    if (!parsed.ok) throw new CliError(parsed.problem);
    declared = parsed.declared;
  }
  if (options.unit !== undefined && !isUnitId(options.unit)) {
    throw new CliError(
      `--unit ${options.unit} is not a unit id: letters, digits and . _ : -, starting with a letter or digit, at most 128 characters`,
    );
  }
  if (options.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.sha256)) {
    throw new CliError(`--sha256 ${options.sha256} is not a SHA-256: expected 64 hexadecimal characters`);
  }
  if (options.recordedAt !== undefined && Number.isNaN(Date.parse(options.recordedAt))) {
    throw new CliError(
      `--recorded-at ${options.recordedAt} is not a date: expected ISO 8601, e.g. 2026-11-20T08:15:00Z`,
    );
  }
  return {
    ...declared,
    ...(options.device && { deviceId: options.device }),
    ...(options.officer && { officerId: options.officer }),
    ...(options.unit && { unit: options.unit }),
    ...(options.recordedAt && { recordedAt: new Date(options.recordedAt).toISOString() }),
    ...(options.sha256 && { sha256: options.sha256.toLowerCase() }),
  };
}

export async function ingestCommand(ctx: CliContext, file: string, options: IngestOptions): Promise<void> {
  const info = await stat(file).catch((err: Error) => {
    throw new CliError(`Cannot read ${file}: ${err.message}`);
  });
  if (!info.isFile()) throw new CliError(`${file} is not a regular file`);
  if (info.size === 0) throw new CliError(`${file} is empty: there is no recording in it`);
  const declared = await declaredFacts(options);
  const api = connectApi(ctx.config);
  const say = (text: string) => {
    if (!options.json) process.stderr.write(`${text}\n`);
  };

  const originalName = path.basename(file);
  const hashing = options.json ? undefined : createProgress(info.size, `hashing ${originalName}`);
  const { sha256, bytes } = await hashFile(file, (b) => hashing?.update(b));
  hashing?.finish(bytes);
  if (declared.sha256 && declared.sha256 !== sha256) {
    process.stderr.write(
      `warning: ${originalName} hashes to ${sha256}, not the declared ${declared.sha256}; ` +
        'it will be quarantined (the bytes are kept).\n',
    );
  }

  const begun = await patiently(
    () =>
      api.sendJson<UploadAnswer>('POST', '/v1/uploads', {
        fileName: originalName,
        bytes,
        sha256,
        ...(Object.keys(declared).length > 0 && { declared }),
        ...(options.policy !== undefined && { policy: options.policy }),
      }),
    say,
  );
  const outcome = begun.outcome === 'upload' ? await sendBytes(api, file, bytes, begun, options, say) : begun;
  if (outcome.outcome === 'upload') throw new CliError('the custody API did not complete the upload');
  const duplicate = outcome.outcome === 'duplicate';
  const ingested = { recordingId: outcome.recordingId, sha256, bytes, ...(duplicate && { duplicate }) };
  say(
    duplicate
      ? `${outcome.message}\n`
      : `recording ${outcome.recordingId}: ${humanBytes(bytes)}, sha256 ${sha256}\n` +
          (options.wait
            ? 'waiting until it is review-ready (Ctrl-C stops waiting, not the recording)'
            : `follow it with: custody status ${outcome.recordingId}`),
  );
  if (!options.wait) {
    if (options.json) printJson(ingested);
    else process.stdout.write(`${outcome.recordingId}\n`);
    return;
  }
  const status = await waitForReviewReady(ctx, outcome.recordingId);
  if (!status) throw new CliError(`recording ${outcome.recordingId} vanished while waiting for it`);
  const review = reviewOutcome(status);
  if (!review.ready) process.exitCode = EXIT.notReady;
  if (options.json) return printJson({ ...ingested, status });
  process.stderr.write(`${review.ready ? '' : 'custody: '}${review.message}\n`);
  process.stdout.write(`${outcome.recordingId}\n`);
}

/** The parts, then the completion; an upload that fails on the way is aborted (its parts discarded). */
async function sendBytes(
  api: ApiClient,
  file: string,
  bytes: number,
  begun: Extract<UploadAnswer, { outcome: 'upload' }>,
  options: IngestOptions,
  say: (text: string) => void,
): Promise<UploadAnswer> {
  const progress = options.json
    ? undefined
    : createProgress(bytes, `uploading ${path.basename(file)} (${begun.partCount} parts)`);
  try {
    await uploadParts(
      file,
      begun,
      async (partNumbers) =>
        (
          await api.sendJson<{ parts: PartUrl[] }>('POST', '/v1/uploads/parts', {
            upload: begun.upload,
            partNumbers,
          })
        ).parts,
      (sent) => progress?.update(sent),
    );
  } catch (err) {
    await api.sendJson('POST', '/v1/uploads/abort', { upload: begun.upload }).catch(() => undefined);
    if (err instanceof PartUploadError) throw new CliError(`${err.message}; nothing was stored, try again`);
    throw err;
  }
  progress?.finish(bytes);
  return patiently(
    () => api.sendJson<UploadAnswer>('POST', '/v1/uploads/complete', { upload: begun.upload }),
    say,
  );
}
