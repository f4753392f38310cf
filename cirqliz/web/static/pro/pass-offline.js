/**
 * The phone pass page keeps itself for use without network (pro/pass_phone.html): it registers the
 * pass pages' service worker (scope /pro/laissez-passer/ only) and puts this page and the files it
 * uses in the cache `cirqliz-passes`. The status line says whether the copy is kept; its texts come
 * from the page (data-ready, data-failed, data-unsupported), in the page's language.
 * `document.body.dataset.offline` is 'pret' once the copy is kept, 'echec' otherwise (for the tests).
 * A sign-out waiting on this browser (common/signout-pending.js): nothing is kept, and that module
 * shows its message instead of the pass and finishes the sign-out (or lets the page be, if it was for
 * an earlier session).
 */
(() => {
  const CACHE = 'cirqliz-passes';
  const status = document.getElementById('hors-ligne');

  function say(key, state) {
    if (status) status.textContent = status.dataset[key] || '';
    document.body.dataset.offline = state;
  }

  function pageFiles() {
    const urls = [window.location.pathname + window.location.search];
    document.querySelectorAll('link[rel="stylesheet"][href], script[src]').forEach((element) => {
      const url = new URL(element.href || element.src, window.location.href);
      if (url.origin === window.location.origin) urls.push(url.pathname + url.search);
    });
    return [...new Set(urls)];
  }

  async function keep() {
    if (!('serviceWorker' in navigator) || !('caches' in window)) {
      say('unsupported', 'echec');
      return;
    }
    try {
      await navigator.serviceWorker.register('/pro/laissez-passer/sw.js', { scope: '/pro/laissez-passer/' });
    } catch (err) {
      // Already registered and offline now: the update check fails, the worker in place goes on.
    }
    try {
      const cache = await caches.open(CACHE);
      await cache.addAll(pageFiles());
      say('ready', 'pret');
    } catch (err) {
      const kept = await caches.match(window.location.pathname + window.location.search,
        { cacheName: CACHE, ignoreVary: true });
      if (kept) say('ready', 'pret');
      else say('failed', 'echec');
    }
  }

  function signOutWaiting() {
    try {
      return window.localStorage.getItem('cirqliz.signoutPending') !== null;
    } catch (err) {
      return false; // no storage: no sign-out can have been recorded in it
    }
  }

  if (signOutWaiting()) {
    document.body.dataset.offline = 'attente';
    // Without that module (offline, not kept), still nothing of the person who signed out.
    import('/static/common/signout-pending.js').catch(() => document.body.replaceChildren());
  } else {
    keep();
  }
})();
