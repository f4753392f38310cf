/**
 * Time windows evaluated on wall-clock time in a zone's IANA time zone, twin of
 * cirqliz/domain/windows.py. A window is a weekday mask (bit 0 = Monday … bit 6 = Sunday), a start
 * and an end minute; when end <= start it crosses midnight and belongs to the day it opened on
 * (for its weekday, its first/last days and public holidays). Days are day numbers (days since
 * 1970-01-01).
 */

export const MINUTES_PER_DAY = 1440;
export const ALL_DAYS = 0b1111111;
/** Day number of 9999-12-31, the last date Python's datetime.date can hold. */
export const MAX_DAY = 2932896;
const DAY_NAMES = ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'];

/** A window field is out of range; `code` as in cirqliz/domain/windows.py. */
export class WindowError extends Error {
  constructor(message, code = 'invalid_window') {
    super(message);
    this.name = 'WindowError';
    this.code = code;
  }
}

/**
 * A validated window: {weekdays, start, end, firstDay, lastDay, skipHolidays} (days as numbers).
 * @throws {WindowError} for the same reasons as TimeWindow.__post_init__
 */
export function makeWindow(weekdays, start, end, { firstDay = null, lastDay = null, skipHolidays = false } = {}) {
  for (const [name, v] of [['weekdays', weekdays], ['start', start], ['end', end]]) {
    if (!(typeof v === 'bigint' || Number.isInteger(v))) throw new WindowError(`${name} doit être un entier`);
  }
  if (!(weekdays > 0 && weekdays <= ALL_DAYS)) throw new WindowError('aucun jour de la semaine choisi', 'invalid_window_days');
  if (!(start >= 0 && start < MINUTES_PER_DAY)) throw new WindowError('heure de début hors de 00:00–23:59', 'invalid_window_start');
  if (!(end > 0 && end <= MINUTES_PER_DAY)) throw new WindowError('heure de fin hors de 00:01–24:00', 'invalid_window_end');
  if (firstDay !== null && lastDay !== null && firstDay > lastDay) {
    throw new WindowError('la date de début suit la date de fin', 'invalid_window_dates');
  }
  return Object.freeze({
    weekdays: Number(weekdays), start: Number(start), end: Number(end), firstDay, lastDay, skipHolidays,
  });
}

// One formatter per time zone: building an Intl.DateTimeFormat is the slow part.
const formatters = new Map();

/**
 * The cached formatter for an IANA time zone.
 * @throws {RangeError} when the time zone is unknown
 */
export function formatterFor(tz) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', weekday: 'short',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Whether `tz` names an IANA time zone this runtime knows. */
export function isTimeZone(tz) {
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

/** Day number of a civil date (proleptic Gregorian). */
export function dayNumber(year, month, day) {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // setUTCFullYear: years 0-99 stay as given
  return Math.floor(d.getTime() / 86400000);
}

/**
 * Wall time in `tz` of UTC epoch seconds: {year, month, day, hour, minute, weekday (0 = Monday),
 * dayNumber}.
 */
export function localFromEpoch(seconds, tz) {
  const parts = {};
  for (const p of formatterFor(tz).formatToParts(new Date(Number(seconds) * 1000))) parts[p.type] = p.value;
  const year = Number(parts.year);
  const month = Number(parts.month);
  const day = Number(parts.day);
  const days = dayNumber(year, month, day);
  return {
    year, month, day,
    hour: Number(parts.hour) % 24, // some engines still write midnight as 24 with h23
    minute: Number(parts.minute),
    // From the date rather than parts.weekday: no locale name to parse. 1970-01-01 was a Thursday.
    weekday: (((days + 3) % 7) + 7) % 7,
    dayNumber: days,
  };
}

/** The day number on which the window containing wall time `local` opened, or null. */
export function openingDay(w, local) {
  const minute = local.hour * 60 + local.minute;
  const open = (weekday) => ((w.weekdays >> weekday) & 1) === 1;
  if (w.end <= w.start) {
    if (minute >= w.start && open(local.weekday)) return local.dayNumber;
    if (minute < w.end && open((local.weekday + 6) % 7)) return local.dayNumber - 1;
    return null;
  }
  return w.start <= minute && minute < w.end && open(local.weekday) ? local.dayNumber : null;
}

/**
 * Whether wall time `local` falls inside window `w`.
 * @param {Set<number>} [holidays] day numbers of public holidays
 */
export function containsLocal(w, local, holidays = null) {
  const day = openingDay(w, local);
  if (day === null) return false;
  if (w.firstDay !== null && day < w.firstDay) return false;
  if (w.lastDay !== null && day > w.lastDay) return false;
  return !(w.skipHolidays && holidays !== null && holidays.has(day));
}

/** 'lun. 09:05': a local day and time as a verdict's detail names it (core.py _local_time). */
export function describeLocal(local) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${DAY_NAMES[local.weekday]} ${pad(local.hour)}:${pad(local.minute)}`;
}
