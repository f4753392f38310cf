"""Imports of temporary regulations applied to the database: Préfecture de Police perimeters,
DiaLog DATEX II and iCalendar feeds (occurrences as zone activations). Idempotent, transactional."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from factories import AUTHORITY_PARIS_ID, SQUARE
from sqlalchemy import func
from sqlmodel import col, select

from cirqliz.clock import FixedClock
from cirqliz.db.models import AccessRule, Organisation, TemporaryZone, Zone, ZoneSchedule
from cirqliz.imports import import_perimeters
from cirqliz.imports.records import ImportFileError
from cirqliz.issuance.event_imports import import_file
from cirqliz.issuance.zones import create_zone

pytestmark = pytest.mark.usefixtures("world")
PARIS = ZoneInfo("Europe/Paris")
FORMATS_DIR = Path(__file__).parents[1] / "formats"


async def _import(session_factory, clock, fmt, data, **kw):
    async with session_factory() as session, session.begin():
        return await import_file(session, fmt=fmt, data=data, authority_id=AUTHORITY_PARIS_ID, clock=clock, **kw)


async def _zones(session_factory, **where):
    async with session_factory() as session:
        query = select(Zone, TemporaryZone).join(TemporaryZone, col(TemporaryZone.zone_id) == Zone.id)
        for key, value in where.items():
            query = query.where(getattr(TemporaryZone, key) == value)
        return list((await session.exec(query)).all())


async def _schedule(session_factory, zone_id):
    async with session_factory() as session:
        return list((await session.exec(select(ZoneSchedule).where(col(ZoneSchedule.zone_id) == zone_id)
                                        .order_by(col(ZoneSchedule.starts_at)))).all())


async def _count(session_factory, model):
    async with session_factory() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_perimeters_create_then_unchanged(session_factory, clock, shared_data):
    data = (shared_data / "jop" / "para_ouverture.geojson").read_bytes()
    [record] = import_perimeters(data).records
    report = await _import(session_factory, clock, "perimeters", data)
    assert report.counts() == {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0}
    [(zone, temporary)] = await _zones(session_factory, source="pp-perimetres")
    assert zone.name == "CER3 - Ceremonie d'ouverture Jeux Paralympiques — périmètre Rouge"
    assert zone.kind == "event_perimeter" and zone.code == record.code and zone.status == "draft"
    assert zone.geometry == record.geometry and zone.geometry["type"] == "Polygon"
    assert zone.geometry["coordinates"][0][0] == pytest.approx(record.geometry["coordinates"][0][0])
    assert temporary.level == "red" and temporary.auto_switch and temporary.source_id == record.source_id
    assert not zone.permanent and str(zone.starts_on) == "2024-08-28" and str(zone.ends_on) == "2024-08-29"
    [period] = await _schedule(session_factory, zone.id)
    # Stored in UTC; the file says 18:00 to 01:00 in Paris (summer time).
    assert period.starts_at == datetime(2024, 8, 28, 16, 0, tzinfo=UTC)
    assert period.ends_at == datetime(2024, 8, 28, 23, 0, tzinfo=UTC)
    assert period.starts_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") == "28/08/2024 18:00"
    zones_before = await _count(session_factory, Zone)
    again = await _import(session_factory, clock, "perimeters", data)
    assert again.counts() == {"created": 0, "updated": 0, "unchanged": 1, "skipped": 0}
    assert await _count(session_factory, Zone) == zones_before
    assert len(await _schedule(session_factory, zone.id)) == 1


async def test_datex2_example_then_sample_updates_the_same_zone(session_factory, clock, shared_data):
    folder = shared_data / "dialog-datex2"
    first = await _import(session_factory, clock, "datex2", (folder / "example.xml").read_bytes())
    assert first.counts()["created"] == 1 and first.skipped == []
    [(zone, temporary)] = await _zones(session_factory, source="datex2")
    assert temporary.source_id == "T-SN2022-05-154#1" and zone.code == "TRO-T-SN2022-05-154-1"
    assert zone.name.startswith("Arrêté temporaire portant réglementation de la cir")
    assert zone.geometry["type"] in ("Polygon", "MultiPolygon")
    [period] = await _schedule(session_factory, zone.id)
    assert period.starts_at == datetime(2022, 5, 10, 9, 0, tzinfo=UTC)  # 11:00 in Paris
    assert period.ends_at == datetime(2022, 6, 10, 16, 30, tzinfo=UTC)  # 18:30 in Paris
    async with session_factory() as session:
        [rule] = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
    assert rule.windows and rule.windows[0]["weekdays"] == 31 and rule.windows[0].get("skip_public_holidays")
    # sample.xml is the same order without the speed limit: an update, not a second zone.
    second = await _import(session_factory, clock, "datex2", (folder / "sample.xml").read_bytes())
    assert second.counts() == {"created": 0, "updated": 1, "unchanged": 0, "skipped": 0}
    [(updated, _t)] = await _zones(session_factory, source="datex2")
    assert updated.id == zone.id and updated.data_version > zone.data_version
    third = await _import(session_factory, clock, "datex2", (folder / "sample.xml").read_bytes())
    assert third.counts() == {"created": 0, "updated": 0, "unchanged": 1, "skipped": 0}
    assert len(await _schedule(session_factory, zone.id)) == 1


@pytest.mark.parametrize(("fmt", "data"), [
    ("perimeters", b'{"type": "FeatureCollection", "features": [{"type": "Feature", '),
    ("perimeters", b'{"type": "Feature"}'),
    ("datex2", b"<payload><unclosed></payload>"),
    ("ical", b"BEGIN:VEVENT\nEND"),
])
async def test_a_malformed_file_is_reported_and_changes_nothing(session_factory, clock, fmt, data):
    zones, refs = await _count(session_factory, Zone), await _next_ref(session_factory)
    with pytest.raises(ImportFileError) as caught:
        await _import(session_factory, clock, fmt, data)
    assert caught.value.message  # French, names the problem
    assert await _count(session_factory, Zone) == zones and await _next_ref(session_factory) == refs


async def _next_ref(session_factory):
    async with session_factory() as session:
        return (await session.get(Organisation, AUTHORITY_PARIS_ID)).next_zone_ref


async def test_dry_run_previews_and_stores_nothing(session_factory, clock, shared_data):
    data = (shared_data / "jop" / "para_ouverture.geojson").read_bytes()
    zones, refs = await _count(session_factory, Zone), await _next_ref(session_factory)
    preview = await _import(session_factory, clock, "perimeters", data, dry_run=True)
    assert preview.dry_run and preview.counts()["created"] == 1 and preview.created[0].code.startswith("PP-")
    assert await _count(session_factory, Zone) == zones and await _next_ref(session_factory) == refs
    assert await _count(session_factory, TemporaryZone) == 0


async def test_ical_occurrences_become_activations_across_dst(session_factory, clock):
    async with session_factory() as session, session.begin():
        zone = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code="MARCHE-CARNOT", name="Marché Carnot",
                                 kind="pedestrian", geometry=SQUARE, clock=clock)
    data = (FORMATS_DIR / "market.ics").read_bytes()
    at = FixedClock(datetime(2024, 9, 1, tzinfo=UTC))
    report = await _import(session_factory, at, "ical", data)
    assert [i.source_id for i in report.created] == ["marche-place-carnot@cirqliz.test"]
    reasons = {i.source_id: i.reason for i in report.skipped}
    assert "QUAI-SUD inconnue" in reasons["brocante@cirqliz.test"]
    assert "aucune zone" in reasons["fete@cirqliz.test"]
    periods = await _schedule(session_factory, zone.id)
    assert len(periods) == 12  # 13 Saturdays from 7 Sept to 30 Nov, minus 2 Nov
    local = [(p.starts_at.astimezone(PARIS), p.ends_at.astimezone(PARIS)) for p in periods]
    assert {(a.hour, a.minute, b.hour, b.minute) for a, b in local} == {(7, 0, 13, 30)}
    assert periods[7].starts_at == datetime(2024, 10, 26, 5, 0, tzinfo=UTC)  # CEST
    assert periods[8].starts_at == datetime(2024, 11, 9, 6, 0, tzinfo=UTC)  # CET, after the change
    [(_z, temporary)] = await _zones(session_factory, zone_id=zone.id)
    assert temporary.auto_switch
    again = await _import(session_factory, at, "ical", data)
    assert again.counts()["unchanged"] == 1 and again.counts()["created"] == 0
    assert len(await _schedule(session_factory, zone.id)) == 12
    # A month later the feed's window moved on: the schedule is the feed's current view, no duplicates.
    later = await _import(session_factory, FixedClock(datetime(2024, 10, 1, tzinfo=UTC)), "ical", data)
    assert later.counts()["updated"] == 1
    assert len(await _schedule(session_factory, zone.id)) == 8  # 5 Oct to 30 Nov, minus 2 Nov
