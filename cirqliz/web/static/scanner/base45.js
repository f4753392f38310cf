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
  let bad45 = false; // a character outside the alphabet: reported by valuesOf, with its position
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || VALUES[c] === 255) {
      bad45 = true;
      break;
    }
  }
  if (bad45) valuesOf(text); // throws, naming the first problem as before
  if (n % 3 === 1) throw bad('longueur impossible (un caractère isolé à la fin)');
  const full = n - (n % 3);
  const out = new Uint8Array((full / 3) * 2 + (n % 3 === 2 ? 1 : 0));
  // Every 3-character group is checked before the final pair, as in the Python twin.
  for (let i = 0, o = 0; i < full; i += 3, o += 2) {
    const word = VALUES[text.charCodeAt(i)] + VALUES[text.charCodeAt(i + 1)] * 45 + VALUES[text.charCodeAt(i + 2)] * 2025;
    if (word > 0xffff) throw bad('un groupe de 3 caractères dépasse 65535');
    out[o] = word >> 8;
    out[o + 1] = word & 0xff;
  }
  if (n % 3 === 2) {
    const last = VALUES[text.charCodeAt(full)] + VALUES[text.charCodeAt(full + 1)] * 45;
    if (last > 0xff) throw bad('le dernier groupe de 2 caractères dépasse 255');
    out[out.length - 1] = last;
  }
  return out;
}
