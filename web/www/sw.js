// Offline use: the service worker keeps the page's files (listed by
// web/build.sh in files.json) in a cache, and serves them from it when the
// network is away. Network first, so a new build is taken as soon as it
// is reachable; the cache only answers when the fetch fails.
const CACHE = 'matcalc-web';

self.addEventListener('install', (e) => {
  e.waitUntil((async () => {
    const files = await (await fetch('files.json', { cache: 'no-store' })).json();
    await (await caches.open(CACHE)).addAll(files);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(e.request);
      if (res.ok) await cache.put(e.request, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(e.request, { ignoreSearch: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
