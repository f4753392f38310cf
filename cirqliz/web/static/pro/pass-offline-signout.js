/**
 * Signing out forgets the passes kept on this browser for use without network (pass-offline.js):
 * before the sign-out form leaves, the cache `cirqliz-passes` is deleted and the pass pages'
 * service worker unregistered, so the next person on this browser never sees them. Loaded on the
 * pages of a signed-in professional; the sign-out goes ahead after at most two seconds whatever
 * happens.
 */
(() => {
  const SCOPE = '/pro/laissez-passer/';
  const MAX_WAIT_MS = 2000;

  async function forget() {
    if ('caches' in window) await caches.delete('cirqliz-passes');
    if ('serviceWorker' in navigator) {
      const registrations = await navigator.serviceWorker.getRegistrations();
      await Promise.all(registrations.filter((r) => new URL(r.scope).pathname === SCOPE)
        .map((r) => r.unregister()));
    }
  }

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (new URL(form.action, window.location.href).pathname !== '/deconnexion' || form.dataset.forgotten) return;
    event.preventDefault();
    const wait = new Promise((resolve) => { setTimeout(resolve, MAX_WAIT_MS); });
    Promise.race([forget().catch(() => {}), wait]).then(() => {
      form.dataset.forgotten = '1';
      form.submit();
    });
  });
})();
