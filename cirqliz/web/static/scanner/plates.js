/** Plate comparison, twin of loose_key in cirqliz/domain/plates.py. */

// Python's \s (str.isspace) plus the same punctuation: - _ . · /
const SEPARATORS = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\-_.·/]+/gu;

/**
 * A forgiving comparison key for a plate read off a vehicle: upper case, no country prefix,
 * no separators ('ab 123-cd' and 'AB123CD' give the same key).
 * @param {string} text
 * @returns {string}
 */
export function looseKey(text) {
  const upper = String(text).toUpperCase();
  const rest = upper.slice(upper.lastIndexOf(':') + 1);
  return rest.replace(SEPARATORS, '');
}
