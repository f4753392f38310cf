// Key lifecycle drill (issue 9), JavaScript side: with the golden vectors, a device clock set back
// never turns a pass green, a withdrawn key's passes stay refused at any time, and a held bundle
// is kept when an older one is offered. The full drill (CLI, rotation, withdrawal, rollback) is
// replayed through this verifier by tests/drill/test_key_lifecycle.py (tests/drill/twin.mjs).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { BundleError, openBundle, verifyPass } from '../../cirqliz/web/static/scanner/verifier.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const ROOT = fromB64(VECTORS.root_spki);
const RAW = Object.fromEntries(Object.entries(VECTORS.bundles).map(([k, v]) => [k, fromB64(v)]));
const HOUR = 3600;

async function openChain(chain) {
  let bundle = null;
  for (const name of [].concat(chain)) bundle = await openBundle(RAW[name], [ROOT], { current: bundle });
  return bundle;
}

describe('key lifecycle: clock set back', () => {
  const green = VECTORS.cases.filter((c) => c.status === 'VALID');

  test('there are green vectors to turn the clock back on', () => {
    assert.ok(green.length >= 5);
  });

  for (const c of green) {
    test(`${c.name}: clock set back after a scan is never VALID`, async () => {
      const bundle = await openChain(c.bundle);
      for (const back of [VECTORS.skew + 1, HOUR, 26 * HOUR, 400 * 24 * HOUR]) {
        const v = await verifyPass(c.text, bundle, { zone: c.zone, now: c.at - back, lastSeen: c.at, plate: c.plate });
        assert.notEqual(v.status, 'VALID', `${back} s back: ${v.reason}`);
        if (c.reason === 'NOT_RESTRICTED') {
          // A suspect clock cannot say the restriction is over: the usual checks decide, and a
          // pass that is revoked, expired or for another zone is refused before the clock is.
          assert.notEqual(v.reason, 'NOT_RESTRICTED', `${back} s back`);
          continue;
        }
        assert.ok(['CLOCK_SUSPECT', 'STALE_BUNDLE'].includes(v.reason), `${back} s back: ${v.reason}`);
        assert.equal(v.status, 'UNCERTAIN');
      }
      // Within the skew, a slightly slow phone still reads green.
      const slow = await verifyPass(c.text, bundle, { zone: c.zone, now: c.at - VECTORS.skew + 1, lastSeen: c.at,
        plate: c.plate });
      assert.equal(slow.status, 'VALID', slow.reason);
    });
  }

  test('a clock before the bundle issue time is suspect with no scan remembered', async () => {
    const bundle = await openChain('main');
    const c = VECTORS.cases.find((x) => x.name === 'valid_es256');
    const issued = Number(bundle.content.issuedAt);
    const v = await verifyPass(c.text, bundle, { zone: c.zone, now: issued - HOUR });
    assert.notEqual(v.status, 'VALID');
  });
});

describe('key lifecycle: withdrawal and rollback', () => {
  test('a withdrawn key is refused at every time, before and after the pass expiry', async () => {
    const bundle = await openChain('main');
    const c = VECTORS.cases.find((x) => x.name === 'key_withdrawn');
    for (const shift of [-30 * 24 * HOUR, 0, 400 * 24 * HOUR]) {
      const v = await verifyPass(c.text, bundle, { zone: c.zone, now: c.at + shift });
      assert.deepEqual([v.status, v.reason], ['REFUSED', 'KEY_WITHDRAWN']);
    }
  });

  test('an older bundle offered to a device keeps the newer one it holds', async () => {
    let held = await openChain(['main', 'delta_7_8']);
    const revoked = VECTORS.cases.find((x) => x.name === 'revoked_by_delta');
    for (const older of ['older', 'main']) {
      try {
        held = await openBundle(RAW[older], [ROOT], { current: held });
        assert.fail(`${older} accepted over seq ${held.seq}`);
      } catch (err) {
        assert.ok(err instanceof BundleError, String(err));
        assert.equal(err.code, 'bundle_rollback');
      }
    }
    assert.equal(held.seq, 8);
    const v = await verifyPass(revoked.text, held, { zone: revoked.zone, now: revoked.at });
    assert.equal(v.reason, 'REVOKED'); // what seq 8 says, not what the older bundle said
  });
});
