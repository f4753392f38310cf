"""One-line explanations of each verdict reason, in French (first) and English."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "VALID": ("Laissez-passer valide pour cette zone à cette heure.", "Pass valid for this zone at this time."),
    "MALFORMED": (
        "Code illisible ou qui n'est pas un laissez-passer CirQliz.",
        "Unreadable code, or not a CirQliz pass.",
    ),
    "UNKNOWN_KEY": ("Signé par une clé inconnue : faux ou autorité non reconnue.", "Signed by an unknown key."),
    "BAD_SIGNATURE": (
        "Signature invalide : laissez-passer falsifié ou altéré.",
        "Invalid signature: forged or altered.",
    ),
    "KEY_WITHDRAWN": ("Clé de signature retirée : laissez-passer refusé.", "Signing key withdrawn: pass refused."),
    "KEY_NOT_AUTHORISED": (
        "La clé de signature n'était pas autorisée (date ou zone).",
        "The signing key was not authorised (date or zone).",
    ),
    "REVOKED": ("Laissez-passer révoqué par l'autorité.", "Pass revoked by the authority."),
    "EXPIRED": ("Laissez-passer expiré.", "Pass expired."),
    "NOT_YET_VALID": ("Laissez-passer pas encore valide.", "Pass not yet valid."),
    "UNKNOWN_ZONE": ("Zone de contrôle inconnue du bundle : resynchroniser.", "Checkpoint zone not in the bundle."),
    "WRONG_ZONE": ("Laissez-passer non valable dans cette zone.", "Pass not valid in this zone."),
    "ZONE_CLOSED": ("Zone fermée temporairement (incident) : accès refusé.", "Zone temporarily closed (incident)."),
    "PLATE_MISMATCH": (
        "La plaque du véhicule ne correspond pas au laissez-passer.",
        "The vehicle's plate does not match the pass.",
    ),
    "OUTSIDE_HOURS": ("Hors des horaires autorisés.", "Outside the permitted hours."),
    "NOT_RESTRICTED": (
        "Zone non réglementée à cette heure : accès libre.",
        "Zone not restricted at this time: free access.",
    ),
    "STALE_BUNDLE": (
        "Données de contrôle trop anciennes : synchroniser avant de valider.",
        "Trust bundle too old: sync before accepting.",
    ),
    "CLOCK_SUSPECT": (
        "Horloge de l'appareil incohérente (antérieure aux données) : vérifier l'heure.",
        "Device clock is earlier than the bundle or the last scan.",
    ),
}


def message(reason: str, lang: str = "fr") -> str:
    """The one-line explanation of a reason code in `lang` ('fr' or 'en')."""
    fr, en = MESSAGES[reason]
    return en if lang == "en" else fr


STATUS_LABELS: dict[str, tuple[str, str]] = {
    "VALID": ("Valide", "Valid"),
    "REFUSED": ("Refusé", "Refused"),
    "UNCERTAIN": ("À vérifier", "To check"),
}


def status_label(status: str, lang: str = "fr") -> str:
    """The traffic-light word of a verdict status (VALID, REFUSED, UNCERTAIN) in `lang`; the raw
    value only for a status this version does not know (an older scanner's upload)."""
    fr, en = STATUS_LABELS.get(status, (status, status))
    return en if lang == "en" else fr


def reason_label(reason: str | None, lang: str = "fr") -> str:
    """`message` for a stored reason code; a dash for none, the code itself if unknown."""
    if not reason:
        return "—"
    return message(reason, lang) if reason in MESSAGES else reason


BUNDLE_REFUSALS: dict[str, tuple[str, str]] = {
    "bundle_rollback": (
        "plus ancien que celui déjà vu (retour en arrière refusé, le précédent reste valable)",
        "older than the one already seen (rollback refused)",
    ),
    "bundle_seq_conflict": (
        "même numéro que celui déjà vu mais contenu différent (suspect)",
        "same number as the one already seen but other content (suspect)",
    ),
    "bundle_unknown_root": (
        "pas signé par la clé racine que le paquet de votre autorité donne pour ce partenaire",
        "not signed by the root key your authority's bundle gives for this partner",
    ),
    "bundle_bad_signature": ("signature invalide (paquet altéré ?)", "signature does not verify (tampered?)"),
    "bundle_wrong_issuer": (
        "émis par une autre autorité que celle que liste le paquet de votre autorité",
        "issued by another authority than the one your authority's bundle lists",
    ),
    "bundle_malformed": ("illisible ou mal formé", "unreadable or malformed"),
    "bundle_delta_base": (
        "mise à jour partielle sans le paquet de base : donnez un paquet complet",
        "delta without its base bundle: give a full bundle",
    ),
}


def bundle_refusal(code: str, lang: str = "fr") -> str:
    """Why a trust bundle was refused, from its BundleError code, in `lang` ('fr' or 'en')."""
    fr, en = BUNDLE_REFUSALS.get(code, ("refusé", "refused"))
    return en if lang == "en" else fr
