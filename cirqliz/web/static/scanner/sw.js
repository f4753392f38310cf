/**
 * Service worker of the scanner (served at /scan/sw.js with scope /scan; the server prepends
 * VERSION and ASSETS, the list of every file the scanner needs).
 *
 * - install: pre-cache ASSETS (the page /scan with the agent's session cookie, the JS modules,
 *   CSS, icons, the zxing-wasm module and its .wasm);
 * - navigations to /scan: network first (fresh page and session check), the cached page when
 *   there is no network;
 * - the scanner's static files (and the common sign-out ones it uses), /vendor: cache first (the
 *   cache name carries VERSION, renewed on change);
 * - the API (/scan/api/…, bundle endpoints): network only — the page keeps the last verified
 *   bundle and the pending checks in IndexedDB, which is what works offline.
 */
/* global VERSION, ASSETS */

const CACHE = `cirqliz-scanner-${VERSION}`;
const PAGE = '/scan';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(ASSETS.map(async (url) => {
      const response = await fetch(url, { credentials: 'same-origin', cache: 'no-cache' });
      // The page is cached only when signed in (a redirect to sign-in is never kept).
      if (response.ok && !response.redirected) await cache.put(url, response);
      else if (url !== PAGE) throw new Error(`${url}: HTTP ${response.status}`);
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('cirqliz-scanner-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function pageFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic' && !response.redirected) await cache.put(PAGE, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(PAGE, { ignoreVary: true });
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true, ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && (url.pathname === PAGE || url.pathname === `${PAGE}/`)) {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (url.pathname.startsWith('/static/scanner/') || url.pathname.startsWith('/static/common/signout-')
             || url.pathname.startsWith('/vendor/zxing-wasm/')
             || url.pathname === '/scan/manifest.webmanifest') {
    event.respondWith(cacheFirst(request));
  }
});
