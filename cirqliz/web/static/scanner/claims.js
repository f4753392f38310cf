/**
 * Pass claims (CWT, RFC 8392) with the private profile claim, twin of cirqliz/passcode/claims.py:
 * same checks, in the same order, with the same error codes.
 */

import { CborFloat, decodeStrict, isInteger } from './cbor.js';
import { MalformedError } from './errors.js';
import { pyRepr } from './messages.js';
import { toHex } from './keys.js';
import { makeWindow, WindowError } from './windows.js';

export const CLAIM_ISS = 1;
export const CLAIM_EXP = 4;
export const CLAIM_NBF = 5;
export const CLAIM_IAT = 6;
export const CLAIM_CTI = 7;
export const CLAIM_PROFILE = -65537;
const [P_VERSION, P_ZONES, P_WINDOWS, P_PLATE, P_PURPOSE, P_ZONE_DATA] = [0, 1, 2, 3, 4, 5];
const PROFILE_VERSION = 1;
const SERIAL_BYTES = 8;
const MAX_TIME = 2 ** 40;
const MAX_ZONES = 32;
const MAX_WINDOWS = 16;
// Python's re.match with `$` also matches before one final newline; mirrored with \n?.
const PLATE = /^(?:[A-Z]{1,3}:)?[A-Z0-9]{1,12}$/;
const TOP_KEYS = [CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_PROFILE];
const PROFILE_KEYS = [P_VERSION, P_ZONES, P_WINDOWS, P_PLATE, P_PURPOSE, P_ZONE_DATA];

function bad(message, code = 'bad_claims') {
  return new MalformedError(`contenu du laissez-passer : ${message}`, code);
}

function uint(value, name, limit = MAX_TIME) {
  if (value instanceof CborFloat) throw bad(`${name} : nombre à virgule flottante, entier attendu`, 'float_time');
  if (!isInteger(value) || !(value >= 0 && value < limit)) throw bad(`${name} : entier positif ou nul inférieur à ${limit} attendu`);
  return Number(value);
}

/** `of` follows "champ(s) inconnu(s)" ('' for the claims, " du profil d'accès" for the profile). */
function checkKeys(map, allowed, required, of) {
  // Listed as claims.py lists them: sorted(extra, key=str), sorted(missing).
  const extra = [...map.keys()].filter((k) => !allowed.includes(k))
    .sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  if (extra.length) throw bad(`champ(s) inconnu(s)${of} ${pyRepr(extra)}`, 'unknown_claim');
  const missing = required.filter((k) => !map.has(k)).sort((a, b) => a - b);
  if (missing.length) throw bad(`champ(s) manquant(s)${of} ${pyRepr(missing)}`, 'missing_claim');
}

function decodeWindows(profile) {
  const present = profile.has(P_WINDOWS);
  const raw = present ? profile.get(P_WINDOWS) : [];
  if (!Array.isArray(raw) || (present && raw.length === 0)) throw bad('les créneaux, quand ils sont présents, doivent être un tableau non vide');
  if (raw.length % 3) throw bad('chaque créneau compte 3 nombres (jours, minute de début, minute de fin)');
  const windows = [];
  for (let i = 0; i < raw.length; i += 3) {
    const triple = raw.slice(i, i + 3);
    for (const v of triple) uint(v, 'champ de créneau', 2 ** 16);
    try {
      windows.push(makeWindow(triple[0], triple[1], triple[2]));
    } catch (err) {
      if (err instanceof WindowError) throw bad(`créneau [${triple.join(', ')}] : ${err.message}`, 'bad_window');
      throw err;
    }
  }
  return windows;
}

function codePoints(text) {
  return [...text].length;
}

/** The checks of PassClaims.__post_init__ (claims.py _validate), in order. */
function validate(c) {
  if (typeof c.iss !== 'string' || !(codePoints(c.iss) > 0 && codePoints(c.iss) <= 64)) {
    throw bad("l'émetteur (iss) doit être un texte de 1 à 64 caractères");
  }
  if (c.exp <= c.nbf) throw bad('la fin de validité (exp) doit suivre son début (nbf)');
  if (!(c.cti instanceof Uint8Array) || c.cti.length !== SERIAL_BYTES) throw bad(`le numéro de série (cti) doit faire exactement ${SERIAL_BYTES} octets`);
  if (!isInteger(c.version) || c.version !== PROFILE_VERSION) {
    throw new MalformedError(`contenu du laissez-passer : version de profil inconnue ${pyRepr(c.version)}`, 'unknown_profile');
  }
  if (c.zones.length === 0 || c.zones.length > MAX_ZONES) throw bad(`de 1 à ${MAX_ZONES} références de zone attendues`);
  c.zones = c.zones.map((ref) => uint(ref, 'référence de zone', 2 ** 32));
  if (new Set(c.zones).size !== c.zones.length) throw bad('une référence de zone est répétée');
  if (c.windows.length > MAX_WINDOWS) throw bad(`au plus ${MAX_WINDOWS} créneaux`);
  if (typeof c.plate !== 'string' || !PLATE.test(c.plate)) {
    throw bad('plaque non normalisée (A-Z, 0-9, préfixe de pays facultatif)');
  }
  c.purpose = uint(c.purpose, 'motif (purpose)', 2 ** 16);
  c.zoneDataVersion = uint(c.zoneDataVersion, 'version des données de zone', 2 ** 32);
}

/**
 * Decode and check the claims of a pass.
 * @param {Uint8Array} payload the COSE payload
 * @returns {{iss: string, iat: number, nbf: number, exp: number, cti: Uint8Array, serial: string,
 *   zones: number[], windows: object[], plate: string, purpose: number, zoneDataVersion: number,
 *   version: number}}
 * @throws {MalformedError} bad_claims, unknown_claim, missing_claim, float_time, bad_window,
 *   unknown_profile, or a CBOR code
 */
export function decodeClaims(payload) {
  return readClaimsCommon(payload) ?? decodeClaimsGeneric(payload);
}

/** decodeClaims without its fast path: the reference behaviour (tests compare the two). */
export function decodeClaimsGeneric(payload) {
  const claims = decodeStrict(payload, 'contenu du laissez-passer');
  if (!(claims instanceof Map)) throw bad('une table associative est attendue');
  checkKeys(claims, TOP_KEYS, TOP_KEYS, '');
  const profile = claims.get(CLAIM_PROFILE);
  if (!(profile instanceof Map)) throw bad("le profil d'accès doit être une table associative");
  checkKeys(profile, PROFILE_KEYS, PROFILE_KEYS.filter((k) => k !== P_WINDOWS), " du profil d'accès");
  const iat = uint(claims.get(CLAIM_IAT), 'iat');
  const nbf = uint(claims.get(CLAIM_NBF), 'nbf');
  const exp = uint(claims.get(CLAIM_EXP), 'exp');
  const zones = profile.get(P_ZONES);
  if (!Array.isArray(zones)) throw bad('les zones doivent être un tableau');
  const c = {
    iss: claims.get(CLAIM_ISS),
    iat, nbf, exp,
    cti: claims.get(CLAIM_CTI),
    zones: [...zones],
    windows: decodeWindows(profile),
    plate: profile.get(P_PLATE),
    purpose: profile.get(P_PURPOSE),
    zoneDataVersion: profile.get(P_ZONE_DATA),
    version: profile.get(P_VERSION),
  };
  validate(c);
  c.serial = toHex(c.cti).toUpperCase();
  return c;
}

// ---- fast path ------------------------------------------------------------------------------
// The claims as claims.py PassClaims.to_cbor writes them are read in place (the twin of claims.py
// _read_claims_common), checking while reading that each head is in its shortest form and that the
// keys come in deterministic order, instead of the generic CBOR decoder (BigInt heads, Maps). It
// only ever accepts: anything outside that one layout, or any value the checks refuse, gives null
// and the generic path decides and names the problem. The result equals the generic one.

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// After iss: keys 4, 5, 6 with 4-byte times, key 7 with bstr(8), then the profile's key -65537.
const MIDDLE = [4, 0x1a, -1, -1, -1, -1, 5, 0x1a, -1, -1, -1, -1, 6, 0x1a, -1, -1, -1, -1, 7, 0x48,
  -1, -1, -1, -1, -1, -1, -1, -1, 0x3a, 0x00, 0x01, 0x00, 0x00];
const PLATE_ONLY = /^(?:[A-Z]{1,3}:)?[A-Z0-9]{1,12}$/;
const windowRuns = new Map(); // windows by their raw bytes (as a string): window sets repeat

/** Thrown inside the fast path: not the common layout. */
const NOT_COMMON = Symbol('not common');

function u32(data, at) {
  return ((data[at] * 0x100 + data[at + 1]) * 0x100 + data[at + 2]) * 0x100 + data[at + 3];
}

let next = 0; // where the last uintAt/uintsAt stopped (no [value, position] array per item)

/** An unsigned integer below 2^32 in its shortest form at `pos` (`next`: the position after it). */
function uintAt(data, pos) {
  const head = data[pos];
  if (head < 24) {
    next = pos + 1;
    return head;
  }
  if (head === 24 && pos + 2 <= data.length && data[pos + 1] >= 24) {
    next = pos + 2;
    return data[pos + 1];
  }
  if (head === 25 && pos + 3 <= data.length && data[pos + 1] !== 0) {
    next = pos + 3;
    return data[pos + 1] * 0x100 + data[pos + 2];
  }
  if (head === 26 && pos + 5 <= data.length && (data[pos + 1] !== 0 || data[pos + 2] !== 0)) {
    next = pos + 5;
    return u32(data, pos + 1);
  }
  throw NOT_COMMON;
}

/** `count` unsigned integers from `pos` (`next`: the position after them). */
function uintsAt(data, pos, count) {
  const values = new Array(count);
  next = pos;
  for (let i = 0; i < count; i++) values[i] = uintAt(data, next);
  return values;
}

function windowsOf(data, start, end, flat) {
  const key = String.fromCharCode.apply(null, data.subarray(start, end));
  let windows = windowRuns.get(key);
  if (windows === undefined) {
    windows = null;
    if (flat.length % 3 === 0 && flat.every((v) => v < 2 ** 16)) {
      try {
        windows = [];
        for (let i = 0; i < flat.length; i += 3) windows.push(makeWindow(flat[i], flat[i + 1], flat[i + 2]));
      } catch (err) {
        if (!(err instanceof WindowError)) throw err;
        windows = null;
      }
    }
    if (windowRuns.size < 1024) windowRuns.set(key, windows);
  }
  return windows === null ? null : windows.slice(); // the windows are frozen, the array is the caller's
}

/**
 * The claims of a pass in the layout claims.py PassClaims.to_cbor writes, or null (see above).
 * @param {Uint8Array} payload
 */
export function readClaimsCommon(payload) {
  try {
    return readCommonOrThrow(payload);
  } catch (err) {
    if (err === NOT_COMMON) return null;
    throw err;
  }
}

function readCommonOrThrow(data) {
  if (!(data instanceof Uint8Array) || data.length < 2 || data[0] !== 0xa6 || data[1] !== 0x01) return null;
  const n = data.length;
  // iss: text, length in its shortest form, 1 to 64 characters
  let head = data[2];
  let size;
  let pos;
  if (head >= 0x61 && head < 0x78) {
    size = head - 0x60;
    pos = 3;
  } else if (head === 0x78 && data[3] >= 24) {
    size = data[3];
    pos = 4;
  } else {
    return null;
  }
  if (pos + size + MIDDLE.length > n) return null;
  let ascii = true;
  for (let i = pos; i < pos + size; i++) {
    if (data[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  let iss;
  if (ascii) {
    iss = String.fromCharCode.apply(null, data.subarray(pos, pos + size)); // one code point per byte
  } else {
    try {
      iss = utf8.decode(data.subarray(pos, pos + size));
    } catch {
      return null;
    }
  }
  pos += size;
  if ((ascii ? size : codePoints(iss)) > 64) return null;
  for (let i = 0; i < MIDDLE.length; i++) if (MIDDLE[i] >= 0 && data[pos + i] !== MIDDLE[i]) return null;
  const exp = u32(data, pos + 2);
  const nbf = u32(data, pos + 8);
  const iat = u32(data, pos + 14);
  if (exp < 0x10000 || nbf < 0x10000 || iat < 0x10000 || exp <= nbf) return null; // a smaller head would be shorter
  const cti = data.slice(pos + 20, pos + 28);
  pos += MIDDLE.length;
  // profile: map(6) with windows or map(5) without, key 0 with version 1, key 1 (zones)
  if ((data[pos] !== 0xa6 && data[pos] !== 0xa5) || data[pos + 1] !== 0x00 || data[pos + 2] !== 0x01 || data[pos + 3] !== 0x01) {
    return null;
  }
  const withWindows = data[pos] === 0xa6;
  pos += 4;
  head = data[pos];
  let count;
  if (head >= 0x81 && head < 0x98) {
    count = head - 0x80;
    pos += 1;
  } else if (head === 0x98 && data[pos + 1] >= 24 && data[pos + 1] <= MAX_ZONES) {
    count = data[pos + 1];
    pos += 2;
  } else {
    return null;
  }
  const zones = uintsAt(data, pos, count);
  pos = next;
  if (new Set(zones).size !== zones.length) return null;
  let windows = [];
  if (withWindows) {
    if (data[pos] !== P_WINDOWS) return null;
    head = data[pos + 1];
    if (head >= 0x83 && head < 0x98) {
      count = head - 0x80;
      pos += 2;
    } else if (head === 0x98 && data[pos + 2] >= 24 && data[pos + 2] <= 3 * MAX_WINDOWS) {
      count = data[pos + 2];
      pos += 3;
    } else {
      return null;
    }
    const start = pos;
    const flat = uintsAt(data, pos, count);
    pos = next;
    windows = windowsOf(data, start, pos, flat);
    if (windows === null) return null;
  }
  // key 3 (plate, ASCII by its pattern), key 4 (purpose), key 5 (zone data version), then nothing
  head = data[pos + 1];
  if (data[pos] !== P_PLATE || !(head >= 0x61 && head < 0x78)) return null;
  const end = pos + 2 + head - 0x60;
  if (end >= n) return null;
  const plate = String.fromCharCode.apply(null, data.subarray(pos + 2, end));
  if (!PLATE_ONLY.test(plate) || data[end] !== P_PURPOSE) return null;
  const purpose = uintAt(data, end + 1);
  pos = next;
  if (purpose >= 0x10000 || data[pos] !== P_ZONE_DATA) return null;
  const zoneDataVersion = uintAt(data, pos + 1);
  if (next !== n) return null;
  return {
    iss, iat, nbf, exp, cti, zones, windows, plate, purpose, zoneDataVersion, version: PROFILE_VERSION,
    serial: toHex(cti).toUpperCase(),
  };
}
