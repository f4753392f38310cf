/**
 * Base45 decoding (RFC 9285), as strict as cirqliz/passcode/base45.py: a character outside the
 * alphabet, a single dangling character or a group over its range is refused (bad_base45).
 */

import { MalformedError } from './errors.js';
import { pyRepr } from './messages.js';

export const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

// Value of each ASCII code point in the alphabet, 255 when it is not in it.
const VALUES = new Uint8Array(128).fill(255);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

function bad(message) {
  return new MalformedError(`Base45 : ${message}`, 'bad_base45');
}

function valuesOf(text) {
  const values = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) throw bad('caractère non ASCII');
    values[i] = VALUES[c];
  }
  // Python reports a non-ASCII character before any character outside the alphabet.
  const pos = values.indexOf(255);
  if (pos >= 0) {
    throw bad(`le caractère ${pyRepr(text[pos])} en position ${pos} n'est pas dans l'alphabet`);
  }
  return values;
}

/**
 * Decode Base45 text to bytes.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {MalformedError} code 'bad_base45'
 */
export function b45decode(text) {
  const n = text.length;
  const full = n - (n % 3);
  const out = new Uint8Array((full / 3) * 2 + (n % 3 === 2 ? 1 : 0));
  // One pass: the bytes are written while the problems are only noted, then reported in the Python
  // twin's order (a character outside the alphabet, the length, a 3-character group, the final pair).
  let codes = 0; // every character code ORed: 128 or more when one is not ASCII
  let values = 0; // every value ORed: 64 or more when a character is outside the alphabet
  let words = 0; // every group's value ORed: above 0xffff when one is out of range
  for (let i = 0, o = 0; i < full; i += 3, o += 2) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    const c2 = text.charCodeAt(i + 2);
    const v0 = VALUES[c0 & 127];
    const v1 = VALUES[c1 & 127];
    const v2 = VALUES[c2 & 127];
    codes |= c0 | c1 | c2;
    values |= v0 | v1 | v2;
    const word = v0 + v1 * 45 + v2 * 2025;
    words |= word;
    out[o] = word >> 8;
    out[o + 1] = word;
  }
  for (let i = full; i < n; i++) {
    const c = text.charCodeAt(i);
    codes |= c;
    values |= VALUES[c & 127];
  }
  if (codes >= 128 || values >= 64) valuesOf(text); // throws, naming the first problem
  if (n % 3 === 1) throw bad('longueur impossible (un caractère isolé à la fin)');
  if (words > 0xffff) throw bad('un groupe de 3 caractères dépasse 65535');
  if (n % 3 === 2) {
    const last = VALUES[text.charCodeAt(full)] + VALUES[text.charCodeAt(full + 1)] * 45;
    if (last > 0xff) throw bad('le dernier groupe de 2 caractères dépasse 255');
    out[out.length - 1] = last;
  }
  return out;
}
