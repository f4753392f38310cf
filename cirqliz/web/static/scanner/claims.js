/**
 * Pass claims (CWT, RFC 8392) with the private profile claim, twin of cirqliz/passcode/claims.py:
 * same checks, in the same order, with the same error codes.
 */

import { CborFloat, decodeStrict, isInteger } from './cbor.js';
import { MalformedError } from './errors.js';
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
  return new MalformedError(`claims: ${message}`, code);
}

function uint(value, name, limit = MAX_TIME) {
  if (value instanceof CborFloat) throw bad(`${name} is a floating-point number, expected an integer`, 'float_time');
  if (!isInteger(value) || !(value >= 0 && value < limit)) throw bad(`${name} must be an unsigned integer below ${limit}`);
  return Number(value);
}

function keyName(k) {
  return typeof k === 'string' ? JSON.stringify(k) : String(k);
}

function checkKeys(map, allowed, required, what) {
  const extra = [...map.keys()].filter((k) => !allowed.includes(k));
  if (extra.length) throw bad(`unknown ${what}(s) [${extra.map(keyName).join(', ')}]`, 'unknown_claim');
  const missing = required.filter((k) => !map.has(k));
  if (missing.length) throw bad(`missing ${what}(s) [${missing.join(', ')}]`, 'missing_claim');
}

function decodeWindows(profile) {
  const present = profile.has(P_WINDOWS);
  const raw = present ? profile.get(P_WINDOWS) : [];
  if (!Array.isArray(raw) || (present && raw.length === 0)) throw bad('windows must be a non-empty array when present');
  if (raw.length % 3) throw bad('windows must hold 3 numbers per window (mask, start minute, end minute)');
  const windows = [];
  for (let i = 0; i < raw.length; i += 3) {
    const triple = raw.slice(i, i + 3);
    for (const v of triple) uint(v, 'window field', 2 ** 16);
    try {
      windows.push(makeWindow(triple[0], triple[1], triple[2]));
    } catch (err) {
      if (err instanceof WindowError) throw bad(`window [${triple.join(', ')}]: ${err.message}`, 'bad_window');
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
    throw bad('iss must be text of 1 to 64 characters');
  }
  if (c.exp <= c.nbf) throw bad('exp must be after nbf');
  if (!(c.cti instanceof Uint8Array) || c.cti.length !== SERIAL_BYTES) throw bad(`cti must be exactly ${SERIAL_BYTES} bytes`);
  if (!isInteger(c.version) || c.version !== PROFILE_VERSION) {
    throw new MalformedError(`claims: unknown profile version ${String(c.version)}`, 'unknown_profile');
  }
  if (c.zones.length === 0 || c.zones.length > MAX_ZONES) throw bad(`zones must list 1 to ${MAX_ZONES} zone refs`);
  c.zones = c.zones.map((ref) => uint(ref, 'zone ref', 2 ** 32));
  if (new Set(c.zones).size !== c.zones.length) throw bad('zones repeat a zone ref');
  if (c.windows.length > MAX_WINDOWS) throw bad(`at most ${MAX_WINDOWS} windows`);
  if (typeof c.plate !== 'string' || !PLATE.test(c.plate)) {
    throw bad('plate must be a normalised plate (A-Z, 0-9, optional country prefix)');
  }
  c.purpose = uint(c.purpose, 'purpose', 2 ** 16);
  c.zoneDataVersion = uint(c.zoneDataVersion, 'zone data version', 2 ** 32);
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
  const claims = decodeStrict(payload, 'claims');
  if (!(claims instanceof Map)) throw bad('payload must be a map');
  checkKeys(claims, TOP_KEYS, TOP_KEYS, 'claim');
  const profile = claims.get(CLAIM_PROFILE);
  if (!(profile instanceof Map)) throw bad('profile claim must be a map');
  checkKeys(profile, PROFILE_KEYS, PROFILE_KEYS.filter((k) => k !== P_WINDOWS), 'profile field');
  const iat = uint(claims.get(CLAIM_IAT), 'iat');
  const nbf = uint(claims.get(CLAIM_NBF), 'nbf');
  const exp = uint(claims.get(CLAIM_EXP), 'exp');
  const zones = profile.get(P_ZONES);
  if (!Array.isArray(zones)) throw bad('zones must be an array');
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
