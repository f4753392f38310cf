// The scanner words hours and periods as the server's pages do (cirqliz/domain/hours_form.py):
// 'lun.–ven. 7 h–11 h', 'du 24/11/2026 au 10/12/2026 inclus', never '07:00–11:00' in French.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { clockText, formatPeriod, formatWindow } from '../../cirqliz/web/static/scanner/view.js';

const DAYS = ['lun.', 'mar.', 'mer.', 'jeu.', 'ven.', 'sam.', 'dim.'];
const paris = (iso) => Date.parse(iso) / 1000;

test('a minute of the day in French and in English', () => {
  assert.equal(clockText(420), '7 h');
  assert.equal(clockText(450), '7 h 30');
  assert.equal(clockText(1440), '24 h');
  assert.equal(clockText(0), '0 h');
  assert.equal(clockText(450, 'en'), '07:30');
});

test('a window as the pages word it', () => {
  assert.equal(formatWindow({ weekdays: 0b0011111, start: 420, end: 660 }, { days: DAYS, allDay: 'toute la journée' }),
    'lun.–ven. 7 h–11 h');
  assert.equal(formatWindow({ weekdays: 0b0111111, start: 450, end: 780 }, { days: DAYS, allDay: 'x', lang: 'fr' }),
    'lun.–sam. 7 h 30–13 h');
  assert.equal(formatWindow({ weekdays: 0b0011111, start: 420, end: 660 },
    { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], allDay: 'all day', lang: 'en' }), 'Mon–Fri 07:00–11:00');
});

test('a validity period in the zone\'s local time', () => {
  // whole local days (midnight to midnight, Paris): the last day is included
  assert.equal(formatPeriod(paris('2026-11-24T00:00:00+01:00'), paris('2026-12-11T00:00:00+01:00'), 'Europe/Paris'),
    'du 24/11/2026 au 10/12/2026 inclus');
  assert.equal(formatPeriod(paris('2026-11-24T00:00:00+01:00'), paris('2026-11-25T00:00:00+01:00'), 'Europe/Paris'),
    'le 24/11/2026');
  assert.equal(formatPeriod(paris('2026-11-24T09:00:00+01:00'), paris('2026-11-24T18:00:00+01:00'), 'Europe/Paris'),
    'le 24/11/2026 de 9 h à 18 h');
  assert.equal(formatPeriod(paris('2026-11-23T08:00:00+01:00'), paris('2026-12-23T09:30:00+01:00'), 'Europe/Paris'),
    'du 23/11/2026 à 8 h au 23/12/2026 à 9 h 30');
  // summer time: local midnight is 22:00 UTC
  assert.equal(formatPeriod(paris('2026-07-01T00:00:00+02:00'), paris('2026-07-03T00:00:00+02:00'), 'Europe/Paris'),
    'du 01/07/2026 au 02/07/2026 inclus');
  assert.equal(formatPeriod(paris('2026-11-24T09:00:00+01:00'), paris('2026-11-25T18:00:00+01:00'), 'Europe/Paris', 'en'),
    'from 24/11/2026 09:00 to 25/11/2026 18:00');
});
