"""Passes in the phone's wallet: an Apple Wallet `.pkpass` and a "save to Google Wallet" link.

Both carry the pass's signed `CQ1:` text as their QR code, so an agent's scanner checks them like any
other copy; the scanner stays the authority on validity (the wallet only shows what was true when the
holder last downloaded it). A revoked, suspended or expired pass is served marked as such (Apple:
`voided`, Google: `state`) and without its QR code, like every other copy the holder can get.

The deployer's credentials are files under the keys folder (CIRQLIZ_KEYS_DIR): private keys must stay
there, readable by their owner only, and are never served. Nothing here touches the web or the database.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from cirqliz.domain.errors import DomainError
from cirqliz.domain.passes import PassStatus
from cirqliz.labels import PASS_STATUS_FR, capitalised
from cirqliz.settings import Settings

GOOGLE_SAVE_URL = "https://pay.google.com/gp/v/save/"
SCANNER_ICONS = Path(__file__).resolve().parents[1] / "web" / "static" / "scanner"
PKPASS_MEDIA_TYPE = "application/vnd.apple.pkpass"
# Apple's sizes in points: icon 29×29, logo at most 160×50; @2x files for Retina screens.
ICON_SIZES = {"icon.png": 29, "icon@2x.png": 58, "icon@3x.png": 87, "logo.png": 50, "logo@2x.png": 100}
STATE_LABELS_FR = {status: capitalised(label) for status, label in PASS_STATUS_FR.items()}
GOOGLE_STATES = {
    PassStatus.ACTIVE: "ACTIVE",
    PassStatus.SUSPENDED: "INACTIVE",
    PassStatus.REVOKED: "INACTIVE",
    PassStatus.EXPIRED: "EXPIRED",
}
AUTHORITY_NOTE_FR = (
    "Seul le contrôle par un agent (scanner CirQliz) fait foi : il vérifie la signature, la révocation, "
    "la zone et l'heure. Ce que montre le portefeuille date du dernier téléchargement ; téléchargez de "
    "nouveau le laissez-passer après tout changement."
)
UNUSABLE_NOTE_FR = {
    PassStatus.SUSPENDED: "Ce laissez-passer est suspendu : les agents le refusent tant que la suspension dure.",
    PassStatus.REVOKED: "Ce laissez-passer a été révoqué : il n'est plus valable et les agents le refusent.",
    PassStatus.EXPIRED: "Ce laissez-passer a expiré : les agents le refusent.",
}


class WalletError(DomainError):
    """The wallet credentials cannot be used (missing file, unreadable key, key outside the keys folder)."""

    code = "wallet_unavailable"


@dataclass(frozen=True, slots=True)
class WalletPass:
    """What a wallet shows of a pass, already phrased in French by the caller."""

    serial: str
    plate: str
    """As people write it (AB-123-CD)."""
    zones: Sequence[str]
    """One line per zone: 'Centre historique (PARIS-CENTRE)'."""
    hours: str
    validity: str
    authority: str
    state: PassStatus
    signed_text: str
    not_before: datetime
    expires_at: datetime

    @property
    def usable(self) -> bool:
        """True when agents may accept it (only then does the wallet carry its QR code)."""
        return self.state is PassStatus.ACTIVE and bool(self.signed_text)


# ---- credentials --------------------------------------------------------------------------


def _in_keys(settings: Settings, name: str, *, private: bool) -> Path:
    """A credential file named by a setting: relative to the keys folder, and inside it."""
    root = Path(settings.keys_dir).resolve()
    path = Path(name)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        raise WalletError(f"{path} doit se trouver dans le dossier des clés {root}")
    if not path.is_file():
        raise WalletError(f"fichier introuvable : {path}")
    if private and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WalletError(f"{path} est lisible par d'autres que son propriétaire : chmod 600 {path}")
    return path


def _certificate(data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        return x509.load_der_x509_certificate(data)


@dataclass(frozen=True, slots=True)
class AppleCredentials:
    """The deployer's Pass Type ID certificate and key, and Apple's WWDR intermediate certificate."""

    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    key: Any
    wwdr: x509.Certificate


@dataclass(frozen=True, slots=True)
class GoogleCredentials:
    """The deployer's Google Wallet issuer and service account."""

    issuer_id: str
    class_suffix: str
    email: str
    key_id: str
    key: rsa.RSAPrivateKey


def apple_configured(settings: Settings) -> bool:
    """True when the deployer set the Apple Wallet settings (the button shows)."""
    return bool(settings.wallet_apple_cert)


def google_configured(settings: Settings) -> bool:
    """True when the deployer set the Google Wallet settings (the button shows)."""
    return bool(settings.wallet_google_issuer_id)


def load_apple(settings: Settings) -> AppleCredentials:
    """The Apple credentials of the settings (WalletError saying what is wrong)."""
    if not apple_configured(settings):
        raise WalletError("Apple Wallet n'est pas configuré (CIRQLIZ_WALLET_APPLE_CERT)")
    cert_file = _in_keys(settings, settings.wallet_apple_cert, private=False)
    wwdr_file = _in_keys(settings, settings.wallet_apple_wwdr, private=False)
    key_file = _in_keys(settings, settings.wallet_apple_key, private=True)
    try:
        certificate = _certificate(cert_file.read_bytes())
        wwdr = _certificate(wwdr_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise WalletError(f"certificat ou clé Apple Wallet illisible ({type(exc).__name__})") from None
    return AppleCredentials(settings.wallet_apple_pass_type_id, settings.wallet_apple_team_id, certificate, key, wwdr)


def load_google(settings: Settings) -> GoogleCredentials:
    """The Google credentials of the settings (WalletError saying what is wrong)."""
    if not google_configured(settings):
        raise WalletError("Google Wallet n'est pas configuré (CIRQLIZ_WALLET_GOOGLE_ISSUER_ID)")
    path = _in_keys(settings, settings.wallet_google_service_account, private=True)
    try:
        account = json.loads(path.read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key(account["private_key"].encode("ascii"), password=None)
        email = str(account["client_email"])
    except (ValueError, TypeError, KeyError) as exc:
        raise WalletError(f"clé de compte de service Google illisible ({type(exc).__name__}) : {path}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise WalletError("la clé du compte de service Google doit être une clé RSA")
    return GoogleCredentials(settings.wallet_google_issuer_id, settings.wallet_google_class_suffix, email,
                             str(account.get("private_key_id", "")), key)


# ---- Apple Wallet -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def icons() -> dict[str, bytes]:
    """The pass's icon and logo, from the scanner's icon, at Apple's sizes."""
    from PIL import Image

    with Image.open(SCANNER_ICONS / "icon-512.png") as source:
        image = source.convert("RGBA")
    files = {}
    for name, side in ICON_SIZES.items():
        out = io.BytesIO()
        image.resize((side, side), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
        files[name] = out.getvalue()
    return files


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pass_json(item: WalletPass, credentials: AppleCredentials) -> dict[str, Any]:
    """The pass.json of a pass (generic style; French labels)."""
    state = STATE_LABELS_FR[item.state]
    back = [{"key": "controle", "label": "Contrôle", "value": AUTHORITY_NOTE_FR}]
    if not item.usable:
        back.insert(0, {"key": "etat-detail", "label": "État", "value": UNUSABLE_NOTE_FR.get(item.state, state)})
    back += [{"key": "autorite", "label": "Délivré par", "value": item.authority},
             {"key": "numero", "label": "Numéro", "value": item.serial}]
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": credentials.pass_type_id,
        "teamIdentifier": credentials.team_id,
        "serialNumber": item.serial,
        "organizationName": item.authority or "CirQliz",
        "description": f"Laissez-passer {item.plate}",
        "logoText": "Laissez-passer",
        "backgroundColor": "rgb(255,255,255)",
        "foregroundColor": "rgb(17,24,39)",
        "labelColor": "rgb(75,85,99)",
        "expirationDate": _iso(item.expires_at),
        "voided": not item.usable,
        "generic": {
            "headerFields": [{"key": "etat", "label": "État", "value": state}],
            "primaryFields": [{"key": "immatriculation", "label": "Immatriculation", "value": item.plate}],
            "secondaryFields": [{"key": "zones", "label": "Zones", "value": "\n".join(item.zones)}],
            "auxiliaryFields": [{"key": "horaires", "label": "Horaires", "value": item.hours},
                                {"key": "validite", "label": "Validité", "value": item.validity}],
            "backFields": back,
        },
    }
    if item.usable:
        code = {"format": "PKBarcodeFormatQR", "message": item.signed_text, "messageEncoding": "iso-8859-1",
                "altText": item.serial}
        document["barcodes"] = [code]
        document["barcode"] = code  # iOS before 9 reads this one
        document["relevantDate"] = _iso(item.not_before)
    return document


def sign_manifest(manifest: bytes, credentials: AppleCredentials) -> bytes:
    """The detached PKCS#7 signature (DER) of manifest.json, with the WWDR certificate included."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(credentials.certificate, credentials.key, hashes.SHA256())
        .add_certificate(credentials.wwdr)
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


def pkpass(item: WalletPass, credentials: AppleCredentials) -> bytes:
    """The .pkpass archive: pass.json, images, manifest.json (SHA-1 of each file) and signature."""
    files = {"pass.json": json.dumps(pass_json(item, credentials), ensure_ascii=False, indent=1).encode("utf-8"),
             **icons()}
    manifest = json.dumps({name: hashlib.sha1(data).hexdigest() for name, data in files.items()},  # noqa: S324 (Apple's format)
                          indent=1, sort_keys=True).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", sign_manifest(manifest, credentials))
    return out.getvalue()


# ---- Google Wallet ------------------------------------------------------------------------


def _localized(value: str) -> dict[str, Any]:
    return {"defaultValue": {"language": "fr", "value": value}}


def generic_object(item: WalletPass, credentials: GoogleCredentials) -> dict[str, Any]:
    """The Google Wallet generic object of a pass (French texts)."""
    modules = [{"id": "zones", "header": "Zones", "body": "\n".join(item.zones)},
               {"id": "horaires", "header": "Horaires", "body": item.hours},
               {"id": "validite", "header": "Validité", "body": item.validity},
               {"id": "etat", "header": "État", "body": UNUSABLE_NOTE_FR.get(item.state, STATE_LABELS_FR[item.state])},
               {"id": "controle", "header": "Contrôle", "body": AUTHORITY_NOTE_FR}]
    document: dict[str, Any] = {
        "id": f"{credentials.issuer_id}.{item.serial}",
        "classId": f"{credentials.issuer_id}.{credentials.class_suffix}",
        "state": GOOGLE_STATES[item.state],
        "cardTitle": _localized(f"Laissez-passer — {item.authority}" if item.authority else "Laissez-passer"),
        "header": _localized(item.plate),
        "subheader": _localized(f"Immatriculation · {STATE_LABELS_FR[item.state]}"),
        "textModulesData": modules,
        "hexBackgroundColor": "#ffffff",
        "validTimeInterval": {"start": {"date": _iso(item.not_before)}, "end": {"date": _iso(item.expires_at)}},
    }
    if item.usable:
        document["barcode"] = {"type": "QR_CODE", "value": item.signed_text, "alternateText": item.serial}
    return document


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def save_jwt(item: WalletPass, credentials: GoogleCredentials, *, origin: str, now: datetime) -> str:
    """The signed (RS256) "save to Google Wallet" JWT of a pass; `origin` is the service's address."""
    header = {"alg": "RS256", "typ": "JWT"}
    if credentials.key_id:
        header["kid"] = credentials.key_id
    claims = {
        "iss": credentials.email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now.timestamp()),
        "origins": [origin],
        "payload": {"genericClasses": [{"id": f"{credentials.issuer_id}.{credentials.class_suffix}"}],
                    "genericObjects": [generic_object(item, credentials)]},
    }
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
                             for part in (header, claims))
    signature = credentials.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def save_url(item: WalletPass, credentials: GoogleCredentials, *, origin: str, now: datetime) -> str:
    """The "Ajouter à Google Wallet" address of a pass."""
    return GOOGLE_SAVE_URL + save_jwt(item, credentials, origin=origin, now=now)


# ---- the deployer's checks ------------------------------------------------------------------


def apple_certificate_expiry(settings: Settings) -> datetime:
    """When the Pass Type ID certificate expires (WalletError when it cannot be read)."""
    return load_apple(settings).certificate.not_valid_after_utc
