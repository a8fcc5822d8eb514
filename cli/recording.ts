/** `custody status | log | verify <id>`: what custody knows about one recording, and whether it still holds. */
import { WorkflowNotFoundError } from '@temporalio/client';
import { statusQuery, workflowIdFor } from '../workflows/messages';
import { readCustodyLog, verifyRecording } from '../activities/custody-log/read';
import type { RecordingStatus } from '../activities/types';
import { CliError, EXIT, type CliContext } from './context';
import { formatFields, formatTable, printJson } from './output';

async function queryStatus(ctx: CliContext, recordingId: string): Promise<RecordingStatus | undefined> {
  const client = await ctx.temporal();
  try {
    return await client.workflow.getHandle(workflowIdFor(recordingId)).query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export async function statusCommand(ctx: CliContext, recordingId: string, options: { json?: boolean }) {
  const status = await queryStatus(ctx, recordingId);
  if (!status) {
    throw new CliError(`unknown recording id ${recordingId} (no workflow rec-${recordingId})`, EXIT.unknown);
  }
  if (options.json) return printJson(status);
  const media = status.media;
  process.stdout.write(
    `${formatFields([
      ['recordingId', status.recordingId],
      ['state', status.state],
      ['policy', status.policy],
      ['sha256', status.sha256],
      ['bytes', status.bytes],
      ['media', media && `${media.videoCodec} ${media.width}x${media.height} ${media.durationS.toFixed(1)}s${media.hasAudio ? ` +${media.audioCodec}` : ''}`],
      ['deviceId', status.deviceId],
      ['recordedAt', status.recordedAt],
      ['ingestedAt', status.ingestedAt],
      ['originalName', status.originalName],
      ['quarantine', status.quarantine && `${status.quarantine.reason}: ${status.quarantine.message}`],
      ['lastError', status.lastError && `${status.lastError.stage} ${status.lastError.type}: ${status.lastError.message}`],
      ['custodyLogHead', `seq ${status.custodyLogHead.seq} ${status.custodyLogHead.hash}`],
    ])}\n`,
  );
}

export async function logCommand(ctx: CliContext, recordingId: string, options: { json?: boolean }) {
  const entries = (await readCustodyLog(ctx.s3(), ctx.config.buckets.audit, recordingId)).sort((a, b) => a.seq - b.seq);
  if (entries.length === 0) throw new CliError(`no custody log for recording ${recordingId}`, EXIT.unknown);
  if (options.json) return printJson(entries);
  process.stdout.write(
    `${formatTable(
      ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'DETAILS', 'HASH'],
      entries.map((e) => [e.seq, e.time, e.actor, e.action, JSON.stringify(e.details).slice(0, 80), e.hash.slice(0, 16)]),
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
