// A sign-out made offline on the scanner (cirqliz/web/static/scanner/signout.js): recorded on the phone,
// then finished when the server answers — the session it names is ended, a later one is left alone, one
// already over just drops the mark. The browser side is in tests/e2e/test_scanner_signout_e2e.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import {
  PENDING_KEY, PENDING_TEXT, SESSION_URL, SIGNOUT_URL, clearMark, endSession, markForPage, pendingMark, recordMark,
  signOutWaiting,
} from '../../cirqliz/web/static/scanner/signout.js';

const TAG = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);
const TOKEN = 'jeton-csrf';

/** localStorage as the page has it. */
function storage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => { map.set(key, String(value)); },
    removeItem: (key) => { map.delete(key); },
  };
}

const answer = (status, body = null) => ({ status, ok: status >= 200 && status < 300, type: 'basic', json: async () => body });
const REDIRECT = { status: 0, ok: false, type: 'opaqueredirect', json: async () => { throw new SyntaxError('opaque'); } };
const OFFLINE = () => { throw new TypeError('Failed to fetch'); };

/** A fake network: `routes[url]` gives the answer (a function may throw like fetch offline); calls are kept. */
function network(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, ...init });
    const route = routes[url];
    if (route === undefined) throw new Error(`unexpected request ${url}`);
    return typeof route === 'function' ? route() : route;
  };
  return { fetch, calls };
}

function run(mark, routes, store = storage({ [PENDING_KEY]: JSON.stringify(mark) })) {
  const net = network(routes);
  const refused = [];
  const outcome = endSession({ mark, fetch: net.fetch, storage: store, csrfToken: () => TOKEN,
    csrfRefused: () => refused.push(1) });
  return { outcome, store, calls: net.calls, refused };
}

test('the message the phone shows while the sign-out waits', () => {
  assert.equal(PENDING_TEXT.fr,
    "Déconnexion enregistrée : elle sera terminée dès le retour du réseau. Ce téléphone ne montre plus rien de l'agent.");
  assert.ok(PENDING_TEXT.en.startsWith('Sign-out recorded'));
});

test('the mark holds the session tag only, and reads back', () => {
  const store = storage();
  assert.equal(pendingMark(store), null);
  recordMark(TAG, store);
  assert.deepEqual(JSON.parse(store.getItem(PENDING_KEY)), { session: TAG });
  assert.deepEqual(pendingMark(store), { session: TAG });
  recordMark(null, store);
  assert.deepEqual(pendingMark(store), { session: null });
  clearMark(store);
  assert.equal(pendingMark(store), null);
});

test('an unreadable mark is still a sign-out to finish (any session); no storage means none', () => {
  assert.deepEqual(pendingMark(storage({ [PENDING_KEY]: '{oops' })), { session: null });
  const broken = { getItem: () => { throw new Error('SecurityError'); } };
  assert.equal(pendingMark(broken), null);
  assert.throws(() => recordMark(TAG, { setItem: () => { throw new Error('QuotaExceededError'); } }));
});

test('a scanner page of another session drops the mark; the same session, or a page without a tag, keeps it', () => {
  const store = storage({ [PENDING_KEY]: JSON.stringify({ session: TAG }) });
  assert.deepEqual(markForPage(TAG, store), { session: TAG });
  assert.deepEqual(markForPage(null, store), { session: TAG });
  assert.equal(markForPage(OTHER, store), null);
  assert.equal(store.getItem(PENDING_KEY), null);
  const unknown = storage({ [PENDING_KEY]: JSON.stringify({ session: null }) });
  assert.deepEqual(markForPage(OTHER, unknown), { session: null }); // unknown session: the server decides
});

test('offline: nothing is ended, the mark stays', async () => {
  const r = run({ session: TAG }, { [SESSION_URL]: OFFLINE });
  assert.equal(await r.outcome, 'waiting');
  assert.deepEqual(pendingMark(r.store), { session: TAG });
  assert.deepEqual(r.calls.map((c) => c.url), [SESSION_URL]);
});

test('back online: the session named is ended with the CSRF token as the form sends it, then the mark goes', async () => {
  const r = run({ session: TAG }, { [SESSION_URL]: answer(200, { session: TAG }), [SIGNOUT_URL]: REDIRECT });
  assert.equal(await r.outcome, 'ended');
  assert.equal(pendingMark(r.store), null);
  const [probe, post] = r.calls;
  assert.equal(probe.url, SESSION_URL);
  assert.equal(probe.cache, 'no-store');
  assert.equal(probe.credentials, 'same-origin');
  assert.equal(post.url, SIGNOUT_URL);
  assert.equal(post.method, 'POST');
  assert.equal(post.redirect, 'manual'); // the 303 is the answer: the home page is not fetched
  assert.equal(post.credentials, 'same-origin');
  assert.equal(post.headers['x-csrftoken'], TOKEN);
  assert.equal(post.headers['Content-Type'], 'application/x-www-form-urlencoded');
  assert.equal(new URLSearchParams(post.body).get('_csrf_token'), TOKEN);
});

test('the same phone, offline then online: waiting, then ended', async () => {
  let online = false;
  const store = storage();
  recordMark(TAG, store);
  const routes = {
    [SESSION_URL]: () => (online ? answer(200, { session: TAG }) : OFFLINE()),
    [SIGNOUT_URL]: () => (online ? REDIRECT : OFFLINE()),
  };
  const net = network(routes);
  const attempt = () => endSession({ mark: pendingMark(store), fetch: net.fetch, storage: store, csrfToken: () => TOKEN });
  assert.equal(await attempt(), 'waiting');
  assert.equal(await attempt(), 'waiting');
  online = true;
  assert.equal(await attempt(), 'ended');
  assert.equal(pendingMark(store), null);
  assert.equal(net.calls.filter((c) => c.url === SIGNOUT_URL).length, 1);
});

test('a session already expired or signed out: the mark goes, nothing is posted', async () => {
  for (const probe of [answer(401, { code: 'not_authenticated' }), REDIRECT]) {
    const r = run({ session: TAG }, { [SESSION_URL]: probe });
    assert.equal(await r.outcome, 'ended');
    assert.equal(pendingMark(r.store), null);
    assert.deepEqual(r.calls.map((c) => c.url), [SESSION_URL]);
  }
});

test('another session signed in since (a new sign-in replaced the cookie): left alone, the mark goes', async () => {
  const r = run({ session: TAG }, { [SESSION_URL]: answer(200, { session: OTHER }) });
  assert.equal(await r.outcome, 'other');
  assert.equal(pendingMark(r.store), null);
  assert.deepEqual(r.calls.map((c) => c.url), [SESSION_URL]);
});

test('a mark without a tag (signed out from another page of the site) ends whatever session the phone holds', async () => {
  const r = run({ session: null }, { [SESSION_URL]: answer(200, { session: OTHER }), [SIGNOUT_URL]: REDIRECT });
  assert.equal(await r.outcome, 'ended');
  assert.equal(r.calls.at(-1).url, SIGNOUT_URL);
});

test('the server in trouble or the token refused: the mark stays for the next try', async () => {
  const down = run({ session: TAG }, { [SESSION_URL]: answer(503) });
  assert.equal(await down.outcome, 'waiting');
  assert.deepEqual(pendingMark(down.store), { session: TAG });

  const lost = run({ session: TAG }, { [SESSION_URL]: answer(200, { session: TAG }), [SIGNOUT_URL]: OFFLINE });
  assert.equal(await lost.outcome, 'waiting');
  assert.deepEqual(pendingMark(lost.store), { session: TAG });

  const csrf = run({ session: TAG }, { [SESSION_URL]: answer(200, { session: TAG }), [SIGNOUT_URL]: answer(403) });
  assert.equal(await csrf.outcome, 'waiting');
  assert.deepEqual(pendingMark(csrf.store), { session: TAG });
  assert.equal(csrf.refused.length, 1); // the page drops its CSRF cookie: the next probe sets a fresh one
});

test('the session ending on its own between the probe and the sign-out still drops the mark', async () => {
  const r = run({ session: TAG }, { [SESSION_URL]: answer(200, { session: TAG }), [SIGNOUT_URL]: answer(401) });
  assert.equal(await r.outcome, 'ended');
  assert.equal(pendingMark(r.store), null);
});

test('the gate script of the scanner page reads the same mark; without a page nothing waits', async () => {
  const gate = await readFile(new URL('../../cirqliz/web/static/common/signout-gate.js', import.meta.url), 'utf8');
  assert.ok(gate.includes(`'${PENDING_KEY}'`));
  assert.equal(signOutWaiting(), false);
});
