// The restriction schedule of a zone (ADR 0007) in the scanner: decoded from the bundle,
// NOT_RESTRICTED as a green verdict with its French line, and the restriction hours in words.
// The verdicts on every golden vector are in verifier.test.mjs; tests/scheme/test_restriction.py
// compares this verifier with the Python one on random restrictions.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { message, openBundle, verifyPass } from '../../cirqliz/web/static/scanner/verifier.js';
import { ALL_DAYS, dayNumber, makeWindow } from '../../cirqliz/web/static/scanner/windows.js';
import { formatDatedWindow, formatDay, formatRestriction } from '../../cirqliz/web/static/scanner/view.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const ROOT = fromB64(VECTORS.root_spki);
const open = (name, current = null) => openBundle(fromB64(VECTORS.bundles[name]), [ROOT], { current });
const vector = (name) => VECTORS.cases.find((c) => c.name === name);
const LABELS = {
  lang: 'fr', allDay: 'toute la journée', days: ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'],
  restricted: 'réglementée {hours}', onDay: 'le {day}', fromTo: 'du {first} au {last}', fromDay: 'à partir du {day}',
  untilDay: "jusqu'au {day}", exceptHolidays: 'sauf fériés',
};

describe('restriction in the bundle', () => {
  test('zones carry their restriction windows; others an empty list', async () => {
    const bundle = await open('restricted');
    assert.deepEqual(bundle.zone('ZFE-JOUR').restriction, [makeWindow(0b0011111, 480, 1200)]);
    assert.deepEqual(bundle.zone('ZTL').restriction, [makeWindow(0b0111111, 450, 1170, { skipHolidays: true })]);
    const may9 = dayNumber(2026, 5, 9);
    assert.deepEqual(bundle.zone('FETE').restriction, [
      makeWindow(ALL_DAYS, 720, 1440, { firstDay: may9, lastDay: may9 }),
      makeWindow(ALL_DAYS, 0, 720, { firstDay: may9 + 1, lastDay: may9 + 1 }),
    ]);
    assert.deepEqual(bundle.zone('PARIS-CENTRE').restriction, []);
    assert.deepEqual((await open('main')).zone('ZFE').restriction, []);
  });

  test('a delta brings the restriction to a bundle that had none', async () => {
    const held = await open('delta_7_10', await open('main'));
    assert.equal(held.seq, 10);
    assert.deepEqual(held.zone('ZFE-JOUR').restriction, (await open('restricted')).zone('ZFE-JOUR').restriction);
  });
});

describe('NOT_RESTRICTED', () => {
  test('a green verdict with the zone, the claims and the French line', async () => {
    const c = vector('restriction_outside_not_restricted');
    const v = await verifyPass(c.text, await open(c.bundle), { zone: c.zone, now: c.at });
    assert.deepEqual([v.status, v.reason], ['VALID', 'NOT_RESTRICTED']);
    assert.equal(v.zone.code, 'ZFE-JOUR');
    assert.equal(v.claims.plate, 'AB123CD');
    assert.equal(v.detail, 'réglementation pas en vigueur ; heure locale lun. 21:00');
    assert.equal(message('NOT_RESTRICTED', 'fr'), 'Zone non réglementée à cette heure : accès libre.');
    assert.equal(message('NOT_RESTRICTED', 'en'), 'Zone not restricted at this time: free access.');
  });

  test('the same pass one minute before the end of the restriction is checked as usual', async () => {
    const c = vector('restriction_outside_not_restricted');
    const bundle = await open(c.bundle);
    const inside = await verifyPass(c.text, bundle, { zone: c.zone, now: c.at - 61 * 60 });
    assert.deepEqual([inside.status, inside.reason], ['VALID', 'VALID']);
  });
});

describe('restriction hours in words', () => {
  test('weekly windows, holidays and dated periods', async () => {
    const bundle = await open('restricted');
    assert.equal(formatRestriction(bundle.zone('ZFE-JOUR'), LABELS), 'réglementée lun.–ven. 8 h–20 h');
    assert.equal(formatRestriction(bundle.zone('ZTL'), LABELS), 'réglementée lun.–sam. 7 h 30–19 h 30 sauf fériés');
    assert.equal(formatRestriction(bundle.zone('FETE'), LABELS),
      'réglementée le 09/05/2026 12 h–24 h ; le 10/05/2026 0 h–12 h');
    assert.equal(formatRestriction(bundle.zone('PARIS-CENTRE'), LABELS), null);
    assert.equal(formatRestriction(null, LABELS), null);
  });

  test('open-ended and multi-day dates', () => {
    const d = dayNumber(2026, 7, 13);
    assert.equal(formatDay(d), '13/07/2026');
    assert.equal(formatDatedWindow(makeWindow(ALL_DAYS, 0, 1440, { firstDay: d, lastDay: d + 2 }), LABELS),
      'du 13/07/2026 au 15/07/2026 toute la journée');
    assert.equal(formatDatedWindow(makeWindow(0b1100000, 600, 1080, { firstDay: d }), LABELS),
      'à partir du 13/07/2026 sam. dim. 10 h–18 h');
    assert.equal(formatDatedWindow(makeWindow(ALL_DAYS, 480, 600, { lastDay: d }), LABELS), "jusqu'au 13/07/2026 8 h–10 h");
  });

  test('the page labels translate it', () => {
    const en = { ...LABELS, lang: 'en', restricted: 'restricted {hours}', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
      exceptHolidays: 'except public holidays' };
    const zone = { restriction: [makeWindow(0b0011111, 480, 1200, { skipHolidays: true })] };
    assert.equal(formatRestriction(zone, en), 'restricted Mon–Fri 08:00–20:00 except public holidays');
  });
});
