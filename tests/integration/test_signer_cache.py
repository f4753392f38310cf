"""The pass signer keeps the keyring and the private key loaded between passes, and follows a
rotation, a withdrawal, a permission change or a missing file at the next pass."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cirqliz.domain.errors import DomainError
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.signer import ClaimsInput
from cirqliz.issuance.signing import KeyStoreSigner

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _claims(serial: int) -> ClaimsInput:
    return ClaimsInput(issuer="TEST", serial=serial.to_bytes(8, "big"), issued_at=NOW, not_before=NOW,
                       expires_at=NOW.replace(day=20), plate="AB123CD", zone_refs=(1,), purpose=Purpose.DELIVERY)


@pytest.fixture
def published(tmp_path: Path) -> KeyStore:
    store = KeyStore.init(tmp_path / "TEST", issuer="TEST")
    store.build_bundle(zones=())
    return store


def test_the_key_is_loaded_once_for_many_passes(tmp_path: Path, published: KeyStore, monkeypatch) -> None:
    loads: list[str] = []
    original = KeyStore.load_private
    monkeypatch.setattr(KeyStore, "load_private", lambda self, kid: loads.append(kid) or original(self, kid))
    signer = KeyStoreSigner(tmp_path)
    kids = {signer.sign(claims_input=_claims(n)).kid for n in range(5)}
    assert kids == {published.keys[0].kid} and loads == [published.keys[0].kid]


def test_a_rotation_published_elsewhere_is_followed(tmp_path: Path, published: KeyStore) -> None:
    signer = KeyStoreSigner(tmp_path)
    first = signer.sign(claims_input=_claims(1)).kid
    other = KeyStore(published.path)  # another process: the CLI, the publication job
    new = other.rotate()
    assert signer.sign(claims_input=_claims(2)).kid == first  # pending: not published yet
    other.build_bundle(zones=())
    assert signer.sign(claims_input=_claims(3)).kid == new.kid
    KeyStore(published.path).withdraw(new.kid)
    assert signer.sign(claims_input=_claims(4)).kid == first


def test_a_cached_key_is_still_refused_when_its_file_is_opened_up_or_gone(tmp_path: Path, published: KeyStore) -> None:
    signer = KeyStoreSigner(tmp_path)
    kid = signer.sign(claims_input=_claims(1)).kid
    file = published.path / "private" / f"{kid}.pem"
    file.chmod(0o644)
    with pytest.raises(DomainError) as refused:
        signer.sign(claims_input=_claims(2))
    assert refused.value.code == "key_permissions"
    file.chmod(0o600)
    assert signer.sign(claims_input=_claims(3)).kid == kid
    file.rename(file.with_suffix(".bak"))
    with pytest.raises(DomainError) as missing:
        signer.sign(claims_input=_claims(4))
    assert missing.value.code == "missing_key"


def test_a_batch_checks_the_keyring_and_the_key_once(tmp_path: Path, published: KeyStore, monkeypatch) -> None:
    reads: list[Path] = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    batch = KeyStoreSigner(tmp_path).for_batch()
    kids = {batch.sign(claims_input=_claims(n)).kid for n in range(5)}
    assert kids == {published.keys[0].kid}
    assert [p.name for p in reads] == ["keyring.json", f"{published.keys[0].kid}.pem"]  # once each
    assert {batch.sign(claims_input=_claims(n)).serial for n in range(5, 7)} == {_claims(5).serial, _claims(6).serial}


def test_a_batch_refuses_like_the_signer(tmp_path: Path, published: KeyStore) -> None:
    kid = published.keys[0].kid
    (published.path / "private" / f"{kid}.pem").chmod(0o644)
    with pytest.raises(DomainError) as refused:
        KeyStoreSigner(tmp_path).for_batch().sign(claims_input=_claims(1))
    assert refused.value.code == "key_permissions"
    assert refused.value.message.startswith("signature impossible : la clé privée de signature est lisible")
