/**
 * Signing out of a shared phone leaves nothing of the agent on it. Before a sign-out form
 * (POST /deconnexion) leaves — on the scanner page, or on any page of a signed-in agent — the
 * unsent check records are sent if the network allows; if some remain (offline), the agent is
 * asked whether to sign out anyway, which erases them. Then the scanner's caches (the page /scan
 * shows the agent's name) are deleted, its service worker unregistered and the check records
 * erased. The trust bundles stay: they are public and keep the rollback defence.
 * Like pro/pass-offline-signout.js for the professionals' passes.
 *
 * The sign-out itself, recorded on the phone when there is no network and finished when it comes
 * back, is common/signout-pending.js; this module adds the scanner's steps to it (onSignOut) and
 * names the scanner page's session (its settings carry the tag). common/signout-gate.js hides the
 * scanner page from its first frame while a sign-out waits.
 */

import { unsentChecksMessage } from './messages.js';
import { FORGET_WAIT_MS, PENDING_TEXT as COMMON_TEXT, onSignOut, setPageSession, within } from '../common/signout-pending.js';

export {
  PENDING_KEY, SESSION_URL, SIGNED_OUT_URL, SIGNOUT_URL, clearMark, endSession, markForPage, pendingMark, recordMark,
  signOutWaiting,
} from '../common/signout-pending.js';

export const CACHE_PREFIX = 'cirqliz-scanner-';
export const SCOPE = '/scan';
export const CHECKS_URL = '/scan/api/checks';
const UPLOAD_WAIT_MS = 5000;

/** The scanner's sentence after the common waiting message. */
export const AGENT_NOTE = Object.freeze({
  fr: "Ce téléphone ne montre plus rien de l'agent.",
  en: 'This phone no longer shows anything of the agent.',
});

/** What the phone shows while an agent's sign-out waits for the network. */
export const PENDING_TEXT = Object.freeze({
  fr: `${COMMON_TEXT.fr} ${AGENT_NOTE.fr}`,
  en: `${COMMON_TEXT.en} ${AGENT_NOTE.en}`,
});

/**
 * Whether to go on with a sign-out: unsent checks are sent first when possible; those left are
 * erased only if the agent says so.
 * @param {{pendingCount: () => Promise<number>, upload: () => Promise<unknown>,
 *   confirm: (question: string) => boolean, lang?: 'fr'|'en'}} steps
 * @returns {Promise<boolean>} false: the agent chose to keep the unsent checks (and the session)
 */
export async function askBeforeSignOut({ pendingCount, upload, confirm, lang = 'fr' }) {
  let unsent = await pendingCount().catch(() => 0);
  if (unsent > 0) {
    await within(upload(), UPLOAD_WAIT_MS);
    unsent = await pendingCount().catch(() => unsent);
  }
  return !(unsent > 0 && !confirm(unsentChecksMessage(unsent, lang)));
}

/**
 * The steps before a sign-out, with their effects given (the page passes the real ones, tests fakes).
 * @param {{pendingCount: () => Promise<number>, upload: () => Promise<unknown>,
 *   confirm: (question: string) => boolean, forget: () => Promise<unknown>, lang?: 'fr'|'en'}} steps
 * @returns {Promise<boolean>} whether to sign out (false: the agent chose to keep the unsent checks)
 */
export async function beforeSignOut({ forget, ...steps }) {
  if (!(await askBeforeSignOut(steps))) return false;
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

if (globalThis.document && globalThis.window) {
  try {
    // The scanner page names its session in its settings (it has no site header, so no <meta>).
    setPageSession(JSON.parse(document.getElementById('scanner-config')?.textContent ?? 'null')?.session ?? null);
  } catch {
    // unreadable settings: the page does not say, the server decides (endSession compares tags)
  }

  onSignOut({
    ask: (lang) => askBeforeSignOut({ pendingCount, upload, confirm: (q) => window.confirm(q), lang }),
    forget: forgetScanner,
    conceal: () => {
      if (stopScanner) {
        // The scanner runs in this page: stopped, and hidden (its code may still be writing to it).
        stopScanner();
        stopScanner = null;
        return true;
      }
      for (const el of document.querySelectorAll('#scanner-config, #scanner-labels')) el.remove();
      return false;
    },
    note: AGENT_NOTE,
  });
}
