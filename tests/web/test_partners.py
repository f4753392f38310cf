"""The partner authorities pages (/autorite/partenaires) and the relay scanners fetch partner bundles
from (/scan/partenaires/{iss}.cose), issue 19. The demo authority (demo75) adds the second authority
of the platform (bis69, local) and a remote one served by http.server on 127.0.0.1."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from litestar.testing import TestClient
from remote_files import REAL_FETCH_URL
from remote_files import RemoteFiles as Remote
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, AuthorityPartner, PartnerBundle
from cirqliz.demo.seed import AUTHORITY_CODE
from cirqliz.issuance import partners as partners_service
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.bundle import root_fingerprint

from .conftest import WebWorld, login, post_form
from .conftest import text_of as _text_of
from .mailbox import in_db
from .two_authorities import B_CODE, TwoAuthorities, add_second_authority, database_state, sign_in

pytestmark = pytest.mark.usefixtures("private_network_allowed")


def text_of(page: str) -> str:
    """Visible text of a page, entities decoded."""
    return html.unescape(_text_of(page))


@pytest.fixture
def pref(web_world: WebWorld, remote: Remote, tmp_path: Path) -> KeyStore:
    """A remote authority (not on this platform) publishing its bundle and root key."""
    store = KeyStore.init(tmp_path / "pref", issuer="pref", clock=web_world.clock)
    data, _ = store.build_bundle(zones=[])
    remote.files["/bundle/pref.cose"] = data
    remote.files["/bundle/pref/root.pem"] = store.root_public().pem()
    return store


@pytest.fixture
def two(web_world: WebWorld) -> TwoAuthorities:
    return add_second_authority(web_world)


def fingerprint(store: KeyStore) -> str:
    return root_fingerprint(store.root_public().spki())


def keys(world: WebWorld, code: str) -> KeyStore:
    return KeyStore(Path(world.settings.keys_dir) / code, clock=world.clock)


def partners(world: WebWorld) -> list[AuthorityPartner]:
    async def work(session):
        return list((await session.exec(select(AuthorityPartner).order_by(col(AuthorityPartner.iss)))).all())

    return in_db(world, work)


def add_local_partner(client: TestClient, world: WebWorld) -> object:
    return post_form(client, "/autorite/partenaires", {
        "name": "Ville Bis (partenaire)", "bundle_url": f"https://cirqliz.example/bundle/{B_CODE}.cose",
        "root_pem": "", "fingerprint": fingerprint(keys(world, B_CODE)),
    }, follow_redirects=False)


# ---- the admin page ---------------------------------------------------------------------------


def test_the_page_shows_the_own_root_fingerprint_to_read_out(client: TestClient, web_world: WebWorld) -> None:
    login(client, "admin")
    page = client.get("/autorite/partenaires")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Empreinte de votre clé racine, à lire à vos partenaires" in text
    assert fingerprint(keys(web_world, AUTHORITY_CODE)) in text
    assert "Aucune autorité partenaire pour l'instant." in text
    assert f"http://testserver.local/bundle/{AUTHORITY_CODE}.cose" in text
    assert 'href="/autorite/partenaires" aria-current="page"' in page.text  # the menu link
    # The keys page shows it too.
    assert fingerprint(keys(web_world, AUTHORITY_CODE)) in text_of(client.get("/autorite/cles").text)
    english = text_of(client.get("/autorite/partenaires?lang=en").text)
    assert "Fingerprint of your root key, to read out to your partners" in english


@pytest.mark.parametrize("who", ["reviewer", "agent", "pro"])
def test_only_authority_admins_see_the_page(client: TestClient, web_world: WebWorld, who: str) -> None:
    login(client, who)
    assert client.get("/autorite/partenaires").status_code == 403
    assert post_form(client, "/autorite/partenaires", {"name": "x"}).status_code == 403


def test_adding_a_local_partner_lists_it_audits_it_and_publishes(client: TestClient, web_world: WebWorld,
                                                                 two: TwoAuthorities) -> None:
    login(client, "admin")
    seq = keys(web_world, AUTHORITY_CODE).last_seq
    added = add_local_partner(client, web_world)
    assert added.status_code == 303 and added.headers["location"] == "/autorite/partenaires?ok=ajoute"
    text = text_of(client.get("/autorite/partenaires?ok=ajoute").text)
    assert "Partenaire ajouté" in text and "Ville Bis (partenaire)" in text and B_CODE in text
    assert "sur cette plateforme" in text
    groups = fingerprint(keys(web_world, B_CODE))
    assert groups in text  # in groups of 4, as read out
    assert keys(web_world, AUTHORITY_CODE).last_seq == seq + 1  # published again
    journal = text_of(client.get("/autorite/journal", params={"entity": "partner"}).text)
    assert "Alice Admin a ajouté : autorité partenaire" in journal
    assert "empreinte de la clé racine" in journal


def test_a_wrong_fingerprint_is_a_french_400_with_the_form_kept(client: TestClient, web_world: WebWorld,
                                                                two: TwoAuthorities) -> None:
    login(client, "admin")
    before = database_state(web_world)
    wrong = fingerprint(keys(web_world, AUTHORITY_CODE))
    response = post_form(client, "/autorite/partenaires", {
        "name": "Ville Bis", "bundle_url": f"https://cirqliz.example/bundle/{B_CODE}.cose", "fingerprint": wrong})
    assert response.status_code == 400
    text = text_of(response.text)
    assert "L'empreinte saisie ne correspond pas à la clé racine" in text
    assert 'value="Ville Bis"' in response.text and f'value="{wrong}"' in response.text
    assert database_state(web_world) == before  # nothing stored, not even an audit record
    empty = post_form(client, "/autorite/partenaires", {"name": "", "bundle_url": "", "fingerprint": ""})
    assert empty.status_code == 400 and "Nom : champ obligatoire." in text_of(empty.text)


def test_a_remote_partner_shows_its_bundle_and_last_error(client: TestClient, web_world: WebWorld, remote: Remote,
                                                          pref: KeyStore) -> None:
    login(client, "admin")
    added = post_form(client, "/autorite/partenaires", {
        "name": "Préfecture de police", "bundle_url": f"{remote.base}/bundle/pref.cose",
        "fingerprint": fingerprint(pref).replace(" ", ":")}, follow_redirects=False)
    assert added.status_code == 303, text_of(added.text)
    text = text_of(client.get("/autorite/partenaires").text)
    assert "distant" in text and "n° 1" in text and "reçu à l'instant" in text

    def fail(session):
        async def work():
            row = (await session.exec(select(PartnerBundle))).one()
            row.last_error = "paquet injoignable : délai dépassé"
            session.add(row)
        return work()

    in_db(web_world, fail)
    assert "Dernière erreur : paquet injoignable : délai dépassé" in text_of(client.get("/autorite/partenaires").text)


def test_removing_needs_confirmation_and_stays_within_the_authority(client: TestClient, web_world: WebWorld,
                                                                    two: TwoAuthorities) -> None:
    login(client, "admin")
    add_local_partner(client, web_world)
    (partner,) = partners(web_world)
    unconfirmed = post_form(client, f"/autorite/partenaires/{partner.id}/retrait", {})
    assert unconfirmed.status_code == 400 and "Cochez la case de confirmation" in text_of(unconfirmed.text)
    # The other authority's admin cannot remove it.
    with TestClient(web_world.app) as other:
        sign_in(other, two.b, "admin")
        assert post_form(other, f"/autorite/partenaires/{partner.id}/retrait", {"confirm": "oui"}).status_code == 404
    assert len(partners(web_world)) == 1
    seq = keys(web_world, AUTHORITY_CODE).last_seq
    removed = post_form(client, f"/autorite/partenaires/{partner.id}/retrait", {"confirm": "oui"},
                        follow_redirects=False)
    assert removed.status_code == 303 and partners(web_world) == []
    assert keys(web_world, AUTHORITY_CODE).last_seq == seq + 1

    def audits(session):
        async def work():
            return (await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "partner")
                                       .order_by(col(AuditRecord.seq)))).all()
        return work()

    assert [r.action for r in in_db(web_world, audits)] == ["add", "remove"]


# ---- the relay --------------------------------------------------------------------------------


def test_the_relay_serves_a_local_partners_published_bundle(client: TestClient, web_world: WebWorld,
                                                            two: TwoAuthorities) -> None:
    login(client, "admin")
    add_local_partner(client, web_world)
    with TestClient(web_world.app) as agent:
        login(agent, "agent")
        response = agent.get(f"/scan/partenaires/{B_CODE}.cose")
        assert response.status_code == 200, response.text
        b = keys(web_world, B_CODE)
        assert response.content == (b.path / "bundles" / f"{b.last_seq}.cose").read_bytes()
        assert response.headers["content-type"].startswith("application/cose")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-bundle-seq"] == str(b.last_seq)
        assert int(response.headers["x-server-time"]) == int(web_world.clock.now().timestamp())
        etag = response.headers["etag"]
        assert agent.get(f"/scan/partenaires/{B_CODE}.cose", headers={"If-None-Match": etag}).status_code == 304
        held = agent.get(f"/scan/partenaires/{B_CODE}.cose", params={"since": b.last_seq})
        assert held.status_code == 204 and held.content == b""
        assert agent.get(f"/scan/partenaires/{B_CODE}.cose", params={"since": 0}).status_code == 200
        missing = agent.get("/scan/partenaires/inconnue.cose")
        assert missing.status_code == 404 and "pas partenaire" in missing.text
        assert agent.get(f"/scan/partenaires/{B_CODE}.json").status_code == 404
    # The other authority's agent: bis69 has no partner.
    with TestClient(web_world.app) as other_agent:
        sign_in(other_agent, two.b, "agent")
        assert other_agent.get(f"/scan/partenaires/{AUTHORITY_CODE}.cose").status_code == 404
    # Only agents.
    assert client.get(f"/scan/partenaires/{B_CODE}.cose").status_code == 403


def test_the_relay_serves_a_remote_partners_stored_bundle(client: TestClient, web_world: WebWorld, remote: Remote,
                                                          pref: KeyStore) -> None:
    login(client, "admin")
    post_form(client, "/autorite/partenaires", {"name": "Préfecture", "bundle_url": f"{remote.base}/bundle/pref.cose",
                                                "fingerprint": fingerprint(pref)})
    stored = remote.files["/bundle/pref.cose"]
    remote.files.clear()  # served from the database, not fetched again
    with TestClient(web_world.app) as agent:
        login(agent, "agent")
        response = agent.get("/scan/partenaires/pref.cose")
        assert response.status_code == 200 and response.content == stored
        assert response.headers["x-bundle-seq"] == "1"
        assert agent.get("/scan/partenaires/pref.cose", params={"since": 1}).status_code == 204


def test_a_partner_on_the_servers_own_network_is_refused_in_french(client: TestClient, web_world: WebWorld,
                                                                   remote: Remote, pref: KeyStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partners_service, "fetch_url", REAL_FETCH_URL)  # production behaviour
    login(client, "admin")
    refused = post_form(client, "/autorite/partenaires", {
        "name": "Préfecture de police", "bundle_url": f"{remote.base}/bundle/pref.cose",
        "fingerprint": fingerprint(pref)})
    assert refused.status_code == 400
    assert "réseau privé ou local refusé" in text_of(refused.text)
    assert partners(web_world) == []
