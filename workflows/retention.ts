/**
 * Retention deadline arithmetic: rule-pack duration + recording times + extensions → the instant after
 * which a recording must be deleted.
 *
 * Pure and deterministic, with no imports: it runs inside Temporal's workflow sandbox and is shared with
 * the rule-pack schema, which validates durations with the same parser.
 *
 * Rules (each deadline is a ceiling, never a target):
 * - Instants are RFC 3339 strings with an explicit offset; all arithmetic happens in UTC, so daylight
 *   saving time never shifts a result. Sub-millisecond digits are truncated (an earlier basis can only
 *   make the deadline earlier).
 * - Durations are added largest unit first. Years and months move the calendar month and clamp the day to
 *   that month's end (Jan 31 + P1M = Feb 28/29; Feb 29 + P1Y = Feb 28). A duration is added in one step,
 *   so Jan 31 + P2M = Mar 31, not Mar 28. Weeks are 7 days; days are 24 h; hours, minutes, seconds exact.
 * - German statutes count days in German local time. Instant + n × 24 h lands before the end of such
 *   a count, except near local midnight, where the UTC date differs from the local one (and around a
 *   spring DST change): there it can land up to 2 h after it. A pack that must rule that out can shorten
 *   its retention by PT2H (e.g. P27DT22H).
 * - Basis: the recording time when known and plausible, otherwise the ingest time (see computeDeadline).
 * - Extensions only lengthen. A policy change re-arms from the same basis; the new deadline may be
 *   shorter, and one already past means "delete now" (see rearmDeadline).
 */

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export type DurationParse = { ok: true; duration: Duration } | { ok: false; error: string };

/** The grammar parseDuration accepts (it also refuses P and PT alone). */
export const DURATION_PATTERN =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
const DURATION_FORM = 'an ISO 8601 duration PnYnMnWnDTnHnMnS with whole numbers, e.g. P28D, P2M or PT30S';

/** Parses an ISO 8601 duration. Negative, fractional and empty durations are refused. */
export function parseDuration(text: string): DurationParse {
  const refuse = (why: string): DurationParse => ({
    ok: false,
    error: `invalid duration ${JSON.stringify(text)}: ${why}; expected ${DURATION_FORM}`,
  });
  if (typeof text !== 'string') return refuse('not a string');
  const match = DURATION_PATTERN.exec(text);
  if (!match) return refuse(diagnoseDuration(text));
  if (text.endsWith('T')) return refuse('a T must be followed by hours, minutes or seconds');
  const parts = match.slice(1);
  if (parts.every((part) => part === undefined)) return refuse('it has no components');
  const [years, months, weeks, days, hours, minutes, seconds] = parts.map((part) => Number(part ?? '0'));
  const duration: Duration = {
    years: years ?? 0,
    months: months ?? 0,
    weeks: weeks ?? 0,
    days: days ?? 0,
    hours: hours ?? 0,
    minutes: minutes ?? 0,
    seconds: seconds ?? 0,
  };
  if (!Object.values(duration).every((n) => Number.isSafeInteger(n))) return refuse('a number is too large');
  return { ok: true, duration };
}

function diagnoseDuration(text: string): string {
  if (text.trim() !== text) return 'remove the surrounding whitespace';
  if (/^[+-]/.test(text)) return 'signed or negative durations are not allowed';
  if (DURATION_PATTERN.test(text.toUpperCase())) return 'unit letters must be upper case';
  if (!text.startsWith('P')) return 'a duration starts with P';
  if (/[.,]/.test(text)) return 'fractions are not supported; use a smaller unit (PT90M, not PT1.5H)';
  if (/^P[^T]*\d[HS]/.test(text)) return 'hours and seconds belong after a T (PT1H, not P1H)';
  return 'units must appear in the order Y, M, W, D, then T, H, M, S, each at most once';
}

/** Like parseDuration, but throws: for durations that were validated before (rule packs, stored state). */
export function requireDuration(text: string): Duration {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new RangeError(parsed.error);
  return parsed.duration;
}

export function isZeroDuration(duration: Duration): boolean {
  return Object.values(duration).every((n) => n === 0);
}

// RFC 3339 date-time with a mandatory offset: a local time without one would be ambiguous.
const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export type InstantParse = { ok: true; epochMs: number } | { ok: false; error: string };

/** Parses an RFC 3339 instant such as 2024-01-31T10:00:00Z or 2024-01-31T11:00:00.250+01:00. */
export function parseInstant(text: string): InstantParse {
  const refuse = (why: string): InstantParse => ({
    ok: false,
    error: `invalid instant ${JSON.stringify(text)}: ${why}; expected RFC 3339 such as 2024-01-31T10:00:00Z`,
  });
  if (typeof text !== 'string') return refuse('not a string');
  const match = INSTANT_PATTERN.exec(text);
  if (!match) return refuse('wrong form (a date, T, a time and an offset Z or ±hh:mm are required)');
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = match[7] ?? '';
  const offset = match[8] ?? 'Z';
  if (month < 1 || month > 12) return refuse('month out of range');
  if (day < 1 || day > daysInMonth(year, month - 1)) return refuse('day out of range for that month');
  if (hour > 23 || minute > 59 || second > 59) return refuse('time out of range');
  let offsetMinutes = 0;
  if (offset !== 'Z') {
    const offsetHours = Number(offset.slice(1, 3));
    const offsetMins = Number(offset.slice(4, 6));
    if (offsetHours > 23 || offsetMins > 59) return refuse('offset out of range');
    offsetMinutes = (offset.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const epochMs = utcEpochMs(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  return { ok: true, epochMs };
}

function requireInstant(text: string, what: string): number {
  const parsed = parseInstant(text);
  if (!parsed.ok) throw new RangeError(`${what}: ${parsed.error}`);
  return parsed.epochMs;
}

function toIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** monthIndex is 0-based, as in Date. */
function daysInMonth(year: number, monthIndex: number): number {
  return [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][monthIndex] ?? 31;
}

// Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
function utcEpochMs(
  year: number,
  monthIndex: number,
  day: number,
  h: number,
  m: number,
  s: number,
  ms: number,
) {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(h, m, s, ms);
  return date.getTime();
}

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

function addDurationMs(epochMs: number, duration: Duration): number {
  const start = new Date(epochMs);
  const monthCount =
    start.getUTCFullYear() * 12 + start.getUTCMonth() + duration.years * 12 + duration.months;
  const year = Math.floor(monthCount / 12);
  const monthIndex = monthCount - year * 12;
  const day = Math.min(start.getUTCDate(), daysInMonth(year, monthIndex));
  const afterMonths = utcEpochMs(
    year,
    monthIndex,
    day,
    start.getUTCHours(),
    start.getUTCMinutes(),
    start.getUTCSeconds(),
    start.getUTCMilliseconds(),
  );
  const result =
    afterMonths +
    (duration.weeks * 7 + duration.days) * MS_PER_DAY +
    duration.hours * MS_PER_HOUR +
    duration.minutes * MS_PER_MINUTE +
    duration.seconds * MS_PER_SECOND;
  if (!Number.isFinite(result) || Number.isNaN(new Date(result).getTime())) {
    throw new RangeError('duration too large: the result lies outside the representable date range');
  }
  return result;
}

/** instant + duration, with the calendar rules described at the top of this file. Returns ISO UTC. */
export function addDuration(instant: string, duration: Duration | string): string {
  const parsed = typeof duration === 'string' ? requireDuration(duration) : duration;
  return toIso(addDurationMs(requireInstant(instant, 'addDuration'), parsed));
}

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
 * decideWake reports the deletion as due.
 */
export function rearmDeadline(
  previous: Deadline,
  newRetention: string,
  extensions: readonly Extension[],
): Deadline & { change: DeadlineChange } {
  const basisMs = requireInstant(previous.basisTime, 'basisTime');
  const statutoryMs = addDurationMs(basisMs, requireDuration(newRetention));
  const deleteAfterMs = latestOf(statutoryMs, extensions);
  const previousMs = requireInstant(previous.deleteAfter, 'previous deleteAfter');
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
