/**
 * Federation of trust (issue 19): the JavaScript twin of cirqliz/verify/federation.py.
 *
 * The scanner pins its HOME authority's root key. The home bundle lists the partner authorities
 * with their root keys; a partner bundle is trusted only when it verifies with the root the home
 * bundle gives for that issuer. A TrustSet holds the home bundle and the partner bundles;
 * verifyFederated picks the issuer's bundle by the pass's kid and the checkpoint zone's bundle by
 * the zone reference: 'CODE' (a home zone) or 'ISS/CODE' (zone CODE of authority ISS).
 *
 *   const { trust, refusals } = await openTrustSet(home, { METRO: metroBytes }, { current: trust });
 *   const v = await verifyFederated(text, trust, { zone: 'METRO/ZFE', now: Date.now() / 1000 });
 *   show(v.status, v.issuerName, v.zoneAuthority);
 */

import { openBundle, sha256Sync, textOrder } from './bundle.js';
import { decodeClaims } from './claims.js';
import { HEADER_KID } from './cose.js';
import { BundleError, SchemeError } from './errors.js';
import { toHex } from './keys.js';
import { pyRepr } from './messages.js';
import { parsePassText, verifyPass } from './verifier.js';

/**
 * Split a checkpoint reference: 'CODE' → {iss: null, code}, 'ISS/CODE' → {iss, code} (codes never
 * contain '/'); null for anything else: empty, an empty part ('/CODE', 'ISS/'), several '/'
 * (federation.py parse_zone_ref).
 * @param {string} ref
 * @returns {{iss: string|null, code: string}|null}
 */
export function parseZoneRef(ref) {
  if (typeof ref !== 'string' || !ref) return null;
  const parts = ref.split('/');
  if (parts.length === 1) return { iss: null, code: ref };
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  return { iss: parts[0], code: parts[1] };
}

/**
 * Fingerprint of a root key as read out by telephone: SHA-256 of the SPKI DER, upper-case hex in
 * 16 groups of 4 separated by spaces ("3F2A 9C01 …"), as bundle.py root_fingerprint.
 * @param {Uint8Array} spki
 */
export function rootFingerprint(spki) {
  return toHex(sha256Sync(spki)).toUpperCase().match(/.{4}/g).join(' ');
}

/** A typed fingerprint for comparison: spaces, colons and dashes dropped, upper case. */
export function normaliseFingerprint(text) {
  return String(text).replace(/[ \t:-]/g, '').toUpperCase();
}

const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The home bundle and the partner bundles the home bundle vouches for (open once, verify many). */
export class TrustSet {
  /**
   * @param {import('./bundle.js').TrustBundle} home
   * @param {Map<string, import('./bundle.js').TrustBundle>} [partners] iss → bundle
   */
  constructor(home, partners = new Map()) {
    this.home = home;
    /** @type {Map<string, import('./bundle.js').TrustBundle>} iss → partner bundle, sorted by iss */
    this.partners = new Map([...partners].sort(([a], [b]) => textOrder(a, b)));
    /** Home first, then the partners by iss: the order a pass's kid is looked up in. */
    this.bundles = [home, ...this.partners.values()];
  }

  /** The bundle of authority `iss` (the home one or a partner's), or null. */
  bundleOf(iss) {
    if (iss === this.home.iss) return this.home;
    return this.partners.get(iss) ?? null;
  }

  /** Display name of authority `iss`: its bundle's name, else the home bundle's partner entry, else null. */
  nameOf(iss) {
    const own = this.bundleOf(iss)?.name;
    if (own) return own;
    return this.home.partner(iss)?.name ?? null;
  }

  /**
   * Every checkpoint zone the device may choose: the home zones (ref 'CODE'), then each partner's
   * (ref 'ISS/CODE'), partners by iss.
   * @returns {{iss: string, name: string|null, zone: object, ref: string}[]}
   */
  allZones() {
    const out = [];
    for (const bundle of this.bundles) {
      const iss = bundle.iss;
      const name = this.nameOf(iss);
      const home = bundle === this.home;
      for (const zone of bundle.content.zones) {
        out.push({ iss, name, zone, ref: home ? zone.code : `${iss}/${zone.code}` });
      }
    }
    return out;
  }

  /**
   * The bundle a checkpoint reference belongs to and the zone code in it; `bundle` is null when
   * the authority is not (or no longer) trusted.
   * @param {string} ref 'CODE' or 'ISS/CODE'
   */
  checkpoint(ref) {
    const parsed = parseZoneRef(ref);
    if (parsed === null) return { bundle: null, code: ref };
    const { iss, code } = parsed;
    return { bundle: iss === null ? this.home : this.bundleOf(iss), code };
  }
}

function lookup(partnerBytes, iss) {
  if (!partnerBytes) return null;
  if (partnerBytes instanceof Map) return partnerBytes.get(iss) ?? null;
  return Object.hasOwn(partnerBytes, iss) ? partnerBytes[iss] ?? null : null;
}

/**
 * Open the partner bundles of `home`. Each one must verify with the root key the home bundle lists
 * for its issuer, carry that issuer, and follow the bundle held in `current` (rollback defence,
 * each partner on its own). A refused bundle is reported in `refusals` and the held one kept; a
 * partner without new bytes keeps its held bundle; partners the home bundle no longer lists (or
 * whose listed root changed) are dropped.
 * @param {import('./bundle.js').TrustBundle} home the opened home bundle
 * @param {Map<string, Uint8Array>|Object<string, Uint8Array>} partnerBytes iss → signed bundle bytes
 * @param {{current?: TrustSet|null}} [options]
 * @returns {Promise<{trust: TrustSet, refusals: Map<string, BundleError>}>}
 */
export async function openTrustSet(home, partnerBytes, { current = null } = {}) {
  const partners = new Map();
  const refusals = new Map();
  for (const entry of home.partners) {
    const { iss } = entry;
    let held = current?.partners.get(iss) ?? null;
    // A held bundle was checked with the root the previous home bundle listed: only that root.
    const heldRoot = held ? current.home.partner(iss)?.root : null;
    if (held && !(heldRoot && sameBytes(heldRoot, entry.root))) held = null;
    const bytes = lookup(partnerBytes, iss);
    if (bytes === null) {
      if (held) partners.set(iss, held);
      continue;
    }
    try {
      const bundle = await openBundle(bytes, [home.partnerRoots.get(iss).key], { current: held });
      if (bundle.iss !== iss) {
        throw new BundleError(`paquet refusé : émis par ${pyRepr(bundle.iss)} au lieu de ${pyRepr(iss)}, l'autorité que `
          + 'liste le paquet de votre autorité', 'bundle_wrong_issuer');
      }
      partners.set(iss, bundle);
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      refusals.set(iss, err);
      if (held) partners.set(iss, held);
    }
  }
  return { trust: new TrustSet(home, partners), refusals };
}

/** The bundle whose keys (or withdrawn kids) hold the pass's kid; several: the one of its iss. */
function issuerBundle(trust, message) {
  const kidHex = toHex(message.protected.get(HEADER_KID));
  let found = null;
  let several = null;
  for (const bundle of trust.bundles) {
    if (!bundle.keysByKid.has(kidHex) && !bundle.withdrawn.has(kidHex)) continue;
    if (found === null) found = bundle;
    else (several ??= [found]).push(bundle);
  }
  if (several === null) return found;
  let claims;
  try {
    claims = decodeClaims(message.payload);
  } catch (err) {
    if (err instanceof SchemeError) return found; // the verifier names the problem
    throw err;
  }
  return several.find((b) => b.iss === claims.iss) ?? found;
}

/**
 * Check a pass against a TrustSet at checkpoint `zone` ('CODE' of the home authority or
 * 'ISS/CODE'): the verdict of verifyPass with the issuer's bundle and the checkpoint zone's
 * bundle, plus `issuer` (iss of the bundle whose key verified the signature, once the claims are
 * read and name that authority; else null), `issuerName` (its bundle's name, else the home
 * bundle's partner entry name) and `zoneAuthority` (iss of the checkpoint zone's bundle; null when
 * that authority is not trusted or the reference is not 'CODE' / 'ISS/CODE').
 * Never throws.
 * @param {string} text
 * @param {TrustSet} trust
 * @param {{zone: string, now: number|Date, plate?: string|null, lastSeen?: number|null,
 *   skew?: number}} options
 */
export async function verifyFederated(text, trust, options = {}) {
  try {
    return await federated(text, trust, options);
  } catch (err) {
    // Not reachable with well-formed arguments (a TrustSet); a verifier still answers with a verdict.
    const t = typeof options.now === 'number' ? Math.trunc(options.now) : null;
    return {
      status: 'REFUSED', reason: 'MALFORMED', detail: `erreur interne du vérificateur (${err?.name ?? typeof err})`, checkedAt: t,
      claims: null, zone: null, kid: null, issuer: null, issuerName: null, zoneAuthority: null,
    };
  }
}

async function federated(text, trust, options) {
  const { bundle: zoneBundle, code } = trust.checkpoint(options.zone);
  let message = null;
  try {
    message = parsePassText(text);
  } catch (err) {
    if (!(err instanceof SchemeError)) throw err;
  }
  const issuer = message === null ? null : issuerBundle(trust, message);
  // Unknown authority or malformed reference: no bundle holds a zone code with '/' (or ''), so the
  // pass is checked against its issuer's bundle alone and ends UNKNOWN_ZONE after the validity steps.
  const bundle = issuer ?? trust.home;
  const verdict = await verifyPass(text, bundle, {
    ...options,
    zone: zoneBundle ? code : options.zone,
    checkpointBundle: zoneBundle ?? bundle,
  });
  if (message !== null && issuer === null) verdict.detail = `clé ${verdict.kid} absente de tous les paquets de confiance`;
  else if (!zoneBundle && verdict.reason === 'UNKNOWN_ZONE') {
    const ref = parseZoneRef(options.zone);
    verdict.detail = ref
      ? `zone ${pyRepr(options.zone)} : autorité ${pyRepr(ref.iss)} inconnue de cet appareil (resynchroniser)`
      : `zone ${pyRepr(options.zone)} : attendu CODE ou AUTORITÉ/CODE`;
  }
  // The issuer is known once the signature held and the claims name the bundle's authority.
  const iss = issuer !== null && verdict.claims?.iss === issuer.iss ? issuer.iss : null;
  verdict.issuer = iss;
  verdict.issuerName = iss === null ? null : trust.nameOf(iss);
  verdict.zoneAuthority = zoneBundle?.iss ?? null;
  return verdict;
}
