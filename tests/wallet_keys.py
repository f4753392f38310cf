"""Self-made wallet credentials for tests: a root standing for Apple, a WWDR intermediate, a Pass Type ID
certificate, and a Google service account JSON key, written under a keys folder as a deployer would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PASS_TYPE_ID = "pass.fr.cirqliz.test"
TEAM_ID = "ABCDE12345"
ISSUER_ID = "3388000000012345678"
SERVICE_EMAIL = "cirqliz-wallet@exemple-projet.iam.gserviceaccount.com"


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool, not_after: datetime) -> x509.Certificate:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def make_wallet_credentials(keys_dir: Path, *, pass_cert_days: int = 365 * 3) -> dict[str, str]:
    """Write the credentials under `keys_dir/wallet/` and return the Settings fields that name them
    (relative to the keys folder); the root certificate is at `keys_dir/wallet/root.pem`."""
    folder = keys_dir / "wallet"
    folder.mkdir(parents=True, exist_ok=True)
    far = datetime(2036, 1, 1, tzinfo=UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Test Root CA", root_key, "Test Root CA", root_key, ca=True, not_after=far)
    wwdr_key = ec.generate_private_key(ec.SECP256R1())
    wwdr = _cert("Test WWDR", wwdr_key, "Test Root CA", root_key, ca=True, not_after=far)
    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    not_after = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=pass_cert_days)
    pass_cert = _cert(f"Pass Type ID: {PASS_TYPE_ID}", pass_key, "Test WWDR", wwdr_key, ca=False,
                      not_after=not_after)
    (folder / "root.pem").write_bytes(_pem(root))
    (folder / "wwdr.pem").write_bytes(_pem(wwdr))
    (folder / "pass.pem").write_bytes(_pem(pass_cert))
    _private(folder / "pass.key", pass_key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    google_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {"type": "service_account", "project_id": "exemple-projet", "private_key_id": "cle-test-1",
               "private_key": google_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()).decode("ascii"),
               "client_email": SERVICE_EMAIL}
    _private(folder / "google.json", json.dumps(account).encode("utf-8"))
    return {"wallet_apple_cert": "wallet/pass.pem", "wallet_apple_key": "wallet/pass.key",
            "wallet_apple_wwdr": "wallet/wwdr.pem", "wallet_apple_pass_type_id": PASS_TYPE_ID,
            "wallet_apple_team_id": TEAM_ID, "wallet_google_issuer_id": ISSUER_ID,
            "wallet_google_service_account": "wallet/google.json"}


def google_public_key(keys_dir: Path) -> rsa.RSAPublicKey:
    """The public half of the test service account's key."""
    account = json.loads((keys_dir / "wallet" / "google.json").read_text())
    key = serialization.load_pem_private_key(account["private_key"].encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()
