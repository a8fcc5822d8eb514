/**
 * Data that crosses the boundary between workflows and activities (and the CLI): the recording's state and
 * status, and every activity's input and result that a workflow sees. Only keys, ids and hashes travel through Temporal — never media bytes.
 */
import type { CustodyAction } from './custody-log';
import type { FourEyesRequest } from './requests';

export const LIFECYCLE_STATES = [
  'ingesting',
  'transcoding',
  'retained',
  'held',
  'deleting',
  'deleted',
  'needs-attention',
  'quarantined',
] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const STAGES = ['ingest', 'transcode', 'retention', 'deletion', 'fixity'] as const;
export type Stage = (typeof STAGES)[number];

/** Where an object sits: which store's bucket and key (and version, once written). */
export interface ObjectRef {
  bucket: string;
  key: string;
  etag?: string;
  size?: number;
  versionId?: string;
}

/** What the dock's sidecar manifest or the CLI's flags say about a recording. Ids only, no names. */
export interface DeclaredFacts {
  deviceId?: string;
  officerId?: string;
  /** The organisational unit (station, department) the recording belongs to: it scopes who may see it. */
  unit?: string;
  recordedAt?: string;
  sha256?: string;
  durationS?: number;
}

export interface LifecycleInput {
  recordingId: string;
  source: Required<Pick<ObjectRef, 'bucket' | 'key' | 'etag' | 'size'>>;
  /** The uploaded file's own name; kept in metadata and the log, never used as a key. */
  originalName: string;
  declared: DeclaredFacts;
  /** Set when the sidecar manifest exists but could not be read: the recording goes to quarantine. */
  manifestProblem?: string;
  manifestKey?: string;
  /** `api`: uploaded through the custody API; `cli`: by the CLI before it became an API client (old histories). */
  via: 'inbox' | 'cli' | 'api';
  /** Who started it: the uploader's verified subject (api), a user name (old cli runs), `system` (inbox). */
  actor: string;
  policy: string;
  /** The task queues of the pools, from config (workflows read no environment). */
  taskQueues: { mediaIo: string; transcode: string; orchestration: string };
  /** False: no review derivatives (CUSTODY_TRANSCODE_ENABLED=false). Absent means true. */
  transcode?: boolean;
  /** Set when the workflow continued as new: where it left off. */
  resume?: {
    status: RecordingStatus;
    /** Action assertions accepted so far and not yet expired (jti → exp): each is accepted once. */
    seenAssertions?: Record<string, number>;
    /** The approved policy change that shortened the deadline, for the certificate. */
    policyChange?: { by: string; approvedBy: string; reason: string; at: string };
  };
}

/** What a workflow needs of a rule pack; the pack's full text stays in policies/. */
export interface RulePackRef {
  id: string;
  version: number;
  fingerprint: string;
  citation?: string;
  /** ISO 8601 duration. */
  retention: string;
}

export interface Hold {
  id: string;
  caseId: string;
  reason: string;
  by: string;
  at: string;
  releasedAt?: string;
  releasedBy?: string;
  approvedBy?: string;
}

export interface RetentionStatus {
  pack: RulePackRef;
  /** The deadline computed from the pack (before extensions), with its basis. */
  deadline: {
    deleteAfter: string;
    statutoryDeadline: string;
    basis: 'recordedAt' | 'ingestedAt';
    basisTime: string;
  };
  /** The deadline in force: the later of the pack's and every extension. Delete at the latest then. */
  deleteAfter: string;
  extensions: { until: string; reason: string; by: string; at: string; caseId?: string }[];
  holds: Hold[];
  evidence?: { caseId: string; by: string; at: string; lockedUntil?: string };
}

/** What ingest records about a recording's media (activities/media/media-info.ts derives it from a probe). */
export interface MediaInfo {
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "avi". */
  container: string;
  durationS: number;
  /** Absolute stream index of the video stream used (cover art is skipped). */
  videoStreamIndex: number;
  videoCodec: string;
  audioStreamIndex: number | null;
  audioCodec: string | null;
  hasAudio: boolean;
  /** As displayed: pixel aspect and rotation applied (a portrait phone clip is taller than wide). */
  width: number;
  height: number;
  /** As stored in the stream, before pixel aspect and rotation. */
  codedWidth: number;
  codedHeight: number;
  /** Display-matrix rotation, normalised to 0, 90, 180 or 270; ffmpeg's autorotate applies it. */
  rotation: number;
  /** Average frame rate; null when the container gives none. */
  fps: number | null;
  /** Overall bit rate in bit/s; null when unknown. */
  bitRate: number | null;
}

export interface StoredOriginal {
  bucket: string;
  key: string;
  versionId: string;
  sha256: string;
  bytes: number;
}

export interface Derivative {
  kind: 'proxy' | 'sprite' | 'poster';
  bucket: string;
  key: string;
  versionId: string;
  sha256: string;
  bytes: number;
  contentType: string;
  width: number;
  height: number;
}

/** The review derivatives of one recording and how they were made (one ffmpeg run). */
export interface DerivativeSet {
  inputSha256: string;
  ffmpegVersion: string;
  /** The exact ffmpeg arguments, with paths replaced by placeholders. */
  args: string[];
  /** The whole stage on the worker: hashing the input, ffmpeg, probing and hashing the outputs. */
  elapsedS: number;
  /** ffmpeg alone, spawn to exit (absent in sets written before 2026-11-23). */
  ffmpegElapsedS?: number;
  /** Set when only part of a truncated recording decoded: the proxy covers what was readable. */
  partial: { declaredS: number; decodedS: number; reason: string } | null;
  derivatives: Derivative[];
}

export const QUARANTINE_REASONS = [
  'empty-file',
  'hash-mismatch',
  'not-media',
  'unreadable',
  'manifest-malformed',
  // Ingest had not completed when the deadline came: the received bytes wait here only to be deleted.
  'deadline-reached',
] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];

export interface QuarantineRecord {
  reason: QuarantineReason;
  message: string;
  at: string;
  object: ObjectRef;
  reasonKey: string;
}

export interface CustodyEntryInput {
  recordingId: string;
  seq: number;
  prevHash: string;
  time: string;
  actor: string;
  action: CustodyAction;
  details: Record<string, unknown>;
}

/** Entries that follow each other with no effect in between, written by one activity from `seq` on. */
export interface CustodyEntryRun {
  recordingId: string;
  seq: number;
  prevHash: string;
  entries: Pick<CustodyEntryInput, 'time' | 'actor' | 'action' | 'details'>[];
}

export interface AppendedEntry {
  seq: number;
  hash: string;
}

export interface LastError {
  stage: Stage;
  type: string;
  message: string;
  attempts: number;
  at: string;
}

/** One stored object whose bytes no longer match the hash recorded when it was written. */
export interface FixityMismatch {
  kind: 'original' | 'proxy' | 'sprite' | 'poster';
  bucket: string;
  key: string;
  versionId?: string;
  expectedSha256: string;
  /** Absent when the object (version) is missing. */
  actualSha256?: string;
  problem: 'hash-mismatch' | 'missing';
}

/** The name of the recording workflow's status query (workflows/messages.ts statusQuery), for clients without it. */
export const RECORDING_STATUS_QUERY = 'status';

export interface RecordingStatus {
  recordingId: string;
  state: LifecycleState;
  originalName: string;
  sha256?: string;
  bytes?: number;
  media?: MediaInfo;
  deviceId?: string;
  /** The organisational unit that may see it (domain/roles.ts); absent: callers of every unit only. */
  unit?: string;
  recordedAt?: string;
  ingestedAt: string;
  policy: string;
  original?: StoredOriginal;
  derivatives?: DerivativeSet;
  /** True once the review proxy, sprite and poster are stored. */
  reviewReady: boolean;
  quarantine?: QuarantineRecord;
  lastError?: LastError;
  retention?: RetentionStatus;
  certificate?: { key: string; certificateHash: string };
  custodyLogHead: { seq: number; hash: string };
  /** Four-eyes requests about this recording, pending and decided (domain/requests.ts). */
  requests?: FourEyesRequest[];
}
