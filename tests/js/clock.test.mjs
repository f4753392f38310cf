// The scanner's clock against the server's (cirqliz/web/static/scanner/clock.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { clockOffset, serverTime, settleLastSeen } from '../../cirqliz/web/static/scanner/clock.js';

const SKEW = 300;
const NOW = 1_772_438_400; // 2026-03-02T08:00:00Z

test('lastSeen left in the future by a clock once set ahead comes back to the server time', () => {
  assert.equal(settleLastSeen(NOW + 365 * 86400, NOW, SKEW), NOW);
  assert.equal(settleLastSeen(NOW + SKEW + 1, NOW, SKEW), NOW);
});

test('a lastSeen within the skew or in the past is kept (turning the clock back still shows)', () => {
  assert.equal(settleLastSeen(NOW + SKEW, NOW, SKEW), NOW + SKEW);
  assert.equal(settleLastSeen(NOW - 3600, NOW, SKEW), NOW - 3600);
  assert.equal(settleLastSeen(NOW + 365 * 86400, null, SKEW), NOW + 365 * 86400); // offline: unchanged
});

test('server time header and clock offset', () => {
  const response = (value) => ({ headers: new Map(value === undefined ? [] : [['X-Server-Time', value]]) });
  assert.equal(serverTime(response(String(NOW))), NOW);
  assert.equal(serverTime(response(undefined)), null);
  assert.equal(serverTime(response('demain')), null);
  assert.equal(clockOffset(NOW + 900, NOW), 900);
  assert.equal(clockOffset(NOW - 60, NOW), -60);
  assert.equal(clockOffset(NOW, null), null);
});
