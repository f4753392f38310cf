/** Formatting for the scanner screens (French first; labels come from the page, translated). */

const pad = (n) => String(n).padStart(2, '0');

/** 'HH:MM' of a minute of the day (1440 → 24:00). */
export function hhmm(minute) {
  return `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
}

/** Replace {name} placeholders. */
export function fill(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

/** A minute of the day as the pages say it: '7 h', '7 h 30', '24 h' in French; '07:30' in English. */
export function clockText(minute, lang = 'fr') {
  if (lang === 'en') return hhmm(minute);
  const h = Math.floor(minute / 60);
  const m = minute % 60;
  return m ? `${h} h ${pad(m)}` : `${h} h`;
}

/** 'lun.–sam. 7 h–13 h' for a window {weekdays, start, end} (English: 'Mon–Sat 07:00–13:00'). */
export function formatWindow(w, labels) {
  const days = [];
  for (let d = 0; d < 7; d++) if (w.weekdays & (1 << d)) days.push(d);
  let dayText;
  if (days.length === 7) dayText = '';
  else if (days.length > 2 && days.at(-1) - days[0] === days.length - 1) {
    dayText = `${labels.days[days[0]]}–${labels.days[days.at(-1)]} `;
  } else dayText = `${days.map((d) => labels.days[d]).join(' ')} `;
  const lang = labels.lang ?? 'fr';
  const hours = w.start === 0 && w.end === 1440 ? labels.allDay
    : `${clockText(w.start, lang)}–${clockText(w.end, lang)}`;
  return `${dayText}${hours}`;
}

/** '09/05/2026' of a day number (days since 1970-01-01, as bundles carry dates). */
export function formatDay(dayNumber) {
  const d = new Date(Number(dayNumber) * 86400000);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`;
}

// French defaults, for a page whose labels predate the restriction schedule.
const RESTRICTION_LABELS = {
  restricted: 'réglementée {hours}', onDay: 'le {day}', fromTo: 'du {first} au {last}', fromDay: 'à partir du {day}',
  untilDay: "jusqu'au {day}", exceptHolidays: 'sauf fériés',
};

/** A window with its dates and holidays: 'le 09/05/2026 12:00–24:00', 'lun.–ven. 08:00–20:00 sauf fériés'. */
export function formatDatedWindow(w, labels) {
  const L = { ...RESTRICTION_LABELS, ...labels };
  const parts = [];
  const first = w.firstDay ?? null;
  const last = w.lastDay ?? null;
  if (first !== null && first === last) parts.push(fill(L.onDay, { day: formatDay(first) }));
  else if (first !== null && last !== null) parts.push(fill(L.fromTo, { first: formatDay(first), last: formatDay(last) }));
  else if (first !== null) parts.push(fill(L.fromDay, { day: formatDay(first) }));
  else if (last !== null) parts.push(fill(L.untilDay, { day: formatDay(last) }));
  parts.push(formatWindow(w, labels));
  if (w.skipHolidays) parts.push(L.exceptHolidays);
  return parts.join(' ');
}

/**
 * When a zone's restriction is in force, in words ('réglementée lun.–ven. 08:00–20:00'), or null
 * for a zone restricted at all times (no restriction windows).
 */
export function formatRestriction(zone, labels) {
  const windows = zone?.restriction ?? [];
  if (!windows.length) return null;
  const L = { ...RESTRICTION_LABELS, ...labels };
  return fill(L.restricted, { hours: windows.map((w) => formatDatedWindow(w, labels)).join(' ; ') });
}

/** A date and time in a time zone, e.g. '23/11/2026 09:00'. */
export function formatDateTime(epoch, tz = 'Europe/Paris', lang = 'fr') {
  return new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'fr-FR', {
    timeZone: tz, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(new Date(Number(epoch) * 1000));
}

// A validity period, worded as the server's pages word it (cirqliz/domain/hours_form.py describe_period).
const PERIOD_WORDS = {
  fr: { onDay: 'le {a}', wholeDays: 'du {a} au {b} inclus', sameDay: 'le {a} de {b} à {c}', between: 'du {a} à {b} au {c} à {d}' },
  en: { onDay: 'on {a}', wholeDays: 'from {a} to {b} inclusive', sameDay: 'on {a} from {b} to {c}', between: 'from {a} {b} to {c} {d}' },
};

function localParts(epoch, tz) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat('en-GB', {
    timeZone: tz, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(Number(epoch) * 1000))) parts[p.type] = p.value;
  return { day: `${parts.day}/${parts.month}/${parts.year}`, y: +parts.year, m: +parts.month, d: +parts.day,
    minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

/**
 * A period [start, end) in the zone's local time: 'du 24/11/2026 au 10/12/2026 inclus' (whole days),
 * 'le 24/11/2026 de 9 h à 18 h', 'du 24/11/2026 à 9 h au 25/11/2026 à 18 h 30'.
 */
export function formatPeriod(start, end, tz = 'Europe/Paris', lang = 'fr') {
  const W = PERIOD_WORDS[lang] ?? PERIOD_WORDS.fr;
  const first = localParts(start, tz);
  const after = localParts(end, tz);
  if (first.minute === 0 && after.minute === 0 && Number(end) > Number(start)) {
    const last = new Date(Date.UTC(after.y, after.m - 1, after.d - 1));
    const lastDay = `${pad(last.getUTCDate())}/${pad(last.getUTCMonth() + 1)}/${last.getUTCFullYear()}`;
    return lastDay === first.day ? fill(W.onDay, { a: lastDay }) : fill(W.wholeDays, { a: first.day, b: lastDay });
  }
  const from = clockText(first.minute, lang);
  const to = clockText(after.minute, lang);
  if (first.day === after.day) return fill(W.sameDay, { a: first.day, b: from, c: to });
  return fill(W.between, { a: first.day, b: from, c: after.day, d: to });
}

/** 'il y a 5 min' / '3 h' / '2 j'. */
export function formatAge(seconds, labels) {
  const s = Math.max(0, Number(seconds));
  if (s < 3600) return fill(labels.ageMinutes, { n: Math.floor(s / 60) });
  if (s < 86400) return fill(labels.ageHours, { n: Math.floor(s / 3600) });
  return fill(labels.ageDays, { n: Math.floor(s / 86400) });
}

/** A French SIV plate as printed (AB123CD → AB-123-CD); other plates unchanged. */
export function readablePlate(plate) {
  const siv = /^([A-Z]{2})(\d{3})([A-Z]{2})$/.exec(plate);
  return siv ? `${siv[1]}-${siv[2]}-${siv[3]}` : plate;
}

/** Serial in groups of four for reading aloud. */
export function groupSerial(serial) {
  return (serial ?? '').replace(/(.{4})(?=.)/g, '$1 ');
}

/** Normalise a typed serial: 16 hex digits, upper case, or null. */
export function parseSerial(text) {
  const value = String(text).replace(/[\s-]+/g, '').toUpperCase();
  return /^[0-9A-F]{16}$/.test(value) ? value : null;
}

/** Bytes of a hex string. */
export function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

let audio = null;

/** Create the audio context during a user gesture (browsers refuse to start it otherwise). */
export function unlockAudio() {
  try {
    audio = audio ?? new (globalThis.AudioContext || globalThis.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume();
  } catch {
    audio = null;
  }
}

/** A short beep (high for green, low double for red, middle for orange) and a vibration. */
export function signal(status) {
  const pattern = { VALID: [[880, 0.15]], REFUSED: [[220, 0.2], [220, 0.2]], UNCERTAIN: [[440, 0.3]] }[status];
  if (audio && pattern) {
    let at = audio.currentTime;
    for (const [freq, length] of pattern) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + length);
      at += length + 0.08;
    }
  }
  const vibrate = { VALID: [120], REFUSED: [300, 100, 300], UNCERTAIN: [200, 100, 100] }[status];
  if (navigator.vibrate && vibrate) navigator.vibrate(vibrate);
}

/** A length of time in whole minutes, hours or days ('25 min', '3 h', '400 j'), like the checks page. */
export function formatDuration(seconds, labels) {
  const s = Math.abs(Number(seconds));
  if (s < 100 * 60) return fill(labels.durationMinutes, { n: Math.round(s / 60) });
  if (s < 48 * 3600) return fill(labels.durationHours, { n: Math.round(s / 3600) });
  return fill(labels.durationDays, { n: Math.round(s / 86400) });
}

// ---- several authorities (issue 19) ------------------------------------------------------------

/** The checkpoint reference of a zone: 'CODE' for the home authority's, 'ISS/CODE' for a partner's. */
export function zoneRef(iss, code, homeIss) {
  return !iss || iss === homeIss ? code : `${iss}/${code}`;
}

/**
 * The authorities of a trust set, home first then partners in the set's order:
 * [{iss, name, bundle, home}] (`name`: the bundle's own name, else the home bundle's partner
 * entry, else `homeName` for the home authority, else the code).
 */
export function authoritiesOf(trust, homeName = '') {
  if (!trust?.home) return [];
  const entries = new Map((trust.home.content.partners ?? []).map((p) => [p.iss, p]));
  const nameOf = (bundle, fallback) => bundle.content.name || fallback || bundle.iss;
  const out = [{ iss: trust.home.iss, name: nameOf(trust.home, homeName), bundle: trust.home, home: true }];
  for (const [iss, bundle] of trust.partners ?? []) {
    out.push({ iss, name: nameOf(bundle, entries.get(iss)?.name), bundle, home: false });
  }
  return out;
}

/**
 * The checkpoint a reference names in a trust set: {iss, name, bundle, zone, ref} or null
 * ('CODE' and 'HOME/CODE' are the home authority's zone CODE; 'ISS/CODE' partner ISS's).
 */
export function resolveZone(trust, ref, homeName = '') {
  if (!trust?.home || !ref) return null;
  const cut = ref.indexOf('/');
  const iss = cut < 0 ? trust.home.iss : ref.slice(0, cut);
  const code = cut < 0 ? ref : ref.slice(cut + 1);
  const authority = authoritiesOf(trust, homeName).find((a) => a.iss === iss);
  const zone = authority?.bundle.zone(code) ?? null;
  if (!zone) return null;
  return { iss, name: authority.name, bundle: authority.bundle, zone, ref: zoneRef(iss, code, trust.home.iss) };
}

/** The zone choice grouped by authority: [{iss, name, zones: [{ref, zone}]}], home first. */
export function zoneGroups(trust, homeName = '') {
  return authoritiesOf(trust, homeName).map(({ iss, name, bundle }) => ({
    iss, name, zones: bundle.content.zones.map((zone) => ({ ref: zoneRef(iss, zone.code, trust.home.iss), zone })),
  }));
}

/**
 * One authority's data in the bundle line: {name, seq, stale, age, text} with `text` like
 * 'Métropole de Lyon : n° 4, il y a 1 h' (labels.authorityData), the age replaced by labels.stale
 * once the bundle is older than its max_age.
 */
export function authorityStatus({ name, bundle }, now, labels) {
  const { issuedAt, maxAge, seq } = bundle.content;
  const issued = Number(issuedAt);
  const stale = now > issued + Number(maxAge);
  const age = stale ? labels.stale : formatAge(now - issued, labels);
  return { name, seq, stale, age, text: fill(labels.authorityData, { name, seq, age }) };
}

// French defaults of the bundle refusal reasons (the page gives them translated).
const REFUSAL_REASONS = {
  bundle_rollback: 'numéro plus ancien que celui détenu (retour en arrière)',
  bundle_seq_conflict: 'même numéro que celui détenu mais contenu différent',
  bundle_bad_signature: 'signature invalide',
  bundle_unknown_root: "non signé par la clé racine attendue",
  bundle_wrong_issuer: 'émis par une autre autorité',
  bundle_malformed: 'illisible',
  bundle_delta_base: 'mise à jour sans base connue',
  other: 'erreur {code}',
};

/** A bundle refusal code in words ('signature invalide'). */
export function refusalReason(code, labels = {}) {
  const reasons = { ...REFUSAL_REASONS, ...(labels.refusalReasons ?? {}) };
  return fill(reasons[code] ?? reasons.other, { code });
}
