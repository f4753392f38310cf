/**
 * Trust bundle: open (check the root signature, refuse rollbacks, apply deltas) and index it for
 * fast lookups. Twin of cirqliz/passcode/bundle.py open_bundle, with the same refusal codes:
 * bundle_malformed, bundle_unknown_root, bundle_bad_signature, bundle_rollback,
 * bundle_wrong_issuer, bundle_delta_base, bundle_seq_conflict.
 *
 * Federation (issue 19): key 16 lists the authority's partners (iss, name, root SPKI, url), key 17
 * its display name. A full bundle without key 16 has no partners; in a delta, key 16 absent means
 * "unchanged from the base" and present means "this complete new list".
 */

import { compareBytes, decodeStrict, isInteger, isUint } from './cbor.js';
import { decodeSign1, messageKid, verifySign1 } from './cose.js';
import { BundleError, MalformedError, SchemeError } from './errors.js';
import { algorithmFromLabel, importVerifyKey, toHex } from './keys.js';
import { pyRepr } from './messages.js';
import { isTimeZone, makeWindow, MAX_DAY, WindowError } from './windows.js';

export const FULL = 1;
export const DELTA = 2;
export const REVOCATION_HASH_BYTES = 8;
const [B_KIND, B_ISS, B_SEQ, B_ISSUED, B_MAX_AGE, B_KEYS, B_WITHDRAWN, B_REVOKED, B_ZONES, B_HOLIDAYS,
  B_ZONE_DATA, B_BASE_SEQ, B_REVOKED_ADDED, B_REVOKED_REMOVED, B_ZONES_CHANGED, B_ZONES_REMOVED,
  B_PARTNERS, B_NAME] = [...Array(18).keys()];
const [P_ISS, P_NAME, P_ROOT, P_URL] = [1, 2, 3, 4];
export const MAX_ISS_CHARS = 32;
export const MAX_NAME_CHARS = 200;
const [K_KID, K_ALG, K_SPKI, K_NOT_BEFORE, K_NOT_AFTER, K_ZONES] = [1, 2, 3, 4, 5, 6];
const [Z_REF, Z_CODE, Z_NAME, Z_KIND, Z_TZ, Z_WINDOWS, Z_FROM, Z_UNTIL, Z_CLOSURES, Z_GEOMETRY, Z_RESTRICTION] =
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const WINDOW_SKIP_HOLIDAYS = 1;
const textEncoder = new TextEncoder();

// ---- SHA-256 (FIPS 180-4), synchronous ----------------------------------------------------
// The revocation check runs on every scan; WebCrypto's digest is asynchronous and its round trip
// costs more than hashing the ~20 bytes here, so the hash is computed in place. The constants are
// derived exactly (integer roots with BigInt), not typed in: K[i] is the first 32 bits of the
// fractional part of the cube root of the i-th prime, H0 of the square roots of the first 8.

const PRIMES = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p)) PRIMES.push(n);

/** floor(x^(1/k)) for a BigInt x >= 1 (Newton's method from above). */
function integerRoot(x, k) {
  const kb = BigInt(k);
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / k));
  for (;;) {
    const next = ((kb - 1n) * r + x / r ** (kb - 1n)) / kb;
    if (next >= r) return r;
    r = next;
  }
}

// Int32Array and `| 0` keep every word a small integer for the JIT (Uint32Array words above 2^31
// and unbounded sums would be doubles); bytes are read and written by hand, not through DataView.
const SHA256_K = Int32Array.from(PRIMES, (p) => Number(integerRoot(BigInt(p) << 96n, 3) & 0xffffffffn) | 0);
const SHA256_H0 = Int32Array.from(PRIMES.slice(0, 8), (p) => Number(integerRoot(BigInt(p) << 64n, 2) & 0xffffffffn) | 0);
const SHA256_W = new Int32Array(64);
const SHA256_H = new Int32Array(8);

/**
 * SHA-256 of `data`, synchronously (same bytes as crypto.subtle.digest('SHA-256', data)).
 * @param {Uint8Array} data
 * @returns {Uint8Array} 32 bytes
 */
export function sha256Sync(data) {
  const n = data.length;
  const size = ((n + 9 + 63) >>> 6) << 6;
  const padded = new Uint8Array(size);
  padded.set(data);
  padded[n] = 0x80;
  const high = Math.floor(n / 0x20000000); // bit length, high word
  const low = (n << 3) >>> 0;
  padded[size - 8] = high >>> 24;
  padded[size - 7] = high >>> 16;
  padded[size - 6] = high >>> 8;
  padded[size - 5] = high;
  padded[size - 4] = low >>> 24;
  padded[size - 3] = low >>> 16;
  padded[size - 2] = low >>> 8;
  padded[size - 1] = low;
  const h = SHA256_H;
  h.set(SHA256_H0);
  const w = SHA256_W;
  const K = SHA256_K;
  for (let off = 0; off < size; off += 64) {
    for (let i = 0, j = off; i < 16; i++, j += 4) {
      w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    const v = h[i];
    out[j] = v >>> 24;
    out[j + 1] = v >>> 16;
    out[j + 2] = v >>> 8;
    out[j + 3] = v;
  }
  return out;
}

// The issuer's UTF-8 bytes, kept for the next pass (a scanner checks one or a few authorities).
let lastIss = null;
let lastIssBytes = null;

/**
 * The revocation entry of a pass: first 8 bytes of SHA-256(utf8(iss) ‖ 0x00 ‖ cti), synchronously.
 * @param {string} iss
 * @param {Uint8Array} cti
 * @returns {Uint8Array}
 */
export function revocationHashSync(iss, cti) {
  if (lastIssBytes === null || iss !== lastIss) {
    lastIssBytes = textEncoder.encode(iss);
    lastIss = iss;
  }
  const issBytes = lastIssBytes;
  const data = new Uint8Array(issBytes.length + 1 + cti.length);
  data.set(issBytes, 0);
  data.set(cti, issBytes.length + 1);
  return sha256Sync(data).slice(0, REVOCATION_HASH_BYTES);
}

/**
 * The revocation entry of a pass (as revocationHashSync; a promise, for existing callers).
 * @param {string} iss
 * @param {Uint8Array} cti
 * @returns {Promise<Uint8Array>}
 */
export async function revocationHash(iss, cti) {
  return revocationHashSync(iss, cti);
}

/**
 * Binary search of one 8-byte entry in a sorted revocation list.
 * @param {Uint8Array} revoked concatenated sorted entries
 * @param {Uint8Array} entry
 */
export function containsRevocation(revoked, entry) {
  const n = REVOCATION_HASH_BYTES;
  let lo = 0;
  let hi = revoked.length / n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const order = compareBytes(revoked.subarray(mid * n, mid * n + n), entry);
    if (order === 0) return true;
    if (order < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

// ---- decoding: every problem is 'bad_bundle', reported as bundle_malformed ------------------

function bad(message) {
  return new MalformedError(message, 'bad_bundle');
}

/** map.get(key), or `fallback` when the key is absent (a CBOR null stays null, as in Python). */
function get(map, key, fallback = null) {
  return map.has(key) ? map.get(key) : fallback;
}

function int(value, name, optional = false) {
  if (value === null && optional) return null;
  if (!isUint(value)) throw bad(`${name} : entier positif ou nul attendu`);
  return value;
}

function text(value, name) {
  if (typeof value !== 'string' || !value) throw bad(`${name} : texte non vide attendu`);
  return value;
}

function seq(value, name) {
  if (!Array.isArray(value)) throw bad(`${name} : tableau attendu`);
  return value;
}

function map(value, name) {
  if (!(value instanceof Map)) throw bad(`${name} : table associative attendue`);
  return value;
}

function day(value, name) {
  const d = int(value, name, true);
  // Python's datetime.date stops at 9999-12-31; a later day cannot be represented there either.
  if (d !== null && d > MAX_DAY) throw bad(`${name} : au-delà de l'an 9999`);
  return d === null ? null : Number(d);
}

function windowIn(raw, name = 'créneau de zone') {
  const items = seq(raw, name);
  if (![3, 4, 6].includes(items.length)) throw bad(`${name} : 3, 4 ou 6 champs attendus`);
  const [mask, start, end] = items.slice(0, 3).map((v) => int(v, `champ du ${name}`));
  const flags = items.length > 3 ? int(items[3], `options du ${name}`) : 0;
  const firstDay = items.length === 6 ? day(items[4], `premier jour du ${name}`) : null;
  const lastDay = items.length === 6 ? day(items[5], `dernier jour du ${name}`) : null;
  const skipHolidays = typeof flags === 'bigint'
    ? (flags & BigInt(WINDOW_SKIP_HOLIDAYS)) !== 0n
    : flags % 2 === WINDOW_SKIP_HOLIDAYS;
  try {
    return makeWindow(mask, start, end, { firstDay, lastDay, skipHolidays });
  } catch (err) {
    if (err instanceof WindowError) throw bad(`${name} ${pyRepr(items)} : ${err.message}`);
    throw err;
  }
}

/** When the zone's restriction is in force (bundle.py _restriction_in): [] = at all times. */
function restrictionIn(z) {
  if (!z.has(Z_RESTRICTION)) return [];
  const items = seq(z.get(Z_RESTRICTION), 'réglementation de la zone');
  // "In force at all times" has one encoding, the absent key; an empty array could be read as
  // "never in force" and wave every vehicle through.
  if (!items.length) throw bad("réglementation de la zone : ne doit pas être vide (l'omettre quand elle s'applique en permanence)");
  return items.map((w) => windowIn(w, 'créneau de réglementation'));
}

function closureIn(raw) {
  const c = seq(raw, 'fermeture');
  if (c.length !== 3) throw bad('fermeture : [début, fin, motif] attendu');
  return { start: int(c[0], 'début de fermeture'), end: int(c[1], 'fin de fermeture'), reason: String(c[2]) };
}

function coords(ring) {
  const values = seq(ring, 'contour');
  if (values.length % 2 || values.some((v) => !isInteger(v))) {
    throw bad('contour : tableau plat de coordonnées entières attendu (lon, lat en millionièmes de degré)');
  }
  return values;
}

function zoneIn(raw) {
  const z = map(raw, 'zone');
  const tz = text(get(z, Z_TZ), 'fuseau horaire de la zone');
  if (!isTimeZone(tz)) throw bad(`fuseau horaire inconnu : ${pyRepr(tz)}`);
  const closures = seq(get(z, Z_CLOSURES, []), 'fermetures').map(closureIn);
  const geometry = z.has(Z_GEOMETRY)
    ? seq(z.get(Z_GEOMETRY), 'géométrie').map((polygon) => seq(polygon, 'polygone').map(coords))
    : null;
  return {
    ref: int(get(z, Z_REF), 'référence de zone'),
    code: text(get(z, Z_CODE), 'code de zone'),
    name: text(get(z, Z_NAME), 'nom de zone'),
    kind: text(get(z, Z_KIND), 'type de zone'),
    tz,
    windows: seq(get(z, Z_WINDOWS, []), 'créneaux de la zone').map(windowIn),
    validFrom: int(get(z, Z_FROM), 'début de validité de la zone (valid_from)', true),
    validUntil: int(get(z, Z_UNTIL), 'fin de validité de la zone (valid_until)', true),
    closures,
    geometry,
    restriction: restrictionIn(z),
  };
}

/** Non-empty text of at most `most` characters (code points, as Python's len). */
function shortText(value, name, most) {
  const s = text(value, name);
  if (s.length > most && [...s].length > most) throw bad(`${name} : plus de ${most} caractères`);
  return s;
}

/** Code point order of two strings (Python's str order; `<` compares UTF-16 units). */
export function textOrder(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

function partnerIn(raw) {
  // In bundle.py's order: iss first, so that the later messages can name the partner.
  const p = map(raw, 'partenaire');
  const iss = shortText(get(p, P_ISS), "émetteur (iss) d'un partenaire", MAX_ISS_CHARS);
  if (iss.includes('/')) {
    throw bad(`émetteur (iss) de partenaire ${pyRepr(iss)} : contient '/' (les zones s'écrivent AUTORITÉ/CODE)`);
  }
  const root = get(p, P_ROOT);
  if (!(root instanceof Uint8Array) || !root.length) {
    throw bad(`clé racine du partenaire ${iss} : octets attendus (SubjectPublicKeyInfo DER)`);
  }
  const url = get(p, P_URL);
  if (typeof url !== 'string') throw bad(`adresse (url) du partenaire ${iss} : texte attendu`);
  return { iss, name: shortText(get(p, P_NAME), `nom du partenaire ${iss}`, MAX_NAME_CHARS), root, url };
}

/** The partner list (key 16): sorted by iss, no repeated iss, never the bundle's own iss. */
function partnersIn(raw, ownIss) {
  const partners = seq(raw, 'partenaires').map(partnerIn);
  for (let i = 1; i < partners.length; i++) {
    if (textOrder(partners[i - 1].iss, partners[i].iss) >= 0) throw bad('partenaires : à trier par émetteur (iss), sans répétition');
  }
  if (partners.some((p) => p.iss === ownIss)) throw bad(`${ownIss} ne peut pas être son propre partenaire`);
  return partners;
}

function keyIn(raw) {
  const k = map(raw, 'clé');
  const kid = get(k, K_KID);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) throw bad('identifiant de clé (kid) : 8 octets attendus');
  const spki = get(k, K_SPKI);
  if (!(spki instanceof Uint8Array)) throw bad('clé publique (spki) : octets attendus');
  const zones = get(k, K_ZONES);
  return {
    kid,
    alg: algorithmFromLabel(get(k, K_ALG)),
    spki,
    notBefore: int(get(k, K_NOT_BEFORE), 'début de validité de la clé (not_before)'),
    notAfter: int(get(k, K_NOT_AFTER), 'fin de validité de la clé (not_after)', true),
    zones: zones === null ? null : seq(zones, 'zones de la clé').map((r) => int(r, 'zone de la clé')),
  };
}

/** Split a revocation byte string into hex entries, refusing bad lengths and disorder. */
function revokedIn(value, name) {
  if (!(value instanceof Uint8Array) || value.length % REVOCATION_HASH_BYTES) {
    throw bad(`${name} : octets attendus, en nombre multiple de 8`);
  }
  for (let i = REVOCATION_HASH_BYTES; i < value.length; i += REVOCATION_HASH_BYTES) {
    const prev = value.subarray(i - REVOCATION_HASH_BYTES, i);
    if (compareBytes(prev, value.subarray(i, i + REVOCATION_HASH_BYTES)) >= 0) {
      throw bad(`${name} : entrées à trier, sans répétition`);
    }
  }
  return value;
}

/**
 * Decode a bundle payload (bundle.py decode_payload): {kind, content, delta}. The content of a
 * delta lacks the revocations and zones; `delta` holds the changes.
 * @throws {SchemeError}
 */
export function decodePayload(payload) {
  const data = map(decodeStrict(payload, 'contenu du paquet'), 'contenu du paquet');
  const kind = get(data, B_KIND);
  if (kind !== FULL && kind !== DELTA) throw bad(`type de paquet inconnu ${pyRepr(kind)}`);
  const withdrawn = seq(get(data, B_WITHDRAWN, []), 'clés retirées');
  if (withdrawn.some((k) => !(k instanceof Uint8Array))) throw bad('clés retirées : identifiants (kid) en octets attendus');
  const iss = text(get(data, B_ISS), 'émetteur (iss)');
  const content = {
    iss,
    seq: int(get(data, B_SEQ), 'numéro de paquet (seq)'),
    issuedAt: int(get(data, B_ISSUED), "date d'émission (issued_at)"),
    maxAge: int(get(data, B_MAX_AGE), 'âge maximal (max_age)'),
    keys: seq(get(data, B_KEYS), 'clés').map(keyIn),
    withdrawn,
    holidays: seq(get(data, B_HOLIDAYS, []), 'jours fériés').map((d) => day(d, 'jour férié')),
    zoneDataVersion: int(get(data, B_ZONE_DATA, 0), 'version des données de zone'),
    revoked: new Uint8Array(0),
    zones: [],
    name: data.has(B_NAME) ? shortText(data.get(B_NAME), "nom de l'autorité", MAX_NAME_CHARS) : '',
    partners: data.has(B_PARTNERS) ? partnersIn(data.get(B_PARTNERS), iss) : [],
  };
  if (kind === FULL) {
    content.revoked = revokedIn(get(data, B_REVOKED, new Uint8Array(0)), 'révocations');
    content.zones = seq(get(data, B_ZONES, []), 'zones').map(zoneIn);
    return { kind, content, delta: null };
  }
  const delta = {
    baseSeq: int(get(data, B_BASE_SEQ), 'numéro du paquet de base (base_seq)'),
    added: revokedIn(get(data, B_REVOKED_ADDED, new Uint8Array(0)), 'révocations ajoutées'),
    removed: revokedIn(get(data, B_REVOKED_REMOVED, new Uint8Array(0)), 'révocations levées'),
    zonesChanged: seq(get(data, B_ZONES_CHANGED, []), 'zones modifiées').map(zoneIn),
    zonesRemoved: new Set(seq(get(data, B_ZONES_REMOVED, []), 'zones supprimées')
      .map((r) => int(r, 'référence de zone'))),
    // null: the partners are the base's; an array: the complete new list.
    partners: data.has(B_PARTNERS) ? content.partners : null,
  };
  return { kind, content, delta };
}

function entriesHex(revoked) {
  const out = [];
  for (let i = 0; i < revoked.length; i += REVOCATION_HASH_BYTES) {
    out.push(toHex(revoked.subarray(i, i + REVOCATION_HASH_BYTES)));
  }
  return out;
}

function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Sorted, repeat-free concatenation of hex revocation entries (hex order = byte order). */
function sortedRevocations(hexEntries) {
  return fromHex([...new Set(hexEntries)].sort().join(''));
}

const byRef = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The full content obtained by applying a decoded delta to `base` (bundle.py apply_delta). */
export function applyDelta(base, newContent, delta) {
  const removed = new Set(entriesHex(delta.removed));
  const kept = entriesHex(base.revoked).filter((e) => !removed.has(e));
  const zones = new Map();
  for (const z of base.zones) if (!delta.zonesRemoved.has(z.ref)) zones.set(z.ref, z);
  for (const z of delta.zonesChanged) zones.set(z.ref, z);
  return {
    ...newContent,
    revoked: sortedRevocations([...kept, ...entriesHex(delta.added)]),
    zones: [...zones.keys()].sort(byRef).map((ref) => zones.get(ref)),
    partners: delta.partners ?? base.partners,
  };
}

// ---- the verified bundle ----------------------------------------------------------------------

/** A bundle whose signature was checked, indexed for fast lookups (open once, verify many). */
export class TrustBundle {
  /** Use TrustBundle.fromContent or openBundle. */
  constructor(content, keysByKid, partnerRoots = new Map()) {
    this.content = content;
    /** @type {Map<string, {entry: object, key: object}[]>} kid hex → candidate keys */
    this.keysByKid = keysByKid;
    /** @type {Set<string>} withdrawn kids, hex */
    this.withdrawn = new Set(content.withdrawn.map(toHex));
    /** @type {Uint8Array} sorted 8-byte entries, searched by binary search */
    this.revoked = content.revoked;
    this.zonesByCode = new Map(content.zones.map((z) => [z.code, z]));
    this.zonesByRef = new Map(content.zones.map((z) => [z.ref, z]));
    /** @type {Set<number>} public holidays as day numbers */
    this.holidays = new Set(content.holidays);
    /** @type {Map<string, {entry: object, key: object}>} partner iss → its entry and imported root key */
    this.partnerRoots = partnerRoots;
  }

  /**
   * Index a content whose signature was already checked: imports every key (WebCrypto).
   * @throws {MalformedError} 'bad_bundle' for an unreadable key or one whose algorithm disagrees
   */
  static async fromContent(content) {
    const keysByKid = new Map();
    for (const entry of content.keys) {
      let key;
      try {
        key = await importVerifyKey(entry.spki, entry.kid);
      } catch (err) {
        if (err instanceof SchemeError) throw bad(`clé ${toHex(entry.kid)} : ${err.message}`);
        throw err;
      }
      if (key.alg !== entry.alg) throw bad(`clé ${toHex(entry.kid)} : algorithme différent de celui de sa clé publique`);
      const hex = toHex(entry.kid);
      if (!keysByKid.has(hex)) keysByKid.set(hex, []);
      keysByKid.get(hex).push({ entry, key });
    }
    const partnerRoots = new Map();
    for (const entry of content.partners ?? []) {
      try {
        partnerRoots.set(entry.iss, { entry, key: await importVerifyKey(entry.root) });
      } catch (err) {
        if (err instanceof SchemeError) throw bad(`clé racine du partenaire ${entry.iss} : ${err.message}`);
        throw err;
      }
    }
    return new TrustBundle(content, keysByKid, partnerRoots);
  }

  /** The bundle's sequence number. */
  get seq() {
    return this.content.seq;
  }

  /** The issuing authority. */
  get iss() {
    return this.content.iss;
  }

  /** The authority's display name (key 17), '' when the bundle has none. */
  get name() {
    return this.content.name ?? '';
  }

  /** The partner authorities this bundle lists: [{iss, name, root, url}], sorted by iss. */
  get partners() {
    return this.content.partners ?? [];
  }

  /** The partner entry for `iss`, or null. */
  partner(iss) {
    return this.partnerRoots.get(iss)?.entry ?? null;
  }

  /** Whether the pass (iss, cti) is on the revocation list (a promise, for existing callers). */
  async isRevoked(iss, cti) {
    return this.isRevokedSync(iss, cti);
  }

  /** Whether the pass (iss, cti) is on the revocation list, synchronously (the verifier's path). */
  isRevokedSync(iss, cti) {
    return containsRevocation(this.revoked, revocationHashSync(iss, cti));
  }

  /** A zone by code (string) or by ref (number). */
  zone(codeOrRef) {
    return (typeof codeOrRef === 'string' ? this.zonesByCode : this.zonesByRef).get(codeOrRef) ?? null;
  }

  /** How many revocation entries the bundle holds. */
  revokedCount() {
    return this.revoked.length / REVOCATION_HASH_BYTES;
  }
}

/**
 * A pinned root key from its SubjectPublicKeyInfo DER (kid derived from it).
 * @param {Uint8Array|ArrayBuffer} spki
 */
export async function importRootKey(spki) {
  return importVerifyKey(spki instanceof Uint8Array ? spki : new Uint8Array(spki));
}

function refused(message, code) {
  return new BundleError(`paquet refusé : ${message}`, code);
}

async function checkRootSignature(message, roots) {
  const kid = messageKid(message);
  const candidates = kid === null ? [] : roots.filter((r) => toHex(r.kid) === toHex(kid));
  if (!candidates.length) throw refused('pas signé par une clé racine épinglée', 'bundle_unknown_root');
  for (const root of candidates) {
    try {
      await verifySign1(message, root);
      return;
    } catch (err) {
      if (!(err instanceof SchemeError)) throw err;
    }
  }
  throw refused('signature invalide (paquet altéré ?)', 'bundle_bad_signature');
}

/** Deep equality of decoded values: numbers, BigInts, strings, null, bytes, arrays, plain objects. */
function sameValue(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && compareBytes(a, b) === 0;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]));
}

/** Whether two bundle contents say the same (bundle.py compares BundleContent; withdrawn is a set there). */
export function sameContent(a, b) {
  const withdrawn = (c) => [...new Set(c.withdrawn.map(toHex))].sort();
  return sameValue({ ...a, withdrawn: withdrawn(a) }, { ...b, withdrawn: withdrawn(b) });
}

function checkSequence(kind, content, delta, current, minSeq) {
  const held = current ? current.seq : 0;
  const floor = (minSeq ?? 0) > held ? minSeq : held;
  if (content.seq < floor || (kind === DELTA && current && content.seq <= current.seq)) {
    throw refused(`n° ${content.seq} plus ancien que le n° ${floor} déjà détenu (retour en arrière)`, 'bundle_rollback');
  }
  if (current && content.iss !== current.content.iss) {
    const which = `${pyRepr(content.iss)} au lieu de ${pyRepr(current.content.iss)}`;
    throw refused(`émis par une autre autorité (${which})`, 'bundle_wrong_issuer');
  }
  if (kind === DELTA && (!current || current.seq !== delta.baseSeq)) {
    throw new BundleError(
      `paquet refusé : différentiel pour le n° ${delta.baseSeq}, paquet détenu : ${current ? `n° ${current.seq}` : 'aucun'} ; `
        + 'récupérez un paquet complet',
      'bundle_delta_base',
    );
  }
}

/**
 * Check a full or delta bundle against the pinned root keys and return it indexed.
 * A bundle with a lower seq than `current` (or than `minSeq`) is refused as a rollback; a full
 * bundle with the seq of `current` returns `current` itself when its content is the same, and is
 * refused as suspect (bundle_seq_conflict) otherwise; a delta applies only on top of `current`
 * with seq == base_seq, and its result is the full content.
 * @param {Uint8Array} bytes the signed bundle (COSE_Sign1)
 * @param {Array<Uint8Array|object>} rootKeys SPKI DER of the pinned roots, or importRootKey() results
 * @param {{current?: TrustBundle, minSeq?: number}} [options]
 * @returns {Promise<TrustBundle>}
 * @throws {BundleError} bundle_malformed, bundle_unknown_root, bundle_bad_signature,
 *   bundle_rollback, bundle_wrong_issuer, bundle_delta_base, bundle_seq_conflict
 */
export async function openBundle(bytes, rootKeys, { current = null, minSeq = null } = {}) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const roots = await Promise.all(
    rootKeys.map((r) => (r instanceof Uint8Array || r instanceof ArrayBuffer ? importRootKey(r) : r)),
  );
  const malformed = (err) => {
    if (err instanceof SchemeError) return refused(err.message, 'bundle_malformed');
    return err;
  };
  let message;
  try {
    message = decodeSign1(data);
  } catch (err) {
    throw malformed(err);
  }
  await checkRootSignature(message, roots);
  let decoded;
  try {
    decoded = decodePayload(message.payload);
  } catch (err) {
    throw malformed(err);
  }
  const { kind, delta } = decoded;
  let { content } = decoded;
  checkSequence(kind, content, delta, current, minSeq);
  if (kind === FULL && current && content.seq === current.seq) {
    // One seq names one content: the same again changes nothing, another one is suspect.
    if (!sameContent(content, current.content)) {
      throw new BundleError(
        `paquet refusé : même numéro ${content.seq} que celui détenu mais contenu différent `
          + '(suspect : le paquet détenu est conservé)',
        'bundle_seq_conflict',
      );
    }
    return current;
  }
  try {
    if (kind === DELTA) content = applyDelta(current.content, content, delta);
    // bundle.py lets this MalformedError('bad_bundle') escape as is; here it is a refusal too.
    return await TrustBundle.fromContent(content);
  } catch (err) {
    throw malformed(err);
  }
}
