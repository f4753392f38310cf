// The scanner's TrustStore with partner authorities (issue 19): home bundle then one bundle per
// partner the home bundle lists, each kept as signed bytes, re-opened offline, refused on its own,
// deleted once the home bundle no longer lists it. Bundles: tests/vectors/federation.json.
// The view helpers that name the authorities (bundle line, zone groups, refusal words) too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { TrustStore } from '../../cirqliz/web/static/scanner/sync.js';
import {
  authoritiesOf, authorityStatus, refusalReason, resolveZone, zoneGroups,
} from '../../cirqliz/web/static/scanner/view.js';
import { placesAt } from '../../cirqliz/web/static/scanner/geo.js';
import { verifyFederated } from '../../cirqliz/web/static/scanner/verifier.js';

const V = JSON.parse(readFileSync(new URL('../vectors/federation.json', import.meta.url), 'utf8'));
const bytes = (b64) => Uint8Array.from(Buffer.from(b64, 'base64'));
const bundle = (name) => bytes(V.bundles[name]);
const PEM = `-----BEGIN PUBLIC KEY-----\n${V.home_root_spki}\n-----END PUBLIC KEY-----\n`;
const CONFIG = {
  authority: 'VILLE', bundleUrl: '/bundle/VILLE.cose', rootUrl: '/bundle/VILLE/root.pem', partnersUrl: '/scan/partenaires/',
};
const LABELS = {
  authorityData: '{name} : n° {seq}, {age}', stale: 'trop anciennes : synchroniser',
  ageMinutes: 'il y a {n} min', ageHours: 'il y a {n} h', ageDays: 'il y a {n} j',
};

/** An in-memory stand-in for the IndexedDB kv store. */
function memoryKv() {
  const map = new Map();
  return {
    map,
    get: async (key) => map.get(key),
    set: async (key, value) => { map.set(key, value); },
    delete: async (key) => { map.delete(key); },
    keys: async (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)).sort(),
  };
}

/** A fake server: `routes` maps a path (with its query) to bundle bytes, 204, or an Error (network down). */
function server(routes) {
  const asked = [];
  const fetch = async (url) => {
    asked.push(url);
    if (url === CONFIG.rootUrl) return new Response(PEM, { status: 200 });
    const answer = routes[url] ?? routes[url.split('?')[0]];
    if (answer === undefined) return new Response('', { status: 404 });
    if (answer instanceof Error) throw new TypeError('Failed to fetch');
    if (answer === 204) return new Response(null, { status: 204 });
    return new Response(answer, { status: 200, headers: { 'content-type': 'application/cose' } });
  };
  return { fetch, asked, routes };
}

const store = (kv, srv) => new TrustStore(CONFIG, { kv, fetch: srv.fetch, online: () => true });
const seqs = (trust) => Object.fromEntries([...trust.partners].map(([iss, b]) => [iss, b.seq]));
const byIss = (results) => Object.fromEntries(results.map((r) => [r.iss, r]));

test('first sync keeps the home bundle and each listed partner, re-opened offline', async () => {
  const kv = memoryKv();
  const srv = server({
    '/bundle/VILLE.cose': bundle('ville_v1'),
    '/scan/partenaires/METRO.cose': bundle('metro_5'),
    '/scan/partenaires/PREF.cose': bundle('pref'),
  });
  const trust = store(kv, srv);
  const result = await trust.sync();
  assert.equal(result.status, 'updated');
  const partners = byIss(result.partners);
  assert.deepEqual(Object.keys(partners).sort(), ['METRO', 'PREF']);
  assert.equal(partners.METRO.status, 'updated');
  assert.equal(partners.METRO.seq, 5);
  assert.equal(partners.PREF.status, 'updated');
  assert.deepEqual(seqs(trust.trust), { METRO: 5, PREF: 1 });
  assert.ok(kv.map.has('partner:VILLE:METRO') && kv.map.has('partner:VILLE:PREF'));

  // A fresh page, offline: everything comes back from the stored signed bytes.
  const offline = new TrustStore(CONFIG, { kv, fetch: async () => { throw new TypeError('offline'); }, online: () => false });
  await offline.load();
  assert.equal(offline.bundle.seq, 1);
  assert.deepEqual(seqs(offline.trust), { METRO: 5, PREF: 1 });
  assert.equal((await offline.sync()).status, 'offline');
  // Every authority's pass verifies with the re-opened trust set.
  for (const c of V.cases.filter((x) => x.home === 'ville_v1' && !x.held && x.partners.METRO === 'metro_5'
    && x.partners.PREF === 'pref')) {
    const v = await verifyFederated(c.text, offline.trust, { zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: V.skew });
    assert.deepEqual([v.status, v.reason, v.issuer], [c.status, c.reason, c.issuer], c.name);
  }
});

test('a refused partner bundle keeps the held one and leaves the others alone', async () => {
  const kv = memoryKv();
  const srv = server({
    '/bundle/VILLE.cose': bundle('ville_v1'),
    '/scan/partenaires/METRO.cose': bundle('metro_5'),
    '/scan/partenaires/PREF.cose': bundle('pref'),
  });
  const trust = store(kv, srv);
  await trust.sync();
  const stored = kv.map.get('partner:VILLE:METRO');
  // The relay now serves an older METRO bundle (rollback); the home bundle and PREF are current.
  srv.routes['/bundle/VILLE.cose?since=1'] = 204;
  srv.routes['/scan/partenaires/METRO.cose?since=5'] = bundle('metro_3');
  srv.routes['/scan/partenaires/PREF.cose?since=1'] = 204;
  const result = await trust.sync();
  assert.equal(result.status, 'current');
  const partners = byIss(result.partners);
  assert.equal(partners.METRO.status, 'refused');
  assert.equal(partners.METRO.code, 'bundle_rollback');
  assert.equal(partners.METRO.seq, 5);
  assert.equal(partners.PREF.status, 'current');
  assert.deepEqual(seqs(trust.trust), { METRO: 5, PREF: 1 });
  assert.equal(trust.refusals.get('METRO').code, 'bundle_rollback');
  assert.equal(kv.map.get('partner:VILLE:METRO'), stored, 'the held METRO bundle is not replaced');
  assert.ok(srv.asked.includes('/scan/partenaires/METRO.cose?since=5'));

  // Next sync the relay is right again: the refusal is over.
  srv.routes['/scan/partenaires/METRO.cose?since=5'] = 204;
  const again = await trust.sync();
  assert.equal(byIss(again.partners).METRO.status, 'current');
  assert.equal(trust.refusals.size, 0);
});

test('a partner signed by another root is refused on its own; a network failure is per partner', async () => {
  const kv = memoryKv();
  const srv = server({
    '/bundle/VILLE.cose': bundle('ville_v1'),
    '/scan/partenaires/METRO.cose': bundle('metro_by_rogue_root'),
    '/scan/partenaires/PREF.cose': new Error('down'),
  });
  const trust = store(kv, srv);
  const result = await trust.sync();
  assert.equal(result.status, 'updated');
  const partners = byIss(result.partners);
  assert.equal(partners.METRO.status, 'refused');
  assert.equal(partners.METRO.code, 'bundle_unknown_root');
  assert.equal(partners.METRO.seq, null, 'nothing held for METRO');
  assert.equal(partners.PREF.status, 'failed');
  assert.deepEqual(seqs(trust.trust), {});
  assert.ok(!kv.map.has('partner:VILLE:METRO'));

  srv.routes['/scan/partenaires/PREF.cose'] = bundle('pref');
  srv.routes['/bundle/VILLE.cose?since=1'] = 204;
  const later = await trust.sync();
  assert.equal(byIss(later.partners).PREF.status, 'updated');
  assert.deepEqual(seqs(trust.trust), { PREF: 1 });
});

test('a partner the home bundle no longer lists is dropped and its stored bundle deleted', async () => {
  const kv = memoryKv();
  const srv = server({
    '/bundle/VILLE.cose': bundle('ville_v1'),
    '/scan/partenaires/METRO.cose': bundle('metro_5'),
    '/scan/partenaires/PREF.cose': bundle('pref'),
  });
  const trust = store(kv, srv);
  await trust.sync();
  // The home authority removed PREF: the next home bundle (a delta) lists METRO only.
  srv.routes['/bundle/VILLE.cose?since=1'] = bundle('ville_delta_1_2');
  srv.routes['/scan/partenaires/METRO.cose?since=5'] = 204;
  const result = await trust.sync();
  assert.equal(result.status, 'updated');
  assert.equal(trust.bundle.seq, 2);
  const partners = byIss(result.partners);
  assert.equal(partners.PREF.status, 'removed');
  assert.equal(partners.METRO.status, 'current');
  assert.deepEqual(seqs(trust.trust), { METRO: 5 });
  assert.ok(!kv.map.has('partner:VILLE:PREF'));
  assert.ok(!srv.asked.some((url) => url.includes('PREF.cose?since')), 'PREF is not fetched any more');

  const pref = V.cases.find((c) => c.issuer === 'PREF' && c.status === 'VALID');
  const v = await verifyFederated(pref.text, trust.trust, { zone: 'CENTRE', now: pref.at, skew: V.skew });
  assert.equal(v.reason, 'UNKNOWN_KEY');

  const reloaded = new TrustStore(CONFIG, { kv, online: () => false });
  await reloaded.load();
  assert.equal(reloaded.bundle.seq, 2);
  assert.deepEqual(seqs(reloaded.trust), { METRO: 5 });
});

test('authorities, zone groups and references name each authority', async () => {
  const kv = memoryKv();
  const srv = server({
    '/bundle/VILLE.cose': bundle('ville_v1'),
    '/scan/partenaires/METRO.cose': bundle('metro_5'),
    '/scan/partenaires/PREF.cose': bundle('pref'),
  });
  const trust = store(kv, srv);
  await trust.sync();
  const authorities = authoritiesOf(trust.trust, 'Ville (config)');
  assert.deepEqual(authorities.map((a) => a.iss), ['VILLE', 'METRO', 'PREF']);
  assert.equal(authorities[1].name, 'Métropole de Test');
  const groups = zoneGroups(trust.trust);
  assert.deepEqual(groups.map((g) => g.iss), ['VILLE', 'METRO', 'PREF']);
  assert.ok(groups[0].zones.every((p) => !p.ref.includes('/')), 'home zones are plain codes');
  assert.ok(groups[1].zones.some((p) => p.ref === 'METRO/ZFE'));
  assert.equal(resolveZone(trust.trust, 'METRO/ZFE').iss, 'METRO');
  assert.equal(resolveZone(trust.trust, 'VILLE/CENTRE').ref, 'CENTRE');
  assert.equal(resolveZone(trust.trust, 'CENTRE').iss, 'VILLE');
  assert.equal(resolveZone(trust.trust, 'ROGUE/ZFE'), null);
  assert.equal(resolveZone(trust.trust, 'METRO/NOWHERE'), null);

  const metro = authorities[1];
  const issued = Number(metro.bundle.content.issuedAt);
  assert.equal(authorityStatus(metro, issued + 3600, LABELS).text, 'Métropole de Test : n° 5, il y a 1 h');
  const late = authorityStatus(metro, issued + Number(metro.bundle.content.maxAge) + 1, LABELS);
  assert.ok(late.stale);
  assert.equal(late.text, 'Métropole de Test : n° 5, trop anciennes : synchroniser');

  assert.equal(refusalReason('bundle_rollback'), 'numéro plus ancien que celui détenu (retour en arrière)');
  assert.equal(refusalReason('bundle_bad_signature', { refusalReasons: { bundle_bad_signature: 'invalid signature' } }),
    'invalid signature');
  assert.equal(refusalReason('strange'), 'erreur strange');
});

test('placesAt takes the smallest zone containing the point, whichever authority', () => {
  const square = (x0, y0, side) => [[[x0, y0, x0 + side, y0, x0 + side, y0 + side, x0, y0 + side]]];
  const places = [
    { ref: 'BIG', zone: { code: 'BIG', geometry: square(0, 0, 10_000_000) } },
    { ref: 'METRO/SMALL', zone: { code: 'SMALL', geometry: square(1_000_000, 1_000_000, 1_000_000) } },
    { ref: 'PREF/NONE', zone: { code: 'NONE', geometry: null } },
  ];
  assert.deepEqual(placesAt(1.5, 1.5, places).map((p) => p.ref), ['METRO/SMALL', 'BIG']);
  assert.deepEqual(placesAt(5, 5, places).map((p) => p.ref), ['BIG']);
  assert.deepEqual(placesAt(50, 50, places), []);
});
