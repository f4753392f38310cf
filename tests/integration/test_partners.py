"""Partner authorities (issue 19) on SQLite and PostgreSQL: adding one (fingerprint read out by
telephone, bundle verified with its root), local and remote partners, the partner bundle sync
(newer taken, rollback and bad signature kept out with a French error), removal, audit, and the
check columns. The remote partner is served by a real http.server on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from factories import AUTHORITY_PARIS_ID, USER_ADMIN_ID, USER_AGENT_ID
from remote_files import REAL_FETCH_URL
from remote_files import RemoteFiles as Remote
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, AuthorityPartner, Organisation, PartnerBundle, PassCheck
from cirqliz.issuance import partners as service
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.organisations import create_organisation
from cirqliz.issuance.passes import record_check
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.passcode.bundle import BundlePartner, root_fingerprint

pytestmark = pytest.mark.usefixtures("world", "private_network_allowed")
METRO_ID = uuid.UUID("00000000-0000-4000-a000-00000000e701")


@pytest.fixture
def keys_root(tmp_path: Path, clock) -> Path:
    root = tmp_path / "keys"
    KeyStore.init(root / "paris", issuer="paris", clock=clock)
    return root


@pytest.fixture
def signer(keys_root: Path, clock) -> KeyStoreSigner:
    return KeyStoreSigner(keys_root, clock=clock)


def publish_remote(remote: Remote, store: KeyStore, code: str, *, path: str | None = None) -> bytes:
    """Build the remote authority's next bundle and serve it with its root key."""
    data, _ = store.build_bundle(zones=[])
    remote.files[path or f"/bundle/{code}.cose"] = data
    remote.files[f"/bundle/{code}/root.pem"] = store.root_public().pem()
    return data


@pytest.fixture
def pref(tmp_path: Path, clock, remote: Remote) -> KeyStore:
    store = KeyStore.init(tmp_path / "elsewhere" / "pref", issuer="pref", clock=clock)
    publish_remote(remote, store, "pref")
    return store


def fingerprint_of(store: KeyStore) -> str:
    return root_fingerprint(store.root_public().spki())


async def add(session_factory, clock, signer, **fields) -> AuthorityPartner:
    values = {"name": "Préfecture", "bundle_url": "", "root_pem": "", "fingerprint": ""} | fields
    async with session_factory() as session, session.begin():
        return await service.add_partner(session, authority_id=AUTHORITY_PARIS_ID, actor_id=USER_ADMIN_ID,
                                         clock=clock, signer=signer, **values)


async def count(session_factory, model) -> int:
    async with session_factory() as session:
        return len((await session.exec(select(model))).all())


async def partner_audits(session_factory) -> list[AuditRecord]:
    async with session_factory() as session:
        return list((await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "partner")
                                        .order_by(col(AuditRecord.at)))).all())


async def paris_seq(session_factory) -> int:
    async with session_factory() as session:
        return (await session.get(Organisation, AUTHORITY_PARIS_ID)).last_bundle_seq


# ---- adding -------------------------------------------------------------------------------------


async def test_a_remote_partner_is_added_with_the_root_read_from_root_pem(session_factory, clock, signer, remote,
                                                                          pref) -> None:
    typed = fingerprint_of(pref).lower().replace(" ", "-")  # as typed: case, dashes do not matter
    partner = await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                        fingerprint=typed)
    assert partner.iss == "pref" and partner.root_spki == pref.root_public().spki()
    assert partner.fingerprint == fingerprint_of(pref).replace(" ", "")
    assert "/bundle/pref/root.pem" in remote.requests and "/bundle/pref.cose" in remote.requests
    async with session_factory() as session:
        held = await session.get(PartnerBundle, ("pref", partner.fingerprint))
        assert held is not None and held.seq == 1 and held.last_error is None
        rows = await service.list_partners(session, AUTHORITY_PARIS_ID, signer=signer)
    assert [(r.partner.iss, r.local, r.seq) for r in rows] == [("pref", False, 1)]
    (audit,) = await partner_audits(session_factory)
    assert audit.action == "add" and audit.actor_id == USER_ADMIN_ID
    assert audit.after["iss"] == "pref" and audit.after["local"] is False
    # Published again in the same transaction: the next sync sees the change.
    assert await paris_seq(session_factory) == 1


async def test_a_wrong_fingerprint_stores_nothing(session_factory, clock, signer, remote, pref) -> None:
    other = KeyStore.init(Path(signer.keys_root).parent / "other", issuer="other", clock=clock)
    with pytest.raises(service.PartnerError) as refused:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                  fingerprint=fingerprint_of(other))
    assert "l'empreinte saisie ne correspond pas" in refused.value.message
    assert await count(session_factory, AuthorityPartner) == 0
    assert await count(session_factory, PartnerBundle) == 0
    assert await partner_audits(session_factory) == []
    assert await paris_seq(session_factory) == 0


async def test_a_bundle_that_does_not_verify_with_the_root_is_refused(session_factory, clock, signer, remote, pref,
                                                                      tmp_path) -> None:
    rogue = KeyStore.init(tmp_path / "rogue", issuer="pref", clock=clock)
    remote.files["/bundle/fake.cose"], _ = rogue.build_bundle(zones=[])
    with pytest.raises(service.PartnerError) as refused:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/fake.cose",
                  root_pem=pref.root_public().pem().decode(), fingerprint=fingerprint_of(pref))
    assert refused.value.message == "le paquet ne se vérifie pas avec cette clé racine"
    assert await count(session_factory, AuthorityPartner) == 0


async def test_an_unreachable_bundle_and_a_bad_fingerprint_say_so_in_french(session_factory, clock, signer, remote,
                                                                            pref) -> None:
    pem = pref.root_public().pem().decode()
    with pytest.raises(service.PartnerError) as missing:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/absent.cose", root_pem=pem,
                  fingerprint=fingerprint_of(pref))
    assert missing.value.message == "paquet injoignable : le serveur a répondu 404"
    with pytest.raises(service.PartnerError) as short:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose", root_pem=pem,
                  fingerprint="3F2A 9C01")
    assert "64 caractères hexadécimaux" in short.value.message
    with pytest.raises(service.PartnerError) as scheme:
        await add(session_factory, clock, signer, bundle_url="file:///etc/passwd", root_pem=pem,
                  fingerprint=fingerprint_of(pref))
    assert "http://" in scheme.value.message
    with pytest.raises(service.PartnerError) as pem_error:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose", root_pem="bonjour",
                  fingerprint=fingerprint_of(pref))
    assert "clé publique PEM lisible" in pem_error.value.message
    assert await count(session_factory, AuthorityPartner) == 0


async def test_the_own_bundle_and_a_second_time_are_refused(session_factory, clock, signer, remote, pref,
                                                            keys_root) -> None:
    paris = KeyStore(keys_root / "paris", clock=clock)
    async with session_factory() as session, session.begin():
        await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=paris, clock=clock)
    with pytest.raises(service.PartnerError) as own:
        await add(session_factory, clock, signer, bundle_url="https://ici.example/bundle/paris.cose",
                  fingerprint=fingerprint_of(paris))
    assert own.value.message == "ce paquet est celui de votre propre autorité"
    url = f"{remote.base}/bundle/pref.cose"
    await add(session_factory, clock, signer, bundle_url=url, fingerprint=fingerprint_of(pref))
    with pytest.raises(service.PartnerError) as twice:
        await add(session_factory, clock, signer, bundle_url=url, fingerprint=fingerprint_of(pref))
    assert twice.value.message == "l'autorité « pref » est déjà partenaire"
    assert await count(session_factory, AuthorityPartner) == 1


async def test_a_local_partner_is_read_from_this_platform_without_http(session_factory, clock, signer,
                                                                       keys_root) -> None:
    async with session_factory() as session, session.begin():
        await create_organisation(session, kind="authority", code="metro", name="Métropole", clock=clock,
                                  organisation_id=METRO_ID)
    metro = KeyStore.init(keys_root / "metro", issuer="metro", clock=clock)
    async with session_factory() as session, session.begin():
        await publish_bundle(session, authority_id=METRO_ID, keystore=metro, clock=clock)

    async def no_http(url: str) -> bytes:
        raise AssertionError(f"fetched {url}")

    async with session_factory() as session, session.begin():
        partner = await service.add_partner(
            session, authority_id=AUTHORITY_PARIS_ID, name="Métropole", bundle_url="https://cirqliz.example/bundle/metro.cose",
            root_pem="", fingerprint=fingerprint_of(metro), actor_id=USER_ADMIN_ID, clock=clock, signer=signer,
            fetch=no_http)
    assert partner.iss == "metro"
    assert await count(session_factory, PartnerBundle) == 0  # local: nothing copied
    async with session_factory() as session:
        (row,) = await service.list_partners(session, AUTHORITY_PARIS_ID, signer=signer)
        found = await service.partner_bundle_for(session, signer, AUTHORITY_PARIS_ID, "metro")
    assert row.local and row.seq == 1
    assert found is not None and found.local and found.path is not None
    assert found.path.read_bytes() == (keys_root / "metro" / "bundles" / "1.cose").read_bytes()


async def test_removing_deletes_the_row_audits_and_publishes_again(session_factory, clock, signer, remote,
                                                                   pref) -> None:
    partner = await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                        fingerprint=fingerprint_of(pref))
    async with session_factory() as session, session.begin():
        with pytest.raises(service.NotFound):
            await service.remove_partner(session, authority_id=METRO_ID, partner_id=partner.id,
                                         actor_id=USER_ADMIN_ID, clock=clock, signer=signer)
    async with session_factory() as session, session.begin():
        await service.remove_partner(session, authority_id=AUTHORITY_PARIS_ID, partner_id=partner.id,
                                     actor_id=USER_ADMIN_ID, clock=clock, signer=signer)
    assert await count(session_factory, AuthorityPartner) == 0
    _added, remove_record = await partner_audits(session_factory)
    assert remove_record.action == "remove" and remove_record.before["iss"] == "pref"
    assert await paris_seq(session_factory) == 2


async def test_the_next_home_bundle_lists_the_partner_then_no_longer(session_factory, clock, signer, remote, pref,
                                                                     keys_root) -> None:
    """Needs publish_bundle to pass `bundle_partners` into build_bundle (wired by the lead)."""
    partner = await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                        fingerprint=fingerprint_of(pref))
    paris = KeyStore(keys_root / "paris", clock=clock)
    listed = paris.latest_bundle()
    assert listed is not None
    assert [(p.iss, p.name, p.root) for p in listed.content.partners] == [
        ("pref", "Préfecture", pref.root_public().spki())]
    async with session_factory() as session, session.begin():
        await service.remove_partner(session, authority_id=AUTHORITY_PARIS_ID, partner_id=partner.id,
                                     actor_id=USER_ADMIN_ID, clock=clock, signer=signer)
    assert KeyStore(keys_root / "paris", clock=clock).latest_bundle().content.partners == ()


async def test_bundle_partners_is_what_the_bundle_lists(session_factory, clock, signer, remote, pref) -> None:
    await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
              fingerprint=fingerprint_of(pref))
    async with session_factory() as session:
        assert await service.bundle_partners(session, AUTHORITY_PARIS_ID) == (
            BundlePartner("pref", "Préfecture", pref.root_public().spki(), f"{remote.base}/bundle/pref.cose"),)
        assert await service.bundle_partners(session, METRO_ID) == ()


# ---- the sync job -------------------------------------------------------------------------------


async def test_sync_takes_a_newer_bundle_and_keeps_it_against_a_rollback_or_a_forgery(
        session_factory, clock, signer, remote, pref, tmp_path) -> None:
    partner = await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                        fingerprint=fingerprint_of(pref))
    first = remote.files["/bundle/pref.cose"]
    newer = publish_remote(remote, pref, "pref")
    clock.advance(timedelta(minutes=5))
    report = await service.sync_partner_bundles(session_factory, clock, signer=signer)
    assert report.updated == [("pref", 2)] and report.errors == []

    async def held() -> PartnerBundle:
        async with session_factory() as session:
            return await session.get(PartnerBundle, ("pref", partner.fingerprint))

    row = await held()
    assert row.seq == 2 and row.data == newer and row.fetched_at == clock.now() and row.last_error is None

    remote.files["/bundle/pref.cose"] = first  # an old copy served again
    clock.advance(timedelta(minutes=5))
    report = await service.sync_partner_bundles(session_factory, clock, signer=signer)
    assert report.updated == [] and report.errors == [
        ("pref", "paquet plus ancien que celui déjà reçu : refusé, le précédent est gardé")]
    row = await held()
    assert row.seq == 2 and row.data == newer and row.last_attempt_at == clock.now()
    assert row.last_error.startswith("paquet plus ancien")

    rogue = KeyStore.init(tmp_path / "rogue", issuer="pref", clock=clock)
    for _ in range(3):
        forged, _content = rogue.build_bundle(zones=[])
    remote.files["/bundle/pref.cose"] = forged
    report = await service.sync_partner_bundles(session_factory, clock, signer=signer)
    assert report.errors == [("pref", "le paquet ne se vérifie pas avec cette clé racine")]
    assert (await held()).seq == 2

    del remote.files["/bundle/pref.cose"]
    report = await service.sync_partner_bundles(session_factory, clock, signer=signer)
    assert (await held()).last_error == "paquet injoignable : le serveur a répondu 404"
    # Back to normal: the error is cleared.
    publish_remote(remote, pref, "pref")
    report = await service.sync_partner_bundles(session_factory, clock, signer=signer)
    row = await held()
    assert report.updated == [("pref", 3)] and row.last_error is None
    async with session_factory() as session:
        (listed,) = await service.list_partners(session, AUTHORITY_PARIS_ID, signer=signer)
    assert listed.seq == 3 and listed.last_error is None


async def test_the_job_body_syncs_inside_the_jobs_transaction(session_factory, clock, signer, remote, pref) -> None:
    from cirqliz.jobs.jobs import JobContext, _partner_bundles
    from cirqliz.settings import Settings

    await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
              fingerprint=fingerprint_of(pref))
    publish_remote(remote, pref, "pref")
    async with session_factory() as session, session.begin():
        outcome = await _partner_bundles(JobContext(session=session, clock=clock, settings=Settings(),
                                                               tick=clock.now(), signer=signer))
    assert outcome.rows == 1 and outcome.detail == "pref n° 2"


# ---- fetching -----------------------------------------------------------------------------------


def test_fetching_stops_at_the_time_limit_and_the_size_cap(remote) -> None:
    remote.files["/slow.cose"] = b"x"
    remote.files["/big.cose"] = b"x" * 5000
    started = time.monotonic()
    with pytest.raises(service.PartnerError) as slow:
        service.fetch_url(f"{remote.base}/slow.cose", timeout=0.5)
    assert slow.value.message == "paquet injoignable : délai dépassé" and time.monotonic() - started < 2.5
    with pytest.raises(service.PartnerError) as big:
        service.fetch_url(f"{remote.base}/big.cose", max_bytes=4096)
    assert big.value.code == "partner_too_large"
    assert service.fetch_url(f"{remote.base}/big.cose", max_bytes=5000) == b"x" * 5000
    assert service.MAX_BUNDLE_BYTES == 8 * 1024 * 1024 and service.FETCH_TIMEOUT_S == 10


def test_the_root_key_address_is_the_bundle_address_without_cose() -> None:
    assert service.root_pem_url("https://x.example/bundle/metro.cose") == "https://x.example/bundle/metro/root.pem"
    assert service.root_pem_url("https://x.example/b/metro.cose?since=3") == "https://x.example/b/metro/root.pem"


# ---- checks -------------------------------------------------------------------------------------


async def test_a_check_keeps_the_pass_issuer_and_the_namespaced_zone(session_factory, clock) -> None:
    check_id = uuid.uuid4()
    async with session_factory() as session, session.begin():
        await record_check(session, check_id=check_id, agent_id=USER_AGENT_ID, checked_at=clock.now(),
                           verdict="VALID", clock=clock, issuer="pref", zone_code="pref/" + "Z" * 80,
                           authority_id=AUTHORITY_PARIS_ID)
    async with session_factory() as session:
        row = await session.get(PassCheck, check_id)
    assert row.issuer == "pref" and row.zone_code == ("pref/" + "Z" * 80)[:65]



# ---- private networks -------------------------------------------------------------------------


def test_private_and_local_addresses_are_refused_before_any_connection(remote) -> None:
    remote.files["/bundle/pref.cose"] = b"x"
    for url in (f"{remote.base}/bundle/pref.cose", "http://localhost:6379/", "http://10.1.2.3/b.cose",
                "http://169.254.169.254/latest/meta-data", "http://[::1]:5432/", "http://[::ffff:127.0.0.1]/"):
        with pytest.raises(service.PartnerError) as refused:
            REAL_FETCH_URL(url, timeout=2)
        assert refused.value.code == "partner_private", url
        assert "réseau privé ou local refusé" in refused.value.message
    assert remote.requests == []  # nothing reached the server: no probing of the operator's network
    assert REAL_FETCH_URL(f"{remote.base}/bundle/pref.cose", allow_private=True) == b"x"
    assert service.is_public_address("93.184.216.34") and not service.is_public_address("192.168.1.10")
    assert not service.is_public_address("::ffff:10.0.0.1") and not service.is_public_address("224.0.0.1")


async def test_an_administrator_cannot_add_a_partner_on_the_servers_own_network(
        session_factory, clock, signer, remote, pref, monkeypatch) -> None:
    monkeypatch.setattr(service, "fetch_url", REAL_FETCH_URL)
    with pytest.raises(service.PartnerError) as refused:
        await add(session_factory, clock, signer, bundle_url=f"{remote.base}/bundle/pref.cose",
                  root_pem=pref.root_public().pem().decode(), fingerprint=fingerprint_of(pref))
    assert refused.value.code == "partner_private"
    assert remote.requests == [] and await count(session_factory, AuthorityPartner) == 0
    # The operator may allow it (an intranet between the services of one territory).
    from cirqliz.settings import Settings

    allowed = service.fetcher(Settings(partner_private_addresses=True))
    async with session_factory() as session, session.begin():
        await service.add_partner(session, authority_id=AUTHORITY_PARIS_ID, actor_id=USER_ADMIN_ID, clock=clock,
                                  signer=signer, name="Préfecture", bundle_url=f"{remote.base}/bundle/pref.cose",
                                  root_pem="", fingerprint=fingerprint_of(pref), fetch=allowed)
    assert await count(session_factory, AuthorityPartner) == 1
    assert service.fetcher(Settings()) is service.fetch_bytes
