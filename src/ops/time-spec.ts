/**
 * `--since` values: an ISO 8601 instant with its zone (`2026-11-25T12:00:00Z`, `…+01:00`), a date (midnight
 * UTC), or a duration back from now (`90s`, `15m`, `2h`, `7d`, `1h30m`). A date-time without a zone is refused:
 * JavaScript would read it in the local zone of whatever machine runs the command.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const DURATION_PART = /(\d+)(ms|s|m|h|d|w)/g;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

export const SINCE_FORMS =
  'an ISO 8601 time with zone (2026-11-25T12:00:00Z), a date (2026-11-25, UTC) or a duration (90s, 15m, 2h, 7d, 1h30m)';

/** Date.parse rolls 2026-02-30 over into March; a mistyped day must be refused instead. */
function isCalendarDate(yyyyMmDd: string): boolean {
  const [year, month, day] = yyyyMmDd.split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Epoch milliseconds of the instant `text` names; throws an Error naming the allowed forms otherwise. */
export function parseSince(text: string, nowMs: number): number {
  const trimmed = text.trim();
  if (DURATION.test(trimmed)) {
    let ms = 0;
    for (const [, amount, unit] of trimmed.matchAll(DURATION_PART))
      ms += Number(amount) * (UNIT_MS[unit ?? ''] ?? NaN);
    if (Number.isSafeInteger(ms)) return nowMs - ms;
  } else if ((DATE.test(trimmed) || DATE_TIME.test(trimmed)) && isCalendarDate(trimmed.slice(0, 10))) {
    const ms = Date.parse(DATE.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed);
    if (Number.isFinite(ms)) return ms;
  }
  throw new Error(`--since ${JSON.stringify(text)} is not allowed: expected ${SINCE_FORMS}`);
}
