/**
 * Signing out of a shared phone leaves nothing of the agent on it. Before a sign-out form
 * (POST /deconnexion) leaves — on the scanner page, or on any page of a signed-in agent — the
 * unsent check records are sent if the network allows; if some remain (offline), the agent is
 * asked whether to sign out anyway, which erases them. Then the scanner's caches (the page /scan
 * shows the agent's name) are deleted, its service worker unregistered and the check records
 * erased. The trust bundles stay: they are public and keep the rollback defence.
 * Like pro/pass-offline-signout.js for the professionals' passes.
 */

import { unsentChecksMessage } from './messages.js';

export const CACHE_PREFIX = 'cirqliz-scanner-';
export const SCOPE = '/scan';
export const CHECKS_URL = '/scan/api/checks';
const UPLOAD_WAIT_MS = 5000;
const FORGET_WAIT_MS = 3000;

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

if (globalThis.document) {
  let leaving = false;
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.scannerForgotten) return;
    if (new URL(form.action, window.location.href).pathname !== '/deconnexion') return;
    event.preventDefault();
    if (leaving) return;
    leaving = true;
    const lang = document.documentElement.lang === 'en' ? 'en' : 'fr';
    beforeSignOut({ pendingCount, upload, forget: forgetScanner, confirm: (q) => window.confirm(q), lang })
      .then((go) => {
        if (!go) return;
        form.dataset.scannerForgotten = '1';
        form.submit();
      })
      .finally(() => { leaving = false; });
  });
}
