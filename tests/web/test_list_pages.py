"""The list pages at scale (issue 18): pages of 50 with « Page 2 sur N », « Précédent / Suivant »
links that keep the filters, a page number past the end that shows the last page (never a 500),
and a number of SQL statements per page that does not grow with the rows shown.

Rows are added straight to the demo world's database (many at once), then the pages are read.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationVehicle,
    ApplicationZone,
    PassCheck,
    PassZone,
    Vehicle,
    Zone,
)
from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS, ZONE_IDS
from cirqliz.domain.plates import normalise_plate
from cirqliz.issuance.audit import record_change

from .conftest import WEB_T0, WebWorld, login

LATER = WEB_T0 + timedelta(days=1)  # rows added here are newer than the demo world's
ZONE = ZONE_IDS["PARIS-CENTRE"]


def _add(world: WebWorld, build: Callable[[AsyncSession], Any]) -> None:
    """Run `build(session)` in one committed transaction on the world's database."""

    async def run() -> None:
        engine = create_engine(world.settings)
        try:
            async with create_session_factory(engine)() as session:
                await build(session)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def _plate(i: int) -> str:
    return normalise_plate(f"ZA-{i:03d}-AA")


def add_vehicles(world: WebWorld, count: int, start: int = 0) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]

    async def build(session: AsyncSession) -> None:
        for n, vehicle_id in enumerate(ids, start):
            session.add(Vehicle(id=vehicle_id, organisation_id=COMPANY_ID, plate=_plate(n), category="N1",
                                crit_air=1, energy="diesel", created_at=WEB_T0))

    _add(world, build)
    return ids


def add_applications(world: WebWorld, count: int, *, start: int = 0, status: str = "submitted") -> list[uuid.UUID]:
    """`count` applications of the demo company, each with a vehicle of its own and a zone; the
    i-th is created i minutes after LATER (the last one is the newest)."""
    vehicles = add_vehicles(world, count, start)
    ids = [uuid.uuid4() for _ in range(count)]

    async def build(session: AsyncSession) -> None:
        for n, app_id in enumerate(ids, start):
            at = LATER + timedelta(minutes=n)
            session.add(Application(
                id=app_id, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], authority_id=AUTHORITY_ID,
                purpose=1, not_before=at, expires_at=at + timedelta(days=30), windows=[], status=status,
                created_at=at, updated_at=at, submitted_at=None if status == "draft" else at))
        await session.flush()
        for app_id, vehicle_id in zip(ids, vehicles, strict=True):
            session.add(ApplicationVehicle(application_id=app_id, vehicle_id=vehicle_id))
            session.add(ApplicationZone(application_id=app_id, zone_id=ZONE))

    _add(world, build)
    return ids


def add_passes(world: WebWorld, count: int, *, start: int = 0, status: str = "active",
               days: int = 60, base: datetime = LATER) -> list[uuid.UUID]:
    """`count` passes on new vehicles of the demo company; the i-th issued i minutes after `base`."""
    vehicles = add_vehicles(world, count, start)
    ids = [uuid.uuid4() for _ in range(count)]

    async def build(session: AsyncSession) -> None:
        for n, (pass_id, vehicle_id) in enumerate(zip(ids, vehicles, strict=True), start):
            at = base + timedelta(minutes=n)
            session.add(AccessPass(
                id=pass_id, serial=f"{n + 0xABC000:016X}", vehicle_id=vehicle_id, authority_id=AUTHORITY_ID,
                plate=_plate(n), purpose=1, not_before=at, expires_at=at + timedelta(days=days), windows=[],
                zone_refs=[1], status=status, issued_at=at, updated_at=at))
        await session.flush()
        for pass_id in ids:
            session.add(PassZone(pass_id=pass_id, zone_id=ZONE))

    _add(world, build)
    return ids


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the app sends inside the block."""
    seen: list[str] = []
    engine = client.app.state.engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def _count_statements(client: TestClient, url: str) -> int:
    client.get(url)  # first request: sign-in caches, the session row
    with statements(client) as seen:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return len(seen)


def _pager(html: str) -> str:
    found = re.search(r'<nav class="pager".*?</nav>', html, re.S)
    assert found, "no pager on the page"
    return found.group(0)


# ---- the number of statements does not grow with the rows shown ------------------------------


def test_pro_applications_page_sends_the_same_statements_for_5_and_50_applications(
        web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    add_applications(web_world, 5)
    five = _count_statements(client, "/pro/demandes")
    add_applications(web_world, 45, start=5)
    fifty = _count_statements(client, "/pro/demandes")
    assert five == fifty, (five, fifty)


def test_pro_passes_page_sends_the_same_statements_for_5_and_50_passes(
        web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    add_passes(web_world, 5)
    five = _count_statements(client, "/pro/laissez-passer")
    add_passes(web_world, 45, start=5)
    fifty = _count_statements(client, "/pro/laissez-passer")
    assert five == fifty, (five, fifty)


# ---- professional pages ----------------------------------------------------------------------


def test_pro_applications_page_two_shows_the_next_ones_and_keeps_the_filter(
        web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    ids = add_applications(web_world, 60)  # newest first: ids[59] … ids[10] on page 1
    first = client.get("/pro/demandes", params={"statut": "submitted"}).text
    assert f"/pro/demandes/{ids[10]}" in first and f"/pro/demandes/{ids[9]}" not in first
    pager = _pager(first)
    assert "Page 1 sur 2" in pager
    assert 'href="?statut=submitted&amp;page=2"' in pager and "Suivant" in pager and "Précédent" not in pager
    second = client.get("/pro/demandes", params={"statut": "submitted", "page": 2}).text
    assert f"/pro/demandes/{ids[9]}" in second and f"/pro/demandes/{ids[0]}" in second
    assert f"/pro/demandes/{ids[10]}" not in second
    assert 'href="?statut=submitted&amp;page=1"' in _pager(second) and "Page 2 sur 2" in second


def test_pro_pages_past_the_end_show_the_last_page_and_bad_numbers_are_refused_in_french(
        web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    ids = add_applications(web_world, 60)
    past = client.get("/pro/demandes", params={"page": 999})
    assert past.status_code == 200 and f"/pro/demandes/{ids[0]}" in past.text
    assert "Page 2 sur 2" in past.text
    below = client.get("/pro/demandes", params={"page": -3})
    assert below.status_code == 200 and f"/pro/demandes/{ids[59]}" in below.text
    for url in ("/pro/demandes", "/pro/laissez-passer", "/pro/vehicules"):
        bad = client.get(url, params={"page": "deux"})
        assert bad.status_code == 400, (url, bad.status_code)
        assert "Données invalides" in bad.text and "page" in bad.text


def test_pro_passes_page_two_and_the_state_filter_in_sql(web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    ids = add_passes(web_world, 55)  # newest first: ids[54] … ids[5] on page 1
    # Active in the database but past their end: shown (and filtered) as expired.
    ended = add_passes(web_world, 2, start=100, days=1, base=WEB_T0 - timedelta(days=3))
    first = client.get("/pro/laissez-passer", params={"statut": "active"}).text
    assert f"/pro/laissez-passer/{ids[5]}" in first and f"/pro/laissez-passer/{ids[4]}" not in first
    assert 'href="?statut=active&amp;page=2"' in _pager(first)
    second = client.get("/pro/laissez-passer", params={"statut": "active", "page": 2}).text
    assert f"/pro/laissez-passer/{ids[4]}" in second and f"/pro/laissez-passer/{ids[54]}" not in second
    assert all(f"/pro/laissez-passer/{e}" not in first + second for e in ended)
    expired = client.get("/pro/laissez-passer", params={"statut": "expired"}).text
    assert all(f"/pro/laissez-passer/{e}" in expired for e in ended)
    assert f"/pro/laissez-passer/{ids[54]}" not in expired


def test_pro_vehicles_are_paged_by_plate(web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    add_vehicles(web_world, 60)  # after the demo company's 3 vehicles (AB…, EF…, GH…) by plate
    first = client.get("/pro/vehicules").text
    assert "ZA-046-AA" in first and "ZA-047-AA" not in first
    assert "Page 1 sur 2" in _pager(first)
    second = client.get("/pro/vehicules", params={"page": 2}).text
    assert "ZA-047-AA" in second and "ZA-059-AA" in second and "ZA-046-AA" not in second
    assert 'href="?page=1"' in _pager(second)


# ---- authority pages -------------------------------------------------------------------------


def test_authority_passes_page_two_keeps_the_filters(web_world: WebWorld, client: TestClient) -> None:
    login(client, "admin")
    ids = add_passes(web_world, 55)
    params = {"status": "active", "zone": str(ZONE), "q": ""}
    first = client.get("/autorite/laissez-passer", params=params).text
    assert f"/autorite/laissez-passer/{ids[5]}" in first and f"/autorite/laissez-passer/{ids[4]}" not in first
    pager = _pager(first)
    assert f"status=active&amp;zone={ZONE}&amp;q=&amp;page=2" in pager and "Suivant" in pager
    second = client.get("/autorite/laissez-passer", params={**params, "page": 2}).text
    assert f"/autorite/laissez-passer/{ids[4]}" in second
    past = client.get("/autorite/laissez-passer", params={**params, "page": 99})
    assert past.status_code == 200 and f"/autorite/laissez-passer/{ids[4]}" in past.text


def test_authority_zone_list_is_paged_without_geometry(web_world: WebWorld, client: TestClient) -> None:
    login(client, "admin")
    square = {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.31, 48.8], [2.31, 48.81], [2.3, 48.8]]]}

    async def build(session: AsyncSession) -> None:
        for n in range(60):
            session.add(Zone(authority_id=AUTHORITY_ID, ref=100 + n, code=f"ZONE-{100 + n}", name=f"Zone {n}",
                             kind="pedestrian", geometry=square, time_zone="Europe/Paris", status="active",
                             created_at=WEB_T0, updated_at=WEB_T0))

    _add(web_world, build)
    first = client.get("/autorite/zones")
    assert first.status_code == 200
    assert "ZONE-145" in first.text and "ZONE-146" not in first.text  # 4 demo zones (refs 1-4) first
    assert "Page 1 sur 2" in _pager(first.text)
    second = client.get("/autorite/zones", params={"page": 2}).text
    assert "ZONE-146" in second and "ZONE-159" in second and "ZONE-145" not in second
    assert client.get("/autorite/zones", params={"page": 50}).status_code == 200
    # The exports page counts one page of zones; its form still offers every zone.
    counts = client.get("/autorite/exports", params={"page": 2})
    assert counts.status_code == 200
    table = counts.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "<code>ZONE-146</code>" in table and "<code>ZONE-145</code>" not in table
    assert 'value="ZONE-145"' in counts.text and 'value="PARIS-CENTRE"' in counts.text
    assert "Page 2 sur 2" in _pager(counts.text)


def test_authority_journal_is_paged_and_keeps_the_entity_filter(web_world: WebWorld, client: TestClient) -> None:
    login(client, "admin")
    zone_ids = list(ZONE_IDS.values())

    async def build(session: AsyncSession) -> None:
        for n in range(60):
            await record_change(session, actor_id=None, entity="zone", entity_id=zone_ids[n % len(zone_ids)],
                                action="update", at=LATER + timedelta(minutes=n), after={"name": f"Nom {n}"})

    _add(web_world, build)
    first = client.get("/autorite/journal", params={"entity": "zone"})
    assert first.status_code == 200
    assert "Nom 59" in first.text and "Nom 10" in first.text and "Nom 9" not in first.text
    assert "entity=zone&amp;page=2" in _pager(first.text)
    second = client.get("/autorite/journal", params={"entity": "zone", "page": 2}).text
    assert "Nom 9" in second and "Nom 59" not in second


def test_authority_passes_count_up_to_a_cap_in_total_and_by_status(
        web_world: WebWorld, client: TestClient, monkeypatch: Any) -> None:
    from cirqliz.issuance import authority_queries

    login(client, "admin")
    add_passes(web_world, 70)
    add_passes(web_world, 3, start=70, status="suspended")
    monkeypatch.setattr(authority_queries, "COUNT_CAP", 60)
    page = client.get("/autorite/laissez-passer").text
    assert "plus de 60 résultats" in page
    assert "Page 1 sur plus de 2" in _pager(page) and "Suivant" in _pager(page)
    assert "valide (plus de 60)" in page and "suspendu (3)" in page
    exact = client.get("/autorite/laissez-passer", params={"status": "suspended"}).text
    assert "3 résultat(s)" in exact and "plus de 60 résultats" not in exact
    english = client.get("/autorite/laissez-passer", headers={"Accept-Language": "en"}).text
    assert re.search(r"\((more than 60)\)</option>", english), "the capped status count untranslated"


def test_pro_passes_page_finds_the_page_and_its_count_in_one_statement(
        web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    add_passes(web_world, 55)
    client.get("/pro/laissez-passer")
    with statements(client) as seen:
        page = client.get("/pro/laissez-passer").text
    assert "Page 1 sur 2" in _pager(page)
    reading_passes = [s for s in seen if re.search(r"FROM access_pass\b", s)]
    assert len(reading_passes) == 1, reading_passes


def test_authority_journal_counts_up_to_a_cap(web_world: WebWorld, client: TestClient,
                                              monkeypatch: Any) -> None:
    from cirqliz.issuance import authority_queries

    login(client, "admin")
    zone_ids = list(ZONE_IDS.values())

    async def build(session: AsyncSession) -> None:
        for n in range(80):
            await record_change(session, actor_id=None, entity="zone", entity_id=zone_ids[n % len(zone_ids)],
                                action="update", at=LATER + timedelta(minutes=n), after={"name": f"Nom {n}"})

    _add(web_world, build)
    monkeypatch.setattr(authority_queries, "COUNT_CAP", 60)
    page = client.get("/autorite/journal", params={"entity": "zone"}).text
    assert "plus de 60 résultats" in page
    assert "Page 1 sur plus de 2" in _pager(page) and "Suivant" in _pager(page)


def test_authority_checks_are_paged(web_world: WebWorld, client: TestClient) -> None:
    login(client, "admin")

    async def build(session: AsyncSession) -> None:
        for n in range(60):
            session.add(PassCheck(serial=f"{n:016X}", agent_id=USER_IDS["agent"], zone_id=ZONE,
                                  checked_at=LATER + timedelta(minutes=n), verdict="REFUSED",
                                  reason_code="unknown_pass", plate_seen=_plate(n)))

    _add(web_world, build)
    first = client.get("/autorite/controles", params={"zone": str(ZONE)})
    assert first.status_code == 200
    assert f"{59:016X}" in first.text and f"{9:016X}" not in first.text
    assert f"zone={ZONE}" in _pager(first.text)
    second = client.get("/autorite/controles", params={"zone": str(ZONE), "page": 2}).text
    assert f"{9:016X}" in second and f"{59:016X}" not in second


def test_the_pager_speaks_english_from_the_catalog(web_world: WebWorld, client: TestClient) -> None:
    login(client, "pro")
    add_applications(web_world, 60)
    pager = _pager(client.get("/pro/demandes", params={"page": 2, "lang": "en"}).text)
    assert "Page 2 of 2" in pager and "Previous" in pager and "Précédent" not in pager


def test_authority_applications_count_each_status_up_to_a_cap(
        web_world: WebWorld, client: TestClient, monkeypatch: Any) -> None:
    from cirqliz.issuance import authority_queries

    login(client, "admin")
    add_applications(web_world, 70)
    add_applications(web_world, 2, start=70, status="needs_info")
    monkeypatch.setattr(authority_queries, "COUNT_CAP", 60)
    page = client.get("/autorite/demandes").text
    assert '<span class="badge submitted">plus de 60</span>' in page
    assert '<span class="badge needs_info">2</span>' in page
    english = client.get("/autorite/demandes", headers={"Accept-Language": "en"}).text
    assert '<span class="badge submitted">more than 60</span>' in english
