"""POST /api/v1/verify with zones of several authorities (issue 19): `zone` as `AUTHORITY/CODE`, the
verdict's issuer, issuer_name and zone_authority, and the remote partners of the token's authority
(their last accepted bundle, fetched from an http.server on 127.0.0.1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from remote_files import RemoteFiles as Remote

from cirqliz.db.models import AccessPass
from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS
from cirqliz.issuance import partners
from cirqliz.issuance.api_tokens import create_api_token
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.bundle import BundleZone, root_fingerprint
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.token import sign_pass

from .conftest import WebWorld
from .mailbox import in_db
from .two_authorities import B_CODE, TwoAuthorities, add_second_authority

pytestmark = pytest.mark.usefixtures("private_network_allowed")

PREF_ZONE = BundleZone(ref=1, code="PREF-PERIM", name="Périmètre de la préfecture", kind="limited_traffic",
                       tz="Europe/Paris")


@pytest.fixture
def two(web_world: WebWorld) -> TwoAuthorities:
    return add_second_authority(web_world)


@pytest.fixture
def pref(web_world: WebWorld, remote: Remote, tmp_path: Path) -> KeyStore:
    """A remote authority with one zone, publishing its bundle and root key over HTTP."""
    store = KeyStore.init(tmp_path / "pref", issuer="pref", clock=web_world.clock)
    data, _ = store.build_bundle(zones=[PREF_ZONE])
    remote.files["/bundle/pref.cose"] = data
    remote.files["/bundle/pref/root.pem"] = store.root_public().pem()
    return store


def pref_pass(world: WebWorld, store: KeyStore) -> str:
    now = int(world.clock.now().timestamp())
    claims = PassClaims(iss="pref", iat=now, nbf=now, exp=now + 5 * 86400, cti=bytes.fromhex("00a1b2c3d4e5f607"),
                        zones=(1,), plate="AB123CD", purpose=1)
    return sign_pass(claims, store.signing_key())


def token(world: WebWorld, organisation, user: str) -> dict[str, str]:
    async def work(session):
        _, secret = await create_api_token(session, organisation_id=organisation, name="tests", scopes=("verify",),
                                           created_by=USER_IDS[user], clock=world.clock)
        return secret

    return {"Authorization": f"Bearer {in_db(world, work)}"}


def signed_text(world: WebWorld, pass_id) -> str:
    async def work(session):
        return (await session.get(AccessPass, pass_id)).signed_text

    return in_db(world, work)


def add_pref_partner(world: WebWorld, remote: Remote, store: KeyStore) -> None:
    async def work(session):
        await partners.add_partner(
            session, authority_id=AUTHORITY_ID, name="Préfecture de police",
            bundle_url=f"{remote.base}/bundle/pref.cose", root_pem="",
            fingerprint=root_fingerprint(store.root_public().spki()), actor_id=USER_IDS["admin"],
            clock=world.clock, signer=world.app.state.signer)

    in_db(world, work)


def verify(client: TestClient, headers: dict[str, str], text: str, zone: str, **extra: str) -> dict:
    response = client.post("/api/v1/verify", json={"text": text, "zone": zone, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_zone_of_another_authority_is_wrong_zone_and_says_whose(client: TestClient, web_world: WebWorld,
                                                                  two: TwoAuthorities) -> None:
    headers = token(web_world, COMPANY_ID, "pro")
    text = signed_text(web_world, two.a.ids["pass_id"])
    plain = verify(client, headers, text, two.a.zone_code)
    same = verify(client, headers, text, f"{two.a.code}/{two.a.zone_code}")
    assert same["status"] == plain["status"] and same["reason"] == plain["reason"]
    assert same["issuer"] == two.a.code and same["zone_authority"] == two.a.code
    assert same["issuer_name"] == "Ville de Démo"
    other = verify(client, headers, text, f"{B_CODE}/{two.b.zone_code}")
    assert (other["status"], other["reason"]) == ("REFUSED", "WRONG_ZONE")
    assert other["issuer"] == two.a.code and other["zone_authority"] == B_CODE
    assert other["bundle_seq"] is not None


def test_an_unknown_authority_or_a_bad_reference(client: TestClient, web_world: WebWorld,
                                                 two: TwoAuthorities) -> None:
    headers = token(web_world, COMPANY_ID, "pro")
    text = signed_text(web_world, two.a.ids["pass_id"])
    unknown = verify(client, headers, text, "nulle-part/CENTRE")
    assert (unknown["status"], unknown["reason"]) == ("UNCERTAIN", "UNKNOWN_ZONE")
    assert unknown["zone_authority"] is None
    for bad in ("a/b/c", "/CENTRE", "demo75/"):
        response = client.post("/api/v1/verify", json={"text": text, "zone": bad}, headers=headers)
        assert response.status_code == 400 and response.json()["field"] == "zone", bad
        assert "AUTORITÉ/CODE" in response.json()["detail"]


def test_a_remote_partners_pass_is_checked_for_its_authoritys_token_only(client: TestClient, web_world: WebWorld,
                                                                         remote: Remote, pref: KeyStore) -> None:
    text = pref_pass(web_world, pref)
    authority = token(web_world, AUTHORITY_ID, "admin")
    company = token(web_world, COMPANY_ID, "pro")
    # Not yet a partner: nobody trusts it.
    assert verify(client, authority, text, "pref/PREF-PERIM")["reason"] == "UNKNOWN_KEY"
    add_pref_partner(web_world, remote, pref)
    remote.files.clear()  # checked with the stored bundle, nothing fetched per request
    valid = verify(client, authority, text, "pref/PREF-PERIM", plate="AB-123-CD")
    assert (valid["status"], valid["reason"]) == ("VALID", "VALID")
    assert valid["issuer"] == "pref" and valid["zone_authority"] == "pref"
    assert valid["issuer_name"] == "Préfecture de police" and valid["bundle_seq"] == 1
    at_home = verify(client, authority, text, "PARIS-CENTRE")
    assert at_home["reason"] == "WRONG_ZONE" and at_home["issuer"] == "pref"
    assert at_home["zone_authority"] == "demo75"
    # A company's token trusts the authorities of this platform only.
    refused = verify(client, company, text, "pref/PREF-PERIM")
    assert (refused["status"], refused["reason"]) == ("REFUSED", "UNKNOWN_KEY") and refused["issuer"] is None


def test_a_remote_partners_stored_bundle_is_opened_once_per_seq(client: TestClient, web_world: WebWorld,
                                                                remote: Remote, pref: KeyStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    add_pref_partner(web_world, remote, pref)
    headers = token(web_world, AUTHORITY_ID, "admin")
    text = pref_pass(web_world, pref)
    opened = []
    original = partners.open_partner_bundle

    def counting(data, root, **kw):
        opened.append(1)
        return original(data, root, **kw)

    monkeypatch.setattr(partners, "open_partner_bundle", counting)
    for _ in range(3):
        assert verify(client, headers, text, "pref/PREF-PERIM")["status"] == "VALID"
    assert len(opened) == 1
    # The sync job takes a newer bundle: opened once more, then kept.
    data, _ = pref.build_bundle(zones=[PREF_ZONE])
    remote.files["/bundle/pref.cose"] = data
    web_world.clock.advance(timedelta(minutes=5))

    async def sync(session):
        return await partners.sync_in_session(session, web_world.clock, signer=web_world.app.state.signer)

    monkeypatch.setattr(partners, "open_partner_bundle", original)
    assert in_db(web_world, sync).updated == [("pref", 2)]
    monkeypatch.setattr(partners, "open_partner_bundle", counting)
    for _ in range(2):
        assert verify(client, headers, text, "pref/PREF-PERIM")["bundle_seq"] == 2
    assert len(opened) == 2
