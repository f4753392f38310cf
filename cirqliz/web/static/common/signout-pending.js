/**
 * A sign-out that holds without network, on every page of a signed-in person (base.html) and on the
 * scanner. The session cookie is HttpOnly: only the server can end the session. So the sign-out form
 * (POST /deconnexion) is taken over: first each side forgets what it keeps on the device (registered
 * with onSignOut: the scanner's caches and checks, the professionals' kept passes), then the sign-out
 * is recorded (localStorage PENDING_KEY: the session's tag, nothing personal) and sent by script.
 * Offline, the page says the sign-out will be finished when the network is back and shows nothing
 * else; every later page that loads this module does the same, and ends the session as soon as the
 * server answers (on load, on `online` and every RETRY_MS), then goes to the sign-in page.
 *
 * The session's tag comes from the page (<meta name="cirqliz-session">, or setPageSession): a mark
 * for another session (someone signed in since) is dropped, never used against the new session.
 * signout-gate.js hides a page from its first frame while a sign-out waits.
 */

export const PENDING_KEY = 'cirqliz.signoutPending';
export const SESSION_URL = '/moi/session';
export const SIGNOUT_URL = '/deconnexion';
export const SIGNED_OUT_URL = '/connexion';
export const SESSION_META = 'cirqliz-session';
const CSRF_COOKIE = 'cirqliz_csrf';
export const FORGET_WAIT_MS = 3000;
const REQUEST_WAIT_MS = 10000;
const RETRY_MS = 10000;

/** What the page shows while a sign-out waits for the network (each side may add a sentence). */
export const PENDING_TEXT = Object.freeze({
  fr: 'Déconnexion enregistrée : elle sera terminée dès le retour du réseau.',
  en: 'Sign-out recorded: it will be completed as soon as the network is back.',
});

/** `promise`, or nothing after `ms` milliseconds: a sign-out never hangs on the network or a disk. */
export function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms); });
  return Promise.race([Promise.resolve(promise).catch(() => {}), late]).finally(() => clearTimeout(timer));
}

// ---- the mark ------------------------------------------------------------------------------------

/**
 * The sign-out recorded on this device and not finished yet, or null.
 * @returns {{session: string|null}|null} `session`: the tag of the session to end (null: unknown, then
 *   whichever session the device holds is ended — the safe side)
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

/** Forget the recorded sign-out (finished, or its session is no longer this device's). */
export function clearMark(storage = globalThis.localStorage) {
  try {
    storage?.removeItem(PENDING_KEY);
  } catch {
    // no storage: nothing to forget
  }
}

/**
 * The sign-out waiting for a page, or null. A page that names its session drops a mark recorded for
 * another session: a sign-in since then replaced that session's cookie on the device.
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
 *   expired or signed out before); 'other': the device now holds another session, left alone;
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

// ---- what each side of the site adds -------------------------------------------------------------

/**
 * @typedef {object} SignOutHook
 * @property {(lang: 'fr'|'en') => Promise<boolean>} [ask] before anything is forgotten; false keeps
 *   the person signed in (the scanner asks about unsent checks)
 * @property {() => Promise<unknown>} [forget] erase what this side keeps on the device (at sign-out,
 *   and again when a waiting sign-out ends)
 * @property {() => boolean} [conceal] stop what runs in the page; true: its elements are then hidden
 *   rather than removed (its code may still be writing to them)
 * @property {{fr: string, en: string}} [note] a sentence added to the waiting message
 */

/** @type {SignOutHook[]} */
const hooks = [];
let pageSessionTag = null;

/** Register what a side of the site does at sign-out (modules of the page, before it has loaded). */
export function onSignOut(hook) {
  hooks.push(hook);
}

/** The page names its session another way than the <meta> (the scanner, in its settings). */
export function setPageSession(tag) {
  pageSessionTag = tag || null;
}

/** The tag of the session that rendered this page, or null when the page does not say. */
export function pageSession() {
  if (pageSessionTag) return pageSessionTag;
  return globalThis.document?.querySelector(`meta[name="${SESSION_META}"]`)?.getAttribute('content') || null;
}

/** Whether this page must show nothing but the waiting message: a sign-out of its session waits. */
export function signOutWaiting() {
  return markForPage(pageSession()) !== null;
}

/** The waiting message in `lang`, with the sentences the sides of the page add. */
export function pendingText(lang, notes = hooks.map((hook) => hook.note).filter(Boolean)) {
  return [PENDING_TEXT[lang], ...notes.map((note) => note[lang])].join(' ');
}

/** Run every side's steps before a sign-out: the questions first, then the forgetting (bounded in time). */
export async function prepareSignOut(lang, sides = hooks) {
  for (const side of sides) {
    if (side.ask && !(await side.ask(lang).catch(() => true))) return false;
  }
  await within(Promise.allSettled(sides.map((side) => side.forget?.())), FORGET_WAIT_MS);
  return true;
}

/**
 * Whether the page's DOMContentLoaded has fired (or is firing): the navigation timing says so; without
 * it, only a page loaded completely is known to be past it.
 */
export function domContentLoadedPast(doc, perf) {
  if (doc.readyState === 'loading') return false;
  if (doc.readyState === 'complete') return true;
  let entry;
  try {
    entry = perf?.getEntriesByType?.('navigation')?.[0];
  } catch {
    entry = undefined;
  }
  return entry ? entry.domContentLoadedEventStart > 0 : false;
}

// ---- the page ------------------------------------------------------------------------------------

if (globalThis.document && globalThis.window) {
  const root = document.documentElement;
  const lang = () => (root.lang === 'en' ? 'en' : 'fr');

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

  /** Show the sign-out message and nothing else: no name, no data, no site navigation. */
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
      text.textContent = pendingText(lang());
      status.append(text);
      box.append(status);
    }
    const running = hooks.map((hook) => hook.conceal?.() ?? false).some(Boolean);
    if (running) {
      for (const el of document.body.children) if (el !== box) el.hidden = true;
      document.body.append(box);
    } else {
      document.body.replaceChildren(box);
    }
  };

  const forgetAll = () => within(Promise.allSettled(hooks.map((hook) => hook.forget?.())), FORGET_WAIT_MS);

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
        await forgetAll(); // in case the first forgetting did not finish
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
    if (!(form instanceof HTMLFormElement) || form.dataset.signoutPlain) return;
    if (new URL(form.action, window.location.href).pathname !== SIGNOUT_URL) return;
    event.preventDefault();
    if (leaving) return;
    leaving = true;
    prepareSignOut(lang())
      .then(async (go) => {
        if (!go) return;
        const session = pageSession();
        try {
          recordMark(session);
        } catch {
          // Nowhere to record it: the plain form, as before (offline, the browser's error page).
          form.dataset.signoutPlain = '1';
          form.submit();
          return;
        }
        const outcome = await endSession({ mark: { session }, csrfToken, csrfRefused });
        if (outcome === 'waiting') resume();
        else window.location.assign('/'); // where the form's answer leads
      })
      .finally(() => { leaving = false; });
  });

  // Another tab signs out: this one stops showing the person too.
  window.addEventListener('storage', (event) => {
    if (event.key === PENDING_KEY && event.newValue !== null) resume();
  });

  // Once every module of the page has run (they register their steps and may name the session): at
  // DOMContentLoaded, which comes after the page's last module. A module script runs with readyState
  // already 'interactive' while later modules may still be loading, so a timer alone would start too
  // early; yet this module can also be imported later (pass-offline.js), once that event is past.
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    if (signOutWaiting()) resume();
    else delete root.dataset.signoutPending; // set by signout-gate.js for a mark just dropped
  };
  if (domContentLoadedPast(document, globalThis.performance)) setTimeout(start, 0);
  else {
    document.addEventListener('DOMContentLoaded', start, { once: true });
    // Without navigation timing, an 'interactive' page may be past the event: `load` comes after it.
    window.addEventListener('load', start, { once: true });
  }
}
