// The scanner's manual field (cirqliz/web/static/scanner/entry.js): a printed serial or a pasted
// pass text, read as a messaging app or an e-mail hands it over, then verified like a scanned code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { firstReadable, readEntry } from '../../cirqliz/web/static/scanner/entry.js';
import { openBundle, parsePassText, verifyPass } from '../../cirqliz/web/static/scanner/verifier.js';
import { clockWarning, offsetForUpload } from '../../cirqliz/web/static/scanner/clock.js';
import { formatDuration } from '../../cirqliz/web/static/scanner/view.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const VALID = VECTORS.cases.find((c) => c.reason === 'VALID' && typeof c.bundle === 'string' && c.text.includes(' '));
const BODY = VALID.text.slice(4);

/** The text as the agent's field receives it, then verified as the scanner does. */
async function verdictOfPaste(pasted) {
  const entry = readEntry(pasted);
  assert.equal(entry.kind, 'pass');
  const text = firstReadable(entry.texts, parsePassText);
  assert.notEqual(text, null, 'no readable candidate');
  const bundle = await openBundle(fromB64(VECTORS.bundles[VALID.bundle]), [fromB64(VECTORS.root_spki)]);
  const v = await verifyPass(text, bundle, { zone: VALID.zone, now: VALID.at, plate: VALID.plate, lastSeen: VALID.last_seen,
    skew: VECTORS.skew });
  return [text, v.status, v.reason];
}

test('a serial, typed as printed or loosely, is still a serial', () => {
  assert.deepEqual(readEntry('0123 4567 89ab cdef'), { kind: 'serial', serial: '0123456789ABCDEF' });
  assert.deepEqual(readEntry(' 0123-4567-89AB-CDEF\n'), { kind: 'serial', serial: '0123456789ABCDEF' });
  assert.deepEqual(readEntry('   \n'), { kind: 'empty' });
  assert.deepEqual(readEntry('0123 4567'), { kind: 'invalid' });
  assert.deepEqual(readEntry('https://exemple.fr/laissez-passer'), { kind: 'invalid' });
});

test('a pasted pass text exactly as issued gives the same verdict as the scanned code', async () => {
  assert.deepEqual(readEntry(VALID.text), { kind: 'pass', texts: [VALID.text] });
  assert.deepEqual(await verdictOfPaste(VALID.text), [VALID.text, 'VALID', 'VALID']);
});

test('what messaging apps and e-mail add around a pass text is tolerated', async () => {
  const wrapped = BODY.match(/.{1,40}/g).join('\r\n'); // wrapped into lines of 40
  const pastes = {
    surroundingWhitespace: `\n\t  ${VALID.text}  \n\n`,
    lowerCasePrefix: `cq1:${BODY}`,
    frenchColon: `CQ1\u00a0: ${BODY}`,
    lineWraps: `CQ1:${wrapped}\n`,
    zeroWidth: `\ufeffCQ1:${BODY.slice(0, 30)}\u200b${BODY.slice(30)}`,
    introducedBySentence: `Voici mon laissez-passer : ${VALID.text}`,
    nonBreakingSpaces: `CQ1:${BODY.replaceAll(' ', '\u00a0')}`,
    lowerCaseText: `CQ1:${BODY.toLowerCase()}`,
  };
  for (const [name, pasted] of Object.entries(pastes)) {
    assert.deepEqual(await verdictOfPaste(pasted), [VALID.text, 'VALID', 'VALID'], name);
  }
});

test('a text wrapped at its spaces (the space lost in the line break) is read with the space back', async () => {
  const at = BODY.indexOf(' ');
  const pasted = `CQ1:${BODY.slice(0, at)}\n${BODY.slice(at + 1)}`;
  assert.equal(readEntry(pasted).texts.length, 2);
  assert.deepEqual(await verdictOfPaste(pasted), [VALID.text, 'VALID', 'VALID']);
});

test('spaces inside the text are kept: the space is a Base45 digit', () => {
  const squeezed = `CQ1:${BODY.replaceAll(' ', '')}`;
  const { texts } = readEntry(squeezed);
  assert.equal(firstReadable(texts, parsePassText), null);
});

test('a text cut short or altered is unreadable, never a guess', () => {
  for (const pasted of [VALID.text.slice(0, 120), `${VALID.text}!`, 'CQ1:', 'cq1: bonjour', 'CQ2:ABC']) {
    const entry = readEntry(pasted);
    if (entry.kind === 'pass') assert.equal(firstReadable(entry.texts, parsePassText), null, pasted);
    else assert.equal(entry.kind, 'invalid', pasted);
  }
});

test('the clock warning on verdicts: beyond the threshold either way, not at it', () => {
  assert.equal(clockWarning(null, 600), null);
  assert.equal(clockWarning(600, 600), null);
  assert.equal(clockWarning(-600, 600), null);
  assert.deepEqual(clockWarning(1500, 600), { ahead: true, seconds: 1500 });
  assert.deepEqual(clockWarning(-7200, 600), { ahead: false, seconds: 7200 });
  const labels = { durationMinutes: '{n} min', durationHours: '{n} h', durationDays: '{n} j' };
  assert.equal(formatDuration(1500, labels), '25 min');
  assert.equal(formatDuration(7200, labels), '2 h');
  assert.equal(formatDuration(365 * 86400, labels), '365 j');
});

test('the offset sent with a check is a whole number the server accepts', () => {
  assert.equal(offsetForUpload(null, 2e9), null);
  assert.equal(offsetForUpload(1500.4, 2e9), 1500);
  assert.equal(offsetForUpload(-5e9, 2e9), -2e9);
  assert.equal(offsetForUpload(Number.NaN, 2e9), null);
});
