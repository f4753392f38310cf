"""The scanner area: the PWA shell, its manifest and service worker, the bundle and serial
endpoints, and the upload of checks recorded on devices."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AuthorityPartner, PassCheck
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, USER_IDS
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.web.controllers.scanner import scanner_assets

from .conftest import WebWorld, csrf_token, login


def _run(world: WebWorld, coro_factory):
    import asyncio

    from cirqliz.db.engine import create_engine, create_session_factory

    async def run():
        engine = create_engine(world.settings)
        try:
            async with create_session_factory(engine)() as session:
                return await coro_factory(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _checks(world: WebWorld) -> list[PassCheck]:
    async def query(session):
        return list((await session.exec(select(PassCheck).order_by(col(PassCheck.checked_at)))).all())

    return _run(world, query)


def _post_checks(client: TestClient, body: object):
    return client.post("/scan/api/checks", content=json.dumps(body),
                       headers={"x-csrftoken": csrf_token(client), "content-type": "application/json",
                                "accept": "application/json"})


def test_scan_needs_the_agent_role(client: TestClient) -> None:
    anonymous = client.get("/scan", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/connexion?next=/scan")
    login(client, "pro")
    assert client.get("/scan").status_code == 403
    assert client.get("/scan/api/serial/0123456789ABCDEF").status_code == 403


def test_scan_page_for_an_agent(client: TestClient) -> None:
    login(client, "agent")
    response = client.get("/scan")
    assert response.status_code == 200
    html = response.text
    assert 'rel="manifest" href="/scan/manifest.webmanifest"' in html
    assert "/static/scanner/app.js" in html
    assert "Scanner un laissez-passer" in html and "Me localiser" in html
    assert "cdn" not in html.lower()
    english = client.get("/scan?lang=en").text
    assert "Scan a pass" in english and "Locate me" in english


def test_manifest_and_service_worker_media_types(client: TestClient) -> None:
    manifest = client.get("/scan/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/scan" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    sw = client.get("/scan/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/scan"
    assert "const VERSION" in sw.text and "/vendor/zxing-wasm/dist/reader/zxing_reader.wasm" in sw.text


def test_every_cached_asset_is_served_locally(client: TestClient) -> None:
    login(client, "agent")
    for url in scanner_assets():
        response = client.get(url)
        assert response.status_code == 200, url
    wasm = client.get("/vendor/zxing-wasm/dist/reader/zxing_reader.wasm")
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"


def test_page_points_at_the_public_bundle_files(client: TestClient) -> None:
    login(client, "agent")
    html = client.get("/scan").text
    assert f'"bundleUrl": "/bundle/{AUTHORITY_CODE}.cose"' in html
    assert f'"rootUrl": "/bundle/{AUTHORITY_CODE}/root.pem"' in html
    root = client.get(f"/bundle/{AUTHORITY_CODE}/root.pem")
    bundle = open_bundle(client.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [VerifyKey.from_pem(root.content)])
    assert bundle.content.iss == AUTHORITY_CODE and bundle.zone("PARIS-CENTRE") is not None


def test_checks_upload_is_idempotent_and_scoped(client: TestClient, web_world: WebWorld) -> None:
    login(client, "agent")
    check_id = str(uuid.uuid4())
    batch = [
        {"id": check_id, "checked_at": 1795420800, "verdict": "VALID", "reason": "VALID",
         "serial": "0123456789ABCDEF", "zone": "PARIS-CENTRE", "device_id": "phone-1"},
        {"id": str(uuid.uuid4()), "checked_at": 1795420900, "verdict": "REFUSED", "reason": "MALFORMED",
         "zone": "PARIS-CENTRE"},
    ]
    first = _post_checks(client, batch)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == [item["id"] for item in batch]
    again = _post_checks(client, batch)
    assert again.status_code == 200
    rows = _checks(web_world)
    assert len(rows) == 2
    assert rows[0].id == uuid.UUID(check_id)
    assert rows[0].agent_id == USER_IDS["agent"]
    assert rows[0].serial == "0123456789ABCDEF" and rows[0].zone_id is not None
    assert rows[0].verdict == "VALID" and rows[1].reason_code == "MALFORMED"


def test_checks_upload_needs_csrf_and_agent(client: TestClient) -> None:
    login(client, "agent")
    body = [{"id": str(uuid.uuid4()), "checked_at": 1795420800, "verdict": "VALID"}]
    no_header = client.post("/scan/api/checks", json=body)
    assert no_header.status_code == 403
    bad_verdict = _post_checks(client, [{**body[0], "verdict": "MAYBE"}])
    assert bad_verdict.status_code == 400
    client.post("/deconnexion", data={"_csrf_token": csrf_token(client)})
    login(client, "pro")
    assert _post_checks(client, body).status_code == 403


def _issue(world: WebWorld) -> tuple[str, str]:
    """A pass for PARIS-CENTRE issued through the services: (serial, plate)."""
    from datetime import timedelta

    from cirqliz.demo.seed import COMPANY_ID, VEHICLES, ZONE_IDS
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.applications import approve_application, create_application, submit_application

    now = world.clock.now()

    async def work(session):
        async with session.begin():
            app = await create_application(
                session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
                zone_ids=[ZONE_IDS["PARIS-CENTRE"]], vehicle_ids=[VEHICLES[0][0]], purpose=Purpose.DELIVERY,
                not_before=now, expires_at=now + timedelta(days=10), clock=world.clock)
            await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=world.clock)
            (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                               signer=world.app.state.signer, clock=world.clock)
            return row.serial, row.plate

    return _run(world, work)


def _other_authority_pass(world: WebWorld) -> str:
    """A pass row of another authority (its serial), to check the lookup's scope."""
    from datetime import timedelta

    from cirqliz.db.models import AccessPass
    from cirqliz.domain.organisations import OrganisationKind
    from cirqliz.issuance.organisations import create_organisation

    now = world.clock.now()

    async def work(session):
        async with session.begin():
            other = await create_organisation(session, kind=OrganisationKind.AUTHORITY, code="autre69",
                                              name="Autre Ville", clock=world.clock)
            session.add(AccessPass(serial="00000000000000AA", authority_id=other.id, plate="ZZ999ZZ", purpose=1,
                                   not_before=now, expires_at=now + timedelta(days=1), windows=[], zone_refs=[1],
                                   issued_at=now, updated_at=now))
        return "00000000000000AA"

    return _run(world, work)


def test_serial_lookup_is_scoped_to_the_agents_authority(client: TestClient, web_world: WebWorld) -> None:
    serial, plate = _issue(web_world)
    foreign = _other_authority_pass(web_world)
    login(client, "agent")
    spaced = " ".join(serial[i:i + 4] for i in range(0, 16, 4)).lower().replace(" ", "")
    found = client.get(f"/scan/api/serial/{spaced}", headers={"accept": "application/json"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["serial"] == serial and body["status"] == "active" and body["plate"] == plate
    assert body["zones"] == ["PARIS-CENTRE"] and body["expires_at"] > body["not_before"]
    assert client.get(f"/scan/api/serial/{foreign}", headers={"accept": "application/json"}).status_code == 404
    assert client.get("/scan/api/serial/FFFFFFFFFFFFFFFF", headers={"accept": "application/json"}).status_code == 404
    assert client.get("/scan/api/serial/not-a-serial", headers={"accept": "application/json"}).status_code == 400


def test_every_scanner_module_is_cached_for_offline_use() -> None:
    """A module left out of SCANNER_MODULES would be missing offline and break the scanner there."""
    from cirqliz.web.controllers.scanner import SCANNER_MODULES, STATIC

    on_disk = {p.name for p in (STATIC / "scanner").iterdir() if p.suffix in (".js", ".css") and p.name != "sw.js"}
    assert on_disk <= set(SCANNER_MODULES), sorted(on_disk - set(SCANNER_MODULES))


def test_checks_carry_the_phone_clock_offset_and_the_checks_page_flags_them(client: TestClient,
                                                                             web_world: WebWorld) -> None:
    import html

    login(client, "agent")
    base = {"checked_at": 1795420800, "verdict": "VALID", "reason": "VALID", "zone": "PARIS-CENTRE"}
    batch = [
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000A1", "clock_offset_s": 1500},  # 25 min ahead
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000A2", "clock_offset_s": -7200},  # 2 h behind
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000A3", "clock_offset_s": 42},  # within the threshold
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000A4"},  # a device that never synced
    ]
    response = _post_checks(client, batch)
    assert response.status_code == 200, response.text
    stored = {row.serial: row.clock_offset_s for row in _checks(web_world)}
    assert stored == {"00000000000000A1": 1500, "00000000000000A2": -7200, "00000000000000A3": 42,
                      "00000000000000A4": None}

    client.post("/deconnexion", data={"_csrf_token": csrf_token(client)})
    login(client, "reviewer")
    page = html.unescape(client.get("/autorite/controles").text)
    assert "horloge décalée : +25 min" in page and "horloge décalée : −2 h" in page
    assert page.count("horloge décalée :") == 2
    assert "2 contrôle(s) faits avec une horloge de téléphone décalée de plus de 10 min" in page
    flagged = html.unescape(client.get("/autorite/controles?horloge=decalee").text)
    assert "00000000000000A1" in flagged and "00000000000000A2" in flagged
    assert "00000000000000A3" not in flagged and "00000000000000A4" not in flagged
    assert 'id="f-horloge" name="horloge" type="checkbox" value="decalee" checked' in flagged
    english = html.unescape(client.get("/autorite/controles?lang=en").text)
    assert "clock off: +25 min" in english and "2 check(s) made with a phone clock" in english


def test_a_bad_clock_offset_refuses_the_whole_upload_in_french(client: TestClient, web_world: WebWorld) -> None:
    login(client, "agent")
    good = {"id": str(uuid.uuid4()), "checked_at": 1795420800, "verdict": "VALID", "clock_offset_s": 60}
    for bad in ("six cents", 1.5, True, 2_000_000_001, -2_000_000_001, 10**30, [1]):
        response = _post_checks(client, [good, {**good, "id": str(uuid.uuid4()), "clock_offset_s": bad}])
        assert response.status_code in (400, 422), (bad, response.text)
        detail = response.json()["detail"]
        assert "clock_offset_s" in detail, (bad, detail)
        assert "Traceback" not in detail and "msgspec" not in detail.lower(), detail
    assert _checks(web_world) == []
    assert _post_checks(client, [{**good, "clock_offset_s": -2_000_000_000}]).status_code == 200
    assert [row.clock_offset_s for row in _checks(web_world)] == [-2_000_000_000]


def test_checks_carry_the_pass_issuer_and_a_partner_zone(client: TestClient, web_world: WebWorld) -> None:
    """Issue 19: a check of a partner's pass keeps its issuer and the `ISS/CODE` checkpoint; `HOME/CODE`
    is the home zone."""
    login(client, "agent")
    base = {"checked_at": 1795420800, "verdict": "VALID", "reason": "VALID"}
    batch = [
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000B1", "issuer": "METRO", "zone": "METRO/ZFE"},
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000B2", "issuer": AUTHORITY_CODE,
         "zone": f"{AUTHORITY_CODE}/PARIS-CENTRE"},
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000B3", "issuer": AUTHORITY_CODE,
         "zone": "PARIS-CENTRE"},
        {**base, "id": str(uuid.uuid4()), "serial": "00000000000000B4"},  # a scanner from before issue 19
    ]
    response = _post_checks(client, batch)
    assert response.status_code == 200, response.text
    rows = {row.serial: row for row in _checks(web_world)}
    assert (rows["00000000000000B1"].issuer, rows["00000000000000B1"].zone_code) == ("METRO", "METRO/ZFE")
    assert rows["00000000000000B1"].zone_id is None  # another authority's zone is not one of ours
    assert rows["00000000000000B2"].zone_id is not None
    assert rows["00000000000000B2"].zone_id == rows["00000000000000B3"].zone_id
    assert (rows["00000000000000B3"].issuer, rows["00000000000000B3"].zone_code) == (AUTHORITY_CODE, "PARIS-CENTRE")
    assert (rows["00000000000000B4"].issuer, rows["00000000000000B4"].zone_code) == (None, None)
    # The authority's checks page shows the partner's zone and who issued the pass.
    login(client, "admin")
    page = client.get("/autorite/controles").text
    assert "METRO/ZFE" in page and "émis par METRO" in page
    assert f"émis par {AUTHORITY_CODE}" not in page  # its own passes need no mention



def test_the_checks_page_names_a_partner_issuer_and_formats_the_plate(client: TestClient, web_world: WebWorld) -> None:
    """A partner's pass reads "émis par <the name the administrator gave the partner>", not its code."""
    async def add_partner(session):
        session.add(AuthorityPartner(authority_id=AUTHORITY_ID, iss="METRO", name="Métropole de Lyon",
                                     bundle_url="https://metro.example/bundle/metro.cose", root_spki=b"\x30",
                                     fingerprint="0" * 64, added_at=datetime(2026, 11, 23, tzinfo=UTC)))
        await session.commit()

    _run(web_world, add_partner)
    login(client, "agent")
    check = {"checked_at": 1795420800, "verdict": "VALID", "reason": "VALID", "id": str(uuid.uuid4()),
             "serial": "00000000000000C1", "issuer": "METRO", "zone": "METRO/ZFE", "plate_seen": "ab123cd"}
    assert _post_checks(client, [check]).status_code == 200
    login(client, "admin")
    page = client.get("/autorite/controles").text
    assert "émis par Métropole de Lyon" in page and "émis par METRO" not in page
    assert "AB-123-CD" in page

def test_a_bad_issuer_or_zone_refuses_the_whole_upload_in_french(client: TestClient, web_world: WebWorld) -> None:
    login(client, "agent")
    good = {"id": str(uuid.uuid4()), "checked_at": 1795420800, "verdict": "VALID", "issuer": "METRO"}
    for field, bad in (("issuer", "X" * 33), ("issuer", ""), ("issuer", 12), ("zone", "Z" * 66)):
        response = _post_checks(client, [good, {**good, "id": str(uuid.uuid4()), field: bad}])
        assert response.status_code in (400, 422), (field, bad, response.text)
        detail = response.json()["detail"]
        assert field in detail, (bad, detail)
        assert "Traceback" not in detail and "msgspec" not in detail.lower(), detail
    assert _checks(web_world) == []
    assert _post_checks(client, [{**good, "issuer": "X" * 32, "zone": "Y" * 32 + "/" + "Z" * 32}]).status_code == 200
    assert [(row.issuer, row.zone_code) for row in _checks(web_world)] == [("X" * 32, "Y" * 32 + "/" + "Z" * 32)]


def test_page_config_points_at_the_partner_relay(client: TestClient) -> None:
    login(client, "agent")
    html = client.get("/scan").text
    assert '"partnersUrl": "/scan/partenaires/"' in html
    assert "Émis par" in html
    assert "Paquet de {name} refus" in html  # in the labels JSON, where "é" is escaped
    english = client.get("/scan?lang=en").text
    assert "Issued by" in english and "Bundle from {name} refused" in english
