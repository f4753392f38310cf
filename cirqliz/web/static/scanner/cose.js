/**
 * COSE_Sign1 (RFC 9052 §4.2) decoding and verification, twin of cirqliz/passcode/cose.py:
 * the algorithm comes from the key, a protected `alg` that disagrees is refused, an empty
 * protected map is signed as an empty byte string, a `crit` naming a label the profile does not
 * process is refused, a protected `alg` must be one the profile accepts (checked before the
 * signature's length, so the refusal names the algorithm), and signatures are exactly 64 bytes.
 */

import { decodeStrict, Tag } from './cbor.js';
import { MalformedError, SignatureError, UnsupportedError } from './errors.js';
import { algorithmFromLabel, algorithmName, verifyRaw } from './keys.js';

export const HEADER_ALG = 1;
export const HEADER_CRIT = 2;
export const HEADER_CONTENT_TYPE = 3;
export const HEADER_KID = 4;
const UNDERSTOOD_HEADERS = new Set([HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID]);

export const TAG_SIGN1 = 18;
const OTHER_COSE_TAGS = {
  98: 'COSE_Sign (several signers)',
  17: 'COSE_Mac0',
  97: 'COSE_Mac',
  16: 'COSE_Encrypt0',
  96: 'COSE_Encrypt',
};
// CBOR of the array head and the text "Signature1" that start every Sig_structure.
const SIG1_PREFIX = new Uint8Array([0x84, 0x6a, ...new TextEncoder().encode('Signature1')]);

function bstrHead(n) {
  if (n < 24) return [0x40 | n];
  if (n < 0x100) return [0x58, n];
  if (n < 0x10000) return [0x59, n >> 8, n & 0xff];
  return [0x5a, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/**
 * Sig_structure ["Signature1", protected, external_aad, payload] as CBOR, byte for byte as
 * cose.py to_be_signed writes it.
 * @param {Uint8Array} protectedRaw the protected header bytes (empty when the map is empty)
 * @param {Uint8Array} payload
 * @param {Uint8Array} [externalAad]
 * @returns {Uint8Array}
 */
export function toBeSigned(protectedRaw, payload, externalAad = new Uint8Array(0)) {
  const parts = [SIG1_PREFIX];
  for (const b of [protectedRaw, externalAad, payload]) parts.push(Uint8Array.from(bstrHead(b.length)), b);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Whether a protected header map holds `label`. */
function has(map, label) {
  return map instanceof Map && map.has(label);
}

function checkCrit(protectedMap) {
  const crit = protectedMap.has(HEADER_CRIT) ? protectedMap.get(HEADER_CRIT) : null;
  if (crit === null) return;
  if (!Array.isArray(crit) || crit.length === 0) {
    throw new MalformedError('crit header must be a non-empty array', 'bad_crit');
  }
  const unknown = crit.filter((label) => !UNDERSTOOD_HEADERS.has(label) || label === HEADER_CRIT);
  if (unknown.length) {
    throw new UnsupportedError(`unknown critical header(s): ${unknown.map(String).join(', ')}`, 'unknown_critical');
  }
  const missing = crit.filter((label) => !protectedMap.has(label));
  if (missing.length) {
    throw new MalformedError(`critical header(s) ${missing.join(', ')} absent from the protected header`, 'bad_crit');
  }
}

function unwrapTag(obj) {
  if (!(obj instanceof Tag)) return [obj, false];
  if (obj.tag !== TAG_SIGN1) {
    const kind = OTHER_COSE_TAGS[String(obj.tag)];
    if (kind) throw new UnsupportedError(`wrong message type: ${kind}, expected COSE_Sign1`, 'wrong_message_type');
    throw new MalformedError(`wrong CBOR tag ${obj.tag}, expected 18 (COSE_Sign1)`, 'wrong_tag');
  }
  return [obj.value, true];
}

/**
 * Parse a COSE_Sign1, tagged 18 or untagged, with deterministic CBOR for the outer structure and
 * the protected header; the signature is not checked here.
 * @param {Uint8Array} data
 * @returns {{protectedRaw: Uint8Array, protected: Map, unprotected: Map, payload: Uint8Array,
 *   signature: Uint8Array, tagged: boolean}}
 * @throws {MalformedError} with the codes of cose.py decode_sign1
 */
export function decodeSign1(data) {
  const [obj, tagged] = unwrapTag(decodeStrict(data, 'COSE message'));
  if (!Array.isArray(obj) || obj.length !== 4) throw new MalformedError('COSE_Sign1 must be an array of 4 items', 'not_sign1');
  const [protectedRaw, unprotected, payload, signature] = obj;
  if (!(protectedRaw instanceof Uint8Array)) throw new MalformedError('protected header must be a byte string', 'bad_protected');
  if (!(unprotected instanceof Map)) throw new MalformedError('unprotected header must be a map', 'bad_unprotected');
  if (!(payload instanceof Uint8Array)) {
    throw new MalformedError('payload must be a byte string (detached payloads are refused)', 'bad_payload');
  }
  if (!(signature instanceof Uint8Array)) throw new MalformedError('signature must be a byte string', 'bad_signature_type');
  let protectedMap = new Map();
  if (protectedRaw.length) {
    protectedMap = decodeStrict(protectedRaw, 'protected header');
    if (!(protectedMap instanceof Map)) throw new MalformedError('protected header must encode a map', 'bad_protected');
  }
  checkCrit(protectedMap);
  // Another algorithm has signatures of another size: name it rather than the length.
  if (protectedMap.has(HEADER_ALG)) algorithmFromLabel(protectedMap.get(HEADER_ALG));
  if (signature.length !== 64) {
    throw new MalformedError(`signature is ${signature.length} bytes, expected exactly 64`, 'bad_signature_length');
  }
  return { protectedRaw, protected: protectedMap, unprotected, payload, signature, tagged };
}

/**
 * kid from the protected header, else from the unprotected one (as cose.py Sign1.kid), or null.
 * @returns {Uint8Array|null}
 */
export function messageKid(message) {
  const kid = message.protected.has(HEADER_KID)
    ? message.protected.get(HEADER_KID)
    : message.unprotected.get(HEADER_KID);
  return kid instanceof Uint8Array ? kid : null;
}

/** The Sig_structure a message's signature covers (empty protected map → empty bstr). */
export function messageToBeSigned(message) {
  return toBeSigned(message.protected.size ? message.protectedRaw : new Uint8Array(0), message.payload);
}

/**
 * Refuse a protected `alg` that is unsupported or disagrees with the key's algorithm.
 * @throws {UnsupportedError|SignatureError}
 */
export function checkAlg(message, key) {
  if (!has(message.protected, HEADER_ALG)) return;
  const alg = algorithmFromLabel(message.protected.get(HEADER_ALG));
  if (alg !== key.alg) {
    throw new SignatureError(`message says ${algorithmName(alg)} but the key is ${algorithmName(key.alg)}`, 'alg_mismatch');
  }
}

/**
 * Verify a decoded COSE_Sign1 with `key` (its algorithm, not the message's).
 * @throws {SchemeError} when it does not verify
 */
export async function verifySign1(message, key) {
  checkAlg(message, key);
  await verifyRaw(key, message.signature, messageToBeSigned(message));
}
