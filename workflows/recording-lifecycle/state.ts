/**
 * One run's working state, as one object: the status the world may query, the retention in force, and the
 * requests Update handlers leave for the main path. Every stage function takes it; nothing else is shared.
 */
import { metricMeter, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type {
  LifecycleInput,
  LifecycleState,
  RecordingStatus,
  RetentionStatus,
  Stage,
  StoredOriginal,
} from '../../domain/types';
import {
  OpenRequestsAttr,
  DeleteAfterAttr,
  EvidenceAttr,
  HeldAttr,
  PolicyAttr,
  StageAttr,
  StateAttr,
} from '../../domain/search-attributes';
import { CustodyLogWriter } from '../custody-log-writer';
import type { FixityMismatchNotice } from '../messages';
import { requestStateAt, type FourEyesRequest } from '../../domain/requests';
import type { LifecycleProxies } from './proxies';
import { changesDuringAPassWakeTheWait, signalsUntrusted } from './legacy';

export type DeletionCause = 'deadline' | 'early' | 'policy';

/** Who asked for a deletion before its deadline and who approved it. */
export interface Authorisation {
  by: string;
  approvedBy: string;
  reason: string;
  at: string;
}

/** A release from quarantine as the main path acts on it. */
export interface QuarantineRelease {
  by: string;
  reason: string;
  acceptReceivedHash?: boolean;
}

/** Replays of parked stages, by stage and outcome (succeeded, failed-again); exported with the SDK's metrics. */
export const replays = metricMeter.createCounter(
  'custody_replays',
  'replays',
  'Replays of parked stages by outcome.',
);

export class RecordingRun {
  readonly status: RecordingStatus;
  retention: RetentionStatus | undefined;
  readonly log: CustodyLogWriter;
  /** Where a resumed run (continue-as-new) left off; undefined for the first run. */
  readonly resumed: LifecycleInput['resume'];

  // Requests that Update and signal handlers leave for the main path. Set before any await in a handler, so a
  // second request in the same activation is validated against them.
  replayRequested = false;
  fixityRecheckRequested = false;
  quarantineRelease: QuarantineRelease | undefined;
  pendingFixity: FixityMismatchNotice | undefined;
  /** Set by Updates; the deadline wait re-evaluates whenever it flips. */
  retentionChanged = false;
  earlyDeletion: Authorisation | undefined;
  /** The approved policy change that shortened the deadline (the certificate names both people). */
  policyChange: Authorisation | undefined;
  deletionCause: DeletionCause = 'deadline';
  /** Action assertions accepted so far and not yet expired (jti → exp, seconds): each is accepted once. */
  readonly seenAssertions: Map<string, number>;
  /**
   * Patch custody-changes-wake-the-wait-202612, decided once at the start of the run: a patch decided after a local
   * activity can land in another workflow task on replay than it did live, which replay cannot match.
   */
  readonly changesWakeTheWait: boolean;
  /** Patch custody-untrusted-signals-202612, decided at the start of the run like the one above. */
  readonly signalsUntrusted: boolean;
  /** The media-io proxy ingest uses: one whose cancellation waits, once the deadline can interrupt ingest. */
  ingestIo: LifecycleProxies['mediaIo'];

  constructor(
    readonly input: LifecycleInput,
    readonly activities: LifecycleProxies,
  ) {
    this.resumed = input.resume;
    this.ingestIo = activities.mediaIo;
    this.changesWakeTheWait = changesDuringAPassWakeTheWait();
    this.signalsUntrusted = signalsUntrusted();
    this.log = new CustodyLogWriter(
      input.recordingId,
      {
        appendEntry: activities.log.appendCustodyEntry,
        appendEntries: activities.log.appendCustodyEntries,
        headFrom: activities.logLookups.custodyLogHead,
      },
      this.resumed?.status.custodyLogHead,
    );
    this.status = this.resumed?.status ?? {
      recordingId: input.recordingId,
      state: 'ingesting',
      originalName: input.originalName,
      ingestedAt: new Date(workflowInfo().startTime).toISOString(),
      policy: input.policy,
      reviewReady: false,
      ...(input.declared.deviceId && { deviceId: input.declared.deviceId }),
      ...(input.declared.unit && { unit: input.declared.unit }),
      ...(input.declared.recordedAt && { recordedAt: input.declared.recordedAt }),
      custodyLogHead: this.log.head,
    };
    this.retention = this.resumed?.status.retention;
    this.seenAssertions = new Map(Object.entries(input.resume?.seenAssertions ?? {}));
    this.policyChange = input.resume?.policyChange;
  }

  /**
   * Four-eyes requests, pending and decided (kept in the status: continue-as-new carries them). Reading them
   * changes nothing: validators read them, and a refused request must leave the status as it was.
   */
  get requests(): readonly FourEyesRequest[] {
    return this.status.requests ?? [];
  }

  addRequest(request: FourEyesRequest) {
    (this.status.requests ??= []).push(request);
  }

  /** Publishes which kinds of request wait for a decision (CustodyOpenRequests), for the approvers' list. */
  publishRequests() {
    const now = new Date();
    const open = [
      ...new Set(this.requests.filter((r) => requestStateAt(r, now) === 'pending').map((r) => r.kind)),
    ];
    upsertSearchAttributes([{ key: OpenRequestsAttr, value: open.length ? open : null }]);
  }

  get recordingId(): string {
    return this.input.recordingId;
  }

  /** The status as the status query and continue-as-new see it: a copy, with the log's current head. */
  snapshot(): RecordingStatus {
    const retention = this.retention;
    return {
      ...this.status,
      custodyLogHead: this.log.head,
      ...(retention && { retention: { ...retention, holds: retention.holds.map((h) => ({ ...h })) } }),
      ...(this.status.requests && { requests: this.status.requests.map((r) => ({ ...r })) }),
    };
  }

  setState(state: LifecycleState, stage: Stage | '' = '') {
    this.status.state = state;
    upsertSearchAttributes([
      { key: StateAttr, value: state },
      { key: StageAttr, value: stage || null },
    ]);
  }

  publishRetention() {
    const retention = this.retention;
    if (!retention) return;
    upsertSearchAttributes([
      { key: DeleteAfterAttr, value: new Date(retention.deleteAfter) },
      { key: HeldAttr, value: retention.holds.some((h) => !h.releasedAt) },
      { key: EvidenceAttr, value: retention.evidence !== undefined },
      { key: PolicyAttr, value: retention.pack.id },
    ]);
  }

  deletable(): boolean {
    return this.status.state !== 'deleting' && this.status.state !== 'deleted';
  }

  fixityParked(): boolean {
    return this.status.state === 'needs-attention' && this.status.lastError?.stage === 'fixity';
  }

  /** Idle: waiting for the deadline only. Only an idle recording continues as new. */
  idle(): boolean {
    return this.status.state === 'retained' || this.status.state === 'held';
  }

  /** A stored original, in the status (its log entry is the caller's). */
  noteOriginal(original: StoredOriginal) {
    this.status.original = original;
    this.status.sha256 = original.sha256;
    this.status.bytes = original.bytes;
  }

  activeHolds() {
    return this.retention?.holds.filter((h) => !h.releasedAt) ?? [];
  }

  /** Deletion has started: it runs, is done, or is parked in its stage. Nothing may change the deadline now. */
  deletionBegun(): boolean {
    return (
      !this.deletable() ||
      (this.status.state === 'needs-attention' && this.status.lastError?.stage === 'deletion')
    );
  }

  /** The retention of a recording whose deadline is set and whose deletion has not begun; throws otherwise. */
  requireRetention(): RetentionStatus {
    if (!this.retention)
      throw new Error(`recording ${this.recordingId} is ${this.status.state}: its deadline is not set yet`);
    if (!this.deletable()) throw new Error(`recording ${this.recordingId} is ${this.status.state}`);
    if (this.deletionBegun()) {
      // Some versions may be gone already: a hold or an extension could no longer keep what it promises.
      throw new Error(
        `recording ${this.recordingId} is being deleted (parked in the deletion stage: ${this.status.lastError?.message ?? 'failed'}); ` +
          'its deadline can no longer change — replay the deletion (custody replay)',
      );
    }
    return this.retention;
  }
}
