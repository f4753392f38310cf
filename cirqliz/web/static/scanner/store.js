/**
 * The scanner's persistent state in IndexedDB (database "cirqliz-scanner"):
 *   kv      key → value: 'root:<authority>' (pinned root SPKI), 'bundle:<authority>' ({base, deltas,
 *           seq, issuedAt}: the signed bytes, re-verified on load), 'partner:<authority>:<iss>' (the
 *           same record for each partner authority the home bundle lists; deleted when it leaves the list),
 *           'lastSeen' (latest epoch second this device has seen), 'deviceId',
 *           'clockOffset' (seconds this device's clock was ahead of the server's at the last sync)
 *   checks  one record per scan, keyed by the UUID made on the device; `uploaded` 0/1
 * At sign-out (signout.js) the checks are erased: they name plates. The kv store holds no personal
 * data (public bundles, the device's clock floor) and stays, so the next agent keeps the rollback defence.
 */

const DB_NAME = 'cirqliz-scanner';
const DB_VERSION = 1;
let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The open database (created on first use). */
export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv');
        if (!db.objectStoreNames.contains('checks')) {
          db.createObjectStore('checks', { keyPath: 'id' }).createIndex('uploaded', 'uploaded');
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opening;
}

async function store(name, mode) {
  return (await openDb()).transaction(name, mode).objectStore(name);
}

/** A value of the kv store (undefined when absent). */
export async function getValue(key) {
  return request((await store('kv', 'readonly')).get(key));
}

/** Store a value in the kv store. */
export async function setValue(key, value) {
  return request((await store('kv', 'readwrite')).put(value, key));
}

/** Remove a value of the kv store (nothing when absent). */
export async function deleteValue(key) {
  return request((await store('kv', 'readwrite')).delete(key));
}

/** The keys of the kv store that start with `prefix`, sorted. */
export async function keysWithPrefix(prefix) {
  const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
  return (await request((await store('kv', 'readonly')).getAllKeys(range))).sort();
}

/** Add a check record (its `id` is a UUID made on the device). */
export async function addCheck(check) {
  return request((await store('checks', 'readwrite')).put({ ...check, uploaded: 0 }));
}

/** Checks not uploaded yet, oldest first. */
export async function pendingChecks(limit = 200) {
  const index = (await store('checks', 'readonly')).index('uploaded');
  const rows = await request(index.getAll(IDBKeyRange.only(0), limit));
  return rows.sort((a, b) => a.checked_at - b.checked_at);
}

/** How many checks are not uploaded yet. */
export async function countPending() {
  return request((await store('checks', 'readonly')).index('uploaded').count(IDBKeyRange.only(0)));
}

/** Mark checks as uploaded (the server accepted their ids). */
export async function markUploaded(ids) {
  const checks = await store('checks', 'readwrite');
  await Promise.all(ids.map(async (id) => {
    const row = await request(checks.get(id));
    if (row) await request(checks.put({ ...row, uploaded: 1 }));
  }));
}

/** Erase every check record of the device, sent or not (sign-out on a shared phone). */
export async function clearChecks() {
  const tx = (await openDb()).transaction('checks', 'readwrite');
  tx.objectStore('checks').clear();
  // Resolved once committed: the page leaves right after, which could abort a pending transaction.
  await new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Every check stored on the device (newest first), for display and tests. */
export async function allChecks() {
  const rows = await request((await store('checks', 'readonly')).getAll());
  return rows.sort((a, b) => b.checked_at - a.checked_at);
}
