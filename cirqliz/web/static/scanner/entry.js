/**
 * What the agent typed or pasted in the manual field: a printed serial, or a whole pass text.
 *
 * A pass text copied from a message or an e-mail comes with what those apps add: surrounding
 * whitespace, line breaks where the text was wrapped, zero-width characters, a lower-case prefix,
 * French typography's space before the colon ("CQ1 :"). Only characters that can never be part of
 * a pass are removed or mapped: Base45 has no lower-case letters, no line breaks and no zero-width
 * characters, so the mapping is unambiguous. Plain spaces are kept: the space is a Base45 digit.
 * Whatever comes out is verified by its signature, so a tolerant reading never makes a forgery pass.
 */

import { parseSerial } from './view.js';

// The pass prefix, anywhere (a message may say "Voici mon laissez-passer : CQ1:…"), any case.
const PREFIX = /cq1[\s\u00a0\u202f]*:[\s\u00a0\u202f]*/i;
// Never part of a pass: soft hyphen, zero-width spaces and joiners, word joiner, byte order mark.
const INVISIBLE = /[\u00ad\u200b-\u200d\u2060\ufeff]/g;
// Non-breaking spaces some apps put for a space: the only space a pass can hold is the plain one.
const NBSP = /[\u00a0\u2007\u202f]/g;
const LINE_BREAKS = /[\r\n\t\v\f\u2028\u2029]+/g;
const TRAILING = /[\s\u00a0\u202f]+$/;

/**
 * The agent's entry, read:
 *   {kind: 'serial', serial}   16 hexadecimal digits (spaces, dashes and lower case accepted)
 *   {kind: 'pass', texts}      a pass text, as the candidate readings to try in order: line breaks
 *                              removed (a wrapped text), then line breaks read as spaces (a text
 *                              wrapped at its spaces)
 *   {kind: 'empty'} or {kind: 'invalid'}
 * @param {string} raw
 */
export function readEntry(raw) {
  const text = String(raw ?? '').replace(INVISIBLE, '');
  if (!text.trim()) return { kind: 'empty' };
  const serial = parseSerial(text);
  if (serial) return { kind: 'serial', serial };
  const match = PREFIX.exec(text);
  if (!match) return { kind: 'invalid' };
  const body = text.slice(match.index + match[0].length).replace(NBSP, ' ').replace(TRAILING, '');
  const upper = (s) => s.replace(/[a-z]/g, (c) => c.toUpperCase());
  const texts = [`CQ1:${upper(body.replace(LINE_BREAKS, ''))}`];
  const spaced = `CQ1:${upper(body.replace(LINE_BREAKS, ' '))}`;
  if (spaced !== texts[0]) texts.push(spaced);
  return { kind: 'pass', texts };
}

/**
 * The first candidate that is a well-formed pass (`parse` throws on one that is not), or null.
 * @param {string[]} texts
 * @param {(text: string) => unknown} parse e.g. verifier.js parsePassText
 */
export function firstReadable(texts, parse) {
  for (const text of texts) {
    try {
      parse(text);
      return text;
    } catch {
      // the next reading, if any
    }
  }
  return null;
}
