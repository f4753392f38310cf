// The verifier's fast paths (issue 18) against the reference code they stand in for: the COSE and
// claims readers of the usual layout against the generic CBOR decoders, on the golden vectors and
// on every single-byte change and truncation of them; the hour-cached local time against
// localFromEpoch (Intl) around transitions, half-hour and 45-minute zones, and an LMT offset.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { b45decode } from '../../cirqliz/web/static/scanner/base45.js';
import { decodeClaimsGeneric, readClaimsCommon } from '../../cirqliz/web/static/scanner/claims.js';
import { decodeSign1Generic, readSign1Common } from '../../cirqliz/web/static/scanner/cose.js';
import { localAt } from '../../cirqliz/web/static/scanner/verifier.js';
import { localFromEpoch } from '../../cirqliz/web/static/scanner/windows.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const REPLACEMENTS = [0x00, 0x01, 0x02, 0x03, 0x05, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x26, 0x27, 0x3a, 0x40, 0x48, 0x57,
  0x58, 0x59, 0x5a, 0x60, 0x61, 0x77, 0x78, 0x80, 0x83, 0x98, 0xa0, 0xa5, 0xa6, 0xd2, 0xe5, 0xf6, 0xff];

/** The bytes, every single-byte change of them (a few values per position) and every truncation. */
function* variants(bytes) {
  yield bytes;
  for (let i = 0; i < bytes.length; i++) {
    for (const v of [...REPLACEMENTS, bytes[i] ^ 1, (bytes[i] + 1) & 0xff]) {
      if (v === bytes[i]) continue;
      const changed = bytes.slice();
      changed[i] = v;
      yield changed;
    }
    yield bytes.slice(0, i);
  }
  yield Uint8Array.from([...bytes, 0]);
}

/** What a decoder gives: its value, or the error's class and code. */
function outcome(decode, bytes) {
  try {
    return { value: decode(bytes) };
  } catch (err) {
    return { error: `${err.name}:${err.code}` };
  }
}

function passBytes() {
  const out = [];
  for (const c of VECTORS.cases) {
    try {
      out.push([c.name, b45decode(c.text.slice(4))]);
    } catch {
      // malformed Base45 vectors have no bytes to start from
    }
  }
  return out;
}

describe('fast readers match the generic decoders', () => {
  test('COSE_Sign1 of every golden vector and of its changes', () => {
    let accepted = 0;
    for (const [name, bytes] of passBytes()) {
      for (const data of variants(bytes)) {
        const fast = readSign1Common(data);
        if (fast === null) continue;
        accepted += 1;
        assert.deepEqual(outcome(decodeSign1Generic, data), { value: fast }, name);
      }
    }
    assert.ok(accepted > 50, `the fast reader accepted only ${accepted} messages`);
  });

  test('claims of every golden vector and of their changes', () => {
    let accepted = 0;
    for (const [name, bytes] of passBytes()) {
      let message;
      try {
        message = decodeSign1Generic(bytes);
      } catch {
        continue;
      }
      for (const payload of variants(message.payload)) {
        const fast = readClaimsCommon(payload);
        if (fast === null) continue;
        accepted += 1;
        assert.deepEqual(outcome(decodeClaimsGeneric, payload), { value: fast }, name);
      }
    }
    assert.ok(accepted > 50, `the fast reader accepted only ${accepted} payloads`);
  });

  test('the claims reader gives up on what it does not know', () => {
    assert.equal(readClaimsCommon(new Uint8Array(0)), null);
    assert.equal(readClaimsCommon(Uint8Array.from([0xa6, 0x01])), null);
    assert.equal(readClaimsCommon('not bytes'), null);
    assert.equal(readSign1Common(Uint8Array.from([0x84])), null);
  });
});

describe('local time with the offset kept per hour', () => {
  const ZONES = ['Europe/Paris', 'UTC', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Chatham',
    'America/Sao_Paulo', 'Africa/Monrovia', 'Europe/Dublin', 'Pacific/Apia'];

  test('is localFromEpoch around every hour of several years, in odd zones', () => {
    for (const tz of ZONES) {
      // every hour of 2026 (both DST changes), and of 1971 (Monrovia's -0:44:30 offset), 3 instants each
      for (const [from, hours] of [[Date.UTC(2026, 0, 1) / 1000, 366 * 24], [Date.UTC(1971, 0, 1) / 1000, 24 * 60]]) {
        for (let h = 0; h < hours; h++) {
          for (const s of [0, 1799, 3599]) {
            const t = from + h * 3600 + s;
            assert.deepEqual(localAt(t, tz), localFromEpoch(t, tz), `${tz} ${t}`);
          }
        }
      }
    }
  });

  test('asks Intl outside 1970-2106 and for an unknown zone throws as localFromEpoch does', () => {
    for (const t of [-1, -86400 * 365 * 100, 2 ** 32, 2 ** 33, 1.5e9 + 0.5]) {
      assert.deepEqual(localAt(t, 'Europe/Paris'), localFromEpoch(t, 'Europe/Paris'));
    }
    assert.throws(() => localAt(1.5e9, 'Nowhere/Special'), RangeError);
  });
});
