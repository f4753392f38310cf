// The sign-out that holds without network, shared by every page of a signed-in person
// (cirqliz/web/static/common/signout-pending.js, signout-gate.js): the sides of the site (scanner,
// professionals' passes) add their steps; the gate hides a page only for a sign-out of its own session.
// The browser side is in tests/e2e/test_pro_signout_pending_e2e.py and test_scanner_signout_e2e.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import vm from 'node:vm';

import {
  FORGET_WAIT_MS, PENDING_KEY, PENDING_TEXT, SESSION_URL, domContentLoadedPast, pendingText, prepareSignOut,
  setPageSession, signOutWaiting,
} from '../../cirqliz/web/static/common/signout-pending.js';
import * as scanner from '../../cirqliz/web/static/scanner/signout.js';
import { PASSES_CACHE, PASSES_SCOPE, forgetPasses } from '../../cirqliz/web/static/pro/pass-offline-signout.js';

const TAG = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);

function storage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => { map.set(key, String(value)); },
    removeItem: (key) => { map.delete(key); },
  };
}

/** Set globals for the time of `fn` (Node has no localStorage, caches or service workers). */
async function withGlobals(values, fn) {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]));
  for (const [key, value] of Object.entries(values)) {
    Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
  }
  try {
    return await fn();
  } finally {
    for (const [key, descriptor] of Object.entries(saved)) {
      if (descriptor) Object.defineProperty(globalThis, key, descriptor);
      else delete globalThis[key];
    }
  }
}

test('the professionals read the sentence asked for; the agents get one more', () => {
  assert.equal(PENDING_TEXT.fr, 'Déconnexion enregistrée : elle sera terminée dès le retour du réseau.');
  assert.equal(pendingText('fr', []), PENDING_TEXT.fr);
  assert.equal(scanner.PENDING_TEXT.fr, `${PENDING_TEXT.fr} Ce téléphone ne montre plus rien de l'agent.`);
  assert.equal(pendingText('fr', [scanner.AGENT_NOTE]), scanner.PENDING_TEXT.fr);
  assert.equal(pendingText('en', [scanner.AGENT_NOTE]), scanner.PENDING_TEXT.en);
});

test('one mark and one probe for every side: the scanner re-exports them, the probe is not under /scan', () => {
  assert.equal(scanner.PENDING_KEY, PENDING_KEY);
  assert.equal(scanner.SESSION_URL, SESSION_URL);
  assert.equal(SESSION_URL, '/moi/session'); // reachable by professionals too
  assert.equal(PENDING_KEY, 'cirqliz.signoutPending');
});

test('before a sign-out: every question first, a "no" forgets nothing; then every side forgets', async () => {
  const seen = [];
  const side = (name, answer) => ({
    ask: answer === undefined ? undefined : async () => { seen.push(`ask ${name}`); return answer; },
    forget: async () => { seen.push(`forget ${name}`); },
  });
  assert.equal(await prepareSignOut('fr', [side('passes'), side('scanner', false)]), false);
  assert.deepEqual(seen, ['ask scanner']);
  seen.length = 0;
  assert.equal(await prepareSignOut('fr', [side('passes'), side('scanner', true)]), true);
  assert.deepEqual(seen.slice(0, 1), ['ask scanner']);
  assert.deepEqual(new Set(seen.slice(1)), new Set(['forget passes', 'forget scanner']));
});

test('a side that fails or hangs while forgetting does not keep the person signed in', async () => {
  const started = Date.now();
  const go = await prepareSignOut('fr', [
    { ask: async () => { throw new Error('IndexedDB indisponible'); } },
    { forget: async () => { throw new Error('QuotaExceededError'); } },
    { forget: () => new Promise(() => {}) },
  ]);
  assert.equal(go, true);
  const took = Date.now() - started;
  assert.ok(took >= FORGET_WAIT_MS - 50 && took < FORGET_WAIT_MS + 1000, took);
});

test('a page waits only for a sign-out of its own session (or of an unknown one)', async () => {
  const store = storage({ [PENDING_KEY]: JSON.stringify({ session: TAG }) });
  await withGlobals({ localStorage: store }, () => {
    setPageSession(TAG);
    assert.equal(signOutWaiting(), true);
    setPageSession(OTHER); // someone signed in since: the mark is dropped, the page shows
    assert.equal(signOutWaiting(), false);
    assert.equal(store.getItem(PENDING_KEY), null);
    store.setItem(PENDING_KEY, JSON.stringify({ session: null }));
    assert.equal(signOutWaiting(), true); // the server decides which session it was
  });
  setPageSession(null);
});

test('the page starts at DOMContentLoaded: a module runs while the page is already interactive', () => {
  const doc = (readyState) => ({ readyState });
  const timing = (domContentLoadedEventStart) => ({ getEntriesByType: (type) => (type === 'navigation'
    ? [{ domContentLoadedEventStart }] : []) });
  // Loaded with the page: later modules may still be on their way, the event has not fired yet.
  assert.equal(domContentLoadedPast(doc('interactive'), timing(0)), false);
  assert.equal(domContentLoadedPast(doc('loading'), timing(0)), false);
  // Imported later (pass-offline.js): the event is past, or firing.
  assert.equal(domContentLoadedPast(doc('interactive'), timing(1234.5)), true);
  assert.equal(domContentLoadedPast(doc('complete'), timing(1234.5)), true);
  // Without navigation timing: only a page loaded completely is known to be past it (else wait for `load`).
  assert.equal(domContentLoadedPast(doc('interactive'), undefined), false);
  assert.equal(domContentLoadedPast(doc('interactive'), { getEntriesByType: () => [] }), false);
  assert.equal(domContentLoadedPast(doc('complete'), undefined), true);
});

test("the professionals' passes are forgotten: their cache and their service worker only", async () => {
  const deleted = [];
  const unregistered = [];
  const registration = (path) => ({ scope: `https://cirqliz.test${path}`, unregister: async () => unregistered.push(path) });
  await withGlobals({
    caches: { delete: async (name) => { deleted.push(name); return true; } },
    navigator: { serviceWorker: { getRegistrations: async () => [registration(PASSES_SCOPE), registration('/scan')] } },
  }, forgetPasses);
  assert.deepEqual(deleted, [PASSES_CACHE]);
  assert.deepEqual(unregistered, [PASSES_SCOPE]); // the scanner's is the scanner module's business
});

// ---- the gate, run as the browser runs it (a classic script, before the page is drawn) ----

const GATE = await readFile(new URL('../../cirqliz/web/static/common/signout-gate.js', import.meta.url), 'utf8');

function runGate({ mark, page }) {
  const store = storage(mark === undefined ? {} : { [PENDING_KEY]: mark });
  const root = { dataset: {} };
  const document = {
    documentElement: root,
    querySelector: (selector) => (selector === 'meta[name="cirqliz-session"]' && page !== undefined
      ? { getAttribute: (name) => (name === 'content' ? page : null) } : null),
  };
  vm.runInNewContext(GATE, { window: { localStorage: store }, document });
  return { hidden: root.dataset.signoutPending === '1', mark: store.getItem(PENDING_KEY) };
}

test('the gate hides the page for a sign-out of this session, unknown session, or a page without a tag', () => {
  const mine = JSON.stringify({ session: TAG });
  assert.deepEqual(runGate({ mark: mine, page: TAG }), { hidden: true, mark: mine });
  assert.deepEqual(runGate({ mark: JSON.stringify({ session: null }), page: TAG }).hidden, true);
  assert.deepEqual(runGate({ mark: '{oops', page: TAG }).hidden, true);
  assert.deepEqual(runGate({ mark: mine }), { hidden: true, mark: mine }); // the scanner page: its module decides
  assert.deepEqual(runGate({ mark: mine, page: '' }), { hidden: true, mark: mine });
});

test('the gate lets the page of a later session show at once, and drops the old mark', () => {
  assert.deepEqual(runGate({ mark: JSON.stringify({ session: TAG }), page: OTHER }), { hidden: false, mark: null });
  assert.deepEqual(runGate({ page: TAG }), { hidden: false, mark: null });
});

test('the gate survives a browser without storage', () => {
  const root = { dataset: {} };
  const window = { get localStorage() { throw new Error('SecurityError'); } };
  vm.runInNewContext(GATE, { window, document: { documentElement: root, querySelector: () => null } });
  assert.deepEqual(root.dataset, {});
});
