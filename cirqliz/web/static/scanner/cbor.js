/**
 * Strict CBOR decoding for the subset the pass format uses, twin of cirqliz/passcode/cbor.py.
 *
 * The Python side decodes with cbor2, refuses trailing bytes, then accepts the item only if its
 * canonical re-encoding equals the input; otherwise diagnose() names the first problem met while
 * walking the bytes. This decoder reproduces that in one pass:
 *  - hard errors (truncation, reserved additional information, invalid UTF-8, misplaced break,
 *    simple values in two bytes below 32) throw 'bad_cbor' at once, like cbor2;
 *  - then 'trailing_bytes';
 *  - then, if the encoding is not deterministic, the first problem in byte order:
 *    indefinite_length, non_minimal, duplicate_key, unsorted_keys, float, or bad_cbor (nesting
 *    deeper than 32).
 * Map keys must be in bytewise order of their encodings (RFC 8949 §4.2.1). Floats are refused
 * wherever they appear (code 'float'), and so are tags inside the message.
 *
 * Values: unsigned/negative integers as numbers (BigInt beyond 2^53), byte strings as Uint8Array,
 * text as string, arrays, maps as Map (integer and text keys as plain JS keys), Tag, CborFloat,
 * true/false/null, other simple values (undefined included) as Simple.
 */

import { MalformedError } from './errors.js';

/** A tagged item (tag number, content). */
export class Tag {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/** A floating-point value: kept apart so that 5.0 is never taken for the integer 5. */
export class CborFloat {
  constructor(value) {
    this.value = value;
  }
}

/** A simple value other than false, true and null (23 is `undefined`). */
export class Simple {
  constructor(value) {
    this.value = value;
  }
}

const MAX_DEPTH = 32; // diagnose() refuses deeper nesting when the encoding is not deterministic
const HARD_DEPTH = 500; // beyond this, refuse outright instead of risking the stack
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Thrown at once for input that cannot be decoded at all. */
class Hard extends Error {}

/** Bytewise comparison of two byte arrays (shorter prefix first), like Python bytes ordering. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function toInteger(big) {
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big;
}

function halfToNumber(h) {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

class Decoder {
  constructor(data) {
    this.data = data;
    this.pos = 0;
    this.problem = null; // first [code, detail] in byte order, as diagnose() would report it
    this.deterministic = true;
  }

  note(code, detail, breaksDeterminism = true) {
    if (!this.problem) this.problem = [code, detail];
    if (breaksDeterminism) this.deterministic = false;
  }

  need(n) {
    if (this.pos + n > this.data.length) throw new Hard('CBOR tronqué');
  }

  byte() {
    this.need(1);
    return this.data[this.pos++];
  }

  /** Read the argument of a head with additional information 24..27 as a BigInt. */
  argument(size) {
    this.need(size);
    let value = 0n;
    for (let i = 0; i < size; i++) value = (value << 8n) | BigInt(this.data[this.pos++]);
    return value;
  }

  /** One head: [major, ai, argument (BigInt, or null when indefinite)]. */
  head() {
    const start = this.pos;
    const ib = this.byte();
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai < 24) return [major, ai, BigInt(ai)];
    if (ai === 31) return [major, ai, null];
    if (ai > 27) throw new Hard(`information additionnelle réservée à l'octet ${start}`);
    const size = 1 << (ai - 24);
    const value = this.argument(size);
    if (major !== 7) {
      const shortest = size === 1 ? 24n : 1n << BigInt(4 * size);
      if (value < shortest) {
        this.note('non_minimal', `longueur ou entier à l'octet ${start} pas sous sa forme la plus courte`);
      }
    }
    return [major, ai, value];
  }

  length(value) {
    if (value > BigInt(this.data.length)) throw new Hard('CBOR tronqué');
    return Number(value);
  }

  item(depth) {
    const start = this.pos;
    if (depth > HARD_DEPTH) throw new Hard('imbrication trop profonde');
    if (depth > MAX_DEPTH) this.note('bad_cbor', 'imbrication trop profonde', false);
    const [major, ai, value] = this.head();
    if (value === null) return this.indefinite(major, start, depth);
    switch (major) {
      case 0:
        return toInteger(value);
      case 1:
        return toInteger(-1n - value);
      case 2:
        return this.bytes(this.length(value));
      case 3:
        return this.text(this.length(value));
      case 4:
        return this.array(this.length(value), depth);
      case 5:
        return this.map(this.length(value), depth);
      case 6:
        // The profile uses one tag only, COSE_Sign1's 18 around the whole message.
        if (depth > 0) throw new Hard(`étiquette CBOR à l'octet ${start} : pas d'étiquette admise à l'intérieur du message`);
        return new Tag(toInteger(value), this.item(depth + 1));
      default:
        return this.simple(ai, Number(value), start);
    }
  }

  bytes(n) {
    this.need(n);
    this.pos += n;
    return this.data.slice(this.pos - n, this.pos);
  }

  text(n) {
    const raw = this.bytes(n);
    try {
      return utf8.decode(raw);
    } catch {
      throw new Hard("texte qui n'est pas de l'UTF-8");
    }
  }

  array(n, depth) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
    return out;
  }

  map(n, depth) {
    const out = new Map();
    let previous = null;
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      const key = this.item(depth + 1);
      this.checkKeyOrder(previous, this.data.subarray(keyStart, this.pos), keyStart);
      previous = this.data.subarray(keyStart, this.pos);
      out.set(key, this.item(depth + 1));
    }
    return out;
  }

  checkKeyOrder(previous, key, at) {
    if (previous === null) return;
    const order = compareBytes(key, previous);
    if (order === 0) this.note('duplicate_key', `clé répétée dans une table à l'octet ${at}`);
    else if (order < 0) this.note('unsorted_keys', `clés de table hors de l'ordre déterministe à l'octet ${at}`);
  }

  /** Indefinite-length item: decoded (cbor2 accepts it), but never deterministic. */
  indefinite(major, start, depth) {
    if (major === 7) throw new Hard(`code de fin (break) à l'octet ${start}, où un élément était attendu`);
    if (major < 2 || major === 6) throw new Hard(`longueur indéfinie impossible pour le type majeur ${major} à l'octet ${start}`);
    this.note('indefinite_length', `élément de longueur indéfinie à l'octet ${start}`);
    if (major === 4) return this.untilBreak(() => this.item(depth + 1));
    if (major === 5) {
      const out = new Map();
      this.untilBreak(() => out.set(this.item(depth + 1), this.item(depth + 1)));
      return out;
    }
    const chunks = this.untilBreak(() => this.chunk(major));
    if (major === 3) return chunks.join('');
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
    return out;
  }

  untilBreak(read) {
    const out = [];
    for (;;) {
      this.need(1);
      if (this.data[this.pos] === 0xff) {
        this.pos += 1;
        return out;
      }
      out.push(read());
    }
  }

  /** One chunk of an indefinite string: a definite string of the same major type. */
  chunk(major) {
    const start = this.pos;
    const [m, , value] = this.head();
    if (m !== major || value === null) throw new Hard(`morceau incorrect dans une chaîne de longueur indéfinie à l'octet ${start}`);
    return major === 3 ? this.text(this.length(value)) : this.bytes(this.length(value));
  }

  simple(ai, value, start) {
    if (ai >= 25) return this.float(ai, start);
    if (ai === 24 && value < 32) throw new Hard(`valeur simple sur deux octets incorrecte à l'octet ${start}`);
    if (value === 20) return false;
    if (value === 21) return true;
    if (value === 22) return null;
    return new Simple(value);
  }

  float(ai, start) {
    const size = 1 << (ai - 24);
    const view = new DataView(this.data.buffer, this.data.byteOffset + start + 1, size);
    let value;
    if (size === 2) value = halfToNumber(view.getUint16(0));
    else if (size === 4) value = view.getFloat32(0);
    else value = view.getFloat64(0);
    // The profile has no floating-point values at all (times are integers): always refused.
    this.note('float', `nombre à virgule flottante à l'octet ${start}`, true);
    return new CborFloat(value);
  }
}

function asBytes(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new MalformedError(`${what} : octets attendus`, 'not_bytes');
}

function run(data, what) {
  const decoder = new Decoder(asBytes(data, what));
  let value;
  try {
    value = decoder.item(0);
  } catch (err) {
    // cbor.py names the first problem its byte walk meets, a determinism one when it comes first.
    if (err instanceof Hard) {
      throw new MalformedError(`${what} : CBOR illisible (${decoder.problem?.[1] ?? err.message})`, 'bad_cbor');
    }
    throw err;
  }
  const left = decoder.data.length - decoder.pos;
  if (left) {
    throw new MalformedError(`${what} : ${left} octet(s) en trop après l'élément CBOR`, 'trailing_bytes');
  }
  return [value, decoder];
}

/**
 * Decode exactly one CBOR item (no determinism check), like cbor.py loads_one.
 * @param {Uint8Array} data
 * @param {string} what names the item in error messages
 * @throws {MalformedError} bad_cbor, trailing_bytes
 */
export function decodeOne(data, what = 'CBOR') {
  return run(data, what)[0];
}

/**
 * Decode one item and refuse it unless its encoding is the deterministic one, like cbor.py
 * loads_deterministic; the error code is the one diagnose() gives.
 * @param {Uint8Array} data
 * @param {string} what names the item in error messages
 * @throws {MalformedError} bad_cbor, trailing_bytes, indefinite_length, non_minimal,
 *   duplicate_key, unsorted_keys, float
 */
export function decodeStrict(data, what = 'CBOR') {
  const [value, decoder] = run(data, what);
  if (!decoder.deterministic) {
    const [code, detail] = decoder.problem ?? ['non_canonical', 'encodage non déterministe (RFC 8949 §4.2.1)'];
    throw new MalformedError(`${what} : ${detail}`, code);
  }
  return value;
}

/** True for a CBOR integer as decoded here (number or BigInt; never a float or a boolean). */
export function isInteger(value) {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));
}

/** True for a non-negative CBOR integer. */
export function isUint(value) {
  return isInteger(value) && value >= 0;
}
