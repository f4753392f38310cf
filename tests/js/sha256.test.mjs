// The verifier's synchronous SHA-256 (revocation entries) gives the same bytes as Node's crypto,
// on every length around the block and padding boundaries and on random data.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { revocationHash, revocationHashSync, sha256Sync, TrustBundle } from '../../cirqliz/web/static/scanner/bundle.js';

const reference = (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest());

test('sha256Sync matches node:crypto for lengths 0..300 and a large input', () => {
  for (let n = 0; n <= 300; n++) {
    const data = new Uint8Array(randomBytes(n));
    assert.deepEqual(sha256Sync(data), reference(data), `length ${n}`);
  }
  const big = new Uint8Array(randomBytes(70_000));
  assert.deepEqual(sha256Sync(big), reference(big));
  assert.equal(Buffer.from(sha256Sync(new TextEncoder().encode('abc'))).toString('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');  // FIPS 180-2, appendix B.1
});

test('revocation entries: synchronous and promised forms agree with SHA-256(iss ‖ 0 ‖ cti)', async () => {
  for (const iss of ['FR-TEST', 'PARIS75', 'Métropole-é', 'X'.repeat(64)]) {
    const cti = new Uint8Array(randomBytes(8));
    const expected = reference(Buffer.concat([Buffer.from(iss, 'utf8'), Buffer.from([0]), cti])).slice(0, 8);
    assert.deepEqual(revocationHashSync(iss, cti), expected);
    assert.deepEqual(await revocationHash(iss, cti), expected);
  }
  assert.equal(typeof TrustBundle.prototype.isRevokedSync, 'function');
});
