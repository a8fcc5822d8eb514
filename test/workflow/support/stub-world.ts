/**
 * An in-memory stand-in for everything the lifecycle's activities touch — the stores (inbox, evidence,
 * derivatives, quarantine), the custody log, the rule packs, the certificates — and stub activities over it.
 * The workflow tier runs the real `recordingLifecycle` against these on the real Temporal dev server, so its
 * decisions are tested in seconds, without versitygw or ffmpeg.
 *
 * Tests script each recording: failures to inject (retryable or not, part-way through deletion), gates that
 * hold an activity until the test opens them, media problems and fixity findings. Every activity call is
 * recorded. Whatever the stubs catch the workflow doing wrong (an entry that breaks the chain, ingesting from a
 * source that is gone, deleting a locked version) is kept in `problems`, which a test expects to be empty.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { createActivities } from '../../../activities';
import { hashEntry, type CustodyEntry, type JsonObject } from '../../../activities/custody-log/chain';
import {
  buildCertificate,
  CertificateInputError,
  type CertificateInput,
  type CertifiedObject,
  type DeletionCertificate,
} from '../../../activities/certificate';
import { GENESIS_HASH, recordingDeletedDetails } from '../../../domain/custody-log';
import type {
  CustodyEntryInput,
  DerivativeSet,
  MediaInfo,
  ObjectRef,
  RulePackRef,
  StoredOriginal,
} from '../../../domain/types';

type Activities = ReturnType<typeof createActivities>;
/**
 * Every activity the lifecycle may call (the pre-patch ones only when an old history replays). Typed against the
 * factory's result, so a renamed, added or re-typed activity is a compile error here. The inbox sweep and the
 * fixity candidate selection belong to other workflows.
 */
export type LifecycleActivities = Omit<Activities, 'sweepInbox' | 'selectFixityCandidates'>;
export type LifecycleActivityName = keyof LifecycleActivities;
type InputOf<N extends LifecycleActivityName> = Parameters<LifecycleActivities[N]>[0];

export const BUCKETS = {
  incoming: 'incoming',
  evidence: 'evidence',
  derivatives: 'derivatives',
  quarantine: 'quarantine',
  audit: 'audit',
} as const;

export interface FailurePlan {
  /** How many calls fail (default 1); later calls run normally. */
  times?: number;
  /** Default true: the stage parks at once instead of waiting out the retry policy. */
  nonRetryable?: boolean;
  type?: string;
  message?: string;
  /** deleteAndCertify only: write `deletion.started` first, then fail (the log moved on without the workflow). */
  afterStartedEntry?: boolean;
  /** Only calls whose input matches fail (e.g. one custody-log action). */
  when?: (input: unknown) => boolean;
}

/** Holds an activity until the test opens it; cancellation (delivered through heartbeats) ends the wait. */
export class Gate {
  private release!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  private markEntered!: () => void;
  /** Resolves when an activity reached the gate. */
  readonly entered = new Promise<void>((resolve) => (this.markEntered = resolve));
  /** Set when the activity waiting here was cancelled by the workflow. */
  cancelled = false;

  constructor(readonly when?: (input: unknown) => boolean) {}

  open(): void {
    this.release();
  }

  async pass(): Promise<void> {
    this.markEntered();
    const context = Context.current();
    const beat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(), 200);
    try {
      await Promise.race([this.opened, context.cancelled]);
    } catch (err) {
      this.cancelled = true;
      throw err;
    } finally {
      clearInterval(beat);
    }
  }
}

interface StoredVersion {
  bucket: string;
  key: string;
  versionId: string;
  etag: string;
  size: number;
  sha256: string;
  /** COMPLIANCE retain-until (ISO); only ever raised. */
  retainUntil?: string;
}

type MediaProblem = { type: 'NotMedia' | 'CorruptMedia'; message: string };
type FixityResult = Awaited<ReturnType<LifecycleActivities['checkRecordingFixity']>>;

/** What a test arranges for one recording. */
export interface RecordingScript {
  /** The probe's verdict on the stored original; media facts when absent. */
  mediaProblem?: MediaProblem;
  /**
   * The next fixity checks' findings (clean once used up). An error makes the check itself fail: a non-retryable
   * ApplicationFailure fails it at once, anything else waits out the media-io retry policy.
   */
  fixity: (Pick<FixityResult, 'mismatches' | 'logProblems'> | Error)[];
  /** quarantineRecording returns a record without the ETag (as records written by old versions may be). */
  quarantineWithoutEtag?: boolean;
}

export const SAMPLE_MEDIA: MediaInfo = {
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationS: 12.5,
  videoStreamIndex: 0,
  videoCodec: 'h264',
  audioStreamIndex: 1,
  audioCodec: 'aac',
  hasAudio: true,
  width: 1280,
  height: 720,
  codedWidth: 1280,
  codedHeight: 720,
  rotation: 0,
  fps: 30,
  bitRate: 4_000_000,
};

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');
const recordingIdInKey = (key: string) => /^(?:recordings|quarantine)\/([0-9a-f]+)\//.exec(key)?.[1] ?? '';

export class StubWorld {
  readonly rulePacks = new Map<string, RulePackRef>();
  readonly certificates = new Map<string, DeletionCertificate>();
  /** What the stubs caught the workflow doing wrong; a test expects none. */
  readonly problems: string[] = [];
  private readonly logs = new Map<string, CustodyEntry[]>();
  private readonly objects = new Map<string, StoredVersion[]>();
  private readonly scripts = new Map<string, RecordingScript>();
  private readonly failures = new Map<string, FailurePlan[]>();
  private readonly gates = new Map<string, Gate[]>();
  private readonly callLog = new Map<string, unknown[]>();
  private versionCounter = 0;

  // --- Arranging ----------------------------------------------------------------------------------------------
  addRulePack(id: string, retention: string, extra: Partial<RulePackRef> = {}): RulePackRef {
    const pack: RulePackRef = {
      id,
      version: 1,
      fingerprint: sha256Of(`${id}:${retention}`),
      retention,
      ...extra,
    };
    this.rulePacks.set(id, pack);
    return pack;
  }

  /** A file in the inbox (its "bytes" are named by the ETag: the same ETag, the same SHA-256). */
  putInbox(key: string, size: number): { bucket: string; key: string; etag: string; size: number } {
    const etag = randomBytes(16).toString('hex');
    const version = this.put(BUCKETS.incoming, key, { etag, size, sha256: sha256Of(`bytes:${etag}`) });
    return { bucket: version.bucket, key, etag: `"${etag}"`, size };
  }

  /** The SHA-256 a stub computes for an inbox object's bytes. */
  sha256OfSource(source: { etag: string }): string {
    return sha256Of(`bytes:${source.etag.replace(/"/g, '')}`);
  }

  script(recordingId: string): RecordingScript {
    let script = this.scripts.get(recordingId);
    if (!script) this.scripts.set(recordingId, (script = { fixity: [] }));
    return script;
  }

  /** The next call(s) of `activity` for this recording (for resolveRulePack: this pack id) fail. */
  fail(recordingId: string, activity: LifecycleActivityName, plan: FailurePlan = {}): void {
    const key = `${recordingId}:${activity}`;
    this.failures.set(key, [...(this.failures.get(key) ?? []), { times: 1, ...plan }]);
  }

  /** The next call of `activity` for this recording waits until the returned gate is opened. */
  gate(recordingId: string, activity: LifecycleActivityName, when?: (input: unknown) => boolean): Gate {
    const gate = new Gate(when);
    const key = `${recordingId}:${activity}`;
    this.gates.set(key, [...(this.gates.get(key) ?? []), gate]);
    return gate;
  }

  // --- Reading ------------------------------------------------------------------------------------------------
  log(recordingId: string): CustodyEntry[] {
    return [...(this.logs.get(recordingId) ?? [])];
  }

  calls<N extends LifecycleActivityName>(recordingId: string, activity: N): InputOf<N>[] {
    return [...((this.callLog.get(`${recordingId}:${activity}`) ?? []) as InputOf<N>[])];
  }

  /** Every stored version under `recordings/<id>/` or `quarantine/<id>/`, or of one exact object. */
  versions(filter: { recordingId: string } | { bucket: string; key: string }): StoredVersion[] {
    if ('bucket' in filter) return [...(this.objects.get(`${filter.bucket}/${filter.key}`) ?? [])];
    return [...this.objects.values()].flat().filter((v) => recordingIdInKey(v.key) === filter.recordingId);
  }

  // --- The stub activities ------------------------------------------------------------------------------------
  activities(): LifecycleActivities {
    const stubs: LifecycleActivities = {
      storeOriginal: this.stub(
        'storeOriginal',
        (i) => i.recordingId,
        (input) => {
          const original = this.copyToEvidence(input.recordingId, input.source);
          if (input.declaredSha256 && input.declaredSha256.toLowerCase() !== original.sha256) {
            return { original, hashMismatch: true };
          }
          const problem = this.script(input.recordingId).mediaProblem;
          if (problem) return { original, mediaProblem: { ...problem } };
          this.removeSource(input.source, input.manifestKey);
          return { original, media: { ...SAMPLE_MEDIA } };
        },
      ),
      copyAndHashOriginal: this.stub(
        'copyAndHashOriginal',
        (i) => i.recordingId,
        (input) => this.copyToEvidence(input.recordingId, input.source),
      ),
      probeMedia: this.stub(
        'probeMedia',
        (i) => recordingIdInKey(i.object.key),
        (input) => {
          const problem = this.script(recordingIdInKey(input.object.key)).mediaProblem;
          if (problem) throw ApplicationFailure.nonRetryable(problem.message, problem.type);
          return { ...SAMPLE_MEDIA };
        },
      ),
      removeFromInbox: this.stub(
        'removeFromInbox',
        (i) => recordingIdOfSource(i.source),
        (input) => {
          this.removeSource(input.source, input.manifestKey);
        },
      ),
      quarantineRecording: this.stub(
        'quarantineRecording',
        (i) => i.recordingId,
        (input) => {
          const held = this.versionOf(input.source);
          if (!held) throw this.problem(`quarantineRecording: source ${input.source.key} does not exist`);
          const inQuarantine = input.source.bucket === BUCKETS.quarantine;
          const kept = inQuarantine
            ? held
            : this.put(BUCKETS.quarantine, `quarantine/${input.recordingId}/original`, held);
          this.put(BUCKETS.quarantine, `quarantine/${input.recordingId}/reason.json`, {
            etag: randomBytes(16).toString('hex'),
            size: 200,
            sha256: sha256Of(`${input.recordingId}:reason:${input.reason}`),
          });
          if (!inQuarantine) this.removeSource(input.source, input.manifestKey);
          if (input.evidenceCopy) this.removeVersion(input.evidenceCopy);
          const { quarantineWithoutEtag } = this.script(input.recordingId);
          return {
            reason: input.reason,
            message: input.message,
            at: new Date().toISOString(),
            object: {
              bucket: kept.bucket,
              key: kept.key,
              size: kept.size,
              versionId: kept.versionId,
              ...(!quarantineWithoutEtag && { etag: `"${kept.etag}"` }),
            },
            reasonKey: `quarantine/${input.recordingId}/reason.json`,
          };
        },
      ),
      resolveRulePack: this.stub(
        'resolveRulePack',
        (id) => id,
        (id) => {
          const pack = this.rulePacks.get(id);
          if (!pack) throw ApplicationFailure.nonRetryable(`no rule pack ${id}`, 'UnknownRulePack');
          return { ...pack };
        },
      ),
      resolvePolicyChange: this.stub(
        'resolvePolicyChange',
        (request) => request.packId,
        (request) => {
          const pack = this.rulePacks.get(request.packId);
          if (!pack) return { ok: false as const, reason: `no rule pack ${request.packId}` };
          if (pack.fingerprint !== request.fingerprint)
            return { ok: false as const, reason: `rule pack ${pack.id} has another fingerprint here` };
          return { ok: true as const, pack: { ...pack } };
        },
      ),
      recordingObjectKeys: this.stub(
        'recordingObjectKeys',
        (i) => i.recordingId,
        (input) => [
          { bucket: BUCKETS.evidence, key: `recordings/${input.recordingId}/original` },
          ...['proxy.mp4', 'sprite.jpg', 'poster.jpg', 'derivatives.json'].map((name) => ({
            bucket: BUCKETS.derivatives,
            key: `recordings/${input.recordingId}/${name}`,
          })),
          ...['original', 'reason.json', 'manifest.json'].map((name) => ({
            bucket: BUCKETS.quarantine,
            key: `quarantine/${input.recordingId}/${name}`,
          })),
        ],
      ),
      lockEvidence: this.stub(
        'lockEvidence',
        (i) => recordingIdInKey(i.objects[0]?.key ?? ''),
        (input) =>
          input.objects.map((object) => {
            const version = this.versionOf(object);
            if (!version)
              throw this.problem(`lockEvidence: ${object.key}@${object.versionId} does not exist`);
            const raised = !version.retainUntil || version.retainUntil < input.retainUntil;
            if (raised) version.retainUntil = input.retainUntil;
            return { ...object, retainUntil: version.retainUntil!, changed: raised };
          }),
      ),
      deleteRecording: this.stub(
        'deleteRecording',
        (i) => i.recordingId,
        (input) => ({
          recordingId: input.recordingId,
          deleted: this.deleteAll(input.objects),
          verifiedAbsentAt: new Date().toISOString(),
          inventory: { bucket: BUCKETS.audit, keys: [] },
        }),
      ),
      writeCertificate: this.stub(
        'writeCertificate',
        (i) => i.recordingId,
        (input) => {
          const certificate = this.certify(input);
          return {
            bucket: BUCKETS.audit,
            key: `certificates/${input.recordingId}.json`,
            certificateHash: certificate.certificateHash,
            retainUntil: input.deletedAt,
            alreadyWritten: false,
            certificate,
          };
        },
      ),
      deleteAndCertify: this.stub(
        'deleteAndCertify',
        (i) => i.recordingId,
        (input, failure) => {
          const { recordingId } = input;
          const started = this.writeEntry({
            recordingId,
            seq: input.log.seq,
            prevHash: input.log.prevHash,
            action: 'deletion.started',
            ...input.started,
          });
          if (failure) throw failure;
          const deleted = this.deleteAll(input.objects);
          const verifiedAbsentAt = new Date().toISOString();
          const deletedEntry = this.writeEntry({
            recordingId,
            seq: started.seq + 1,
            prevHash: started.hash,
            time: verifiedAbsentAt,
            actor: 'system',
            action: 'recording.deleted',
            details: recordingDeletedDetails(input.certificate.cause, { verifiedAbsentAt, deleted }),
          });
          const certificate = this.certify({
            ...input.certificate,
            objects: deleted,
            deletedAt: verifiedAbsentAt,
            custodyLog: { headSeq: deletedEntry.seq, headHash: deletedEntry.hash },
          });
          const written = this.writeEntry({
            recordingId,
            seq: deletedEntry.seq + 1,
            prevHash: deletedEntry.hash,
            time: new Date().toISOString(),
            actor: 'system',
            action: 'certificate.written',
            details: {
              key: `certificates/${recordingId}.json`,
              certificateHash: certificate.certificateHash,
            },
          });
          return {
            verifiedAbsentAt,
            objects: deleted.length,
            certificate: {
              key: `certificates/${recordingId}.json`,
              certificateHash: certificate.certificateHash,
            },
            head: { seq: written.seq, hash: written.hash },
          };
        },
      ),
      transcodeRecording: this.stub(
        'transcodeRecording',
        (i) => i.recordingId,
        (input) => {
          const derivatives = (
            [
              ['proxy', 'proxy.mp4', 'video/mp4'],
              ['sprite', 'sprite.jpg', 'image/jpeg'],
              ['poster', 'poster.jpg', 'image/jpeg'],
            ] as const
          ).map(([kind, name, contentType]) => {
            const version = this.put(BUCKETS.derivatives, `recordings/${input.recordingId}/${name}`, {
              etag: randomBytes(16).toString('hex'),
              size: 1000,
              sha256: sha256Of(`${input.original.sha256}:${kind}`),
            });
            return { kind, contentType, width: 640, height: 360, ...pick(version) };
          });
          this.put(BUCKETS.derivatives, `recordings/${input.recordingId}/derivatives.json`, {
            etag: randomBytes(16).toString('hex'),
            size: 100,
            sha256: sha256Of(`${input.original.sha256}:manifest`),
          });
          const set: DerivativeSet = {
            inputSha256: input.original.sha256,
            ffmpegVersion: 'stub',
            args: ['-i', '<input>', '<proxy>', '<sprite>', '<poster>'],
            elapsedS: 0.01,
            partial: null,
            derivatives,
          };
          return set;
        },
      ),
      checkRecordingFixity: this.stub(
        'checkRecordingFixity',
        (i) => i.recordingId,
        (input) => {
          const next = this.script(input.recordingId).fixity.shift() ?? { mismatches: [], logProblems: [] };
          if (next instanceof Error) throw next;
          return {
            recordingId: input.recordingId,
            checkedAt: new Date().toISOString(),
            objects: this.versions({ recordingId: input.recordingId }).length,
            bytes: 0,
            ...next,
          };
        },
      ),
      appendCustodyEntry: this.stub(
        'appendCustodyEntry',
        (i) => i.recordingId,
        (input) => {
          const entry = this.writeEntry(input);
          return { seq: entry.seq, hash: entry.hash };
        },
      ),
      appendCustodyEntries: this.stub(
        'appendCustodyEntries',
        (i) => i.recordingId,
        (run) => {
          let { seq, prevHash } = run;
          return run.entries.map((step) => {
            const entry = this.writeEntry({ recordingId: run.recordingId, seq, prevHash, ...step });
            seq = entry.seq + 1;
            prevHash = entry.hash;
            return { seq: entry.seq, hash: entry.hash };
          });
        },
      ),
      custodyLogHead: this.stub(
        'custodyLogHead',
        (i) => i.recordingId,
        (input) => {
          const last = this.log(input.recordingId).at(-1);
          return last && last.seq >= input.from.seq ? { seq: last.seq, hash: last.hash } : input.from;
        },
      ),
    };
    return stubs;
  }

  /** Opens every gate still closed, so no activity outlives its test file's workers. */
  openAllGates(): void {
    for (const gates of this.gates.values()) for (const gate of gates) gate.open();
  }

  // --- Internals ----------------------------------------------------------------------------------------------
  /**
   * Wraps a stub: records the call, applies the scripted failure or gate, and — like activities/index.ts —
   * attaches the attempt to every failure (the workflow shows it in lastError.attempts).
   */
  private stub<N extends LifecycleActivityName, R>(
    name: N,
    recordingIdOf: (input: InputOf<N>) => string,
    body: (input: InputOf<N>, failure: ApplicationFailure | undefined) => R | Promise<R>,
  ): (input: InputOf<N>) => Promise<R> {
    return async (input: InputOf<N>) => {
      const key = `${recordingIdOf(input)}:${name}`;
      this.callLog.set(key, [...(this.callLog.get(key) ?? []), structuredClone(input)]);
      const attempt = Context.current().info.attempt;
      const gates = this.gates.get(key) ?? [];
      const gate = gates.find((g) => !g.when || g.when(input));
      if (gate) {
        gates.splice(gates.indexOf(gate), 1);
        await gate.pass();
      }
      const plans = this.failures.get(key) ?? [];
      const plan = plans.find((p) => !p.when || p.when(input));
      let failure: ApplicationFailure | undefined;
      if (plan) {
        plan.times = (plan.times ?? 1) - 1;
        if (plan.times <= 0) plans.splice(plans.indexOf(plan), 1);
        failure = ApplicationFailure.create({
          message: plan.message ?? `${name} failed (injected)`,
          type: plan.type ?? 'InjectedFailure',
          nonRetryable: plan.nonRetryable ?? true,
          details: [{ attempt }],
        });
        if (!plan.afterStartedEntry) throw failure;
      }
      try {
        return await body(input, failure);
      } catch (err) {
        if (err instanceof ApplicationFailure && err !== failure) {
          throw ApplicationFailure.create({
            message: err.message,
            type: err.type ?? 'Error',
            nonRetryable: err.nonRetryable ?? false,
            details: [...(err.details ?? []), { attempt }],
          });
        }
        throw err;
      }
    };
  }

  /** Notes a mistake of the workflow and returns a failure that stops the activity without retries. */
  private problem(message: string): ApplicationFailure {
    this.problems.push(message);
    return ApplicationFailure.nonRetryable(message, 'StubProblem');
  }

  /**
   * Appends one entry with the audit store's rules (activities/append-custody-entry.ts): a retry of the same
   * step adopts the stored entry; anything else at a taken seq is a conflict. Stricter than the store: an entry
   * must follow the last one exactly (no gap, the right prevHash).
   */
  private writeEntry(input: CustodyEntryInput): CustodyEntry {
    const log = this.logs.get(input.recordingId) ?? [];
    this.logs.set(input.recordingId, log);
    const unhashed = { ...input, details: input.details as JsonObject };
    const entry: CustodyEntry = { ...unhashed, hash: hashEntry(unhashed) };
    const stored = log[input.seq];
    if (stored) {
      const sameStep =
        stored.prevHash === entry.prevHash && stored.actor === entry.actor && stored.action === entry.action;
      if (stored.hash === entry.hash || sameStep) return stored;
      throw this.problem(
        `custody log of ${input.recordingId}: seq ${input.seq} is taken by ${stored.action}`,
      );
    }
    const head = log.at(-1);
    if (input.seq !== log.length || input.prevHash !== (head?.hash ?? GENESIS_HASH)) {
      throw this.problem(
        `custody log of ${input.recordingId}: ${input.action} at seq ${input.seq} does not follow ` +
          `seq ${log.length - 1} (${head?.action ?? 'genesis'})`,
      );
    }
    log.push(entry);
    return entry;
  }

  private put(
    bucket: string,
    key: string,
    content: Pick<StoredVersion, 'etag' | 'size' | 'sha256'>,
  ): StoredVersion {
    const version: StoredVersion = {
      bucket,
      key,
      versionId: `v${++this.versionCounter}`,
      etag: content.etag,
      size: content.size,
      sha256: content.sha256,
    };
    const id = `${bucket}/${key}`;
    this.objects.set(id, [...(this.objects.get(id) ?? []), version]);
    return version;
  }

  private versionOf(ref: Pick<ObjectRef, 'bucket' | 'key' | 'versionId'>): StoredVersion | undefined {
    const versions = this.objects.get(`${ref.bucket}/${ref.key}`) ?? [];
    return ref.versionId ? versions.find((v) => v.versionId === ref.versionId) : versions.at(-1);
  }

  private removeVersion(ref: Pick<ObjectRef, 'bucket' | 'key' | 'versionId'>): void {
    const id = `${ref.bucket}/${ref.key}`;
    const left = (this.objects.get(id) ?? []).filter((v) => ref.versionId && v.versionId !== ref.versionId);
    if (left.length) this.objects.set(id, left);
    else this.objects.delete(id);
  }

  private removeSource(source: Pick<ObjectRef, 'bucket' | 'key' | 'versionId'>, manifestKey?: string): void {
    this.removeVersion(source);
    if (manifestKey) this.removeVersion({ bucket: BUCKETS.incoming, key: manifestKey });
  }

  /** The copy into the evidence store; a retry finds the finished copy of the same bytes. */
  private copyToEvidence(
    recordingId: string,
    source: Pick<ObjectRef, 'bucket' | 'key' | 'versionId'>,
  ): StoredOriginal {
    const bytes = this.versionOf(source);
    if (!bytes) throw this.problem(`ingest of ${recordingId}: source ${source.bucket}/${source.key} is gone`);
    const key = `recordings/${recordingId}/original`;
    const version =
      this.versionOf({ bucket: BUCKETS.evidence, key })?.sha256 === bytes.sha256
        ? this.versionOf({ bucket: BUCKETS.evidence, key })!
        : this.put(BUCKETS.evidence, key, bytes);
    return pick(version);
  }

  private deleteAll(objects: { bucket: string; key: string }[]): CertifiedObject[] {
    const now = new Date().toISOString();
    const deleted: CertifiedObject[] = [];
    for (const object of objects) {
      for (const version of this.objects.get(`${object.bucket}/${object.key}`) ?? []) {
        if (version.retainUntil && version.retainUntil > now) {
          throw this.problem(
            `deletion of ${version.key}@${version.versionId}: locked until ${version.retainUntil}`,
          );
        }
        deleted.push({ ...pick(version), kind: 'version', etag: version.etag });
      }
      this.objects.delete(`${object.bucket}/${object.key}`);
    }
    return deleted;
  }

  /** Builds and keeps the certificate; facts it refuses are the workflow's mistake (or the test's). */
  private certify(input: CertificateInput): DeletionCertificate {
    let certificate: DeletionCertificate;
    try {
      certificate = buildCertificate(input);
    } catch (err) {
      if (err instanceof CertificateInputError) throw this.problem(`certificate refused: ${err.message}`);
      throw err;
    }
    const stored = this.certificates.get(certificate.recordingId);
    if (stored && stored.certificateHash !== certificate.certificateHash) {
      throw this.problem(`a second, different certificate for ${certificate.recordingId}`);
    }
    this.certificates.set(certificate.recordingId, certificate);
    return certificate;
  }
}

function pick(version: StoredVersion) {
  const { bucket, key, versionId, sha256, size } = version;
  return { bucket, key, versionId, sha256, bytes: size };
}

function recordingIdOfSource(source: ObjectRef): string {
  return recordingIdInKey(source.key) || source.key;
}
