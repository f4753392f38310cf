/**
 * COSE_Sign1 (RFC 9052 §4.2) decoding and verification, twin of cirqliz/passcode/cose.py:
 * the algorithm comes from the key, a protected `alg` that disagrees is refused, an empty
 * protected map is signed as an empty byte string, a `crit` naming a label the profile does not
 * process is refused, a protected `alg` must be one the profile accepts (checked before the
 * signature's length, so the refusal names the algorithm), and signatures are exactly 64 bytes.
 */

import { decodeStrict, Tag } from './cbor.js';
import { MalformedError, SignatureError, UnsupportedError } from './errors.js';
import { pyRepr } from './messages.js';
import { algorithmFromLabel, algorithmName, verifyRaw } from './keys.js';

export const HEADER_ALG = 1;
export const HEADER_CRIT = 2;
export const HEADER_CONTENT_TYPE = 3;
export const HEADER_KID = 4;
const UNDERSTOOD_HEADERS = new Set([HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID]);

export const TAG_SIGN1 = 18;
const OTHER_COSE_TAGS = {
  98: 'COSE_Sign (plusieurs signataires)',
  17: 'COSE_Mac0',
  97: 'COSE_Mac',
  16: 'COSE_Encrypt0',
  96: 'COSE_Encrypt',
};
// CBOR of the array head and the text "Signature1" that start every Sig_structure.
const SIG1_PREFIX = new Uint8Array([0x84, 0x6a, ...new TextEncoder().encode('Signature1')]);

const EMPTY = new Uint8Array(0);

/** Size of the shortest CBOR head of a byte string of `n` bytes. */
function headSize(n) {
  if (n < 24) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  return 5;
}

/** Write byte string `body` (shortest head, then the bytes) into `out` at `at`; the position after it. */
function putBstr(out, at, body) {
  const n = body.length;
  if (n < 24) {
    out[at++] = 0x40 | n;
  } else if (n < 0x100) {
    out[at++] = 0x58;
    out[at++] = n;
  } else if (n < 0x10000) {
    out[at++] = 0x59;
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0x5a;
    out[at++] = (n >>> 24) & 0xff;
    out[at++] = (n >> 16) & 0xff;
    out[at++] = (n >> 8) & 0xff;
    out[at++] = n & 0xff;
  }
  out.set(body, at);
  return at + n;
}

/**
 * Sig_structure ["Signature1", protected, external_aad, payload] as CBOR, byte for byte as
 * cose.py to_be_signed writes it.
 * @param {Uint8Array} protectedRaw the protected header bytes (empty when the map is empty)
 * @param {Uint8Array} payload
 * @param {Uint8Array} [externalAad]
 * @returns {Uint8Array}
 */
export function toBeSigned(protectedRaw, payload, externalAad = EMPTY) {
  // One allocation, heads written in place (it runs on every verify).
  const out = new Uint8Array(SIG1_PREFIX.length + headSize(protectedRaw.length) + protectedRaw.length
    + headSize(externalAad.length) + externalAad.length + headSize(payload.length) + payload.length);
  out.set(SIG1_PREFIX, 0);
  let at = putBstr(out, SIG1_PREFIX.length, protectedRaw);
  at = putBstr(out, at, externalAad);
  putBstr(out, at, payload);
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
    throw new MalformedError("l'en-tête crit doit être un tableau non vide", 'bad_crit');
  }
  const unknown = crit.filter((label) => !UNDERSTOOD_HEADERS.has(label) || label === HEADER_CRIT);
  if (unknown.length) {
    throw new UnsupportedError(`en-tête(s) critique(s) inconnu(s) : ${pyRepr(unknown)}`, 'unknown_critical');
  }
  const missing = crit.filter((label) => !protectedMap.has(label));
  if (missing.length) {
    throw new MalformedError(`en-tête(s) critique(s) ${pyRepr(missing)} absent(s) de l'en-tête protégé`, 'bad_crit');
  }
}

function unwrapTag(obj) {
  if (!(obj instanceof Tag)) return [obj, false];
  if (obj.tag !== TAG_SIGN1) {
    const kind = OTHER_COSE_TAGS[String(obj.tag)];
    if (kind) throw new UnsupportedError(`type de message inattendu : ${kind}, COSE_Sign1 attendu`, 'wrong_message_type');
    throw new MalformedError(`étiquette CBOR ${obj.tag} inattendue, 18 (COSE_Sign1) attendue`, 'wrong_tag');
  }
  return [obj.value, true];
}

/**
 * Fast path of decodeSign1 for the shape this profile signs, cose.py _common_layout:
 * [h'A2 01 alg 04 48 kid', {}, payload, sig64], optionally tagged 18. Every byte is checked
 * against the one deterministic encoding of that shape; anything else (other headers, long
 * lengths, wrong sizes, trailing bytes) gives null and the generic decoder decides and names the
 * problem. The result is what the generic decoder returns for the same bytes.
 * @param {Uint8Array} data
 */
export function readSign1Common(data) {
  if (!(data instanceof Uint8Array)) return null;
  const n = data.length;
  const pos = n > 0 && data[0] === 0xd2 ? 1 : 0; // tag 18
  // array(4), then bstr(13) holding map(2) {1: one-byte int, 4: bstr(8)}, then the empty map
  if (n < pos + 17 || data[pos] !== 0x84 || data[pos + 1] !== 0x4d || data[pos + 2] !== 0xa2 || data[pos + 3] !== 0x01) {
    return null;
  }
  const alg = data[pos + 4]; // -7 (ES256, 0x26) or -8 (EdDSA, 0x27); the generic path names any other
  if ((alg !== 0x26 && alg !== 0x27) || data[pos + 5] !== 0x04 || data[pos + 6] !== 0x48 || data[pos + 15] !== 0xa0) {
    return null;
  }
  // payload: a byte string whose length is in its shortest form
  const head = data[pos + 16];
  let at = pos + 17;
  let size;
  if (head >= 0x40 && head < 0x58) {
    size = head - 0x40;
  } else if (head === 0x58 && at + 1 <= n && data[at] >= 24) {
    size = data[at];
    at += 1;
  } else if (head === 0x59 && at + 2 <= n && data[at] !== 0) {
    size = data[at] * 0x100 + data[at + 1];
    at += 2;
  } else if (head === 0x5a && at + 4 <= n && (data[at] !== 0 || data[at + 1] !== 0)) {
    size = ((data[at] * 0x100 + data[at + 1]) * 0x100 + data[at + 2]) * 0x100 + data[at + 3];
    at += 4;
  } else {
    return null;
  }
  const payloadStart = at;
  at += size;
  // signature: bstr(64), and nothing after it
  if (at + 66 !== n || data[at] !== 0x58 || data[at + 1] !== 0x40) return null;
  // The payload and the signature are views into `data` (no copies): nothing writes to them.
  return {
    protectedRaw: data.slice(pos + 2, pos + 15),
    protected: new Map([[HEADER_ALG, alg === 0x26 ? -7 : -8], [HEADER_KID, data.slice(pos + 7, pos + 15)]]),
    unprotected: new Map(),
    payload: data.subarray(payloadStart, at),
    signature: data.subarray(at + 2),
    tagged: pos === 1,
  };
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
  return readSign1Common(data) ?? decodeSign1Generic(data);
}

/** decodeSign1 without its fast path: the reference behaviour (tests compare the two). */
export function decodeSign1Generic(data) {
  const [obj, tagged] = unwrapTag(decodeStrict(data, 'message COSE'));
  if (!Array.isArray(obj) || obj.length !== 4) throw new MalformedError('un COSE_Sign1 doit être un tableau de 4 éléments', 'not_sign1');
  const [protectedRaw, unprotected, payload, signature] = obj;
  if (!(protectedRaw instanceof Uint8Array)) throw new MalformedError("l'en-tête protégé doit être une chaîne d'octets", 'bad_protected');
  if (!(unprotected instanceof Map)) throw new MalformedError("l'en-tête non protégé doit être une table associative", 'bad_unprotected');
  if (!(payload instanceof Uint8Array)) {
    throw new MalformedError("le contenu doit être une chaîne d'octets (contenu détaché refusé)", 'bad_payload');
  }
  if (!(signature instanceof Uint8Array)) throw new MalformedError("la signature doit être une chaîne d'octets", 'bad_signature_type');
  let protectedMap = new Map();
  if (protectedRaw.length) {
    protectedMap = decodeStrict(protectedRaw, 'en-tête protégé');
    if (!(protectedMap instanceof Map)) throw new MalformedError("l'en-tête protégé doit coder une table associative", 'bad_protected');
  }
  checkCrit(protectedMap);
  // Another algorithm has signatures of another size: name it rather than the length.
  if (protectedMap.has(HEADER_ALG)) algorithmFromLabel(protectedMap.get(HEADER_ALG));
  if (signature.length !== 64) {
    throw new MalformedError(`signature de ${signature.length} octets au lieu de 64`, 'bad_signature_length');
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
  return toBeSigned(message.protected.size ? message.protectedRaw : EMPTY, message.payload);
}

/**
 * Refuse a protected `alg` that is unsupported or disagrees with the key's algorithm.
 * @throws {UnsupportedError|SignatureError}
 */
export function checkAlg(message, key) {
  if (!has(message.protected, HEADER_ALG)) return;
  const alg = algorithmFromLabel(message.protected.get(HEADER_ALG));
  if (alg !== key.alg) {
    throw new SignatureError(`le message annonce ${algorithmName(alg)} mais la clé est ${algorithmName(key.alg)}`, 'alg_mismatch');
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
