/*
 * Runs before a page of a signed-in person is drawn (a classic script in its <head>, after the
 * <meta name="cirqliz-session">; no inline script under the CSP): with a sign-out of this session
 * waiting on the device (signout-pending.js, PENDING_KEY), the page is hidden from its first frame
 * (signout.css, scanner.css), so nothing of the person who signed out shows. signout-pending.js then
 * shows the message and finishes the sign-out. A mark for another session (someone signed in since)
 * is dropped here, so the new person's page shows at once.
 */
(() => {
  const KEY = 'cirqliz.signoutPending';
  try {
    const raw = window.localStorage.getItem(KEY);
    if (raw === null) return;
    const page = document.querySelector('meta[name="cirqliz-session"]')?.getAttribute('content') || null;
    let marked = null;
    try {
      marked = JSON.parse(raw)?.session || null;
    } catch (err) {
      // unreadable: still a sign-out to finish
    }
    if (marked && page && marked !== page) window.localStorage.removeItem(KEY);
    else document.documentElement.dataset.signoutPending = '1';
  } catch (err) {
    // No storage: no sign-out can have been recorded in it.
  }
})();
