// Federation of trust (issue 19) in the scanner's verifier: partner lists in bundles (keys 16, 17),
// TrustSet / openTrustSet, verifyFederated and verifyPass's checkpointBundle. The golden vectors
// (tests/vectors/federation.json) are shared with Python (tests/scheme/test_federation.py); the
// unit tests below build their own bundles around passes.json's: a home authority VILLE, signed by
// a root made for the test, lists FR-TEST (passes.json's authority) as its partner.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import {
  BUNDLE_REFUSALS, bundleRefusal, BundleError, decodeSign1, decodeStrict, normaliseFingerprint, openBundle, openTrustSet, parseZoneRef,
  rootFingerprint, toBeSigned, TrustSet, verdictMessage, verifyFederated, verifyPass,
} from '../../cirqliz/web/static/scanner/verifier.js';

const PASSES = JSON.parse(readFileSync(new URL('../vectors/passes.json', import.meta.url), 'utf8'));
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const TEST_ROOT = fromB64(PASSES.root_spki); // FR-TEST's root
const RAW = Object.fromEntries(Object.entries(PASSES.bundles).map(([k, v]) => [k, fromB64(v)]));
const payloadOf = (bytes) => decodeSign1(bytes).payload;

// ---- a deterministic CBOR encoder (RFC 8949 §4.2.1) for the subset bundles use ---------------

function head(major, n) {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  if (n < 0x100000000) return [m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const big = BigInt(n);
  return [m | 27, ...Array.from({ length: 8 }, (_, i) => Number((big >> BigInt(56 - 8 * i)) & 0xffn))];
}

function encode(value) {
  if (value === null) return [0xf6];
  if (value === true) return [0xf5];
  if (value === false) return [0xf4];
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = [...Buffer.from(value, 'utf8')];
    return [...head(3, bytes.length), ...bytes];
  }
  if (value instanceof Uint8Array) return [...head(2, value.length), ...value];
  if (Array.isArray(value)) return [...head(4, value.length), ...value.flatMap(encode)];
  if (value instanceof Map) {
    const items = [...value].map(([k, v]) => [encode(k), encode(v)]);
    items.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return [...head(5, items.length), ...items.flat(2)];
  }
  throw new Error(`cannot encode ${value}`);
}
const cbor = (value) => Uint8Array.from(encode(value));

// ---- test roots and signing -----------------------------------------------------------------

async function makeRoot() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  return { pair, spki, kid: createHash('sha256').update(spki).digest().subarray(0, 8) };
}

const bstr = (bytes) => [...head(2, bytes.length), ...bytes];

/** A tagged COSE_Sign1 of the CBOR `payload` map by `root`. */
async function sign(payload, root) {
  const body = payload instanceof Uint8Array ? payload : cbor(payload);
  const protectedRaw = Uint8Array.from([0xa2, 0x01, 0x26, 0x04, 0x48, ...root.kid]);
  const signature = new Uint8Array(await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' }, root.pair.privateKey, toBeSigned(protectedRaw, body),
  ));
  return Uint8Array.from([0xd2, 0x84, ...bstr(protectedRaw), 0xa0, ...bstr(body), ...bstr(signature)]);
}

const VILLE = await makeRoot();
const OTHER = await makeRoot();
const [B_KIND, B_ISS, B_SEQ, B_KEYS, B_WITHDRAWN] = [0, 1, 2, 5, 6];
const [B_BASE_SEQ, B_PARTNERS, B_NAME] = [11, 16, 17];

const partner = (iss, name, root, url = `https://${iss.toLowerCase()}.example/bundle.cose`) => new Map([
  [1, iss], [2, name], [3, root], [4, url],
]);
const TEST_PARTNER = partner('FR-TEST', 'Autorité de test', TEST_ROOT);

/** A full VILLE bundle: the zones of passes.json's `restricted` bundle, no signing keys. */
function homePayload(options = {}) {
  const { seq = 1, keys = [], edit } = options;
  const partners = 'partners' in options ? options.partners : [TEST_PARTNER];
  const name = 'name' in options ? options.name : 'Ville de Test';
  const map = decodeStrict(payloadOf(RAW.restricted));
  map.set(B_ISS, 'VILLE');
  map.set(B_SEQ, seq);
  map.set(B_KEYS, keys);
  map.set(B_WITHDRAWN, []);
  if (partners !== undefined) map.set(B_PARTNERS, partners);
  if (name !== undefined) map.set(B_NAME, name);
  edit?.(map);
  return map;
}

/** A delta on top of a VILLE bundle (same zones and revocations: only the common part changes). */
function homeDelta({ base, seq, partners, name }) {
  const map = homePayload({ seq, partners, name });
  if (name === undefined) map.delete(B_NAME);
  for (const k of [7, 8]) map.delete(k);
  map.set(B_KIND, 2);
  map.set(B_BASE_SEQ, base);
  if (partners === undefined) map.delete(B_PARTNERS);
  return map;
}

const openHome = async (payload, options) => openBundle(await sign(payload, VILLE), [VILLE.spki], options);

async function homeTrust(options = {}, partnerBundle = 'restricted') {
  const home = await openHome(homePayload(options));
  return (await openTrustSet(home, { 'FR-TEST': RAW[partnerBundle] })).trust;
}

function passOptions(c) {
  return { zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: PASSES.skew };
}

// ---- bundle format: keys 16 and 17 ----------------------------------------------------------

describe('bundle keys 16 (partners) and 17 (name)', () => {
  test('a home bundle lists its partners and its name', async () => {
    const home = await openHome(homePayload({ partners: [TEST_PARTNER, partner('PREF', 'Préfecture', OTHER.spki)] }));
    assert.equal(home.name, 'Ville de Test');
    assert.deepEqual(home.partners.map((p) => [p.iss, p.name, p.url]), [
      ['FR-TEST', 'Autorité de test', 'https://fr-test.example/bundle.cose'],
      ['PREF', 'Préfecture', 'https://pref.example/bundle.cose'],
    ]);
    assert.deepEqual(home.partner('PREF').root, OTHER.spki);
    assert.equal(home.partner('ROGUE'), null);
    assert.equal(home.partnerRoots.get('FR-TEST').key.alg, -7);
  });

  test('a bundle without them has no partners and no name', async () => {
    const main = await openBundle(RAW.main, [TEST_ROOT]);
    assert.equal(main.name, '');
    assert.deepEqual(main.partners, []);
    assert.deepEqual(main.content.partners, []);
  });

  const malformed = {
    'partners not sorted by iss': { partners: [partner('PREF', 'P', OTHER.spki), TEST_PARTNER] },
    'a repeated partner iss': { partners: [TEST_PARTNER, partner('FR-TEST', 'Again', OTHER.spki)] },
    'the bundle\'s own iss as a partner': { partners: [partner('VILLE', 'Moi', OTHER.spki)] },
    'a partner root that is not a key': { partners: [partner('PREF', 'P', Uint8Array.from([0x30, 0x03, 1, 2, 3]))] },
    'a partner root on another curve': {
      partners: [partner('PREF', 'P', Uint8Array.from(Buffer.from(
        '3076301006072a8648ce3d020106052b8104002203620004' + '11'.repeat(96), 'hex',
      )))],
    },
    'a partner root that is text': { partners: [partner('PREF', 'P', 'MFkw')] },
    'an empty partner iss': { partners: [partner('', 'P', OTHER.spki)] },
    'a partner iss with a slash': { partners: [partner('PR/EF', 'P', OTHER.spki)] },
    'a partner iss of 33 characters': { partners: [partner('X'.repeat(33), 'P', OTHER.spki)] },
    'an empty partner name': { partners: [partner('PREF', '', OTHER.spki)] },
    'a partner name of 201 characters': { partners: [partner('PREF', 'é'.repeat(201), OTHER.spki)] },
    'a partner url that is not text': { partners: [partner('PREF', 'P', OTHER.spki, 7)] },
    'partners that are not an array': { partners: TEST_PARTNER },
    'a partner that is not a map': { partners: ['FR-TEST'] },
    'an empty name': { name: '' },
    'a name of 201 characters': { name: 'n'.repeat(201) },
    'a name that is not text': { name: 3 },
  };
  for (const [what, options] of Object.entries(malformed)) {
    test(`refuses ${what} (bundle_malformed)`, async () => {
      await assert.rejects(openHome(homePayload(options)), (err) => {
        assert.ok(err instanceof BundleError, String(err));
        assert.equal(err.code, 'bundle_malformed', err.message);
        return true;
      });
    });
  }

  test('limits count characters, not UTF-16 units: 32 and 200 are accepted', async () => {
    const home = await openHome(homePayload({
      name: '🚦'.repeat(200), partners: [partner('X'.repeat(32), 'é'.repeat(200), OTHER.spki)],
    }));
    assert.equal(home.partners[0].iss.length, 32);
  });

  test('an empty partner list in a full bundle is no partners', async () => {
    assert.deepEqual((await openHome(homePayload({ partners: [] }))).partners, []);
  });
});

describe('deltas and the same seq', () => {
  const PREF = partner('PREF', 'Préfecture', OTHER.spki);

  test('a delta without key 16 keeps the partners; its name is its own', async () => {
    const base = await openHome(homePayload({ partners: [TEST_PARTNER, PREF] }));
    const next = await openHome(homeDelta({ base: 1, seq: 2, name: 'Ville renommée' }), { current: base });
    assert.equal(next.seq, 2);
    assert.deepEqual(next.partners.map((p) => p.iss), ['FR-TEST', 'PREF']);
    assert.equal(next.partner('PREF').name, 'Préfecture');
    assert.equal(next.name, 'Ville renommée');
    const unnamed = await openHome(homeDelta({ base: 2, seq: 3, name: undefined }), { current: next });
    assert.equal(unnamed.name, '');
    assert.deepEqual(unnamed.partners.map((p) => p.iss), ['FR-TEST', 'PREF']);
  });

  test('a delta with key 16 replaces the list; an empty array leaves none', async () => {
    const base = await openHome(homePayload({ partners: [TEST_PARTNER, PREF] }));
    const fewer = await openHome(homeDelta({ base: 1, seq: 2, partners: [TEST_PARTNER] }), { current: base });
    assert.deepEqual(fewer.partners.map((p) => p.iss), ['FR-TEST']);
    assert.equal(fewer.partner('PREF'), null);
    const none = await openHome(homeDelta({ base: 2, seq: 3, partners: [] }), { current: fewer });
    assert.deepEqual(none.partners, []);
    assert.equal(none.partnerRoots.size, 0);
  });

  test('a delta with a bad partner list is refused', async () => {
    const base = await openHome(homePayload());
    await assert.rejects(
      openHome(homeDelta({ base: 1, seq: 2, partners: [PREF, TEST_PARTNER] }), { current: base }),
      { code: 'bundle_malformed' },
    );
  });

  test('the same seq with other partners, or another name, is suspect', async () => {
    const held = await openHome(homePayload());
    assert.equal(await openHome(homePayload(), { current: held }), held);
    await assert.rejects(openHome(homePayload({ partners: [TEST_PARTNER, PREF] }), { current: held }),
      { code: 'bundle_seq_conflict' });
    await assert.rejects(openHome(homePayload({ partners: [partner('FR-TEST', 'Autorité de test', OTHER.spki)] }),
      { current: held }), { code: 'bundle_seq_conflict' });
    await assert.rejects(openHome(homePayload({ name: 'Autre nom' }), { current: held }), { code: 'bundle_seq_conflict' });
    await assert.rejects(openHome(homePayload({ name: undefined }), { current: held }), { code: 'bundle_seq_conflict' });
  });
});

// ---- trust sets -------------------------------------------------------------------------------

describe('openTrustSet', () => {
  test('a partner bundle verified with the root the home bundle lists is trusted', async () => {
    const home = await openHome(homePayload());
    const { trust, refusals } = await openTrustSet(home, new Map([['FR-TEST', RAW.main]]));
    assert.equal(refusals.size, 0);
    assert.ok(trust instanceof TrustSet);
    assert.equal(trust.home, home);
    assert.deepEqual([...trust.partners.keys()], ['FR-TEST']);
    assert.equal(trust.bundleOf('FR-TEST').seq, 7);
    assert.equal(trust.bundleOf('VILLE'), home);
    assert.equal(trust.bundleOf('ROGUE'), null);
  });

  test('a bundle signed by another root is refused; bytes of authorities not listed are ignored', async () => {
    const home = await openHome(homePayload({ partners: [partner('FR-TEST', 'T', OTHER.spki)] }));
    const { trust, refusals } = await openTrustSet(home, { 'FR-TEST': RAW.main, ROGUE: RAW.main });
    assert.deepEqual([...refusals.keys()], ['FR-TEST']);
    assert.equal(refusals.get('FR-TEST').code, 'bundle_unknown_root');
    assert.ok(refusals.get('FR-TEST') instanceof BundleError);
    assert.equal(trust.partners.size, 0);
  });

  test('a bundle of another issuer signed with the listed root is bundle_wrong_issuer', async () => {
    // PREF's entry carries FR-TEST's root: FR-TEST's bundle verifies but is not PREF's.
    const home = await openHome(homePayload({ partners: [TEST_PARTNER, partner('PREF', 'P', TEST_ROOT)] }));
    const { trust, refusals } = await openTrustSet(home, { 'FR-TEST': RAW.main, PREF: RAW.main });
    assert.equal(refusals.get('PREF').code, 'bundle_wrong_issuer');
    assert.deepEqual([...trust.partners.keys()], ['FR-TEST']);
  });

  test('each partner keeps its own rollback defence: an older bundle is refused, the held one kept', async () => {
    const home = await openHome(homePayload());
    const first = (await openTrustSet(home, { 'FR-TEST': RAW.restricted })).trust; // seq 10
    const { trust, refusals } = await openTrustSet(home, { 'FR-TEST': RAW.main }, { current: first }); // seq 7
    assert.equal(refusals.get('FR-TEST').code, 'bundle_rollback');
    assert.equal(trust.bundleOf('FR-TEST'), first.bundleOf('FR-TEST'));
    // No new bytes: the held bundle stays; a delta follows the held one.
    assert.equal((await openTrustSet(home, {}, { current: first })).trust.bundleOf('FR-TEST').seq, 10);
    const main = (await openTrustSet(home, { 'FR-TEST': RAW.main })).trust;
    const next = await openTrustSet(home, { 'FR-TEST': RAW.delta_7_8 }, { current: main });
    assert.equal(next.refusals.size, 0);
    assert.equal(next.trust.bundleOf('FR-TEST').seq, 8);
  });

  test('a partner the home bundle no longer lists is dropped, and one whose root changed', async () => {
    const home = await openHome(homePayload());
    const held = (await openTrustSet(home, { 'FR-TEST': RAW.main })).trust;
    const without = await openHome(homePayload({ seq: 2, partners: [] }));
    assert.equal((await openTrustSet(without, {}, { current: held })).trust.partners.size, 0);
    const rekeyed = await openHome(homePayload({ seq: 2, partners: [partner('FR-TEST', 'T', OTHER.spki)] }));
    const { trust, refusals } = await openTrustSet(rekeyed, { 'FR-TEST': RAW.restricted }, { current: held });
    assert.equal(refusals.get('FR-TEST').code, 'bundle_unknown_root');
    assert.equal(trust.partners.size, 0);
  });

  test('names and zones across the set', async () => {
    const trust = await homeTrust();
    assert.equal(trust.nameOf('VILLE'), 'Ville de Test');
    assert.equal(trust.nameOf('FR-TEST'), 'Autorité de test'); // its bundle has no name: the entry's
    assert.equal(trust.nameOf('ROGUE'), null);
    const unnamed = await homeTrust({ name: undefined });
    assert.equal(unnamed.nameOf('VILLE'), null);
    const zones = trust.allZones();
    assert.equal(zones.length, 18);
    assert.deepEqual(zones[0], { iss: 'VILLE', name: 'Ville de Test', zone: trust.home.zone('PARIS-CENTRE'), ref: 'PARIS-CENTRE' });
    assert.deepEqual(zones.slice(9).map((z) => z.ref).slice(0, 2), ['FR-TEST/PARIS-CENTRE', 'FR-TEST/MARAIS']);
    assert.ok(zones.slice(9).every((z) => z.iss === 'FR-TEST' && z.name === 'Autorité de test'));
  });

  test('zone references and fingerprints', () => {
    assert.deepEqual(parseZoneRef('ZFE'), { iss: null, code: 'ZFE' });
    assert.deepEqual(parseZoneRef('METRO/ZFE'), { iss: 'METRO', code: 'ZFE' });
    assert.equal(parseZoneRef('METRO/ZFE/X'), null);
    assert.equal(parseZoneRef(''), null);
    assert.equal(parseZoneRef('/ZFE'), null);
    assert.equal(parseZoneRef('METRO/'), null);
    const print = rootFingerprint(TEST_ROOT);
    assert.match(print, /^([0-9A-F]{4} ){15}[0-9A-F]{4}$/);
    assert.equal(print.replaceAll(' ', ''), createHash('sha256').update(TEST_ROOT).digest('hex').toUpperCase());
    assert.equal(normaliseFingerprint(print.toLowerCase().replaceAll(' ', ':')), print.replaceAll(' ', ''));
    assert.equal(normaliseFingerprint(' 3f-2a 9c '), '3F2A9C');
  });
});

// ---- verifying with several bundles ---------------------------------------------------------

describe('verifyFederated', () => {
  const single = PASSES.cases.filter((c) => typeof c.bundle === 'string' && c.bundle !== 'autumn'
    && c.bundle !== 'restricted_autumn');

  test('a partner\'s pass at the partner\'s zone gets the verdict of its own bundle', async () => {
    const trusts = { main: await homeTrust({}, 'main'), restricted: await homeTrust({}, 'restricted') };
    for (const c of single) {
      const alone = await verifyPass(c.text, await openBundle(RAW[c.bundle], [TEST_ROOT]), passOptions(c));
      const v = await verifyFederated(c.text, trusts[c.bundle], { ...passOptions(c), zone: `FR-TEST/${c.zone}` });
      assert.deepEqual([v.status, v.reason], [c.status, c.reason], `${c.name}: ${v.detail}`);
      if (!v.detail.endsWith('absente de tous les paquets de confiance')) assert.equal(v.detail, alone.detail, c.name);
      assert.equal(v.zoneAuthority, 'FR-TEST', c.name);
      if (v.claims?.iss === 'FR-TEST') {
        assert.equal(v.issuer, 'FR-TEST', c.name);
        assert.equal(v.issuerName, 'Autorité de test', c.name);
      } else {
        assert.equal(v.issuer, null, c.name); // not verified, or another authority's claims
      }
    }
  });

  test('at a home zone a partner\'s pass is WRONG_ZONE, after revocation and validity', async () => {
    const trust = await homeTrust({}, 'main');
    const expected = {
      valid_es256: 'WRONG_ZONE', valid_ed25519: 'WRONG_ZONE', expired: 'EXPIRED', revoked: 'REVOKED',
      not_yet_valid: 'NOT_YET_VALID', key_not_authorised_zone: 'KEY_NOT_AUTHORISED', bad_signature: 'BAD_SIGNATURE',
      wrong_issuer: 'UNKNOWN_KEY', key_withdrawn: 'KEY_WITHDRAWN', stale_bundle: 'WRONG_ZONE',
    };
    for (const c of PASSES.cases.filter((x) => x.name in expected)) {
      for (const zone of [c.zone, `VILLE/${c.zone}`]) {
        const v = await verifyFederated(c.text, trust, { ...passOptions(c), zone });
        assert.equal(v.reason, expected[c.name], `${c.name}: ${v.detail}`);
        assert.equal(v.zoneAuthority, 'VILLE');
        if (v.reason === 'WRONG_ZONE') {
          assert.equal(v.status, 'REFUSED');
          assert.equal(v.detail, 'laissez-passer émis par FR-TEST ; zone du contrôle relevant de VILLE');
          assert.equal(v.zone.code, c.zone);
          assert.equal(verdictMessage(v), 'Laissez-passer émis par Autorité de test (FR-TEST) : non valable dans une zone de VILLE.');
        }
      }
    }
  });

  test('outside the home zone\'s restriction anyone may enter, with any pass', async () => {
    const trust = await homeTrust({}, 'restricted');
    const c = PASSES.cases.find((x) => x.name === 'revoked_outside_restriction');
    const v = await verifyFederated(c.text, trust, passOptions(c));
    assert.deepEqual([v.status, v.reason, v.issuer, v.zoneAuthority], ['VALID', 'NOT_RESTRICTED', 'FR-TEST', 'VILLE']);
    // ... judged on the home bundle's freshness: a stale home bundle does not lift the restriction.
    const stale = await homeTrust({ edit: (m) => m.set(3, c.at - 30 * 86400) }, 'restricted');
    assert.equal((await verifyFederated(c.text, stale, passOptions(c))).reason, 'REVOKED');
    const inside = PASSES.cases.find((x) => x.name === 'restriction_inside_valid');
    assert.equal((await verifyFederated(inside.text, trust, passOptions(inside))).reason, 'WRONG_ZONE');
  });

  test('an authority that is not trusted, or a zone it does not have: UNKNOWN_ZONE', async () => {
    const trust = await homeTrust({}, 'main');
    const c = PASSES.cases.find((x) => x.name === 'valid_es256');
    for (const [zone, authority] of [
      ['ROGUE/PARIS-CENTRE', null], ['FR-TEST/NOWHERE', 'FR-TEST'], ['NOWHERE', 'VILLE'], ['FR-TEST/PARIS-CENTRE/X', null],
      ['', null], ['FR-TEST/', null], ['/PARIS-CENTRE', null],
    ]) {
      const v = await verifyFederated(c.text, trust, { ...passOptions(c), zone });
      assert.deepEqual([v.status, v.reason, v.issuer, v.zoneAuthority], ['UNCERTAIN', 'UNKNOWN_ZONE', 'FR-TEST', authority], zone);
    }
    const rogue = await verifyFederated(c.text, trust, { ...passOptions(c), zone: 'ROGUE/PARIS-CENTRE' });
    assert.equal(rogue.detail, "zone 'ROGUE/PARIS-CENTRE' : autorité 'ROGUE' inconnue de cet appareil (resynchroniser)");
    const expired = PASSES.cases.find((x) => x.name === 'expired');
    assert.equal((await verifyFederated(expired.text, trust, { ...passOptions(expired), zone: 'ROGUE/X' })).reason, 'EXPIRED');
  });

  test('a kid in no trusted bundle is UNKNOWN_KEY; without the partner its passes are unknown', async () => {
    const c = PASSES.cases.find((x) => x.name === 'valid_es256');
    const alone = (await openTrustSet(await openHome(homePayload({ partners: [] })), { 'FR-TEST': RAW.main })).trust;
    const v = await verifyFederated(c.text, alone, { ...passOptions(c), zone: 'FR-TEST/PARIS-CENTRE' });
    assert.deepEqual([v.status, v.reason, v.issuer, v.issuerName, v.zoneAuthority], ['REFUSED', 'UNKNOWN_KEY', null, null, null]);
    assert.match(v.detail, /^clé [0-9a-f]{16} absente de tous les paquets de confiance$/);
    const m = await verifyFederated('CQ1:???', alone, { ...passOptions(c), zone: 'PARIS-CENTRE' });
    assert.deepEqual([m.reason, m.issuer, m.zoneAuthority], ['MALFORMED', null, 'VILLE']);
  });

  test('a kid in several bundles: the one of the pass\'s issuer verifies it', async () => {
    const keys = decodeStrict(payloadOf(RAW.main)).get(B_KEYS);
    const trust = await homeTrust({ keys }, 'main'); // the home bundle holds FR-TEST's signing keys too
    const c = PASSES.cases.find((x) => x.name === 'valid_es256');
    const v = await verifyFederated(c.text, trust, { ...passOptions(c), zone: 'FR-TEST/PARIS-CENTRE' });
    assert.deepEqual([v.reason, v.issuer], ['VALID', 'FR-TEST']);
    // Without the partner, the home bundle holds the kid but not the issuer.
    const home = (await openTrustSet(trust.home, {})).trust;
    const u = await verifyFederated(c.text, home, { ...passOptions(c), zone: 'PARIS-CENTRE' });
    assert.deepEqual([u.reason, u.issuer, u.zoneAuthority], ['UNKNOWN_KEY', null, 'VILLE']);
  });
});

describe('verifyPass checkpointBundle', () => {
  test('defaults to the bundle itself: verdicts unchanged', async () => {
    const main = await openBundle(RAW.main, [TEST_ROOT]);
    for (const c of PASSES.cases.filter((x) => x.bundle === 'main')) {
      const plain = await verifyPass(c.text, main, passOptions(c));
      const same = await verifyPass(c.text, main, { ...passOptions(c), checkpointBundle: main });
      assert.deepEqual(same, plain, c.name);
      assert.ok(!('issuer' in plain), 'the single-bundle verdict has no new fields');
    }
  });

  test('another authority\'s bundle: its zone is looked up, WRONG_ZONE with the authorities named', async () => {
    const main = await openBundle(RAW.main, [TEST_ROOT]);
    const home = await openHome(homePayload());
    const c = PASSES.cases.find((x) => x.name === 'valid_es256');
    const v = await verifyPass(c.text, main, { ...passOptions(c), zone: 'ZFE-JOUR', checkpointBundle: home });
    assert.deepEqual([v.reason, v.zone.code], ['WRONG_ZONE', 'ZFE-JOUR']);
    assert.equal(v.detail, 'laissez-passer émis par FR-TEST ; zone du contrôle relevant de VILLE');
  });
});

// ---- golden vectors shared with Python ---------------------------------------------------------

// Layout in the file's "description": a case's trust set is built from its home chain (opened
// with the pinned home root), its `partners` bundles and, when `held` is given, the partner
// bundles held before (opened under the first bundle of the home chain).

const FED = JSON.parse(readFileSync(new URL('../vectors/federation.json', import.meta.url), 'utf8'));
const FED_RAW = Object.fromEntries(Object.entries(FED.bundles).map(([k, v]) => [k, fromB64(v)]));
const HOME_ROOT = fromB64(FED.home_root_spki);
const byName = (names) => new Map(Object.entries(names).map(([iss, name]) => [iss, FED_RAW[name]]));

async function fedTrust(c) {
  const chain = [].concat(c.home);
  let home = null;
  let first = null;
  for (const name of chain) {
    home = await openBundle(FED_RAW[name], [HOME_ROOT], { current: home });
    first ??= home;
  }
  const held = c.held ? (await openTrustSet(first, byName(c.held))).trust : null;
  return openTrustSet(home, byName(c.partners), { current: held });
}

describe('golden vectors: federation', () => {
  test('every federated outcome is covered: refusals, cross-authority zones, unknown authorities', () => {
    const reasons = new Set(FED.cases.map((c) => c.reason));
    for (const r of ['VALID', 'WRONG_ZONE', 'UNKNOWN_KEY', 'UNKNOWN_ZONE', 'NOT_RESTRICTED']) assert.ok(reasons.has(r), r);
    const codes = new Set(FED.bundle_cases.flatMap((c) => Object.values(c.refusals)));
    for (const code of ['bundle_rollback', 'bundle_unknown_root', 'bundle_wrong_issuer']) assert.ok(codes.has(code), code);
  });

  test('the home root pins the partner roots: they come from the home bundle only', async () => {
    const home = await openBundle(FED_RAW.ville_v1, [HOME_ROOT]);
    for (const p of home.partners) assert.deepEqual(p.root, fromB64(FED.roots_spki[p.iss]), p.iss);
    await assert.rejects(openBundle(FED_RAW.metro_5, [HOME_ROOT]), { code: 'bundle_unknown_root' });
  });

  for (const c of FED.cases) {
    test(`case ${c.name}`, async () => {
      const { trust } = await fedTrust(c);
      const v = await verifyFederated(c.text, trust, {
        zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: FED.skew,
      });
      assert.deepEqual(
        { status: v.status, reason: v.reason, issuer: v.issuer, issuer_name: v.issuerName, zone_authority: v.zoneAuthority },
        { status: c.status, reason: c.reason, issuer: c.issuer, issuer_name: c.issuer_name, zone_authority: c.zone_authority },
        v.detail,
      );
    });
  }

  for (const c of FED.bundle_cases) {
    test(`bundle case ${c.name}`, async () => {
      const { trust, refusals } = await fedTrust(c);
      assert.ok([...refusals.values()].every((err) => err instanceof BundleError));
      assert.deepEqual(Object.fromEntries([...refusals].map(([iss, err]) => [iss, err.code])), c.refusals);
      assert.deepEqual(Object.fromEntries([...trust.partners].map(([iss, b]) => [iss, b.seq])), c.trusted);
      assert.equal(trust.home.seq, c.home_seq);
      assert.deepEqual(trust.home.partners.map((p) => p.iss), c.home_partners);
    });
  }
});

test('verifyFederated never throws: without a trust set it answers MALFORMED', async () => {
  const v = await verifyFederated('CQ1:X', null, { zone: 'ZFE', now: 1777878000 });
  assert.deepEqual([v.status, v.reason, v.issuer, v.zoneAuthority], ['REFUSED', 'MALFORMED', null, null]);
  assert.match(v.detail, /^erreur interne du vérificateur \(TypeError\)$/);
});

test('every bundle refusal code has a French and an English explanation', () => {
  const codes = ['bundle_malformed', 'bundle_unknown_root', 'bundle_bad_signature', 'bundle_rollback',
    'bundle_wrong_issuer', 'bundle_delta_base', 'bundle_seq_conflict'];
  assert.deepEqual(Object.keys(BUNDLE_REFUSALS).sort(), [...codes].sort());
  for (const code of codes) assert.ok(bundleRefusal(code) && bundleRefusal(code, 'en') !== bundleRefusal(code), code);
  assert.equal(bundleRefusal('bundle_rollback'), 'plus ancien que celui déjà vu (retour en arrière refusé, le précédent reste valable)');
  assert.equal(bundleRefusal('bundle_new_code', 'en'), 'refused');
});

test('a verdict message names the authorities only for another authority\'s zone', () => {
  const cross = { reason: 'WRONG_ZONE', issuer: 'METRO', issuerName: 'Métropole', zoneAuthority: 'VILLE' };
  assert.equal(verdictMessage(cross, 'en'), 'Pass issued by Métropole (METRO): not valid in a zone of VILLE.');
  assert.equal(verdictMessage({ ...cross, issuerName: null }), 'Laissez-passer émis par METRO : non valable dans une zone de VILLE.');
  assert.equal(verdictMessage({ ...cross, zoneAuthority: 'METRO' }), 'Laissez-passer non valable dans cette zone.');
  assert.equal(verdictMessage({ reason: 'VALID' }, 'en'), 'Pass valid for this zone at this time.');
});
