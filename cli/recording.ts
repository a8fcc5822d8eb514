/**
 * `custody status | log | verify <id>`: what custody knows about one recording, and whether it still holds. A
 * person's reads go through the custody API (signed in; recorded in the access audit, scoped to their units);
 * `verify` reads the stores itself, as an independent check must.
 */
import { verifyRecording } from '../activities/custody-log/read';
import type { CustodyEntry } from '../activities/custody-log/chain';
import type { RecordingStatus } from '../domain/types';
import { CliError, EXIT, type CliContext } from './context';
import { formatFields, formatTable, humanBytes, printJson } from './output';
import { computeDeadline } from '../domain/retention';
import { ApiRequestError, connectApi } from './api-client';

/** A 404 of the API as the CLI has always said it: an unknown id (another unit's looks the same). */
export function unknownRecording(recordingId: string): CliError {
  return new CliError(`unknown recording id ${recordingId} (or not a recording of your units)`, EXIT.unknown);
}

/** GET `route`; a 404 becomes unknownRecording. */
async function readRecording<T>(ctx: CliContext, recordingId: string, route: string): Promise<T> {
  try {
    return await connectApi(ctx.config).getJson<T>(route);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) throw unknownRecording(recordingId);
    throw err;
  }
}

/**
 * Blocks until the recording is review-ready or stopped short of it: the API holds each request until the
 * workflow's awaitReviewReady Update answers or 50 s pass (then it is asked again), so nothing polls the workflow.
 */
export async function waitForReviewReady(
  ctx: CliContext,
  recordingId: string,
): Promise<RecordingStatus | undefined> {
  const api = connectApi(ctx.config);
  for (;;) {
    let response: Response;
    try {
      response = await api.request('GET', `/v1/recordings/${recordingId}`, {
        query: { wait: 'review-ready' },
      });
    } catch (err) {
      if (err instanceof ApiRequestError && err.status === 404) return undefined;
      throw err;
    }
    const status = (await response.json()) as RecordingStatus;
    if (response.headers.get('x-custody-wait') !== 'timeout') return status;
  }
}

/** What a --wait tells its user: review-ready (ok), or why not and what to do about it. */
export function reviewOutcome(status: RecordingStatus): { ready: boolean; message: string } {
  const id = status.recordingId;
  switch (status.state) {
    case 'retained':
    case 'held':
      return status.reviewReady
        ? {
            ready: true,
            message: `recording ${id} is review-ready: ${(status.derivatives?.derivatives ?? []).map((d) => d.kind).join(', ')} stored`,
          }
        : {
            ready: true,
            message: `recording ${id} is stored and retained (no derivatives: transcoding is off)`,
          };
    case 'needs-attention': {
      const error = status.lastError;
      return {
        ready: false,
        message:
          `recording ${id} is parked in needs-attention at stage ${error?.stage ?? '?'}: ${error?.message ?? ''}. ` +
          `Fix the cause, then run: custody replay ${id} --by <you>`,
      };
    }
    case 'quarantined':
      return {
        ready: false,
        message:
          `recording ${id} is quarantined (${status.quarantine?.reason ?? '?'}: ${status.quarantine?.message ?? ''}); ` +
          `its bytes are kept. After review: custody release-quarantine ${id} --reason <why> --by <you>`,
      };
    default:
      return { ready: false, message: `recording ${id} is ${status.state}: it will not become review-ready` };
  }
}

type Field = [string, string | number | boolean | undefined];

const seconds = (s: number) => `${s.toFixed(1)} s`;
const where = (o: { bucket: string; key: string; versionId?: string }) =>
  `s3://${o.bucket}/${o.key}${o.versionId ? ` version ${o.versionId}` : ''}`;

function mediaLine(media: NonNullable<RecordingStatus['media']>): string {
  return [
    `${media.videoCodec} ${media.width}x${media.height}`,
    seconds(media.durationS),
    ...(media.fps ? [`${Math.round(media.fps * 100) / 100} fps`] : []),
    ...(media.rotation ? [`rotated ${media.rotation}°`] : []),
    media.hasAudio ? `audio ${media.audioCodec ?? '?'}` : 'no audio',
    `(${media.container})`,
  ].join(' ');
}

/** Review-ready, and when the source was truncated, how much of it the derivatives cover. */
function reviewLine(status: RecordingStatus): string {
  const partial = status.derivatives?.partial;
  if (!status.reviewReady) return 'no';
  if (!partial) return 'yes';
  return (
    `yes, partial: decoded ${seconds(partial.decodedS)} of the ${seconds(partial.declaredS)} declared ` +
    '(the proxy covers the readable part)'
  );
}

function derivativeLines(status: RecordingStatus): Field[] {
  const set = status.derivatives;
  if (!set) return [];
  return [
    ...set.derivatives.map((d): Field => [d.kind, `${d.width}x${d.height} ${d.bytes} B sha256 ${d.sha256}`]),
    ['transcode', `ffmpeg ${set.ffmpegVersion}, ${seconds(set.elapsedS)}`],
    ['partial', set.partial?.reason],
  ];
}

/**
 * Why the deadline counts from the ingest time when it does (recordedAt missing, invalid, or after ingest), and
 * a deadline that had passed at ingest: the warnings computeDeadline gave when the workflow set it (also in the
 * `deadline.set` custody-log entry), recomputed from the same inputs.
 */
function deadlineWarnings(status: RecordingStatus): string[] {
  const r = status.retention;
  if (!r) return [];
  const recomputed = computeDeadline({
    recordedAt: status.recordedAt,
    ingestedAt: status.ingestedAt,
    retention: r.pack.retention,
  });
  if (recomputed.basis !== r.deadline.basis || recomputed.basisTime !== r.deadline.basisTime) return [];
  return recomputed.warnings.map((w) => w.message);
}

function retentionLines(status: RecordingStatus): Field[] {
  const r = status.retention;
  if (!r) return [];
  const active = r.holds.filter((h) => !h.releasedAt);
  const released = r.holds.length - active.length;
  const extended = r.deleteAfter !== r.deadline.statutoryDeadline;
  return [
    [
      'rulePack',
      `${r.pack.id} v${r.pack.version}${r.pack.citation ? ` (${r.pack.citation})` : ''}, retention ${r.pack.retention}`,
    ],
    [
      'deleteAfter',
      `${r.deleteAfter} (${r.pack.retention} from ${r.deadline.basis} ${r.deadline.basisTime}` +
        `${extended ? `; statutory ${r.deadline.statutoryDeadline}, extended` : ''})`,
    ],
    ...deadlineWarnings(status).map((message): Field => ['deadlineNote', message]),
    ...r.extensions.map((e): Field => [
      'extension',
      `until ${e.until} by ${e.by} at ${e.at}${e.caseId ? `, case ${e.caseId}` : ''}: ${e.reason}`,
    ]),
    ...active.map((h): Field => ['hold', `${h.id} case ${h.caseId} by ${h.by} at ${h.at}: ${h.reason}`]),
    ['releasedHolds', released || undefined],
    [
      'evidence',
      r.evidence &&
        `case ${r.evidence.caseId} by ${r.evidence.by} at ${r.evidence.at}, locked until ${r.evidence.lockedUntil ?? '…'}`,
    ],
  ];
}

/** The human form of `custody status`: every fact of the --json output a person acts on, one per line. */
export function formatStatus(status: RecordingStatus): string {
  const { quarantine, lastError } = status;
  return formatFields([
    ['recordingId', status.recordingId],
    ['state', status.state],
    ['policy', status.policy],
    ['originalName', status.originalName],
    ['sha256', status.sha256],
    ['bytes', status.bytes !== undefined ? `${status.bytes} (${humanBytes(status.bytes)})` : undefined],
    ['original', status.original && where(status.original)],
    ['media', status.media && mediaLine(status.media)],
    ['deviceId', status.deviceId],
    ['unit', status.unit],
    ['recordedAt', status.recordedAt],
    ['ingestedAt', status.ingestedAt],
    [
      'quarantine',
      quarantine &&
        `${quarantine.reason}: ${quarantine.message} (at ${quarantine.at}; bytes kept at ${where(quarantine.object)})`,
    ],
    [
      'lastError',
      lastError &&
        `${lastError.stage} ${lastError.type} (attempt ${lastError.attempts}, ${lastError.at}): ${lastError.message}`,
    ],
    ['reviewReady', reviewLine(status)],
    ...derivativeLines(status),
    ...retentionLines(status),
    ['certificate', status.certificate && `${status.certificate.key} ${status.certificate.certificateHash}`],
    ['custodyLogHead', `seq ${status.custodyLogHead.seq} ${status.custodyLogHead.hash}`],
  ]);
}

export async function statusCommand(
  ctx: CliContext,
  recordingId: string,
  options: { json?: boolean; wait?: boolean },
) {
  const status = options.wait
    ? await waitForReviewReady(ctx, recordingId)
    : await readRecording<RecordingStatus>(ctx, recordingId, `/v1/recordings/${recordingId}`);
  if (!status) throw unknownRecording(recordingId);
  if (options.wait) {
    const outcome = reviewOutcome(status);
    if (!outcome.ready) {
      process.exitCode = EXIT.notReady;
      if (!options.json)
        process.stderr.write(`custody: ${outcome.message}
`);
    }
  }
  if (options.json) return printJson(status);
  process.stdout.write(`${formatStatus(status)}\n`);
}

export async function logCommand(ctx: CliContext, recordingId: string, options: { json?: boolean }) {
  const log = await readRecording<{ entries: CustodyEntry[]; chain: { ok: boolean; problems: string[] } }>(
    ctx,
    recordingId,
    `/v1/recordings/${recordingId}/custody-log`,
  );
  const entries = log.entries;
  if (!log.chain.ok) {
    process.stderr.write(`custody: the hash chain is broken: ${log.chain.problems.join('; ')}\n`);
    process.exitCode = EXIT.mismatch;
  }
  if (options.json) return printJson(entries);
  process.stdout.write(
    `${formatTable(
      ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'DETAILS', 'HASH'],
      entries.map((e) => [
        e.seq,
        e.time,
        e.actor,
        e.action,
        JSON.stringify(e.details).slice(0, 80),
        e.hash.slice(0, 16),
      ]),
    )}\n`,
  );
}

export async function verifyCommand(
  ctx: CliContext,
  recordingId: string,
  options: { json?: boolean; copy?: string },
) {
  let copy: { bucket: string; key: string } | undefined;
  if (options.copy) {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(options.copy);
    if (!match) throw new CliError(`--copy ${options.copy} is not an S3 URL: expected s3://bucket/key`);
    copy = { bucket: match[1]!, key: match[2]! };
  }
  const report = await verifyRecording(ctx.s3(), ctx.config.buckets, recordingId, copy);
  if (!report) throw new CliError(`no custody log for recording ${recordingId}`, EXIT.unknown);
  if (options.json) printJson(report);
  else if (report.ok) {
    const original = report.original
      ? `original sha256 ${report.original.actualSha256} matches the log`
      : report.deleted
        ? 'recording deleted; no original to re-hash'
        : 'no original stored yet';
    process.stdout.write(`OK ${recordingId}: custody log intact (${report.entries} entries); ${original}\n`);
  } else {
    process.stdout.write(`MISMATCH ${recordingId}:\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  }
  if (!report.ok) process.exitCode = EXIT.mismatch;
}
