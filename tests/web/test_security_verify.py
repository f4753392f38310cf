"""Issue 14 (security), scheme side: the online verifier, the public bundle files and the OpenAPI
document never trust what a request or a pass says about the server's disk or routes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from cirqliz.clock import FixedClock, to_epoch
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, USER_IDS
from cirqliz.domain.errors import DomainError
from cirqliz.issuance import keystore as keystore_module
from cirqliz.issuance.api_tokens import create_api_token
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.passcode.bundle import BundleZone, open_bundle
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.keys import VerifyKey
from cirqliz.passcode.token import sign_pass
from cirqliz.settings import Settings
from cirqliz.web.app import create_app
from cirqliz.web.controllers import bundles
from cirqliz.web.controllers.bundles import BundleFiles

from .conftest import WebWorld
from .mailbox import in_db


def _token(world: WebWorld, scopes: tuple[str, ...] = ("verify",)) -> dict[str, str]:
    async def work(session):
        _, token = await create_api_token(session, organisation_id=COMPANY_ID, name="tests", scopes=scopes,
                                          created_by=USER_IDS["pro"], clock=world.clock)
        return token

    return {"Authorization": f"Bearer {in_db(world, work)}"}


def _planted_keys(folder: Path, issuer: str, world: WebWorld) -> str:
    """Keys an attacker managed to write somewhere on the server's disk, a bundle naming the
    checkpoint zone, and a pass they signed for it with `iss` = `issuer`: the text of that pass."""
    earlier = FixedClock(world.clock.now() - timedelta(hours=2))
    store = KeyStore.init(folder, issuer="evil", clock=earlier)
    store.issuer = issuer  # the issuer as the pass will name it: a path to this folder
    store.build_bundle(zones=[BundleZone(1, "PARIS-CENTRE", "Paris Centre", "limited_traffic", "Europe/Paris")])
    now = to_epoch(world.clock.now())
    claims = PassClaims(iss=issuer, iat=now - 3600, nbf=now - 3600, exp=now + 86400, cti=b"\x42" * 8,
                        zones=(1,), plate="AB123CD", purpose=1)
    return sign_pass(claims, store.signing_key())


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short absolute path (a pass's `iss` holds at most 64 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="cq", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ---- item 2: the issuer of a pass is looked up, never joined to a path ---------------------


def test_a_pass_naming_a_relative_path_as_issuer_is_refused(client: TestClient, web_world: WebWorld) -> None:
    # keys_dir is <root>/keys: "../planted" is <root>/planted, outside the keys folder.
    text = _planted_keys(web_world.root / "planted", "../planted", web_world)
    response = client.post("/api/v1/verify", json={"text": text, "zone": "PARIS-CENTRE"}, headers=_token(web_world))
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert (verdict["status"], verdict["reason"]) == ("REFUSED", "UNKNOWN_KEY")
    assert verdict["claims"] is None and verdict["issuer"] is None  # nothing unverified is echoed back
    assert "../planted" not in response.text


def test_a_pass_naming_an_absolute_path_as_issuer_is_refused(client: TestClient, web_world: WebWorld,
                                                              short_tmp: Path) -> None:
    issuer = str(short_tmp / "k")
    text = _planted_keys(short_tmp / "k", issuer, web_world)
    response = client.post("/api/v1/verify", json={"text": text, "zone": "PARIS-CENTRE"}, headers=_token(web_world))
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["reason"]) == ("REFUSED", "UNKNOWN_KEY")


def test_the_verify_path_reads_no_folder_named_by_the_pass(client: TestClient, web_world: WebWorld,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    text = _planted_keys(web_world.root / "planted", "../planted", web_world)
    opened: list[Path] = []
    original = KeyStore.__init__

    def spy(self, path, **kw):
        opened.append(Path(path))
        original(self, path, **kw)

    monkeypatch.setattr(KeyStore, "__init__", spy)
    client.post("/api/v1/verify", json={"text": text, "zone": "PARIS-CENTRE"}, headers=_token(web_world))
    assert all("planted" not in str(p) for p in opened), opened


def test_the_signer_refuses_an_authority_code_that_is_not_a_plain_name(web_world: WebWorld) -> None:
    _planted_keys(web_world.root / "planted", "../planted", web_world)
    signer = web_world.app.state.signer
    for code in ("../planted", str(web_world.root / "planted"), "a/../../planted", "..", ".", ""):
        with pytest.raises(DomainError) as info:
            signer.keystore(code)
        assert info.value.code == "bad_authority_code"
    assert signer.keystore(AUTHORITY_CODE).last_seq >= 1  # a real code still works


# ---- OpenAPI: production documents the API only ---------------------------------------------


def _schema_paths(root: Path, env: str) -> set[str]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{root / 'cirqliz.db'}", env=env,
        secret_key="test-secret-key-not-for-production-0123456789", keys_dir=str(root / "keys"),
        documents_dir=str(root / "documents"), outbox_dir=str(root / "outbox"), scheduler_enabled=False,
    )
    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as client:
        response = client.get("/schema/openapi.json")
        assert response.status_code == 200, response.text
        assert client.get("/schema").status_code == 200  # the viewer is still there
        # Left out of the document, the other routes still answer as before.
        assert client.get("/connexion").status_code == 200
        assert client.get("/static/scanner/bundle.js").status_code == 200
        assert client.get("/bundle/nowhere.cose").status_code == 404
        assert client.get("/api/v1/passes").status_code == 401
        document = response.json()
        # Every API operation is named in French for the viewer (not Litestar's « CreateApplicationApi »).
        summaries = {path: op["summary"] for path, item in document["paths"].items() if path.startswith("/api/")
                     for op in item.values()}
        assert summaries and all(" " in s and not s.endswith("Api") for s in summaries.values()), summaries
        return set(document["paths"])


def test_openapi_in_production_lists_only_the_api(tmp_path: Path) -> None:
    paths = _schema_paths(tmp_path, "production")
    assert {"/api/v1/applications", "/api/v1/passes", "/api/v1/verify"} <= paths
    assert all(path.startswith("/api/") for path in paths), sorted(p for p in paths if not p.startswith("/api/"))


def test_openapi_outside_production_still_lists_the_public_open_data(tmp_path: Path) -> None:
    paths = _schema_paths(tmp_path, "test")
    assert "/api/v1/verify" in paths and any(p.startswith("/donnees/") for p in paths)
    assert not any(p.startswith("/bundle/") for p in paths)


# ---- item 13: bundle files are signed once per (authority, since, seq) -----------------------


def _publish(world: WebWorld) -> int:
    async def work(session):
        _, content = await publish_bundle(session, authority_id=AUTHORITY_ID,
                                          keystore=world.app.state.signer.keystore(AUTHORITY_CODE), clock=world.clock)
        return content.seq

    return in_db(world, work)


def test_a_delta_is_signed_once_and_a_new_publication_is_served(client: TestClient, web_world: WebWorld,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = VerifyKey.from_pem(client.get(f"/bundle/{AUTHORITY_CODE}/root.pem").content)
    first_seq = open_bundle(client.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [root]).seq
    held = open_bundle(client.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [root])
    seq = _publish(web_world)
    signed: list[int] = []
    original = keystore_module.sign_delta

    def counting(base, new, key):
        signed.append(new.seq)
        return original(base, new, key)

    monkeypatch.setattr(keystore_module, "sign_delta", counting)
    answers = [client.get(f"/bundle/{AUTHORITY_CODE}.cose", params={"since": first_seq}) for _ in range(3)]
    assert [a.headers["x-bundle-kind"] for a in answers] == ["delta"] * 3
    assert answers[0].content == answers[1].content == answers[2].content
    assert signed == [seq]  # signed once, served three times
    assert open_bundle(answers[0].content, [root], current=held).seq == seq

    newer = _publish(web_world)
    delta = client.get(f"/bundle/{AUTHORITY_CODE}.cose", params={"since": first_seq})
    full = client.get(f"/bundle/{AUTHORITY_CODE}.cose")
    assert delta.headers["x-bundle-seq"] == full.headers["x-bundle-seq"] == str(newer)
    assert open_bundle(delta.content, [root], current=held).seq == newer
    assert open_bundle(full.content, [root]).seq == newer
    assert signed == [seq, newer]


def test_the_bundle_files_kept_are_bounded() -> None:
    files = BundleFiles(size=4)
    for since in range(1, 11):
        files.put(("keys/x", since, 11, 0), b"delta %d" % since)
        files.get(("keys/x", 1, 11, 0))  # used on every sync: kept
    assert len(files) == 4
    assert files.get(("keys/x", 1, 11, 0)) == b"delta 1" and files.get(("keys/x", 10, 11, 0)) == b"delta 10"
    assert files.get(("keys/x", 5, 11, 0)) is None
    by_bytes = BundleFiles(size=100, max_bytes=10)
    for since in range(1, 6):
        by_bytes.put(("keys/x", since, 11, 0), b"abcd")
    assert len(by_bytes) == 2  # 8 bytes kept, the older ones dropped


def test_deltas_are_built_only_from_recent_publications(client: TestClient, web_world: WebWorld,
                                                        monkeypatch) -> None:
    """A base older than DELTA_WINDOW publications gets the full bundle: cycling `since` cannot make
    the server sign more than DELTA_WINDOW deltas per publication."""
    monkeypatch.setattr(bundles, "DELTA_WINDOW", 1)
    seq = int(client.get(f"/bundle/{AUTHORITY_CODE}.cose").headers["x-bundle-seq"])
    _publish(web_world)
    _publish(web_world)
    recent = client.get(f"/bundle/{AUTHORITY_CODE}.cose?since={seq + 1}")
    old = client.get(f"/bundle/{AUTHORITY_CODE}.cose?since={seq}")
    assert recent.headers["x-bundle-kind"] == "delta"
    assert old.headers["x-bundle-kind"] == "full"
