/**
 * One-line explanations of each verdict reason, in French and English (cirqliz/verify/messages.py),
 * and the French pieces of verdict details (core.py's _duration, _instant, and repr()).
 */

export const MESSAGES = Object.freeze({
  VALID: ['Laissez-passer valide pour cette zone à cette heure.', 'Pass valid for this zone at this time.'],
  MALFORMED: ["Code illisible ou qui n'est pas un laissez-passer CirQliz.", 'Unreadable code, or not a CirQliz pass.'],
  UNKNOWN_KEY: ['Signé par une clé inconnue : faux ou autorité non reconnue.', 'Signed by an unknown key.'],
  BAD_SIGNATURE: ['Signature invalide : laissez-passer falsifié ou altéré.', 'Invalid signature: forged or altered.'],
  KEY_WITHDRAWN: ['Clé de signature retirée : laissez-passer refusé.', 'Signing key withdrawn: pass refused.'],
  KEY_NOT_AUTHORISED: [
    "La clé de signature n'était pas autorisée (date ou zone).",
    'The signing key was not authorised (date or zone).',
  ],
  REVOKED: ["Laissez-passer révoqué par l'autorité.", 'Pass revoked by the authority.'],
  EXPIRED: ['Laissez-passer expiré.', 'Pass expired.'],
  NOT_YET_VALID: ['Laissez-passer pas encore valide.', 'Pass not yet valid.'],
  UNKNOWN_ZONE: ['Zone de contrôle inconnue du bundle : resynchroniser.', 'Checkpoint zone not in the bundle.'],
  WRONG_ZONE: ['Laissez-passer non valable dans cette zone.', 'Pass not valid in this zone.'],
  ZONE_CLOSED: ['Zone fermée temporairement (incident) : accès refusé.', 'Zone temporarily closed (incident).'],
  PLATE_MISMATCH: [
    'La plaque du véhicule ne correspond pas au laissez-passer.',
    "The vehicle's plate does not match the pass.",
  ],
  OUTSIDE_HOURS: ['Hors des horaires autorisés.', 'Outside the permitted hours.'],
  NOT_RESTRICTED: ['Zone non réglementée à cette heure : accès libre.', 'Zone not restricted at this time: free access.'],
  STALE_BUNDLE: [
    'Données de contrôle trop anciennes : synchroniser avant de valider.',
    'Trust bundle too old: sync before accepting.',
  ],
  CLOCK_SUSPECT: [
    "Horloge de l'appareil incohérente (antérieure aux données) : vérifier l'heure.",
    'Device clock is earlier than the bundle or the last scan.',
  ],
});

/**
 * The one-line explanation of a reason code.
 * @param {string} reason e.g. 'EXPIRED'
 * @param {'fr'|'en'} [lang] French unless 'en'
 * @returns {string}
 */
export function message(reason, lang = 'fr') {
  const [fr, en] = MESSAGES[reason];
  return lang === 'en' ? en : fr;
}

/**
 * Why a trust bundle (the home one or a partner's) was refused, by BundleError code: a phrase in
 * French and English to follow "Paquet de <autorité> refusé : " (cirqliz/verify/messages.py BUNDLE_REFUSALS).
 */
export const BUNDLE_REFUSALS = Object.freeze({
  bundle_rollback: [
    'plus ancien que celui déjà vu (retour en arrière refusé, le précédent reste valable)',
    'older than the one already seen (rollback refused)',
  ],
  bundle_seq_conflict: [
    'même numéro que celui déjà vu mais contenu différent (suspect)',
    'same number as the one already seen but other content (suspect)',
  ],
  bundle_unknown_root: [
    'pas signé par la clé racine que le paquet de votre autorité donne pour ce partenaire',
    "not signed by the root key your authority's bundle gives for this partner",
  ],
  bundle_bad_signature: ['signature invalide (paquet altéré ?)', 'signature does not verify (tampered?)'],
  bundle_wrong_issuer: [
    'émis par une autre autorité que celle que liste le paquet de votre autorité',
    "issued by another authority than the one your authority's bundle lists",
  ],
  bundle_malformed: ['illisible ou mal formé', 'unreadable or malformed'],
  bundle_delta_base: [
    'mise à jour partielle sans le paquet de base : donnez un paquet complet',
    'delta without its base bundle: give a full bundle',
  ],
});

/**
 * Why a trust bundle was refused, from its BundleError code (messages.py bundle_refusal).
 * @param {string} code e.g. 'bundle_rollback'
 * @param {'fr'|'en'} [lang] French unless 'en'
 * @returns {string}
 */
export function bundleRefusal(code, lang = 'fr') {
  const [fr, en] = BUNDLE_REFUSALS[code] ?? ['refusé', 'refused'];
  return lang === 'en' ? en : fr;
}

/**
 * The explanation of a verdict, naming the authorities when a pass of one authority is shown at a
 * checkpoint zone of another (verifyFederated: WRONG_ZONE with issuer ≠ zoneAuthority).
 * @param {{reason: string, issuer?: string|null, issuerName?: string|null, zoneAuthority?: string|null}} verdict
 * @param {'fr'|'en'} [lang]
 */
export function verdictMessage(verdict, lang = 'fr') {
  const { reason, issuer, zoneAuthority } = verdict;
  if (reason === 'WRONG_ZONE' && issuer && zoneAuthority && issuer !== zoneAuthority) {
    const by = verdict.issuerName ? `${verdict.issuerName} (${issuer})` : issuer;
    return lang === 'en'
      ? `Pass issued by ${by}: not valid in a zone of ${zoneAuthority}.`
      : `Laissez-passer émis par ${by} : non valable dans une zone de ${zoneAuthority}.`;
  }
  return message(reason, lang);
}

// ---- pieces of the verifier's details, written as cirqliz/verify/core.py writes them ----------

const LAST_PY_SECOND = 253402300799; // 9999-12-31 23:59:59 UTC, the last instant Python's datetime holds

/**
 * A value as Python's repr() writes it in a detail: a string in quotes ('ZFE', "l'an"), a list
 * as [1, 2]; anything else as String() does.
 * @param {unknown} value
 * @returns {string}
 */
export function pyRepr(value) {
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value !== 'string') return String(value);
  const q = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of value) {
    const c = ch.codePointAt(0);
    if (ch === '\\' || ch === q) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + q;
}

/** '2 h 0 min': a duration in seconds (a Number or a BigInt). */
export function durationFr(seconds) {
  const s = BigInt(seconds);
  return `${s / 3600n} h ${(s % 3600n) / 60n} min`;
}

/** '04/03/2026 à 07:30 UTC' for a pass's exp or nbf (the number itself past year 9999). */
export function instantFr(epoch) {
  if (!(epoch >= 0 && epoch <= LAST_PY_SECOND)) return `${epoch} (horodatage Unix)`;
  const d = new Date(Number(epoch) * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${String(d.getUTCFullYear()).padStart(4, '0')} à `
    + `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/**
 * The question asked before signing out while `n` (≥ 1) check records are still on the phone,
 * unsent: signing out erases them (signout.js).
 * @param {number} n
 * @param {'fr'|'en'} [lang] French unless 'en'
 */
export function unsentChecksMessage(n, lang = 'fr') {
  if (lang === 'en') {
    return n === 1
      ? '1 check has not been sent yet. Signing out anyway will erase it from this phone.'
      : `${n} checks have not been sent yet. Signing out anyway will erase them from this phone.`;
  }
  return n === 1
    ? "1 contrôle n'est pas encore envoyé. Se déconnecter quand même l'effacera de ce téléphone."
    : `${n} contrôles ne sont pas encore envoyés. Se déconnecter quand même les effacera de ce téléphone.`;
}
