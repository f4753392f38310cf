"""Exemption lists: rows from exemptions and active passes, formats, filters, audit, flat memory."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
import uuid
from datetime import date, timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    USER_ADMIN_ID,
    ZONE_CENTRE_ID,
    ZONE_ZFE_ID,
)
from sqlalchemy import insert
from sqlmodel import col, select

from cirqliz.db.engine import create_session_factory
from cirqliz.db.models import AccessPass, AuditRecord, Exemption, PassZone
from cirqliz.domain.errors import DomainError
from cirqliz.issuance.exemptions import (
    BOM,
    COLUMNS,
    COLUMNS_FR,
    ExemptionFilter,
    counts_by_zone,
    stream_export,
)
from cirqliz.issuance.passes import grant_exemption

pytestmark = pytest.mark.usefixtures("world")

# T0 is Monday 2 March 2026, 09:00 in Paris.
TODAY = date(2026, 3, 2)


def _pass(clock, plate, *, serial, status="active", starts=-1, days=30, purpose=1):
    now = clock.now()
    return AccessPass(id=uuid.uuid4(), serial=serial, authority_id=AUTHORITY_PARIS_ID, plate=plate, purpose=purpose,
                      not_before=now + timedelta(days=starts), expires_at=now + timedelta(days=starts + days),
                      windows=[], zone_refs=[], status=status, issued_at=now, updated_at=now)


@pytest.fixture
async def listed(session, clock):
    """Three exemptions in the ZFE (active, expired, upcoming foreign plate) and passes."""
    async with session.begin():
        soon = TODAY + timedelta(days=3)
        for plate, kind, start, end in (
                ("AB-123-CD", "national", TODAY - timedelta(days=10), TODAY + timedelta(days=10)),
                ("EF-456-GH", "local", date(2025, 1, 1), date(2025, 12, 31)),
                ("D:BAB1234", "day_pass", soon, soon)):
            await grant_exemption(session, zone_id=ZONE_ZFE_ID, plate=plate, kind=kind, starts_on=start, ends_on=end,
                                  actor_id=USER_ADMIN_ID, clock=clock)
        both = _pass(clock, "GH789JK", serial="00000000000000A1")
        later = _pass(clock, "GH789JK", serial="00000000000000A2", starts=5, purpose=2)
        revoked = _pass(clock, "ZZ999ZZ", serial="00000000000000A3", status="revoked")
        session.add_all([both, later, revoked])
        await session.flush()
        session.add_all([PassZone(pass_id=both.id, zone_id=ZONE_CENTRE_ID),
                         PassZone(pass_id=both.id, zone_id=ZONE_ZFE_ID),
                         PassZone(pass_id=later.id, zone_id=ZONE_CENTRE_ID),
                         PassZone(pass_id=revoked.id, zone_id=ZONE_CENTRE_ID)])


async def _export(engine, clock, fmt="csv", batch_size=500, **filters) -> bytes:
    read = create_session_factory(engine, read_only=True)
    write = create_session_factory(engine)
    chunks = [c async for c in stream_export(read, write, authority_id=AUTHORITY_PARIS_ID,
                                             filters=ExemptionFilter.parse(**filters), fmt=fmt, clock=clock,
                                             actor_id=USER_ADMIN_ID, batch_size=batch_size)]
    return b"".join(chunks)


def _csv(data: bytes, delimiter=",") -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8")), delimiter=delimiter))


EXPECTED = [
    # plate, country, source, category, zone, status
    ("AB123CD", "FR", "exemption", "national", "ZFE", "active"),
    ("BAB1234", "D", "exemption", "day_pass", "ZFE", "upcoming"),
    ("EF456GH", "FR", "exemption", "local", "ZFE", "expired"),
    ("GH789JK", "FR", "pass", "delivery", "CENTRE", "active"),
    ("GH789JK", "FR", "pass", "delivery", "ZFE", "active"),
    ("GH789JK", "FR", "pass", "artisan", "CENTRE", "upcoming"),
]


def _key(row: dict) -> tuple:
    return (row["plate"], row["country"], row["source"], row["category"], row["zone_code"], row["status"])


async def test_csv_lists_exemptions_and_active_passes(engine, clock, listed):
    data = await _export(engine, clock)
    rows = _csv(data)
    assert list(rows[0]) == list(COLUMNS)
    assert sorted(_key(r) for r in rows) == sorted(EXPECTED)
    national = next(r for r in rows if r["category"] == "national")
    # Days of the exemption in Paris time, end exclusive: 20 Feb 00:00 Paris = 19 Feb 23:00 UTC.
    assert national["start"] == "2026-02-19T23:00:00Z" and national["end"] == "2026-03-12T23:00:00Z"
    assert national["serial"] == "" and national["zone_ref"].isdigit()
    pass_row = next(r for r in rows if r["source"] == "pass" and r["zone_code"] == "ZFE")
    assert pass_row["serial"] == "00000000000000A1" and pass_row["start"] == "2026-03-01T08:00:00Z"


EXPECTED_FR = [
    # Immatriculation, Pays, Origine, Catégorie, Zone, Statut: labels, never codes
    ("AB123CD", "FR", "dérogation", "dérogation nationale", "ZFE", "en cours"),
    ("BAB1234", "D", "dérogation", "pass journée", "ZFE", "à venir"),
    ("EF456GH", "FR", "dérogation", "dérogation locale", "ZFE", "échue"),
    ("GH789JK", "FR", "laissez-passer", "Livraison", "CENTRE", "en cours"),
    ("GH789JK", "FR", "laissez-passer", "Livraison", "ZFE", "en cours"),
    ("GH789JK", "FR", "laissez-passer", "Artisan, chantier", "CENTRE", "à venir"),
]


async def test_csv_fr_reads_as_a_french_spreadsheet(engine, clock, listed):
    """csv-fr as a French spreadsheet opens it: BOM, ';', French headers, labels and local dates."""
    data = await _export(engine, clock, fmt="csv-fr")
    assert data.startswith(BOM.encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert list(rows[0]) == list(COLUMNS_FR) == [
        "Immatriculation", "Pays", "Origine", "Catégorie", "Zone", "Référence de la zone", "Début", "Fin",
        "Numéro du laissez-passer", "Statut"]
    assert sorted((r["Immatriculation"], r["Pays"], r["Origine"], r["Catégorie"], r["Zone"], r["Statut"])
                  for r in rows) == sorted(EXPECTED_FR)
    national = next(r for r in rows if r["Catégorie"] == "dérogation nationale")
    # An exemption's first and last day (inclusive), as people write them.
    assert (national["Début"], national["Fin"]) == ("20/02/2026", "12/03/2026")
    assert national["Numéro du laissez-passer"] == "" and national["Référence de la zone"].isdigit()
    pass_row = next(r for r in rows if r["Origine"] == "laissez-passer" and r["Zone"] == "ZFE")
    # Paris wall time: 1 March 08:00 UTC is 09:00 (UTC+1); 31 March 08:00 UTC is 10:00 (summer time).
    assert (pass_row["Début"], pass_row["Fin"]) == ("01/03/2026 09:00", "31/03/2026 10:00")
    assert pass_row["Numéro du laissez-passer"] == "00000000000000A1"
    codes = {"exemption", "pass", "national", "local", "day_pass", "delivery", "artisan", "active", "upcoming",
             "expired"}
    assert not codes & {cell for row in rows for cell in row.values()}


async def test_machine_formats_keep_codes_and_iso_instants(engine, clock, listed):
    """csv and json stay machine formats: English column names, codes, ISO UTC instants."""
    rows = _csv(await _export(engine, clock))
    assert list(rows[0]) == list(COLUMNS)
    assert {r["status"] for r in rows} == {"active", "upcoming", "expired"}
    pass_row = next(r for r in rows if r["source"] == "pass" and r["zone_code"] == "ZFE")
    assert (pass_row["start"], pass_row["end"]) == ("2026-03-01T08:00:00Z", "2026-03-31T08:00:00Z")


async def test_json_is_an_array_of_rows(engine, clock, listed):
    rows = json.loads(await _export(engine, clock, fmt="json", batch_size=2))
    assert sorted(_key({k: str(v) for k, v in r.items()}) for r in rows) == sorted(EXPECTED)
    assert all(isinstance(r["zone_ref"], int) for r in rows)
    assert json.loads(await _export(engine, clock, fmt="json", zone="NOWHERE")) == []


@pytest.mark.parametrize(("filters", "expected"), [
    ({"zone": "centre"}, [e for e in EXPECTED if e[4] == "CENTRE"]),
    ({"status": "active"}, [e for e in EXPECTED if e[5] == "active"]),
    ({"status": "expired"}, [e for e in EXPECTED if e[5] == "expired"]),
    ({"status": "upcoming"}, [e for e in EXPECTED if e[5] == "upcoming"]),
    ({"category": "day_pass"}, [e for e in EXPECTED if e[3] == "day_pass"]),
    ({"category": "artisan"}, [e for e in EXPECTED if e[3] == "artisan"]),
    ({"active_on": "2025-06-01"}, [e for e in EXPECTED if e[0] == "EF456GH"]),
    ({"active_on": "2026-03-05", "zone": "ZFE"}, [e for e in EXPECTED if e[4] == "ZFE" and e[5] != "expired"]),
    ({"active_on": "2026-03-07", "zone": "CENTRE"}, [e for e in EXPECTED if e[4] == "CENTRE"]),
])
async def test_filters(engine, clock, listed, filters, expected):
    rows = _csv(await _export(engine, clock, **filters))
    assert sorted(_key(r) for r in rows) == sorted(expected)


def test_bad_filters_name_the_field():
    for kwargs, word in (({"active_on": "05/03/2026"}, "active_on"), ({"category": "vip"}, "category"),
                         ({"status": "gone"}, "status")):
        with pytest.raises(DomainError, match=word):
            ExemptionFilter.parse(**kwargs)


async def test_every_export_is_audited_with_its_row_count(engine, session, clock, listed):
    await _export(engine, clock, zone="ZFE", status="active")
    await _export(engine, clock, fmt="json")
    async with session.begin():
        records = (await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "export")
                                      .order_by(col(AuditRecord.at)))).all()
    assert len(records) == 2
    by_format = {r.after["format"]: r for r in records}
    assert by_format["csv"].after["rows"] == 2 and by_format["csv"].after["complete"] is True
    assert by_format["csv"].after["filters"] == {"zone": "ZFE", "status": "active"}
    assert by_format["json"].after["rows"] == len(EXPECTED)
    assert all(r.actor_id == USER_ADMIN_ID and r.entity_id == str(AUTHORITY_PARIS_ID) for r in records)


async def test_interrupted_export_is_audited_as_incomplete(engine, session, clock, listed):
    read = create_session_factory(engine, read_only=True)
    stream = stream_export(read, create_session_factory(engine), authority_id=AUTHORITY_PARIS_ID,
                           filters=ExemptionFilter(), fmt="csv", clock=clock, actor_id=USER_ADMIN_ID, batch_size=1)
    await anext(stream)  # header
    await anext(stream)  # first row
    await stream.aclose()  # the client went away
    async with session.begin():
        record = (await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "export"))).one()
    assert record.after["complete"] is False and record.after["rows"] == 1


async def test_counts_by_zone(session, clock, listed):
    async with session.begin():
        counts = {c.code: c for c in await counts_by_zone(session, AUTHORITY_PARIS_ID, clock.now())}
    assert (counts["ZFE"].exemptions, counts["ZFE"].exemptions_active, counts["ZFE"].passes_active) == (3, 1, 1)
    assert (counts["CENTRE"].exemptions, counts["CENTRE"].passes_active) == (0, 1)


# ---- memory -------------------------------------------------------------------------------


async def _fill(session, clock, count: int, start: int = 0) -> None:
    rows = [{"id": uuid.uuid4(), "zone_id": ZONE_ZFE_ID, "plate": f"AA{n:07d}", "kind": "local",
             "starts_on": TODAY, "ends_on": TODAY + timedelta(days=n % 400), "created_at": clock.now()}
            for n in range(start, start + count)]
    async with session.begin():
        for offset in range(0, len(rows), 5000):
            await session.exec(insert(Exemption), params=rows[offset:offset + 5000])  # type: ignore[call-overload]


async def _peak(engine, clock, fmt: str) -> tuple[int, int]:
    read = create_session_factory(engine, read_only=True)
    write = create_session_factory(engine)
    total = 0
    tracemalloc.start()
    try:
        async for chunk in stream_export(read, write, authority_id=AUTHORITY_PARIS_ID, filters=ExemptionFilter(),
                                         fmt=fmt, clock=clock, actor_id=None, batch_size=500):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total


async def _memory_stays_flat(engine, session, clock, small: int, large: int) -> None:
    await _fill(session, clock, small)
    await _peak(engine, clock, "csv")  # warm caches (compiled statements, zone info)
    peaks = {}
    for fmt in ("csv", "json"):
        peak_small, size_small = await _peak(engine, clock, fmt)
        peaks[fmt] = [peak_small, size_small]
    await _fill(session, clock, large - small, start=small)
    for fmt in ("csv", "json"):
        peak_large, size_large = await _peak(engine, clock, fmt)
        peak_small, size_small = peaks[fmt]
        assert size_large > 4 * size_small
        # Five times the rows: the peak must not follow (a list of every row would multiply it).
        assert peak_large < 1.5 * peak_small + 256 * 1024, (fmt, peak_small, peak_large, size_large)


async def test_streaming_memory_stays_flat(engine, session, clock):
    await _memory_stays_flat(engine, session, clock, 2_000, 10_000)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CIRQLIZ_SLOW") != "1", reason="set CIRQLIZ_SLOW=1 for 20,000 vs 100,000 rows")
async def test_streaming_memory_stays_flat_large(engine, session, clock):
    await _memory_stays_flat(engine, session, clock, 20_000, 100_000)
