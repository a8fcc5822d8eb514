/**
 * Builds every activity from its dependencies. Workers register the subset their pool runs (workers/pools.ts);
 * workflows import only the type of this factory's result.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { MetricsPort } from '../domain/metrics';
import type { ActivityName } from '../domain/pools';
import type { StoreBuckets } from './storage/s3';
import { temporalActivityContext, type ActivityContextPort } from './context';
import { makeCopyAndHashOriginal } from './copy-and-hash-original';
import { makeAppendCustodyEntry, makeAppendCustodyEntries, makeCustodyLogHead } from './append-custody-entry';
import { makeStoreOriginal } from './store-original';
import { makeDeleteAndCertify } from './delete-and-certify';
import { makeQuarantineRecording } from './quarantine-recording';
import { makeRemoveFromInbox } from './remove-from-inbox';
import { makeProbeMedia } from './probe-media';
import { makeSweepInbox } from './sweep-inbox';
import { makeTranscodeRecording } from './transcode-recording';
import { makeResolveRulePack } from './resolve-rule-pack';
import { makeRecordingObjectKeys } from './recording-object-keys';
import { makeDeleteRecording } from './delete-recording';
import { makeLockEvidence } from './lock-evidence';
import { makeWriteCertificate } from './write-certificate';
import { makeCheckRecordingFixity } from './check-recording-fixity';
import { makeSelectFixityCandidates } from './select-fixity-candidates';
import { makeResolvePolicyChange } from './resolve-policy-change';
import { resolveTranscodeProfile, type MediaTools } from './media/ffmpeg';
import type { Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

/** The slice of the configuration activities need (workers/config.ts's CustodyConfig has this shape). */
export interface ActivityConfig {
  buckets: StoreBuckets;
  /** How long custody-log entries and certificates stay COMPLIANCE-locked (ISO 8601 duration). */
  auditRetention: string;
  /** `devMode`: the demo pack may be applied by a policy change (absent: no). */
  policy: { dir: string; devMode?: boolean };
  media: { tmpDir: string; preset: string; crf: number; spriteIntervalSeconds: number };
}

export interface ActivityDeps {
  config: ActivityConfig;
  s3: S3Client;
  media: MediaTools;
  metrics?: MetricsPort;
  context?: ActivityContextPort;
  /** A Temporal client, for the activities that start workflows (the inbox sweep). */
  temporal: () => Promise<Client>;
}

/**
 * Failures carry the attempt they happened on (details[last] = {attempt}), so a parked recording can show how
 * often its stage was tried. Type and retryability are kept; cancellation passes through untouched.
 */
function annotateFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  context: ActivityContextPort,
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof CancelledFailure || !(err instanceof Error)) throw err;
        const attempt = { attempt: context.attempt };
        if (err instanceof ApplicationFailure) {
          throw ApplicationFailure.create({
            message: err.message,
            type: err.type ?? 'Error',
            nonRetryable: err.nonRetryable ?? false,
            details: [...(err.details ?? []), attempt],
            cause: err,
          });
        }
        throw ApplicationFailure.create({
          message: err.message,
          type: err.name,
          details: [attempt],
          cause: err,
        });
      }
    };
  }
  return wrapped as T;
}

export function createActivities(deps: ActivityDeps) {
  const { config, s3, metrics } = deps;
  const context = deps.context ?? temporalActivityContext;
  const withMetrics = metrics ? { metrics } : {};
  const auditLog = {
    s3,
    auditBucket: config.buckets.audit,
    auditRetention: config.auditRetention,
    ...withMetrics,
  };
  // Steps that also run inside the fused activities (storeOriginal, deleteAndCertify).
  const copyAndHashOriginal = makeCopyAndHashOriginal({
    s3,
    evidenceBucket: config.buckets.evidence,
    context,
    ...withMetrics,
  });
  const probeMedia = makeProbeMedia({ s3, media: deps.media });
  const removeFromInbox = makeRemoveFromInbox({ s3 });
  const deleteRecording = makeDeleteRecording({
    s3,
    context,
    auditBucket: config.buckets.audit,
    auditRetention: config.auditRetention,
  });
  const writeCertificate = makeWriteCertificate(auditLog);
  return annotateFailures(
    {
      copyAndHashOriginal,
      probeMedia,
      storeOriginal: makeStoreOriginal({ copyAndHashOriginal, probeMedia, removeFromInbox }),
      quarantineRecording: makeQuarantineRecording({
        s3,
        quarantineBucket: config.buckets.quarantine,
        ...withMetrics,
      }),
      removeFromInbox,
      sweepInbox: makeSweepInbox({ s3, temporal: deps.temporal, context }),
      resolveRulePack: makeResolveRulePack({ policyDir: config.policy.dir }),
      resolvePolicyChange: makeResolvePolicyChange({
        policyDir: config.policy.dir,
        devMode: config.policy.devMode ?? false,
      }),
      recordingObjectKeys: makeRecordingObjectKeys({
        evidenceBucket: config.buckets.evidence,
        derivativesBucket: config.buckets.derivatives,
        quarantineBucket: config.buckets.quarantine,
      }),
      lockEvidence: makeLockEvidence({ s3, context }),
      deleteRecording,
      writeCertificate,
      deleteAndCertify: makeDeleteAndCertify({ log: auditLog, deleteRecording, writeCertificate }),
      transcodeRecording: makeTranscodeRecording({
        s3,
        media: deps.media,
        derivativesBucket: config.buckets.derivatives,
        tmpDir: config.media.tmpDir,
        profile: resolveTranscodeProfile({
          preset: config.media.preset,
          crf: config.media.crf,
          spriteIntervalS: config.media.spriteIntervalSeconds,
        }),
        context,
        ...withMetrics,
      }),
      checkRecordingFixity: makeCheckRecordingFixity({
        s3,
        buckets: config.buckets,
        context,
        ...withMetrics,
      }),
      selectFixityCandidates: makeSelectFixityCandidates({ temporal: deps.temporal, context }),
      appendCustodyEntry: makeAppendCustodyEntry(auditLog),
      appendCustodyEntries: makeAppendCustodyEntries(auditLog),
      custodyLogHead: makeCustodyLogHead(auditLog),
    },
    context,
  );
}

export type CustodyActivities = ReturnType<typeof createActivities>;

// Every activity built here runs in exactly the pool domain/pools.ts names, and that map names no other: a new
// activity missing from the map (or a name left in it) is a compile error here, not a task no worker polls.
type SameNames<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const EVERY_ACTIVITY_HAS_A_POOL: SameNames<keyof CustodyActivities, ActivityName> = true;
