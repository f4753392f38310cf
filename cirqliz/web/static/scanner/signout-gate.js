/*
 * Runs before the scanner page is drawn (a classic script in its <head>; no inline script under the
 * CSP): with a sign-out waiting on this phone (signout.js, PENDING_KEY), the page is hidden from its
 * first frame (scanner.css), so the agent's name never shows. signout.js then shows the message and
 * finishes the sign-out, or lifts this when the mark was for an earlier session.
 */
try {
  if (window.localStorage.getItem('cirqliz.scanner.signoutPending') !== null) {
    document.documentElement.dataset.signoutPending = '1';
  }
} catch (err) {
  // No storage: no sign-out can have been recorded in it.
}
