/**
 * Verification keys with WebCrypto (globalThis.crypto.subtle), twin of cirqliz/passcode/keys.py.
 * ES256 = ECDSA P-256 with SHA-256 over a raw 64-byte r‖s signature (WebCrypto's own format);
 * EdDSA = Ed25519. kid = first 8 bytes of SHA-256 of the SubjectPublicKeyInfo DER.
 */

import { SignatureError, UnsupportedError } from './errors.js';
import { isInteger } from './cbor.js';
import { pyRepr } from './messages.js';

export const ES256 = -7;
export const EDDSA = -8;
const LABELS = { [ES256]: 'ES256', [EDDSA]: 'EdDSA' };

// Known COSE algorithms the profile refuses, named so the refusal says which one.
const OTHER_ALGORITHMS = {
  '-35': 'ES384', '-36': 'ES512', '-37': 'PS256', '-38': 'PS384', '-39': 'PS512', '-47': 'ES256K',
  '-257': 'RS256', '-258': 'RS384', '-259': 'RS512', '4': 'HMAC 256/64', '5': 'HMAC 256/256',
};

export const ED25519_UNSUPPORTED = 'Ed25519 non pris en charge par ce navigateur';

const OID_EC_PUBLIC_KEY = '2a8648ce3d0201'; // 1.2.840.10045.2.1
const OID_P256 = '2a8648ce3d030107'; // 1.2.840.10045.3.1.7
const OID_ED25519 = '2b6570'; // 1.3.101.112

let subtleCrypto = null; // crypto.subtle, kept once found: two DOM getters fewer per verify

function subtle() {
  if (subtleCrypto) return subtleCrypto;
  const s = globalThis.crypto?.subtle;
  if (!s) throw new UnsupportedError('WebCrypto indisponible (un contexte sécurisé est requis)', 'no_webcrypto');
  subtleCrypto = s;
  return s;
}

// The verify parameters, built once (WebCrypto reads them, never keeps or changes them).
const ES256_VERIFY = Object.freeze({ name: 'ECDSA', hash: 'SHA-256' });
const ED25519_VERIFY = Object.freeze({ name: 'Ed25519' });

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** SHA-256 of bytes. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

/**
 * The algorithm for a COSE `alg` value (-7 or -8); UnsupportedError naming any other.
 * @returns {number}
 */
export function algorithmFromLabel(label) {
  if (isInteger(label)) {
    if (label === ES256 || label === EDDSA) return label;
    const name = OTHER_ALGORITHMS[String(label)] ?? `algorithme ${label}`;
    throw new UnsupportedError(`algorithme non pris en charge : ${name}`, 'unsupported_alg');
  }
  throw new UnsupportedError(`algorithme non pris en charge : ${pyRepr(label)}`, 'unsupported_alg');
}

/** Name of an algorithm as written in docs and messages. */
export function algorithmName(alg) {
  return LABELS[alg] ?? String(alg);
}

// ---- just enough DER to tell which algorithm an SPKI is for ----------------------------------

function derElement(bytes, pos) {
  if (pos + 2 > bytes.length) throw new Error('DER tronqué');
  const tag = bytes[pos];
  let len = bytes[pos + 1];
  let at = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || at + n > bytes.length) throw new Error('longueur DER incorrecte');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[at++];
  }
  if (at + len > bytes.length) throw new Error('DER tronqué');
  return { tag, start: at, end: at + len };
}

/** The COSE algorithm of a SubjectPublicKeyInfo, from its algorithm identifier. */
function spkiAlgorithm(spki) {
  const outer = derElement(spki, 0);
  const algId = derElement(spki, outer.start);
  const oid = derElement(spki, algId.start);
  if (outer.tag !== 0x30 || algId.tag !== 0x30 || oid.tag !== 0x06) throw new Error('pas une SubjectPublicKeyInfo');
  const name = toHex(spki.subarray(oid.start, oid.end));
  if (name === OID_ED25519) return EDDSA;
  if (name !== OID_EC_PUBLIC_KEY) throw new Error('type de clé non pris en charge');
  const curve = derElement(spki, oid.end);
  if (curve.tag !== 0x06 || toHex(spki.subarray(curve.start, curve.end)) !== OID_P256) {
    throw new Error('courbe elliptique non prise en charge (P-256 seulement)');
  }
  return ES256;
}

/**
 * A verification key from SubjectPublicKeyInfo DER: {kid, alg, spki, cryptoKey}. `kid` is derived
 * from the SPKI unless given. When the browser lacks Ed25519, cryptoKey is null and `unsupported`
 * says why: verifying with it then fails with BAD_SIGNATURE instead of refusing the whole bundle.
 * @param {Uint8Array} spki
 * @param {Uint8Array} [kid]
 * @throws {UnsupportedError} code 'bad_key' or 'unsupported_alg' for an unreadable/unsupported key
 */
export async function importVerifyKey(spki, kid) {
  const der = spki instanceof Uint8Array ? spki : new Uint8Array(spki);
  let alg;
  try {
    alg = spkiAlgorithm(der);
  } catch (err) {
    throw new UnsupportedError(`clé publique illisible : ${err.message}`, 'bad_key');
  }
  const params = alg === ES256 ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
  const key = { kid: kid ?? (await sha256(der)).slice(0, 8), alg, spki: der, cryptoKey: null, unsupported: null };
  try {
    key.cryptoKey = await subtle().importKey('spki', der, params, false, ['verify']);
  } catch (err) {
    if (alg === EDDSA && err?.name === 'NotSupportedError') key.unsupported = ED25519_UNSUPPORTED;
    else throw new UnsupportedError('clé publique illisible (DER SubjectPublicKeyInfo attendu)', 'bad_key');
  }
  return key;
}

/**
 * Check a raw 64-byte signature over `data` with `key` (its own algorithm).
 * @throws {SignatureError} 'bad_signature_length', 'bad_signature', or 'alg_unsupported' (Ed25519
 *   missing from this browser)
 */
export async function verifyRaw(key, signature, data) {
  if (signature.length !== 64) {
    throw new SignatureError(`signature de ${signature.length} octets au lieu de 64`, 'bad_signature_length');
  }
  if (!key.cryptoKey) throw new SignatureError(key.unsupported ?? 'clé inutilisable', 'alg_unsupported');
  const params = key.alg === ES256 ? ES256_VERIFY : ED25519_VERIFY;
  let ok;
  try {
    ok = await subtle().verify(params, key.cryptoKey, signature, data);
  } catch (err) {
    // The browser's own text is English: the code and a French phrase are enough for the agent.
    throw new SignatureError('vérification de la signature impossible (WebCrypto)', 'bad_signature');
  }
  if (!ok) throw new SignatureError('signature invalide', 'bad_signature');
}
