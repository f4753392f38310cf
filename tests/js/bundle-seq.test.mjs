// One seq names one content (issue 14): a full bundle with the held seq is a no-op when its content
// is the same, and is refused as suspect (bundle_seq_conflict) when it differs, in openBundle and in
// the scanner's TrustStore. The bundles are signed here by a root key made for the test.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { BundleError, decodeSign1, openBundle, toBeSigned } from '../../cirqliz/web/static/scanner/verifier.js';
import { TrustStore } from '../../cirqliz/web/static/scanner/sync.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const MAIN = decodeSign1(new Uint8Array(Buffer.from(VECTORS.bundles.main, 'base64'))).payload; // a full bundle, seq 7

const root = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
const ROOT = new Uint8Array(await crypto.subtle.exportKey('spki', root.publicKey));
const KID = createHash('sha256').update(ROOT).digest().subarray(0, 8);

function bstr(bytes) {
  const n = bytes.length;
  const head = n < 24 ? [0x40 | n] : n < 0x100 ? [0x58, n] : n < 0x10000 ? [0x59, n >> 8, n & 0xff]
    : [0x5a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return [...head, ...bytes];
}

/** A tagged COSE_Sign1 of `payload` by the test root (ECDSA: other bytes at every call). */
async function signed(payload) {
  const protectedRaw = Uint8Array.from([0xa2, 0x01, 0x26, 0x04, 0x48, ...KID]);
  const tbs = toBeSigned(protectedRaw, payload);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, root.privateKey, tbs));
  return Uint8Array.from([0xd2, 0x84, ...bstr(protectedRaw), 0xa0, ...bstr(payload), ...bstr(signature)]);
}

/** `payload` with the first occurrence of the text `from` replaced by `to` (same length: CBOR stays valid). */
function edited(payload, from, to) {
  const hex = Buffer.from(payload).toString('hex');
  const at = hex.indexOf(Buffer.from(from).toString('hex'));
  assert.ok(at >= 0 && from.length === to.length, from);
  return new Uint8Array(Buffer.from(hex.slice(0, at) + Buffer.from(to).toString('hex') + hex.slice(at + from.length * 2), 'hex'));
}

describe('a full bundle with the held seq', () => {
  test('the same content again, signed again, is a no-op: the held bundle is returned', async () => {
    const held = await openBundle(await signed(MAIN), [ROOT]);
    const again = await signed(MAIN);
    assert.equal(await openBundle(again, [ROOT], { current: held }), held);
  });

  test('another content under the same seq is refused as suspect', async () => {
    const held = await openBundle(await signed(MAIN), [ROOT]);
    const other = await signed(edited(MAIN, 'Paris Centre', 'Paris Centrf'));
    await assert.rejects(openBundle(other, [ROOT], { current: held }), (err) => {
      assert.ok(err instanceof BundleError);
      assert.equal(err.code, 'bundle_seq_conflict');
      assert.match(err.message, /même numéro 7 .*suspect/);
      return true;
    });
    // Without a held bundle it is simply a bundle.
    assert.equal((await openBundle(other, [ROOT])).zone(1).name, 'Paris Centrf');
  });

  test('the scanner keeps its bundle: identical is "nothing new", different is refused', async () => {
    const store = new TrustStore({ authority: 'test' });
    store.root = ROOT;
    store.bundle = await openBundle(await signed(MAIN), [ROOT]);
    const held = store.bundle;
    assert.equal(await store._accept(await signed(MAIN)), false);
    const other = await signed(edited(MAIN, 'Paris Centre', 'Paris Centrf'));
    await assert.rejects(store._accept(other), { code: 'bundle_seq_conflict' });
    assert.equal(store.bundle, held);
  });
});
