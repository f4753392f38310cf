/**
 * The offline pass verifier for the scanner PWA: the JavaScript twin of cirqliz/verify/core.py.
 * Plain ES module, no dependencies: runs in browsers and in Node 20 (WebCrypto + Intl).
 *
 * verifyPass applies docs/pass-format.md §5 in exactly the Python order and never throws: every
 * outcome, bad input included, is a verdict {status, reason, detail, claims, zone, kid, checkedAt}.
 *
 *   import { openBundle, verifyPass, message } from './verifier.js';
 *   const bundle = await openBundle(bundleBytes, [rootSpki]);           // once per sync
 *   const v = await verifyPass(scannedText, bundle, { zone: 'PARIS-CENTRE', now: Date.now() / 1000 });
 *   show(v.status, message(v.reason, 'fr'));
 *
 * Partner authorities (issue 19): openTrustSet / verifyFederated (federation.js, re-exported here)
 * check a pass with its issuer's bundle at a checkpoint 'CODE' (home) or 'ISS/CODE' (partner).
 */

import { decodeClaims } from './claims.js';
import { checkAlg, decodeSign1, HEADER_ALG, HEADER_KID, messageToBeSigned } from './cose.js';
import { b45decode } from './base45.js';
import { MalformedError, SchemeError } from './errors.js';
import { toHex, verifyRaw } from './keys.js';
import { looseKey } from './plates.js';
import { durationFr, instantFr, pyRepr } from './messages.js';
import { containsLocal, describeLocal, formatterFor, localFromEpoch } from './windows.js';

export { b45decode } from './base45.js';
export { decodeOne, decodeStrict, Tag, CborFloat, Simple } from './cbor.js';
export { decodeSign1, toBeSigned } from './cose.js';
export { decodeClaims } from './claims.js';
export {
  openBundle, importRootKey, revocationHash, revocationHashSync, containsRevocation, TrustBundle,
} from './bundle.js';
export { SchemeError, MalformedError, BundleError } from './errors.js';
export { looseKey } from './plates.js';
export {
  message, MESSAGES, BUNDLE_REFUSALS, bundleRefusal, verdictMessage,
} from './messages.js';
export {
  openTrustSet, TrustSet, verifyFederated, parseZoneRef, rootFingerprint, normaliseFingerprint,
} from './federation.js';

export const PREFIX = 'CQ1:';
export const MAX_TEXT = 2000;
export const DEFAULT_SKEW = 300;

export const Status = Object.freeze({ VALID: 'VALID', REFUSED: 'REFUSED', UNCERTAIN: 'UNCERTAIN' });
const UNCERTAIN = new Set(['STALE_BUNDLE', 'CLOCK_SUSPECT', 'UNKNOWN_ZONE']);
const GREEN = new Set(['VALID', 'NOT_RESTRICTED']);

/**
 * Prefix, Base45 and COSE layers of a pass, strictly (token.py parse_pass_text); the signature
 * is not checked here.
 * @param {string} text
 * @throws {MalformedError}
 */
export function parsePassText(text) {
  if (typeof text !== 'string') throw new MalformedError('le texte du laissez-passer doit être une chaîne de caractères', 'not_text');
  // Python counts code points; UTF-16 length is an upper bound, so count only when it matters.
  if (text.length > MAX_TEXT && [...text].length > MAX_TEXT) {
    throw new MalformedError(`texte du laissez-passer de plus de ${MAX_TEXT} caractères`, 'too_long');
  }
  if (!text.startsWith(PREFIX)) {
    throw new MalformedError(`pas un laissez-passer CirQliz : le texte doit commencer par ${pyRepr(PREFIX)}`, 'bad_prefix');
  }
  const message = decodeSign1(b45decode(text.slice(PREFIX.length)));
  if (!message.protected.has(HEADER_ALG)) {
    const where = message.unprotected.has(HEADER_ALG) ? "que dans l'en-tête non protégé" : 'dans aucun en-tête';
    throw new MalformedError(`l'algorithme (alg) doit être dans l'en-tête protégé ; il n'est ${where}`, 'alg_not_protected');
  }
  const kid = message.protected.get(HEADER_KID);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) {
    throw new MalformedError("l'en-tête protégé doit porter un identifiant de clé (kid) de 8 octets", 'bad_kid');
  }
  return message;
}

function verdict(reason, detail, t, extra = {}) {
  let status = Status.REFUSED;
  if (GREEN.has(reason)) status = Status.VALID;
  else if (UNCERTAIN.has(reason)) status = Status.UNCERTAIN;
  return {
    status, reason, detail, checkedAt: t,
    claims: extra.claims ?? null, zone: extra.zone ?? null, kid: extra.kid ?? null,
  };
}

const max = (a, b) => (a > b ? a : b);
// Exact sum of two integers that may be BigInt (bundle fields are unbounded).
const add = (a, b) => {
  if (typeof a !== 'bigint' && typeof b !== 'bigint' && Number.isSafeInteger(a + b)) return a + b;
  const sum = BigInt(a) + BigInt(b);
  return sum >= BigInt(Number.MIN_SAFE_INTEGER) && sum <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum;
};

function toEpoch(now) {
  if (now instanceof Date) return Math.trunc(now.getTime() / 1000);
  return typeof now === 'bigint' ? now : Math.trunc(now);
}

// ---- local time, with each time zone's UTC offset kept for one UTC hour ---------------------
// Intl's formatToParts is the slow part of a verify; the offset of a zone is the same over a whole
// UTC hour unless a transition falls inside it, so it is read once per zone and hour (at the
// hour's first and last second: when they differ, every call in that hour asks Intl). Between
// 1970 and 2106 only; other instants always ask Intl (localFromEpoch).
const HOUR_OFFSETS = new Map(); // tz → {hour, offset (seconds) or null}
const SECONDS_FORMATTERS = new Map();

/** Wall-clock seconds (as if UTC) minus `seconds`: the zone's UTC offset at that instant. */
function offsetAt(seconds, tz) {
  let f = SECONDS_FORMATTERS.get(tz);
  if (!f) {
    formatterFor(tz); // throws RangeError for an unknown zone, as localFromEpoch does
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    SECONDS_FORMATTERS.set(tz, f);
  }
  const p = {};
  for (const part of f.formatToParts(new Date(seconds * 1000))) p[part.type] = part.value;
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute),
    Number(p.second)) / 1000;
  return wall - seconds;
}

/** localFromEpoch(seconds, tz), the same object, without Intl once the hour's offset is known. */
export function localAt(seconds, tz) {
  if (typeof seconds !== 'number' || !(seconds >= 0 && seconds < 2 ** 32)) return localFromEpoch(seconds, tz);
  const hour = Math.floor(seconds / 3600);
  let known = HOUR_OFFSETS.get(tz);
  if (known === undefined || known.hour !== hour) {
    const first = offsetAt(hour * 3600, tz);
    known = { hour, offset: first === offsetAt(hour * 3600 + 3599, tz) ? first : null };
    HOUR_OFFSETS.set(tz, known);
  }
  if (known.offset === null) return localFromEpoch(seconds, tz);
  const wall = Math.floor(seconds) + known.offset;
  const days = Math.floor(wall / 86400);
  const date = new Date(wall * 1000);
  const inDay = wall - days * 86400;
  return {
    year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(),
    hour: Math.floor(inDay / 3600), minute: Math.floor((inDay % 3600) / 60),
    weekday: (((days + 3) % 7) + 7) % 7,
    dayNumber: days,
  };
}

/** Steps 2-4: a not withdrawn, trusted key whose signature verifies → {signer} or a verdict. */
async function checkSignature(message, kidHex, bundle, t) {
  // A withdrawn kid is refused as such even once its key entry has left the bundle.
  if (bundle.withdrawn.has(kidHex)) return { fail: verdict('KEY_WITHDRAWN', `clé ${kidHex} retirée`, t, { kid: kidHex }) };
  const trusted = bundle.keysByKid.get(kidHex);
  if (!trusted || !trusted.length) {
    return { fail: verdict('UNKNOWN_KEY', `clé ${kidHex} absente du paquet de confiance n° ${bundle.seq}`, t, { kid: kidHex }) };
  }
  let failure = 'signature invalide';
  const tbs = messageToBeSigned(message);
  for (const candidate of trusted) {
    try {
      checkAlg(message, candidate.key);
      await verifyRaw(candidate.key, message.signature, tbs);
      return { signer: candidate };
    } catch (err) {
      if (!(err instanceof SchemeError)) throw err;
      failure = err.message;
    }
  }
  return { fail: verdict('BAD_SIGNATURE', failure, t, { kid: kidHex }) };
}

/** Steps 6-7: issuer and key authorisation → a verdict or null. */
function checkIssuer(claims, signer, bundle, t, extra) {
  const content = bundle.content;
  if (claims.iss !== content.iss) {
    return verdict('UNKNOWN_KEY', `émetteur ${pyRepr(claims.iss)} au lieu de ${pyRepr(content.iss)}`, t, extra);
  }
  const entry = signer.entry;
  if (claims.iat < entry.notBefore || (entry.notAfter !== null && claims.iat >= entry.notAfter)) {
    return verdict('KEY_NOT_AUTHORISED', 'clé hors de sa période de validité à la signature', t, extra);
  }
  if (entry.zones !== null) {
    const allowed = new Set(entry.zones);
    if (!claims.zones.every((ref) => allowed.has(ref))) {
      return verdict('KEY_NOT_AUTHORISED', 'clé non autorisée pour ces zones', t, extra);
    }
  }
  return null;
}

/**
 * Step 8 (ADR 0007): a NOT_RESTRICTED verdict when the checkpoint has a restriction schedule, the
 * bundle is fresh, the clock plausible, no closure in force and the local time outside every
 * restriction window; else null.
 */
function checkRestriction(checkpoint, bundle, t, deviceNow, floor, skew, extra) {
  if (!checkpoint || !checkpoint.restriction.length) return null;
  const content = bundle.content; // the checkpoint zone's bundle: its freshness and holidays
  if (t > add(content.issuedAt, content.maxAge) || add(deviceNow, skew) < floor) return null;
  if (checkpoint.closures.some((c) => c.start <= t && t < c.end)) return null;
  const local = localAt(t, checkpoint.tz);
  if (checkpoint.restriction.some((w) => containsLocal(w, local, bundle.holidays))) return null;
  return verdict('NOT_RESTRICTED', `réglementation pas en vigueur ; heure locale ${describeLocal(local)}`, t,
    { ...extra, zone: checkpoint });
}

/** Steps 9-11: revocation, validity period → a verdict or null. */
function checkValidity(claims, bundle, t, skew, extra) {
  if (bundle.isRevokedSync(claims.iss, claims.cti)) return verdict('REVOKED', `numéro de série ${claims.serial} révoqué`, t, extra);
  if (t >= claims.exp + skew) return verdict('EXPIRED', `expiré le ${instantFr(claims.exp)}`, t, extra);
  if (t < claims.nbf - skew) return verdict('NOT_YET_VALID', `valide à partir du ${instantFr(claims.nbf)}`, t, extra);
  return null;
}

/** Step 18: zone in force, and local time inside the zone's and the pass's windows (`bundle`: the zone's). */
function checkHours(checkpoint, claims, bundle, t, extra) {
  if (checkpoint.validFrom !== null && t < checkpoint.validFrom) return verdict('OUTSIDE_HOURS', 'zone pas encore en vigueur', t, extra);
  if (checkpoint.validUntil !== null && t >= checkpoint.validUntil) {
    return verdict('OUTSIDE_HOURS', 'zone plus en vigueur', t, extra);
  }
  if (!checkpoint.windows.length && !claims.windows.length) return null;
  const local = localAt(t, checkpoint.tz);
  if (checkpoint.windows.length && !checkpoint.windows.some((w) => containsLocal(w, local, bundle.holidays))) {
    return verdict('OUTSIDE_HOURS', `hors des horaires de la zone ; heure locale ${describeLocal(local)}`, t, extra);
  }
  if (claims.windows.length && !claims.windows.some((w) => containsLocal(w, local))) {
    return verdict('OUTSIDE_HOURS', `hors des horaires du laissez-passer ; heure locale ${describeLocal(local)}`, t, extra);
  }
  return null;
}

async function verify(text, bundle, {
  zone, now, plate = null, lastSeen = null, skew = DEFAULT_SKEW, checkpointBundle = null,
}) {
  const deviceNow = toEpoch(now);
  const content = bundle.content;
  const floor = max(content.issuedAt, lastSeen || 0);
  const t = max(deviceNow, floor);

  let message;
  try {
    message = parsePassText(text);
  } catch (err) {
    if (err instanceof SchemeError) return verdict('MALFORMED', err.message, t);
    throw err;
  }
  const kid = toHex(message.protected.get(HEADER_KID));
  // The signature check starts first. Where WebCrypto verifies off the main thread (Node, some
  // browsers) the claims are decoded (strictly) meanwhile and the steps after the issuer's (8-18,
  // pure: nothing but a verdict comes out of them) worked out; Chromium verifies inside the call,
  // where this order costs nothing. The outcomes are taken in the specified order once the
  // signature is known.
  const signature = checkSignature(message, kid, bundle, t);
  let claims = null;
  let claimsError = null;
  try {
    claims = decodeClaims(message.payload);
  } catch (err) {
    claimsError = err;
  }
  let later = null;
  let laterError = null;
  if (claims !== null) {
    try {
      later = afterIssuer(claims, kid, bundle, t, deviceNow, floor, { zone, plate, skew, checkpointBundle });
    } catch (err) {
      laterError = err; // thrown only if the signature and the issuer steps let the check get there
    }
  }
  const { signer, fail } = await signature;
  if (fail) return fail;
  if (claimsError) {
    if (claimsError instanceof SchemeError) return verdict('MALFORMED', claimsError.message, t, { kid });
    throw claimsError;
  }
  const refused = checkIssuer(claims, signer, bundle, t, { claims, kid });
  if (refused) return refused;
  if (laterError) throw laterError;
  return later;
}

/** Steps 8-18, once the signature and the issuer hold: the verdict (VALID when nothing refuses). */
function afterIssuer(claims, kid, bundle, t, deviceNow, floor, { zone, plate, skew, checkpointBundle }) {
  const content = bundle.content;
  const extra = { claims, kid };
  // The checkpoint zone's bundle: the issuer's own unless a federated check says otherwise.
  const zoneBundle = checkpointBundle ?? bundle;
  const checkpoint = zoneBundle.zonesByCode.get(zone);
  const refused = checkRestriction(checkpoint, zoneBundle, t, deviceNow, floor, skew, extra)
    ?? checkValidity(claims, bundle, t, skew, extra);
  if (refused) return refused;

  if (!checkpoint) {
    const place = zoneBundle.content;
    const where = place.iss !== content.iss ? `de ${place.iss} (n° ${place.seq})` : `n° ${place.seq}`;
    return verdict('UNKNOWN_ZONE', `zone ${pyRepr(zone)} absente du paquet de confiance ${where}`, t, extra);
  }
  extra.zone = checkpoint;
  if (zoneBundle !== bundle) {
    // Zone refs are per authority: a pass never covers another authority's zone.
    const detail = `laissez-passer émis par ${content.iss} ; zone du contrôle relevant de ${zoneBundle.content.iss}`;
    return verdict('WRONG_ZONE', detail, t, extra);
  }
  if (!claims.zones.includes(checkpoint.ref)) return verdict('WRONG_ZONE', `laissez-passer pour les références de zone ${pyRepr(claims.zones)}`, t, extra);
  const closure = checkpoint.closures.find((c) => c.start <= t && t < c.end);
  if (closure) return verdict('ZONE_CLOSED', closure.reason, t, extra);
  if (plate !== null && plate !== undefined && looseKey(plate) !== looseKey(claims.plate)) {
    return verdict('PLATE_MISMATCH', `laissez-passer établi pour ${claims.plate}`, t, extra);
  }
  const oldest = add(content.issuedAt, content.maxAge);
  if (t > oldest) {
    const age = `${durationFr(add(t, -content.issuedAt))} (au plus ${durationFr(content.maxAge)})`;
    return verdict('STALE_BUNDLE', `paquet de confiance âgé de ${age}`, t, extra);
  }
  if (add(deviceNow, skew) < floor) {
    return verdict('CLOCK_SUSPECT', `horloge de l'appareil en retard de ${durationFr(add(floor, -deviceNow))}`, t, extra);
  }
  return checkHours(checkpoint, claims, zoneBundle, t, extra) ?? verdict('VALID', '', t, extra);
}

/**
 * Check a pass text at checkpoint `zone` (its code) at device time `now`.
 *
 * `checkpointBundle` is the bundle the checkpoint zone belongs to (default: `bundle`, the issuer's):
 * the zone is looked up there and the NOT_RESTRICTED step uses its freshness and holidays; when it
 * is another authority's bundle, a pass that passes the revocation and validity steps is
 * WRONG_ZONE. verifyFederated (federation.js) picks both bundles from a TrustSet.
 *
 * `lastSeen` is the latest time this device has already observed (its previous scan); with the
 * bundle's issued_at it bounds "now" from below, so turning the clock back cannot revive an
 * expired pass. Never throws: every outcome is a verdict.
 * @param {string} text the scanned pass text ('CQ1:…')
 * @param {import('./bundle.js').TrustBundle} bundle an opened trust bundle
 * @param {{zone: string, now: number|Date, plate?: string|null, lastSeen?: number|null,
 *   skew?: number, checkpointBundle?: import('./bundle.js').TrustBundle|null}} options `now` and
 *   `lastSeen` in UTC epoch seconds
 * @returns {Promise<{status: string, reason: string, detail: string, claims: object|null,
 *   zone: object|null, kid: string|null, checkedAt: number}>}
 */
export async function verifyPass(text, bundle, options = {}) {
  try {
    return await verify(text, bundle, options);
  } catch (err) {
    // Not reachable with well-formed arguments; a verifier still answers with a verdict.
    const t = typeof options.now === 'number' ? Math.trunc(options.now) : null;
    // The error's own text is the engine's English: the agent reads its kind only.
    return verdict('MALFORMED', `erreur interne du vérificateur (${err?.name ?? typeof err})`, t);
  }
}
