/**
 * Signing out of a shared phone leaves nothing of the agent on it. Before a sign-out form
 * (POST /deconnexion) leaves — on the scanner page, or on any page of a signed-in agent — the
 * unsent check records are sent if the network allows; if some remain (offline), the agent is
 * asked whether to sign out anyway, which erases them. Then the scanner's caches (the page /scan
 * shows the agent's name) are deleted, its service worker unregistered and the check records
 * erased. The trust bundles stay: they are public and keep the rollback defence.
 * Like pro/pass-offline-signout.js for the professionals' passes.
 *
 * The session cookie is HttpOnly: only the server can end the session. So the sign-out is first
 * recorded on the phone (localStorage PENDING_KEY: the session's tag, no personal data), then sent
 * by script. Offline, the page says the sign-out will be finished when the network is back and
 * shows nothing of the agent; every later page that loads this module (the scanner, any page of an
 * agent) does the same, and ends the session as soon as the server answers (on load, on `online`,
 * and every RETRY_MS), then goes to the sign-in page. signout-gate.js hides the scanner page from
 * its first frame while a sign-out waits.
 */

import { unsentChecksMessage } from './messages.js';

export const CACHE_PREFIX = 'cirqliz-scanner-';
export const SCOPE = '/scan';
export const CHECKS_URL = '/scan/api/checks';
export const PENDING_KEY = 'cirqliz.scanner.signoutPending';
export const SESSION_URL = '/scan/api/session';
export const SIGNOUT_URL = '/deconnexion';
export const SIGNED_OUT_URL = '/connexion';
const CSRF_COOKIE = 'cirqliz_csrf';
const UPLOAD_WAIT_MS = 5000;
const FORGET_WAIT_MS = 3000;
const REQUEST_WAIT_MS = 10000;
const RETRY_MS = 10000;

/** What the phone shows while a sign-out waits for the network. */
export const PENDING_TEXT = Object.freeze({
  fr: "Déconnexion enregistrée : elle sera terminée dès le retour du réseau. Ce téléphone ne montre plus rien de l'agent.",
  en: 'Sign-out recorded: it will be completed as soon as the network is back. This phone no longer shows anything of the agent.',
});

/** `promise`, or nothing after `ms` milliseconds: a sign-out never hangs on the network or a disk. */
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([promise.catch(() => {}), late]).finally(() => clearTimeout(timer));
}

/**
 * The steps before a sign-out, with their effects given (the page passes the real ones, tests fakes).
 * @param {{pendingCount: () => Promise<number>, upload: () => Promise<unknown>,
 *   confirm: (question: string) => boolean, forget: () => Promise<unknown>, lang?: 'fr'|'en'}} steps
 * @returns {Promise<boolean>} whether to sign out (false: the agent chose to keep the unsent checks)
 */
export async function beforeSignOut({ pendingCount, upload, confirm, forget, lang = 'fr' }) {
  let unsent = await pendingCount().catch(() => 0);
  if (unsent > 0) {
    await within(upload(), UPLOAD_WAIT_MS);
    unsent = await pendingCount().catch(() => unsent);
  }
  if (unsent > 0 && !confirm(unsentChecksMessage(unsent, lang))) return false;
  await within(forget(), FORGET_WAIT_MS);
  return true;
}

/** Delete the scanner's caches, unregister its service worker and erase the check records. */
export async function forgetScanner() {
  const { clearChecks } = await import('./store.js');
  const work = [clearChecks()];
  if (globalThis.caches) {
    work.push(caches.keys().then((names) => Promise.all(
      names.filter((name) => name.startsWith(CACHE_PREFIX)).map((name) => caches.delete(name)))));
  }
  if (globalThis.navigator?.serviceWorker) {
    work.push(navigator.serviceWorker.getRegistrations().then((registrations) => Promise.all(
      registrations.filter((r) => new URL(r.scope).pathname.startsWith(SCOPE)).map((r) => r.unregister()))));
  }
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

// ---- the sign-out waiting on this phone ---------------------------------------------------------

/**
 * The sign-out recorded on this phone and not finished yet, or null.
 * @returns {{session: string|null}|null} `session`: the tag of the session to end (null: unknown, then
 *   whichever session the phone holds is ended — the safe side)
 */
export function pendingMark(storage = globalThis.localStorage) {
  let raw;
  try {
    raw = storage?.getItem(PENDING_KEY) ?? null;
  } catch {
    return null; // no storage: nothing can have been recorded in it
  }
  if (raw === null) return null;
  try {
    const session = JSON.parse(raw)?.session;
    return { session: typeof session === 'string' && session ? session : null };
  } catch {
    return { session: null }; // unreadable, but still a sign-out to finish
  }
}

/** Record a sign-out to finish (throws when the storage refuses: then nothing is recorded). */
export function recordMark(session, storage = globalThis.localStorage) {
  storage.setItem(PENDING_KEY, JSON.stringify({ session: session ?? null }));
}

/** Forget the recorded sign-out (finished, or its session is no longer this phone's). */
export function clearMark(storage = globalThis.localStorage) {
  try {
    storage?.removeItem(PENDING_KEY);
  } catch {
    // no storage: nothing to forget
  }
}

/**
 * The sign-out waiting for a page, or null. A page that names its session (the scanner) drops a mark
 * recorded for another session: a sign-in since then replaced that session's cookie on the phone.
 */
export function markForPage(pageSession, storage = globalThis.localStorage) {
  const mark = pendingMark(storage);
  if (mark?.session && pageSession && mark.session !== pageSession) {
    clearMark(storage);
    return null;
  }
  return mark;
}

/**
 * Try to end the session a sign-out was recorded for, and drop the mark once nothing is left to end.
 * @param {{mark: {session: string|null}, csrfToken: () => string|null, fetch?: typeof fetch,
 *   storage?: Storage, csrfRefused?: () => void}} args
 * @returns {Promise<'ended'|'other'|'waiting'>} 'ended': the session is over (by this request, or
 *   expired or signed out before); 'other': the phone now holds another session, left alone;
 *   'waiting': no answer (offline, server down, token refused): the mark stays, to try again
 */
export async function endSession({ mark, csrfToken, fetch = globalThis.fetch, storage = globalThis.localStorage,
  csrfRefused = () => {} }) {
  const limit = () => (AbortSignal.timeout ? { signal: AbortSignal.timeout(REQUEST_WAIT_MS) } : {});
  const done = (outcome) => {
    clearMark(storage);
    return outcome;
  };
  let probe;
  try {
    probe = await fetch(SESSION_URL, {
      credentials: 'same-origin', cache: 'no-store', redirect: 'manual', headers: { Accept: 'application/json' }, ...limit(),
    });
  } catch {
    return 'waiting';
  }
  // Expired or already signed out: the session middleware refuses it (401, or 303 to sign-in).
  if (probe.status === 401 || probe.type === 'opaqueredirect') return done('ended');
  if (!probe.ok) return 'waiting';
  let current;
  try {
    current = (await probe.json())?.session ?? null;
  } catch {
    return 'waiting';
  }
  if (mark.session && current !== mark.session) return done('other');
  // As the sign-out form does: the CSRF token (the cookie's value, which the probe has just set if it
  // was missing) in the x-csrftoken header, and in the form field for good measure.
  const token = csrfToken() ?? '';
  let answer;
  try {
    answer = await fetch(SIGNOUT_URL, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'manual',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', 'x-csrftoken': token },
      body: new URLSearchParams({ _csrf_token: token }).toString(),
      ...limit(),
    });
  } catch {
    return 'waiting';
  }
  // 303 to the home page: signed out; 401: the session ended on its own in between.
  if (answer.type === 'opaqueredirect' || answer.ok || answer.status === 401) return done('ended');
  if (answer.status === 403) csrfRefused();
  return 'waiting';
}

// ---- the page ------------------------------------------------------------------------------------

async function pendingCount() {
  const { countPending } = await import('./store.js');
  return countPending();
}

/** Send every unsent check (uploadChecks sends at most 200 at a time). */
async function upload() {
  const { uploadChecks } = await import('./sync.js');
  for (let round = 0; round < 50; round++) {
    if (!(await uploadChecks({ checksUrl: CHECKS_URL })) || !(await pendingCount())) return;
  }
}

let stopScanner = null;

/** The scanner page (app.js) registers how to stop itself: a sign-out waiting then hides it instead of removing it. */
export function onSignOutPending(stop) {
  stopScanner = stop;
}

let waitingOnLoad = false;

/** Whether this page must not show the scanner: a sign-out is waiting on the phone. */
export function signOutWaiting() {
  return waitingOnLoad;
}

if (globalThis.document) {
  const root = document.documentElement;
  const lang = () => (root.lang === 'en' ? 'en' : 'fr');
  const pageSession = (() => {
    try {
      return JSON.parse(document.getElementById('scanner-config')?.textContent ?? 'null')?.session ?? null;
    } catch {
      return null;
    }
  })();

  const cookieValue = (name) => {
    for (const part of document.cookie.split(';')) {
      const [key, ...value] = part.trim().split('=');
      if (key === name) return decodeURIComponent(value.join('='));
    }
    return null;
  };
  const csrfToken = () => cookieValue(CSRF_COOKIE)
    ?? document.querySelector(`form[action="${SIGNOUT_URL}"] input[name="_csrf_token"]`)?.value ?? null;
  // A token refused (the server's key changed?): the next probe, a GET, sets a fresh cookie.
  const csrfRefused = () => { document.cookie = `${CSRF_COOKIE}=; Max-Age=0; path=/`; };

  /** Show the sign-out message and nothing else: no name, no scanner, no site navigation. */
  const showPending = () => {
    root.dataset.signoutPending = '1';
    let box = document.getElementById('signout-pending');
    if (!box) {
      box = document.createElement('main');
      box.id = 'signout-pending';
      box.className = 'screen';
      const status = document.createElement('div');
      status.setAttribute('role', 'status');
      const text = document.createElement('h1'); // the page's only content, so its heading
      text.textContent = PENDING_TEXT[lang()];
      status.append(text);
      box.append(status);
    }
    if (stopScanner) {
      // The scanner runs in this page: stopped, and hidden (its code may still be writing to it).
      stopScanner();
      stopScanner = null;
      for (const el of document.body.children) if (el !== box) el.hidden = true;
      document.body.append(box);
    } else {
      document.body.replaceChildren(box);
      for (const el of document.querySelectorAll('#scanner-config, #scanner-labels')) el.remove();
    }
  };

  let attempting = null;
  let leavingPage = false; // once the page is on its way out, a late `online` or tick must not redirect it elsewhere
  const attempt = () => {
    if (attempting || leavingPage) return attempting;
    const mark = pendingMark();
    if (!mark) {
      leavingPage = true;
      window.location.replace(SIGNED_OUT_URL); // finished by another tab
      return null;
    }
    attempting = endSession({ mark, csrfToken, csrfRefused })
      .then(async (outcome) => {
        root.dataset.signoutState = outcome;
        if (outcome === 'waiting') return;
        leavingPage = true;
        if (outcome === 'other') {
          window.location.reload();
          return;
        }
        await within(forgetScanner(), FORGET_WAIT_MS); // in case the first cleaning did not finish
        window.location.replace(SIGNED_OUT_URL);
      })
      .finally(() => { attempting = null; });
    return attempting;
  };

  let watching = false;
  const resume = () => {
    showPending();
    if (watching) return;
    watching = true;
    window.addEventListener('online', attempt);
    // `online` alone is not enough: a network that is up while the server cannot be reached says nothing.
    setInterval(attempt, RETRY_MS);
    attempt();
  };

  let leaving = false;
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.scannerForgotten) return;
    if (new URL(form.action, window.location.href).pathname !== SIGNOUT_URL) return;
    event.preventDefault();
    if (leaving) return;
    leaving = true;
    beforeSignOut({ pendingCount, upload, forget: forgetScanner, confirm: (q) => window.confirm(q), lang: lang() })
      .then(async (go) => {
        if (!go) return;
        try {
          recordMark(pageSession);
        } catch {
          // Nowhere to record it: the plain form, as before (offline, the browser's error page).
          form.dataset.scannerForgotten = '1';
          form.submit();
          return;
        }
        const outcome = await endSession({ mark: { session: pageSession }, csrfToken, csrfRefused });
        if (outcome === 'waiting') resume();
        else window.location.assign('/'); // where the form's answer leads
      })
      .finally(() => { leaving = false; });
  });

  // Another tab signs out: this one stops showing the agent too.
  window.addEventListener('storage', (event) => {
    if (event.key === PENDING_KEY && event.newValue !== null) resume();
  });

  if (markForPage(pageSession)) {
    waitingOnLoad = true;
    // After the other modules of the page have run (app.js reads the page's settings first).
    setTimeout(resume, 0);
  } else {
    delete root.dataset.signoutPending; // set by signout-gate.js for a mark just dropped
  }
}
