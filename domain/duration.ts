/**
 * The one grammar for durations and instants: rule packs, configuration (e.g. CUSTODY_AUDIT_RETENTION), the CLI and
 * workflows all parse with these functions, so a value one of them accepts is never refused by another later.
 *
 * Pure and deterministic, with no imports: it runs inside Temporal's workflow sandbox.
 *
 * - Durations are ISO 8601 PnYnMnWnDTnHnMnS with whole numbers (no fractions, no sign).
 * - Instants are RFC 3339 strings with an explicit offset; all arithmetic happens in UTC, so daylight
 *   saving time never shifts a result. Sub-millisecond digits are truncated.
 * - Durations are added largest unit first. Years and months move the calendar month and clamp the day to
 *   that month's end (Jan 31 + P1M = Feb 28/29; Feb 29 + P1Y = Feb 28). A duration is added in one step,
 *   so Jan 31 + P2M = Mar 31, not Mar 28. Weeks are 7 days; days are 24 h; hours, minutes, seconds exact.
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

/** What is wrong with a duration that must be longer than zero (retentions, lock periods); undefined if nothing. */
export function positiveDurationProblem(text: string): string | undefined {
  const parsed = parseDuration(text);
  if (!parsed.ok) return parsed.error;
  return isZeroDuration(parsed.duration) ? 'must be longer than zero' : undefined;
}

/** The same grammar as parseDuration as a JSON Schema pattern, for editors (P and PT alone excluded). */
export const DURATION_JSON_PATTERN =
  '^P(?!$)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?(\\d+S)?)?$';

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

/** Like parseInstant, but throws a RangeError naming `what`: for instants validated before. */
export function requireInstant(text: string, what: string): number {
  const parsed = parseInstant(text);
  if (!parsed.ok) throw new RangeError(`${what}: ${parsed.error}`);
  return parsed.epochMs;
}

export function toIso(epochMs: number): string {
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
export const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

/** epoch ms + duration, with the calendar rules above. */
export function addDurationMs(epochMs: number, duration: Duration): number {
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
