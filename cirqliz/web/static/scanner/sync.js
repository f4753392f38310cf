/**
 * Trust data on the device: the pinned root key, the held bundle and the upload of checks.
 *
 * The root key is fetched once, at the first online setup, and pinned in IndexedDB: later
 * bundles must verify with it. The held bundle is kept as signed bytes (the last full bundle and
 * the deltas applied since) and re-verified on every start, so nothing unsigned is ever trusted.
 * A bundle that does not verify, whose seq is lower than the held one, or whose seq is the held
 * one's with another content (suspect: one seq names one content), is refused and the held one kept.
 */

import { BundleError, openBundle } from './verifier.js';
import { decodePayload, DELTA } from './bundle.js';
import { decodeSign1 } from './cose.js';
import { sha256, toHex } from './keys.js';
import { getValue, markUploaded, pendingChecks, setValue } from './store.js';
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

async function fetchOk(url, init = {}) {
  const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init });
  if (response.status === 401 || response.redirected) throw new SyncError('session expirée : reconnectez-vous', 'auth');
  if (!response.ok && response.status !== 204 && response.status !== 304) throw new SyncError(`HTTP ${response.status}`, 'http');
  return response;
}

/** Trust state of this device: root key, held bundle, sync with the server. */
export class TrustStore {
  constructor(config) {
    this.config = config;
    this.root = null; // Uint8Array SPKI
    this.bundle = null; // TrustBundle
    this.lastError = null;
    this.serverNow = null; // X-Server-Time of the last bundle download (epoch seconds)
    // One pinned root and one bundle per authority (a phone may change hands between services).
    this.keys = { root: `root:${config.authority}`, bundle: `bundle:${config.authority}` };
  }

  /** Load the pinned root and re-open the held bundle from IndexedDB (works offline). */
  async load() {
    this.root = (await getValue(this.keys.root)) ?? null;
    const held = await getValue(this.keys.bundle);
    if (!this.root || !held) return this.bundle;
    let bundle = await openBundle(held.base, [this.root]);
    for (const delta of held.deltas) bundle = await openBundle(delta, [this.root], { current: bundle });
    this.bundle = bundle;
    return bundle;
  }

  /** Pin the authority's root key at the first online setup (never replaced afterwards). */
  async pinRoot() {
    if (this.root) return false;
    const pem = await (await fetchOk(this.config.rootUrl)).text();
    this.root = pemToDer(pem);
    await setValue(this.keys.root, this.root);
    return true;
  }

  async _fetchBundle(since) {
    const url = since === null ? this.config.bundleUrl : `${this.config.bundleUrl}?since=${since}`;
    const response = await fetchOk(url, { headers: { Accept: 'application/cose' } });
    this.serverNow = serverTime(response) ?? this.serverNow;
    if (response.status === 204 || response.status === 304) return null;
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Check and keep a fetched bundle; false when it is the one already held (same seq, same
   * content). Throws BundleError when refused, e.g. bundle_seq_conflict for the held seq with
   * another content: the held bundle stays.
   */
  async _accept(bytes) {
    const bundle = await openBundle(bytes, [this.root], { current: this.bundle });
    if (this.bundle && bundle === this.bundle) return false;
    const isDelta = decodePayload(decodeSign1(bytes).payload).kind === DELTA;
    const held = (await getValue(this.keys.bundle)) ?? null;
    const record = isDelta && held
      ? { ...held, deltas: [...held.deltas, bytes] }
      : { base: bytes, deltas: [] };
    await setValue(this.keys.bundle, { ...record, seq: bundle.seq, issuedAt: bundle.content.issuedAt });
    this.bundle = bundle;
    return true;
  }

  /**
   * Fetch and check the newest bundle: a delta from the held seq when possible.
   * @returns {Promise<{status: 'updated'|'current'|'offline'|'refused'|'failed', seq?: number,
   *   code?: string, error?: string, serverNow?: number|null}>}
   */
  async sync() {
    if (!navigator.onLine) return { status: 'offline' };
    this.serverNow = null;
    try {
      const pinned = await this.pinRoot();
      const held = await getValue(this.keys.bundle);
      const since = this.bundle && held && held.deltas.length < MAX_DELTAS ? this.bundle.seq : null;
      let bytes = await this._fetchBundle(since);
      let updated = false;
      if (bytes !== null) {
        try {
          updated = await this._accept(bytes);
        } catch (err) {
          if (!(err instanceof BundleError) || err.code !== 'bundle_delta_base') throw err;
          bytes = await this._fetchBundle(null); // the delta's base is not ours: take the full bundle
          updated = bytes !== null && await this._accept(bytes);
        }
      }
      this.lastError = null;
      return { status: updated ? 'updated' : 'current', seq: this.bundle?.seq, pinned, serverNow: this.serverNow };
    } catch (err) {
      if (err instanceof BundleError) {
        this.lastError = err;
        return { status: 'refused', code: err.code, error: err.message, seq: this.bundle?.seq ?? 0, serverNow: this.serverNow };
      }
      if (err instanceof TypeError) return { status: 'offline' }; // fetch failed: no network after all
      this.lastError = err;
      return { status: 'failed', code: err.code ?? 'error', error: err.message };
    }
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
