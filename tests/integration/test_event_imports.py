"""Imports of temporary regulations applied to the database: Préfecture de Police perimeters,
DiaLog DATEX II and iCalendar feeds (occurrences as zone activations). Idempotent, transactional."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree
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
    # The order's days are the zone's restriction schedule (ADR 0007); holders may enter at any time
    # while it is in force.
    assert zone.restriction_windows and zone.restriction_windows[0]["weekdays"] == 31
    assert zone.restriction_windows[0].get("skip_public_holidays") and zone.restriction_hours is None
    assert not rule.windows and rule.opening_hours is None
    assert (rule.source, rule.source_id) == (zone.source, zone.source_id) == ("datex2", "T-SN2022-05-154#1")
    assert first.items[0].notes == ["limitation de vitesse (50 km/h) : noté pour information (pas une restriction "
                                    "d'accès)"]
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


# ---- issue 16: every item of the file accounted for, the source's schedule kept whole -----------

def _items_in(fmt: str, data: bytes) -> int:
    """Items of a file counted without the importers: features, regulations or VEVENTs."""
    if fmt == "perimeters":
        return len(json.loads(data)["features"])
    if fmt == "datex2":
        return len(list(ElementTree.fromstring(data).iter(
            "{http://datex2.eu/schema/3/trafficRegulation}trafficRegulation")))
    return data.count(b"BEGIN:VEVENT")


FILES = [
    ("perimeters", "jop/para_ouverture.geojson"), ("datex2", "dialog-datex2/example.xml"),
    ("datex2", "dialog-datex2/sample.xml"), ("perimeters", "formats/perimeters-lossless.geojson"),
    ("datex2", "formats/datex2-lossless.xml"), ("ical", "formats/market.ics"), ("ical", "formats/bad-rrule.ics"),
]


@pytest.mark.parametrize(("fmt", "name"), FILES, ids=[n.rsplit("/", 1)[-1] for _f, n in FILES])
async def test_the_report_accounts_for_every_item_of_the_file(session_factory, shared_data, fmt, name):
    folder, file = name.split("/", 1)
    data = ((FORMATS_DIR if folder == "formats" else shared_data / folder) / file).read_bytes()
    at = FixedClock(datetime(2024, 9, 1, tzinfo=UTC))
    async with session_factory() as session, session.begin():
        await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code="MARCHE-CARNOT", name="Marché Carnot",
                          kind="pedestrian", geometry=SQUARE, clock=at)
    expected = _items_in(fmt, data)
    for dry_run in (True, False, False):
        report = await _import(session_factory, at, fmt, data, dry_run=dry_run)
        assert sum(report.counts().values()) == report.total == len(report.items) == expected
        assert [i.index for i in report.items] == list(range(1, expected + 1))
        for item in report.items:
            line = item.describe()
            assert line.startswith(f"{item.unit} {item.index}") and item.unit in ("entité", "réglementation",
                                                                                   "événement")
            assert item.action != "skipped" or item.reason, line
        assert f"{expected} élément(s) lu(s)" in report.summary()
    assert report.counts()["created"] == report.counts()["updated"] == 0  # the third run changes nothing


async def test_datex2_periods_and_windows_become_the_zones_restriction_schedule(session_factory, clock):
    data = (FORMATS_DIR / "datex2-lossless.xml").read_bytes()
    report = await _import(session_factory, clock, "datex2", data)
    assert report.counts() == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 4}
    reasons = {i.source_id: i.reason for i in report.skipped}
    assert reasons["B-2024-2#1"] == "interdiction de stationner : ce n'est pas une restriction d'accès"
    assert reasons["D-2024-4#1"] == "limitation de vitesse (30 km/h) : ce n'est pas une restriction d'accès"
    zones = {t.source_id: z for z, t in await _zones(session_factory, source="datex2")}
    assert set(zones) == {"A-2024-1#1", "C-2024-3#2"}  # nothing made of the parking ban or the lane rule
    festival = zones["A-2024-1#1"]
    periods = await _schedule(session_factory, festival.id)
    assert [(p.starts_at, p.ends_at) for p in periods] == [
        (datetime(2024, 6, 21, 16, 0, tzinfo=UTC), datetime(2024, 6, 22, 2, 0, tzinfo=UTC)),
        (datetime(2024, 6, 30, 22, 0, tzinfo=UTC), datetime(2024, 7, 14, 22, 0, tzinfo=UTC))]
    assert festival.restriction_windows == [
        {"weekdays": 127, "start": 0, "end": 1440, "first_day": "2024-06-21", "last_day": "2024-06-22"},
        {"weekdays": 96, "start": 480, "end": 720, "first_day": "2024-07-01", "last_day": "2024-07-14"}]
    assert festival.geometry["type"] == "MultiPolygon" and len(festival.geometry["coordinates"]) == 3
    assert festival.url_order == "https://dialog.beta.gouv.fr/arretes/A-2024-1"
    assert (str(festival.starts_on), str(festival.ends_on)) == ("2024-06-21", "2024-07-14")
    works = zones["C-2024-3#2"]
    assert len(await _schedule(session_factory, works.id)) == 2 and works.restriction_windows is None
    [item] = [i for i in report.items if i.source_id == "C-2024-3#2"]
    assert item.repaired and item.describe().startswith("réglementation 4 (ligne 106) [TRO-C-2024-3-2, Travaux")
    async with session_factory() as session:
        rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(
            [festival.id, works.id])))).all()
    assert len(rules) == 2 and all(not r.windows and r.opening_hours is None for r in rules)


async def test_repaired_and_homonymous_perimeters_are_all_stored(session_factory, clock):
    data = (FORMATS_DIR / "perimeters-lossless.geojson").read_bytes()
    report = await _import(session_factory, clock, "perimeters", data)
    assert report.counts() == {"created": 4, "updated": 0, "unchanged": 0, "skipped": 4}
    assert [i.index for i in report.repaired] == [1, 2]
    assert report.items[0].describe().endswith(": créée (réparée) — parties superposées fusionnées")
    assert "dont 2 réparée(s)" in report.summary()
    zones = await _zones(session_factory, source="pp-perimetres")
    bridge = [z for z, _t in zones if z.name == "Pont des Arts - Fête — périmètre Rouge"]
    assert len(bridge) == 2 and bridge[0].code != bridge[1].code and bridge[0].geometry != bridge[1].geometry
    assert report.items[4].reason == "doublon de l'entité 3 (mêmes nom, géométrie et dates)"


async def test_ical_overrides_are_counted_with_their_event(session_factory):
    at = FixedClock(datetime(2024, 9, 1, tzinfo=UTC))
    async with session_factory() as session, session.begin():
        zone = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code="MARCHE-CARNOT", name="Marché",
                                 kind="pedestrian", geometry=SQUARE, clock=at)
    feed = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//essai//FR\r\n"
            "BEGIN:VEVENT\r\nUID:m@essai\r\nSUMMARY:Marché\r\nDTSTART:20241005T050000Z\r\nDTEND:20241005T113000Z\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=3\r\nX-CIRQLIZ-ZONE:MARCHE-CARNOT\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\nUID:m@essai\r\nRECURRENCE-ID:20241012T050000Z\r\nDTSTART:20241012T060000Z\r\n"
            "DTEND:20241012T120000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:sans UID\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n").encode()
    report = await _import(session_factory, at, "ical", feed)
    assert [(i.index, i.action) for i in report.items] == [(1, "created"), (2, "created"), (3, "skipped")]
    assert report.items[1].detail() == "occurrence modifiée ou complément de l'événement 1 (même UID), lue avec lui"
    assert report.items[2].reason == "UID : événement sans UID"
    assert len(await _schedule(session_factory, zone.id)) == 3


def _cli(monkeypatch, capsys, database_url, *argv):
    from cirqliz.cli import main

    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", database_url)
    monkeypatch.setenv("CIRQLIZ_ENV", "development")
    code = main(["import", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _authority_code(session_factory):
    async with session_factory() as session:
        return (await session.get(Organisation, AUTHORITY_PARIS_ID)).code


async def test_cli_exit_status_and_messages(session_factory, database_url, shared_data, tmp_path, monkeypatch,
                                            capsys):
    code = await _authority_code(session_factory)
    example = (shared_data / "dialog-datex2" / "example.xml").read_bytes()
    good = tmp_path / "example.xml"
    good.write_bytes(example)
    parking = tmp_path / "parking.xml"
    parking.write_bytes(example.replace(
        b'<typeOfRegulation xsi:type="AccessRestriction">\n          <accessRestrictionType>noEntry'
        b'</accessRestrictionType>\n        </typeOfRegulation>',
        b'<typeOfRegulation xsi:type="StandingOrParkingRestriction"><standingOrParkingRestrictionType>'
        b'parkingProhibited</standingOrParkingRestrictionType></typeOfRegulation>'))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<payload><unclosed></payload>")
    zones = await _count(session_factory, Zone)

    def run(path, *extra):
        return _cli(monkeypatch, capsys, database_url, "datex2", str(path), "--authority", code, *extra)

    status, out, _err = await asyncio.to_thread(run, good, "--dry-run")
    assert status == 0 and "réglementation 1 (ligne 42)" in out and "aperçu de l'import DATEX II" in out
    # A preview where nothing could be imported, and a file refused as a whole, both exit 1.
    status, out, err = await asyncio.to_thread(run, parking, "--dry-run")
    assert status == 1 and "interdiction de stationner, limitation de vitesse (50 km/h) : ce n'est pas une " \
        "restriction d'accès" in out
    assert "rien n'a pu être importé" in err
    status, out, err = await asyncio.to_thread(run, broken, "--dry-run")
    assert status == 1 and "document DATEX II illisible" in err
    status, _out, err = await asyncio.to_thread(run, tmp_path / "absent.xml")
    assert status == 1 and "fichier illisible ou introuvable" in err
    assert await _count(session_factory, Zone) == zones
    for line in (out + err).splitlines():
        assert line.count("avertissement") <= 1
