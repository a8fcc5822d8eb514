/**
 * The life of one recording: ingest (copy + hash + probe) → … → retained. Decides only; every effect is an
 * activity. Keep this file readable as the diagram in the README.
 */
import {
  proxyActivities,
  setHandler,
  condition,
  upsertSearchAttributes,
  ApplicationFailure,
  ActivityFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type {
  LifecycleInput,
  LifecycleState,
  RecordingStatus,
  Stage,
  StoredOriginal,
  MediaInfo,
  QuarantineReason,
  QuarantineRecord,
  LastError,
} from '../activities/types';
import { statusQuery, replayUpdate, type ReplayRequest, type ReplayResult } from './messages';
import { StateAttr, StageAttr, RecordingIdAttr, DeviceIdAttr, PolicyAttr } from './search-attributes';
import { CustodyLogWriter } from './custody-log-writer';

type Activities = ReturnType<typeof createActivities>;

/** Errors that are facts about the input, not passing faults: the recording goes to quarantine. */
const QUARANTINE_ERRORS: Record<string, QuarantineReason> = {
  NotMedia: 'not-media',
  CorruptMedia: 'unreadable',
  EmptyFile: 'empty-file',
};

export async function recordingLifecycle(input: LifecycleInput): Promise<RecordingStatus> {
  const mediaIo = proxyActivities<Activities>({
    taskQueue: input.taskQueues.mediaIo,
    startToCloseTimeout: '4h',
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 5, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  });
  const transcoder = proxyActivities<Activities>({
    taskQueue: input.taskQueues.transcode,
    startToCloseTimeout: '6h',
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 3, initialInterval: '10s', backoffCoefficient: 3, maximumInterval: '5m' },
  });
  const light = proxyActivities<Activities>({
    taskQueue: input.taskQueues.orchestration,
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
  });

  const log = new CustodyLogWriter(input.recordingId, light.appendCustodyEntry);
  const status: RecordingStatus = {
    recordingId: input.recordingId,
    state: 'ingesting',
    originalName: input.originalName,
    ingestedAt: new Date(workflowInfo().startTime).toISOString(),
    policy: input.policy,
    reviewReady: false,
    ...(input.declared.deviceId && { deviceId: input.declared.deviceId }),
    ...(input.declared.recordedAt && { recordedAt: input.declared.recordedAt }),
    custodyLogHead: log.head,
  };
  let replayRequested = false;

  setHandler(statusQuery, () => ({ ...status, custodyLogHead: log.head }));
  setHandler(
    replayUpdate,
    async (request): Promise<ReplayResult> => {
      const stage = status.lastError?.stage ?? 'ingest';
      await log.append(request.by, 'stage.replay-requested', { stage, reason: request.reason ?? null });
      replayRequested = true;
      return { stage, replayed: true };
    },
    {
      validator: (request: ReplayRequest) => {
        if (status.state !== 'needs-attention') {
          throw new Error(`recording ${input.recordingId} is ${status.state}, not needs-attention: nothing to replay`);
        }
        if (!request.by) throw new Error('replay needs --by <user id>');
      },
    },
  );

  function setState(state: LifecycleState, stage: Stage | '' = '') {
    status.state = state;
    upsertSearchAttributes([
      { key: StateAttr, value: state },
      { key: StageAttr, value: stage || null },
    ]);
  }

  /**
   * Runs one stage; when its retries run out, parks the recording in needs-attention (never a failed
   * workflow) until an administrator's replay, then runs the stage again from its start.
   */
  async function runStage<T>(stage: Stage, body: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await body();
      } catch (err) {
        // At ingest, facts about the input go to quarantine (the caller handles them), not to a replay queue.
        if (!(err instanceof ActivityFailure) || (stage === 'ingest' && quarantineReasonOf(err))) throw err;
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        const lastError: LastError = {
          stage,
          type: cause?.type ?? err.cause?.name ?? 'ActivityFailure',
          message: err.cause?.message ?? err.message,
          attempts: attemptOf(cause),
          at: new Date().toISOString(),
        };
        status.lastError = lastError;
        setState('needs-attention', stage);
        await log.append('system', 'stage.failed', { ...lastError });
        replayRequested = false;
        await condition(() => replayRequested);
        setState(stage === 'ingest' ? 'ingesting' : 'transcoding');
      }
    }
  }

  async function quarantine(reason: QuarantineReason, message: string): Promise<RecordingStatus> {
    const record: QuarantineRecord = await mediaIo.quarantineRecording({
      recordingId: input.recordingId,
      source: input.source,
      ...(input.manifestKey && { manifestKey: input.manifestKey }),
      ...(status.original && { evidenceCopy: status.original }),
      reason,
      message,
    });
    status.quarantine = record;
    delete status.original;
    setState('quarantined');
    await log.append('system', 'recording.quarantined', { reason, message, quarantineKey: record.object.key });
    // Nothing is deleted automatically; an administrator releases it (ops) or it stays.
    await condition(() => false);
    return status;
  }

  upsertSearchAttributes([
    { key: RecordingIdAttr, value: input.recordingId },
    { key: PolicyAttr, value: input.policy },
    ...(input.declared.deviceId ? [{ key: DeviceIdAttr, value: input.declared.deviceId }] : []),
  ]);
  setState('ingesting');
  await log.append(input.actor, 'recording.received', {
    via: input.via,
    source: { bucket: input.source.bucket, key: input.source.key, etag: input.source.etag, size: input.source.size },
    originalName: input.originalName,
    declared: { ...input.declared },
    policy: input.policy,
  });

  // --- Ingest: copy + hash the original, compare with what the dock declared, confirm it is media ---------
  if (input.manifestProblem) return quarantine('manifest-malformed', input.manifestProblem);
  if (input.source.size === 0) return quarantine('empty-file', 'The file has zero bytes: the upload or the dock failed.');

  let original: StoredOriginal;
  let media: MediaInfo;
  try {
    original = await runStage('ingest', () =>
      mediaIo.copyAndHashOriginal({
        recordingId: input.recordingId,
        source: input.source,
        originalName: input.originalName,
        ...(input.declared.sha256 && { declaredSha256: input.declared.sha256 }),
      }),
    );
    status.original = original;
    status.sha256 = original.sha256;
    status.bytes = original.bytes;
    await log.append('system', 'original.stored', {
      key: original.key,
      versionId: original.versionId,
      sha256: original.sha256,
      bytes: original.bytes,
    });
    if (input.declared.sha256 && input.declared.sha256.toLowerCase() !== original.sha256) {
      return quarantine(
        'hash-mismatch',
        `SHA-256 of the received bytes is ${original.sha256}, but the ${input.via === 'cli' ? 'uploader' : 'manifest'} declared ${input.declared.sha256}.`,
      );
    }
    media = await runStage('ingest', () => mediaIo.probeMedia({ object: original }));
  } catch (err) {
    const reason = quarantineReasonOf(err);
    if (!reason) throw err;
    return quarantine(reason, (err as ActivityFailure).cause?.message ?? String(err));
  }
  status.media = media;
  await log.append('system', 'media.probed', { ...media });
  await runStage('ingest', () => mediaIo.removeFromInbox({ source: input.source, ...(input.manifestKey && { manifestKey: input.manifestKey }) }));
  await log.append('system', 'ingest.completed', { sha256: original.sha256, bytes: original.bytes });

  // --- Transcode: review proxy, sprite and poster from one decode, on the transcode pool -----------------
  setState('transcoding');
  const derivatives = await runStage('transcode', () =>
    transcoder.transcodeRecording({ recordingId: input.recordingId, original, media }),
  );
  status.derivatives = derivatives;
  status.reviewReady = true;
  await log.append('system', 'derivatives.stored', {
    inputSha256: derivatives.inputSha256,
    ffmpegVersion: derivatives.ffmpegVersion,
    args: derivatives.args,
    elapsedS: derivatives.elapsedS,
    partial: derivatives.partial,
    derivatives: derivatives.derivatives.map((d) => ({ kind: d.kind, key: d.key, versionId: d.versionId, sha256: d.sha256, bytes: d.bytes })),
  });

  setState('retained');
  return { ...status, custodyLogHead: log.head };
}

/** The attempt number activities attach to their failures (activities/index.ts). */
function attemptOf(failure: ApplicationFailure | undefined): number {
  const details = (failure?.details ?? []) as { attempt?: unknown }[];
  const attempt = details.map((d) => d?.attempt).find((a) => typeof a === 'number');
  return typeof attempt === 'number' ? attempt : 1;
}

function quarantineReasonOf(err: unknown): QuarantineReason | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return QUARANTINE_ERRORS[err.cause.type ?? ''];
  }
  return undefined;
}
