/**
 * Trust data on the device: the pinned root key, the held bundles and the upload of checks.
 *
 * The root key is fetched once, at the first online setup, and pinned in IndexedDB: later
 * bundles must verify with it. The held bundle is kept as signed bytes (the last full bundle and
 * the deltas applied since) and re-verified on every start, so nothing unsigned is ever trusted.
 * A bundle that does not verify, whose seq is lower than the held one, or whose seq is the held
 * one's with another content (suspect: one seq names one content), is refused and the held one kept.
 *
 * Partner authorities (issue 19): the home bundle lists partners with their root keys. After the
 * home sync, each partner's bundle is fetched from the server's relay (config.partnersUrl), opened
 * with the root the home bundle gives for it (openTrustSet), kept as signed bytes under
 * 'partner:<home>:<iss>' and re-opened on every start. Each partner has its own seq, rollback
 * defence and staleness; one refused partner leaves the others (and its own held bundle) alone. A
 * partner no longer listed by the home bundle is dropped, its stored bundle deleted.
 */

import { BundleError, openBundle, openTrustSet } from './verifier.js';
import { decodePayload, DELTA } from './bundle.js';
import { decodeSign1 } from './cose.js';
import { sha256, toHex } from './keys.js';
import { deleteValue, getValue, keysWithPrefix, markUploaded, pendingChecks, setValue } from './store.js';
import { serverTime } from './clock.js';

const MAX_DELTAS = 20; // beyond this many deltas, the next sync asks for a full bundle

/** DER bytes of the first PEM block of `text`. */
export function pemToDer(text) {
  const body = text.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, '');
  const raw = atob(body);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** kid (hex) of a SubjectPublicKeyInfo. */
export async function kidOf(spki) {
  return toHex((await sha256(spki)).slice(0, 8));
}

/** The value of a cookie (the CSRF token). */
export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

class SyncError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** The IndexedDB key-value store (store.js); tests give an in-memory one. */
const INDEXED_DB = { get: getValue, set: setValue, delete: deleteValue, keys: keysWithPrefix };

/** Whether a signed bundle is a delta (its payload kind). */
function isDelta(bytes) {
  return decodePayload(decodeSign1(bytes).payload).kind === DELTA;
}

/** The record kept for a bundle accepted from `bytes` on top of the `held` record. */
function heldRecord(held, bytes, bundle) {
  const record = isDelta(bytes) && held ? { ...held, deltas: [...held.deltas, bytes] } : { base: bytes, deltas: [] };
  return { ...record, seq: bundle.seq, issuedAt: bundle.content.issuedAt };
}

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The partner bundle `previous` holds for `iss`, when `home` still lists that partner with the same
 * root key (a partner whose root changed starts again from nothing); else null.
 */
function heldUnder(previous, home, iss) {
  const held = previous?.partners.get(iss) ?? null;
  if (!held) return null;
  const entry = (home.content.partners ?? []).find((p) => p.iss === iss);
  const before = (previous.home.content.partners ?? []).find((p) => p.iss === iss);
  return entry && before && sameBytes(entry.root, before.root) ? held : null;
}

/** Trust state of this device: root key, held bundles (home and partners), sync with the server. */
export class TrustStore {
  /**
   * @param {object} config the page's config (authority, bundleUrl, rootUrl, partnersUrl)
   * @param {{kv?: object, fetch?: Function, online?: () => boolean}} [deps] storage, network and
   *   connectivity (IndexedDB, window.fetch and navigator.onLine by default; tests give fakes)
   */
  constructor(config, { kv = INDEXED_DB, fetch: fetcher = null, online = null } = {}) {
    this.config = config;
    this.kv = kv;
    this.fetcher = fetcher;
    this.online = online ?? (() => globalThis.navigator?.onLine ?? true);
    this.root = null; // Uint8Array SPKI
    this.bundle = null; // home TrustBundle
    this.trust = null; // TrustSet: the home bundle and the partners' (verifier.js)
    /** @type {Map<string, BundleError>} partners whose last bundle was refused (the held one kept) */
    this.refusals = new Map();
    this.lastError = null;
    this.serverNow = null; // X-Server-Time of the last bundle download (epoch seconds)
    // One pinned root and one bundle per authority (a phone may change hands between services).
    this.keys = {
      root: `root:${config.authority}`,
      bundle: `bundle:${config.authority}`,
      partners: `partner:${config.authority}:`,
    };
  }

  async _fetchOk(url, init = {}) {
    const fetcher = this.fetcher ?? globalThis.fetch;
    const response = await fetcher(url, { credentials: 'same-origin', cache: 'no-store', ...init });
    if (response.status === 401 || response.redirected) throw new SyncError('session expirée : reconnectez-vous', 'auth');
    if (!response.ok && response.status !== 204 && response.status !== 304) throw new SyncError(`HTTP ${response.status}`, 'http');
    return response;
  }

  /** The partners the home bundle lists: [{iss, name, root, url}] (none without a home bundle). */
  listedPartners() {
    return this.bundle?.content.partners ?? [];
  }

  /** Load the pinned root and re-open the held bundles from IndexedDB (works offline). */
  async load() {
    this.root = (await this.kv.get(this.keys.root)) ?? null;
    const held = await this.kv.get(this.keys.bundle);
    if (!this.root || !held) return this.bundle;
    let bundle = await openBundle(held.base, [this.root]);
    for (const delta of held.deltas) bundle = await openBundle(delta, [this.root], { current: bundle });
    this.bundle = bundle;
    try {
      await this._loadPartners();
    } catch (err) {
      // The home bundle alone still checks the home passes; the next sync fetches the partners again.
      this.lastError = err;
      this.trust = (await openTrustSet(bundle, {})).trust;
    }
    return bundle;
  }

  /** Re-open every held partner bundle (base, then its deltas) against the home bundle's partner list. */
  async _loadPartners() {
    await this._dropUnlisted();
    const records = new Map();
    for (const { iss } of this.listedPartners()) {
      const record = await this.kv.get(this.keys.partners + iss);
      if (record) records.set(iss, record);
    }
    this.refusals = new Map();
    let { trust, refusals } = await openTrustSet(this.bundle, Object.fromEntries(
      [...records].map(([iss, record]) => [iss, record.base])));
    this._noteRefusals(refusals);
    for (let depth = 0; [...records.values()].some((r) => r.deltas.length > depth); depth++) {
      const deltas = [...records].filter(([iss, r]) => r.deltas.length > depth && trust.partners.has(iss));
      ({ trust, refusals } = await openTrustSet(this.bundle, Object.fromEntries(
        deltas.map(([iss, r]) => [iss, r.deltas[depth]])), { current: trust }));
      this._noteRefusals(refusals);
    }
    this.trust = trust;
  }

  _noteRefusals(refusals) {
    for (const [iss, err] of refusals ?? []) this.refusals.set(iss, err);
  }

  /** Delete the stored bundles of partners the home bundle no longer lists; their iss. */
  async _dropUnlisted() {
    const listed = new Set(this.listedPartners().map((p) => p.iss));
    const dropped = [];
    for (const key of await this.kv.keys(this.keys.partners)) {
      const iss = key.slice(this.keys.partners.length);
      if (!listed.has(iss)) {
        await this.kv.delete(key);
        dropped.push(iss);
      }
    }
    return dropped;
  }

  /** Pin the authority's root key at the first online setup (never replaced afterwards). */
  async pinRoot() {
    if (this.root) return false;
    const pem = await (await this._fetchOk(this.config.rootUrl)).text();
    this.root = pemToDer(pem);
    await this.kv.set(this.keys.root, this.root);
    return true;
  }

  async _fetchBundle(url, since) {
    const response = await this._fetchOk(since === null ? url : `${url}?since=${since}`,
      { headers: { Accept: 'application/cose' } });
    this.serverNow = serverTime(response) ?? this.serverNow;
    if (response.status === 204 || response.status === 304) return null;
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Check and keep a fetched home bundle; false when it is the one already held (same seq, same
   * content). Throws BundleError when refused, e.g. bundle_seq_conflict for the held seq with
   * another content: the held bundle stays.
   */
  async _accept(bytes) {
    const bundle = await openBundle(bytes, [this.root], { current: this.bundle });
    if (this.bundle && bundle === this.bundle) return false;
    const held = (await this.kv.get(this.keys.bundle)) ?? null;
    await this.kv.set(this.keys.bundle, heldRecord(held, bytes, bundle));
    this.bundle = bundle;
    return true;
  }

  /** Fetch the home bundle (a delta from the held seq when possible); whether it changed. */
  async _syncHome() {
    const held = await this.kv.get(this.keys.bundle);
    const since = this.bundle && held && held.deltas.length < MAX_DELTAS ? this.bundle.seq : null;
    let bytes = await this._fetchBundle(this.config.bundleUrl, since);
    if (bytes === null) return false;
    try {
      return await this._accept(bytes);
    } catch (err) {
      if (!(err instanceof BundleError) || err.code !== 'bundle_delta_base') throw err;
      bytes = await this._fetchBundle(this.config.bundleUrl, null); // the delta's base is not ours: take the full bundle
      return bytes !== null && await this._accept(bytes);
    }
  }

  /** The partner's relay address. */
  _partnerUrl(iss) {
    return `${this.config.partnersUrl}${encodeURIComponent(iss)}.cose`;
  }

  /**
   * Fetch, check and keep each listed partner's bundle; one partner's failure or refusal never
   * touches the others. Partners no longer listed are dropped (stored bundle deleted).
   * @returns {Promise<Array<{iss: string, name: string, status: 'updated'|'current'|'refused'|'failed'|'removed',
   *   seq?: number, code?: string, error?: string}>>}
   */
  async _syncPartners() {
    const results = [];
    for (const iss of await this._dropUnlisted()) results.push({ iss, name: iss, status: 'removed' });
    const listed = this.listedPartners();
    if (!this.config.partnersUrl) {
      this.trust = (await openTrustSet(this.bundle, {}, { current: this.trust })).trust;
      return results;
    }
    const previous = this.trust;
    const fetched = {};
    const failed = new Map();
    for (const partner of listed) {
      const held = heldUnder(previous, this.bundle, partner.iss);
      const record = held ? await this.kv.get(this.keys.partners + partner.iss) : null;
      const since = held && record && record.deltas.length < MAX_DELTAS ? held.seq : null;
      try {
        const bytes = await this._fetchBundle(this._partnerUrl(partner.iss), since);
        if (bytes !== null) fetched[partner.iss] = bytes;
      } catch (err) {
        if (!(err instanceof SyncError) && !(err instanceof TypeError)) throw err;
        failed.set(partner.iss, err);
      }
    }
    // Partners without new bytes keep their held bundle (openTrustSet), refused ones too.
    let { trust, refusals } = await openTrustSet(this.bundle, fetched, { current: previous });
    // A delta whose base is not the held bundle: that partner's full bundle instead.
    const rebase = [...(refusals ?? new Map())].filter(([, err]) => err.code === 'bundle_delta_base').map(([iss]) => iss);
    if (rebase.length) {
      const full = {};
      for (const iss of rebase) {
        try {
          const bytes = await this._fetchBundle(this._partnerUrl(iss), null);
          if (bytes !== null) full[iss] = bytes;
          refusals.delete(iss);
        } catch (err) {
          if (!(err instanceof SyncError) && !(err instanceof TypeError)) throw err;
          failed.set(iss, err);
        }
      }
      const again = await openTrustSet(this.bundle, full, { current: trust });
      trust = again.trust;
      for (const iss of rebase) {
        if (iss in full) fetched[iss] = full[iss];
        if (again.refusals?.has(iss)) refusals.set(iss, again.refusals.get(iss));
      }
    }
    for (const partner of listed) {
      const { iss } = partner;
      const before = heldUnder(previous, this.bundle, iss);
      const now = trust.partners.get(iss) ?? null;
      const result = { iss, name: trust.nameOf?.(iss) ?? partner.name, seq: now?.seq ?? null };
      if (refusals?.has(iss)) {
        const err = refusals.get(iss);
        this.refusals.set(iss, err);
        Object.assign(result, { status: 'refused', code: err.code, error: err.message });
      } else if (failed.has(iss)) {
        const err = failed.get(iss);
        Object.assign(result, { status: 'failed', code: err.code ?? 'offline', error: err.message });
      } else if (now && now !== before && iss in fetched) {
        this.refusals.delete(iss);
        const held = (await this.kv.get(this.keys.partners + iss)) ?? null;
        await this.kv.set(this.keys.partners + iss, heldRecord(before ? held : null, fetched[iss], now));
        result.status = 'updated';
      } else {
        this.refusals.delete(iss);
        result.status = 'current';
      }
      results.push(result);
    }
    for (const iss of [...this.refusals.keys()]) if (!listed.some((p) => p.iss === iss)) this.refusals.delete(iss);
    this.trust = trust;
    return results;
  }

  /**
   * Fetch and check the newest home bundle (a delta from the held seq when possible), then each
   * partner's. `partners` reports every listed partner (and the ones just removed) on its own.
   * @returns {Promise<{status: 'updated'|'current'|'offline'|'refused'|'failed', seq?: number,
   *   code?: string, error?: string, serverNow?: number|null, partners: Array<object>}>}
   */
  async sync() {
    if (!this.online()) return { status: 'offline', partners: [] };
    this.serverNow = null;
    let result;
    try {
      const pinned = await this.pinRoot();
      const updated = await this._syncHome();
      this.lastError = null;
      result = { status: updated ? 'updated' : 'current', seq: this.bundle?.seq, pinned };
    } catch (err) {
      if (err instanceof TypeError) return { status: 'offline', partners: [] }; // fetch failed: no network after all
      if (!(err instanceof BundleError)) {
        this.lastError = err;
        return { status: 'failed', code: err.code ?? 'error', error: err.message, partners: [] };
      }
      this.lastError = err;
      result = { status: 'refused', code: err.code, error: err.message, seq: this.bundle?.seq ?? 0 };
    }
    // Partners follow the home bundle held now (the refused one's replacement is the held one).
    let partners = [];
    if (this.bundle) {
      try {
        partners = await this._syncPartners();
      } catch (err) {
        // Not one partner's refusal (those are in the results): the held partner bundles stay as they are.
        this.lastError = err;
        this.trust = (await openTrustSet(this.bundle, {}, { current: this.trust })).trust;
        partners = this.listedPartners().map(({ iss, name }) => ({ iss, name, status: 'failed', code: err.code ?? 'error',
          error: err.message, seq: this.trust.partners.get(iss)?.seq ?? null }));
      }
    }
    return { ...result, serverNow: this.serverNow, partners };
  }
}

/** Upload the checks waiting on the device; returns how many were accepted (0 offline). */
export async function uploadChecks(config) {
  if (!navigator.onLine) return 0;
  const pending = await pendingChecks();
  if (!pending.length) return 0;
  const body = pending.map(({ uploaded, ...check }) => check);
  const response = await fetch(config.checksUrl, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'x-csrftoken': cookie('cirqliz_csrf') ?? '' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new SyncError(`envoi des contrôles : HTTP ${response.status}`, 'upload');
  const { accepted } = await response.json();
  await markUploaded(accepted);
  return accepted.length;
}
