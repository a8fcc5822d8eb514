/**
 * Retention deadline arithmetic: rule-pack duration + recording times + extensions → the instant after
 * which a recording must be deleted.
 *
 * Pure and deterministic: it runs inside Temporal's workflow sandbox. Durations and instants follow the one
 * grammar in ./duration.ts (truncating sub-millisecond digits can only make a deadline earlier).
 *
 * Rules (each deadline is a ceiling, never a target):
 * - German statutes count days in German local time. Instant + n × 24 h lands before the end of such
 *   a count, except near local midnight, where the UTC date differs from the local one (and around a
 *   spring DST change): there it can land up to 2 h after it. A pack that must rule that out can shorten
 *   its retention by PT2H (e.g. P27DT22H).
 * - Basis: the recording time when known and plausible, otherwise the ingest time (see computeDeadline).
 * - Extensions only lengthen. A policy change re-arms from the same basis; the new deadline may be
 *   shorter, and one already past means "delete now" (see rearmDeadline).
 */
import {
  addDurationMs,
  MS_PER_MINUTE,
  parseDuration,
  parseInstant,
  requireDuration,
  requireInstant,
  toIso,
} from './duration';
/** A recording time this far after the ingest time is a camera clock problem, not skew. */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * MS_PER_MINUTE;

export interface Extension {
  /** The recording may be kept until this instant (documented reason, actor and case number live elsewhere). */
  until: string;
}

export type DeadlineBasis = 'recordedAt' | 'ingestedAt';

export interface Deadline {
  /** Delete once now ≥ deleteAfter, unless evidence or a hold keeps it. */
  deleteAfter: string;
  /** basisTime + retention, before extensions. */
  statutoryDeadline: string;
  basis: DeadlineBasis;
  basisTime: string;
}

export type DeadlineWarningCode =
  'recorded-at-missing' | 'recorded-at-invalid' | 'recorded-at-after-ingest' | 'deadline-passed-at-ingest';

export interface DeadlineWarning {
  code: DeadlineWarningCode;
  message: string;
}

export interface DeadlineInput {
  /** When the camera says it recorded; from a manifest or metadata, so it may be missing or wrong. */
  recordedAt?: string | undefined;
  /** When custody received the original; produced by the system, so it must be valid. */
  ingestedAt: string;
  /** The rule pack's retention, an ISO 8601 duration. */
  retention: string;
  extensions?: readonly Extension[];
}

/**
 * Basis rule: the earlier of recordedAt and ingestedAt, because the statutory period runs from the
 * recording and an earlier basis can only make the ceiling earlier.
 * - recordedAt missing or unparsable → ingestedAt, with a warning: the deadline may then be late by the
 *   time between recording and upload, so the workflow should log it.
 * - recordedAt after ingestedAt (impossible; a camera clock ahead) → ingestedAt; a warning once the gap
 *   exceeds CLOCK_SKEW_TOLERANCE_MS.
 * - a deadline already past at ingest (late upload or a camera clock far behind) stays past: the
 *   warning lets the workflow record why the recording is deleted at once.
 * Throws RangeError when ingestedAt, retention or an extension is invalid (those are validated upstream).
 */
export function computeDeadline(input: DeadlineInput): Deadline & { warnings: DeadlineWarning[] } {
  const ingestedMs = requireInstant(input.ingestedAt, 'ingestedAt');
  const retention = requireDuration(input.retention);
  const warnings: DeadlineWarning[] = [];

  let basis: DeadlineBasis = 'ingestedAt';
  let basisMs = ingestedMs;
  if (input.recordedAt === undefined) {
    warnings.push({
      code: 'recorded-at-missing',
      message: 'recording time unknown; the deadline counts from the ingest time',
    });
  } else {
    const recorded = parseInstant(input.recordedAt);
    if (!recorded.ok) {
      warnings.push({
        code: 'recorded-at-invalid',
        message: `recordedAt ignored (${recorded.error}); the deadline counts from the ingest time`,
      });
    } else if (recorded.epochMs <= ingestedMs) {
      basis = 'recordedAt';
      basisMs = recorded.epochMs;
    } else if (recorded.epochMs - ingestedMs > CLOCK_SKEW_TOLERANCE_MS) {
      warnings.push({
        code: 'recorded-at-after-ingest',
        message: `recordedAt ${input.recordedAt} is after ingestedAt ${input.ingestedAt}; camera clock ahead? the deadline counts from the ingest time`,
      });
    }
  }

  const statutoryMs = addDurationMs(basisMs, retention);
  if (statutoryMs <= ingestedMs) {
    warnings.push({
      code: 'deadline-passed-at-ingest',
      message: `the deadline ${toIso(statutoryMs)} had passed when the recording was ingested at ${toIso(ingestedMs)}`,
    });
  }
  return {
    deleteAfter: toIso(latestOf(statutoryMs, input.extensions ?? [])),
    statutoryDeadline: toIso(statutoryMs),
    basis,
    basisTime: toIso(basisMs),
    warnings,
  };
}

function latestOf(statutoryMs: number, extensions: readonly Extension[]): number {
  return extensions.reduce(
    (latest, extension) => Math.max(latest, requireInstant(extension.until, 'extension.until')),
    statutoryMs,
  );
}

export type ExtensionRequest = { until: string } | { for: string };

export type ExtensionResult =
  { ok: true; deleteAfter: string; extension: Extension } | { ok: false; reason: string };

/**
 * Lengthens the deadline: `{ until }` sets an instant, `{ for }` adds a duration to the current deadline.
 * Anything that would not move the deadline later is refused with a reason for the requester.
 */
export function applyExtension(currentDeleteAfter: string, request: ExtensionRequest): ExtensionResult {
  const currentMs = requireInstant(currentDeleteAfter, 'current deadline');
  let untilMs: number;
  if ('until' in request) {
    const until = parseInstant(request.until);
    if (!until.ok) return { ok: false, reason: until.error };
    untilMs = until.epochMs;
  } else {
    const duration = parseDuration(request.for);
    if (!duration.ok) return { ok: false, reason: duration.error };
    untilMs = addDurationMs(currentMs, duration.duration);
  }
  if (untilMs <= currentMs) {
    return {
      ok: false,
      reason: `an extension may only lengthen: ${toIso(untilMs)} is not after the current deadline ${currentDeleteAfter}`,
    };
  }
  return { ok: true, deleteAfter: toIso(untilMs), extension: { until: toIso(untilMs) } };
}

export type DeadlineChange = 'shortened' | 'lengthened' | 'unchanged';

/**
 * Re-arms after a rule-pack change: same basis, new retention. Extensions granted earlier still count
 * (each was a documented decision to keep until a date), so the result is
 * max(basis + new retention, extensions). A shorter pack shortens the deadline; if that is already past,
 * decideWake reports the deletion as due. `change` compares with `current.deleteAfter`, which must be the
 * deadline in force (extensions included), so that it agrees with what the recording's owner sees.
 */
export function rearmDeadline(
  current: Pick<Deadline, 'basis' | 'basisTime' | 'deleteAfter'>,
  newRetention: string,
  extensions: readonly Extension[],
): Deadline & { change: DeadlineChange } {
  const previous = current;
  const basisMs = requireInstant(previous.basisTime, 'basisTime');
  const statutoryMs = addDurationMs(basisMs, requireDuration(newRetention));
  const deleteAfterMs = latestOf(statutoryMs, extensions);
  const previousMs = requireInstant(previous.deleteAfter, 'current deleteAfter');
  const change: DeadlineChange =
    deleteAfterMs < previousMs ? 'shortened' : deleteAfterMs > previousMs ? 'lengthened' : 'unchanged';
  return {
    deleteAfter: toIso(deleteAfterMs),
    statutoryDeadline: toIso(statutoryMs),
    basis: previous.basis,
    basisTime: previous.basisTime,
    change,
  };
}

export interface RetentionState {
  deleteAfter: string;
  /** Marked as evidence: kept beyond the deadline until unmarked. */
  evidence: boolean;
  /** Legal holds not yet released. */
  activeHolds: readonly { id: string }[];
}

export type WakeDecision =
  /** Something keeps the recording; no timer: wait for an unmark or a hold release. */
  | { action: 'keep'; reason: 'evidence' | 'legal-hold'; holdIds: string[] }
  /** The deadline has passed (overdueMs ≥ 0): delete now. */
  | { action: 'delete'; overdueMs: number }
  /** Sleep until the deadline (or until a message changes the state). */
  | { action: 'sleep'; sleepMs: number; wakeAt: string };

/** What the lifecycle workflow should do at `now`: keep, delete or sleep. */
export function decideWake(now: Date | string, state: RetentionState): WakeDecision {
  const nowMs = typeof now === 'string' ? requireInstant(now, 'now') : now.getTime();
  const holdIds = state.activeHolds.map((hold) => hold.id);
  if (state.evidence) return { action: 'keep', reason: 'evidence', holdIds };
  if (holdIds.length > 0) return { action: 'keep', reason: 'legal-hold', holdIds };
  const deadlineMs = requireInstant(state.deleteAfter, 'deleteAfter');
  if (nowMs >= deadlineMs) return { action: 'delete', overdueMs: nowMs - deadlineMs };
  return { action: 'sleep', sleepMs: deadlineMs - nowMs, wakeAt: toIso(deadlineMs) };
}
