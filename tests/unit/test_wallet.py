"""Issue 19, passes in the phone's wallet: the .pkpass archive and its detached PKCS#7 signature, the
Google Wallet JWT, the wallet settings and the doctor's check, with self-made credentials."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs7
from wallet_keys import ISSUER_ID, PASS_TYPE_ID, SERVICE_EMAIL, TEAM_ID, google_public_key, make_wallet_credentials

from cirqliz.domain.passes import PassStatus
from cirqliz.issuance import wallet
from cirqliz.ops.doctor import FAIL, INFO, OK, Report, _wallet
from cirqliz.settings import Settings, SettingsError

SIGNED = "CQ1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE$VK G2EA5J3ZR9H+X7BE11A3"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    keys = tmp_path / "keys"
    return Settings(keys_dir=str(keys), base_url="https://cirqliz.ville.fr", **make_wallet_credentials(keys))


def a_pass(state: PassStatus = PassStatus.ACTIVE) -> wallet.WalletPass:
    return wallet.WalletPass(
        serial="0A1B2C3D4E5F6071", plate="AB-123-CD", zones=["Centre historique (PARIS-CENTRE)"],
        hours="lun.–ven. 7 h–11 h", validity="du 24/11/2026 au 10/12/2026 inclus", authority="Ville de Démo",
        state=state, signed_text=SIGNED, not_before=datetime(2026, 11, 23, 23, 0, tzinfo=UTC),
        expires_at=datetime(2026, 12, 10, 23, 0, tzinfo=UTC))


def archive(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def fields(document: dict) -> dict[str, dict]:
    return {f["key"]: f for group in document["generic"].values() for f in group}


# ---- Apple Wallet ----------------------------------------------------------------------------


def test_pkpass_holds_every_file_with_its_sha1_in_the_manifest(settings) -> None:
    files = archive(wallet.pkpass(a_pass(), wallet.load_apple(settings)))
    assert set(files) == {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "icon@3x.png",
                          "logo.png", "logo@2x.png"}
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name
    from PIL import Image

    assert Image.open(io.BytesIO(files["icon.png"])).size == (29, 29)
    assert Image.open(io.BytesIO(files["icon@2x.png"])).size == (58, 58)


def test_pass_json_says_plate_zones_hours_and_validity_in_french_with_the_cq1_qr_code(settings) -> None:
    document = json.loads(archive(wallet.pkpass(a_pass(), wallet.load_apple(settings)))["pass.json"])
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE_ID and document["teamIdentifier"] == TEAM_ID
    assert document["serialNumber"] == "0A1B2C3D4E5F6071" and document["voided"] is False
    assert document["barcodes"] == [{"format": "PKBarcodeFormatQR", "message": SIGNED,
                                     "messageEncoding": "iso-8859-1", "altText": "0A1B2C3D4E5F6071"}]
    assert document["expirationDate"] == "2026-12-10T23:00:00Z"
    by_key = fields(document)
    assert by_key["immatriculation"] == {"key": "immatriculation", "label": "Immatriculation", "value": "AB-123-CD"}
    assert by_key["zones"]["value"] == "Centre historique (PARIS-CENTRE)"
    assert by_key["horaires"]["label"] == "Horaires" and by_key["horaires"]["value"] == "lun.–ven. 7 h–11 h"
    assert by_key["validite"]["label"] == "Validité" and "10/12/2026 inclus" in by_key["validite"]["value"]
    assert by_key["etat"]["value"] == "Valide"
    assert "Seul le contrôle par un agent (scanner CirQliz) fait foi" in by_key["controle"]["value"]
    assert by_key["autorite"]["value"] == "Ville de Démo"


@pytest.mark.parametrize(("state", "label"), [(PassStatus.REVOKED, "Révoqué"), (PassStatus.EXPIRED, "Expiré"),
                                              (PassStatus.SUSPENDED, "Suspendu")])
def test_a_pass_agents_refuse_is_voided_marked_in_french_and_has_no_qr_code(settings, state, label) -> None:
    document = json.loads(archive(wallet.pkpass(a_pass(state), wallet.load_apple(settings)))["pass.json"])
    assert document["voided"] is True
    assert fields(document)["etat"]["value"] == label
    assert "barcodes" not in document and "barcode" not in document
    assert "les agents le refusent" in fields(document)["etat-detail"]["value"]


def test_the_signature_is_a_detached_pkcs7_of_the_manifest_by_the_pass_certificate(settings, tmp_path) -> None:
    credentials = wallet.load_apple(settings)
    files = archive(wallet.pkpass(a_pass(), credentials))
    certificates = pkcs7.load_der_pkcs7_certificates(files["signature"])
    assert credentials.certificate in certificates and credentials.wwdr in certificates
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl absent: the certificates were checked, not the signature itself")
    for name in ("signature", "manifest.json"):
        (tmp_path / name).write_bytes(files[name])
    root = Path(settings.keys_dir) / "wallet" / "root.pem"
    verify = [openssl, "smime", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "signature"),
              "-content", str(tmp_path / "manifest.json"), "-CAfile", str(root), "-purpose", "any",
              "-out", "/dev/null"]
    assert subprocess.run(verify, capture_output=True, check=False).returncode == 0
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"].replace(b"}", b" }"))
    assert subprocess.run(verify, capture_output=True, check=False).returncode != 0, "a changed manifest fails"


def test_a_private_key_readable_by_others_or_outside_the_keys_folder_is_refused(settings, tmp_path) -> None:
    key = Path(settings.keys_dir) / settings.wallet_apple_key
    key.chmod(0o644)
    with pytest.raises(wallet.WalletError, match="chmod 600"):
        wallet.load_apple(settings)
    key.chmod(0o600)
    outside = tmp_path / "ailleurs.key"
    shutil.copy(key, outside)
    moved = Settings(**{**_fields(settings), "wallet_apple_key": str(outside)})
    with pytest.raises(wallet.WalletError, match="dossier des clés"):
        wallet.load_apple(moved)


def _fields(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


# ---- Google Wallet ---------------------------------------------------------------------------


def _decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _jwt(settings: Settings, state: PassStatus = PassStatus.ACTIVE) -> tuple[dict, dict]:
    url = wallet.save_url(a_pass(state), wallet.load_google(settings), origin=settings.base_url, now=NOW)
    assert url.startswith("https://pay.google.com/gp/v/save/")
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    header, claims, signature = token.split(".")
    google_public_key(Path(settings.keys_dir)).verify(  # raises when the signature is wrong
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), f"{header}.{claims}".encode("ascii"),
        padding.PKCS1v15(), hashes.SHA256())
    return _decode(header), _decode(claims)


def test_google_jwt_is_rs256_signed_by_the_service_account_with_the_save_claims(settings) -> None:
    header, claims = _jwt(settings)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "cle-test-1"}
    assert claims["iss"] == SERVICE_EMAIL and claims["aud"] == "google" and claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://cirqliz.ville.fr"] and claims["iat"] == int(NOW.timestamp())
    [item] = claims["payload"]["genericObjects"]
    assert item["id"] == f"{ISSUER_ID}.0A1B2C3D4E5F6071"
    assert item["classId"] == f"{ISSUER_ID}.laissez_passer"
    assert item["state"] == "ACTIVE"
    assert item["header"]["defaultValue"] == {"language": "fr", "value": "AB-123-CD"}
    assert item["cardTitle"]["defaultValue"]["value"] == "Laissez-passer — Ville de Démo"
    assert item["barcode"] == {"type": "QR_CODE", "value": SIGNED, "alternateText": "0A1B2C3D4E5F6071"}
    modules = {m["id"]: m for m in item["textModulesData"]}
    assert modules["zones"]["body"] == "Centre historique (PARIS-CENTRE)"
    assert modules["horaires"]["header"] == "Horaires" and modules["validite"]["header"] == "Validité"
    assert "fait foi" in modules["controle"]["body"]


def test_a_tampered_google_jwt_fails_verification(settings) -> None:
    token = wallet.save_jwt(a_pass(), wallet.load_google(settings), origin=settings.base_url, now=NOW)
    header, claims, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**_decode(claims), "iss": "x@y.z"}).encode()).rstrip(b"=").decode()
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        google_public_key(Path(settings.keys_dir)).verify(
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), f"{header}.{forged}".encode(),
            padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(("state", "google"), [(PassStatus.EXPIRED, "EXPIRED"), (PassStatus.REVOKED, "INACTIVE"),
                                               (PassStatus.SUSPENDED, "INACTIVE")])
def test_google_state_of_a_pass_agents_refuse(settings, state, google) -> None:
    _, claims = _jwt(settings, state)
    [item] = claims["payload"]["genericObjects"]
    assert item["state"] == google and "barcode" not in item


# ---- settings and doctor ---------------------------------------------------------------------


def test_wallet_settings_come_together_and_in_their_own_form(settings) -> None:
    assert not wallet.apple_configured(Settings()) and not wallet.google_configured(Settings())
    with pytest.raises(SettingsError, match="CIRQLIZ_WALLET_APPLE_KEY"):
        Settings(wallet_apple_cert="wallet/pass.pem")
    with pytest.raises(SettingsError, match="CIRQLIZ_WALLET_GOOGLE_SERVICE_ACCOUNT"):
        Settings(wallet_google_issuer_id="123")
    with pytest.raises(SettingsError, match="pass\\."):
        Settings(**{**_fields(settings), "wallet_apple_pass_type_id": "fr.cirqliz"})
    with pytest.raises(SettingsError, match="10 lettres"):
        Settings(**{**_fields(settings), "wallet_apple_team_id": "abc"})
    with pytest.raises(SettingsError, match="ISSUER_ID"):
        Settings(**{**_fields(settings), "wallet_google_issuer_id": "abc"})
    env = {"CIRQLIZ_WALLET_GOOGLE_ISSUER_ID": "42", "CIRQLIZ_WALLET_GOOGLE_SERVICE_ACCOUNT": "wallet/g.json"}
    assert Settings.from_env(env).wallet_google_issuer_id == "42"


def _doctor(settings: Settings, now: datetime = NOW) -> dict[str, tuple[str, str]]:
    report = Report()
    _wallet(report, settings, now)
    return {c.label: (c.status, c.detail) for c in report.checks}


def test_doctor_says_whether_wallet_signing_is_configured(settings) -> None:
    lines = _doctor(Settings())
    assert lines["Apple Wallet"][0] == INFO and "non configuré" in lines["Apple Wallet"][1]
    assert lines["Google Wallet"][0] == INFO
    lines = _doctor(settings)
    assert lines["Apple Wallet"][0] == OK and "valable jusqu'au 31/12/2028" in lines["Apple Wallet"][1]
    assert lines["Google Wallet"][0] == OK and SERVICE_EMAIL in lines["Google Wallet"][1]


def test_doctor_warns_of_a_certificate_expiring_within_30_days_and_fails_an_expired_one(settings) -> None:
    soon = datetime(2028, 12, 10, tzinfo=UTC)
    status, detail = _doctor(settings, soon)["Apple Wallet"]
    assert status == INFO and "à renouveler" in detail and "31/12/2028" in detail
    status, detail = _doctor(settings, datetime(2029, 1, 2, tzinfo=UTC))["Apple Wallet"]
    assert status == FAIL and "expiré" in detail


def test_doctor_names_an_unreadable_credential(settings) -> None:
    (Path(settings.keys_dir) / settings.wallet_google_service_account).chmod(0o644)
    status, detail = _doctor(settings)["Google Wallet"]
    assert status == FAIL and "chmod 600" in detail
