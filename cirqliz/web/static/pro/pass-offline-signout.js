/**
 * Signing out forgets the passes kept on this browser for use without network (pass-offline.js):
 * before the sign-out leaves, the cache `cirqliz-passes` is deleted and the pass pages' service
 * worker unregistered, so the next person on this browser never sees them. Loaded on the pages of a
 * signed-in professional. The sign-out itself is common/signout-pending.js: made without network, it
 * is recorded on the browser, the page shows only « Déconnexion enregistrée : elle sera terminée dès
 * le retour du réseau. », and the server session is ended as soon as the network answers.
 */

import { onSignOut } from '../common/signout-pending.js';

export const PASSES_CACHE = 'cirqliz-passes';
export const PASSES_SCOPE = '/pro/laissez-passer/';

/** Delete the kept passes and unregister the pass pages' service worker. */
export async function forgetPasses() {
  const work = [];
  if (globalThis.caches) work.push(caches.delete('cirqliz-passes'));
  if (globalThis.navigator?.serviceWorker) {
    work.push(navigator.serviceWorker.getRegistrations().then((registrations) => Promise.all(
      registrations.filter((r) => new URL(r.scope).pathname === PASSES_SCOPE).map((r) => r.unregister()))));
  }
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

if (globalThis.document && globalThis.window) onSignOut({ forget: forgetPasses });
