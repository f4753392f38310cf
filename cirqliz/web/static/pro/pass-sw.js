/**
 * Service worker of the pass pages (served at /pro/laissez-passer/sw.js, scope /pro/laissez-passer/
 * only): a driver in an underground car park can still show a pass opened once on this phone.
 *
 * - The phone page (pass-offline.js) puts itself and its files in the cache `cirqliz-passes` when it
 *   is viewed; nothing else is kept, and nothing outside the pass pages is ever controlled.
 * - Pages of the scope: network first, with a short wait; the cached copy only when there is no
 *   answer. An answer other than the page itself (the pass was revoked, suspended or expired: 4xx;
 *   someone else signed in: 404; nobody signed in: redirection to /connexion) removes the copy — and
 *   on a redirection to sign-in, every copy: the passes of a person who signed out are not kept.
 * - Files the cached pages use (CSS, JS): the cached copy when the network does not answer.
 * - Signing out (pass-offline-signout.js, on every page of a professional) deletes the cache and
 *   this service worker.
 */

const CACHE = 'cirqliz-passes';
const NETWORK_WAIT_MS = 4000;

self.addEventListener('install', () => { self.skipWaiting(); });

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

function fromNetwork(request) {
  // A network that never answers (a weak signal underground) counts as no network.
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('délai dépassé')), NETWORK_WAIT_MS);
    fetch(request).then((response) => { clearTimeout(timer); resolve(response); },
      (err) => { clearTimeout(timer); reject(err); });
  });
}

function signInPage(response) {
  return response.redirected && new URL(response.url).pathname === '/connexion';
}

async function page(request) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fromNetwork(request);
  } catch (err) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    return offlinePage();
  }
  if (response.type === 'opaqueredirect' || signInPage(response)) {
    // A pass page redirects only to sign in: nobody is signed in any more on this browser.
    await caches.delete(CACHE);
  } else if (!response.ok || response.redirected) {
    await cache.delete(request, { ignoreVary: true });
  } else if (await cache.match(request, { ignoreVary: true })) {
    await cache.put(request, response.clone()); // keep the copy fresh
  }
  return response;
}

async function file(request) {
  try {
    return await fromNetwork(request);
  } catch (err) {
    const cached = await caches.match(request, { ignoreVary: true, cacheName: CACHE });
    if (cached) return cached;
    throw err;
  }
}

function offlinePage() {
  const html = '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
    + '<meta name="viewport" content="width=device-width, initial-scale=1">'
    + '<title>Hors ligne — CirQliz</title></head><body>'
    + '<h1>Pas de réseau</h1><p>Ce laissez-passer n\'a pas été ouvert sur ce téléphone quand le réseau '
    + 'était disponible : il ne peut pas être affiché hors ligne.</p></body></html>';
  return new Response(html, { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (url.pathname.startsWith(self.registration.scope.replace(self.location.origin, ''))) {
      event.respondWith(page(request));
    }
    return;
  }
  event.respondWith(file(request));
});

self.addEventListener('message', (event) => {
  if (event.data === 'oublier') {
    event.waitUntil(caches.delete(CACHE));
  }
});
