"""Smoke test of the benchmark suite: every benchmark runs in quick mode and gives well-formed rows.

Timings are never asserted (machines differ); what must hold everywhere is that the rows are
complete, that the QR images decode, and that a benchmark that cannot run says why.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

# bench/ is not part of the installed package: import it from the repository root. (This folder has
# no __init__.py on purpose: with pytest's default import mode it would become a package named
# `bench` and hide the real one.)
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness import Config, Row, discover, format_table, run_benchmarks, write_json  # noqa: E402

QUICK = Config(quick=True, install=False)  # never create the python-cwt venv from a test


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return run_benchmarks(QUICK)


NEW_BENCHMARKS = {"bundle", "js_verify", "issue", "expire", "field", "online"}


def test_every_benchmark_module_is_found() -> None:
    assert {"verify", "cose", "pass_size", "qr"} | NEW_BENCHMARKS <= set(discover())


def test_rows_are_well_formed(rows: list[Row]) -> None:
    assert rows
    names = [row.name for row in rows]
    assert len(names) == len(set(names))
    for row in rows:
        assert row.name and row.benchmark and row.unit is not None
        assert row.ok, f"{row.name}: {row.note}"
        if row.measured is None:
            assert row.note.startswith("not measured: "), row.name
            assert row.met is None
            continue
        assert math.isfinite(row.measured) and row.measured > 0, row.name
        if row.baseline is not None:
            assert math.isfinite(row.baseline) and row.baseline > 0
            assert row.ratio == pytest.approx(row.measured / row.baseline)
        if row.limit is not None:
            assert row.met in (True, False)
        json.dumps(row.as_json(), default=str)


def test_timed_rows_and_sizes(rows: list[Row]) -> None:
    by_name = {row.benchmark: row for row in rows if row.baseline is not None or row.measured is None}
    assert by_name["verify"].measured is not None  # the core target is always measurable
    assert by_name["qr"].measured is not None
    pass_length = next(row for row in rows if row.name == "pass length")
    assert pass_length.unit == "chars" and 200 < pass_length.measured < 400
    versions = [row for row in rows if row.unit == "version"]
    assert len(versions) == 2 and all(1 <= row.measured <= 40 for row in versions)


def test_qr_images_decode(rows: list[Row]) -> None:
    qr = next(row for row in rows if row.benchmark == "qr")
    assert qr.ok and qr.extra["decoded"] is True, qr.note


def test_cose_row_is_measured_or_says_why(rows: list[Row]) -> None:
    cose = [row for row in rows if row.benchmark == "cose"]
    assert len(cose) == 1
    assert cose[0].measured is not None or "not measured" in cose[0].note


def test_table_and_json(rows: list[Row], tmp_path) -> None:
    table = format_table(rows)
    for row in rows:
        assert row.name in table
    path = write_json(rows, QUICK, tmp_path / "run.json")
    document = json.loads(path.read_text())
    assert len(document["rows"]) == len(rows)
    assert {"name", "measured", "baseline", "ratio", "target", "met"} <= set(document["rows"][0])


def test_a_crashing_benchmark_becomes_a_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.bench_pass_size as module

    def boom(config: Config) -> list[Row]:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "run", boom)
    (row,) = run_benchmarks(QUICK, ["pass_size"])
    assert not row.ok and row.met is False and "boom" in row.note


# ---- the benchmarks added for §8's remaining targets (quick sizes) ------------------------------


def _of(rows: list[Row], benchmark: str) -> list[Row]:
    found = [row for row in rows if row.benchmark == benchmark]
    assert found, f"no rows from {benchmark}"
    return found


def test_every_new_benchmark_gives_rows(rows: list[Row]) -> None:
    for name in NEW_BENCHMARKS:
        for row in _of(rows, name):
            assert row.measured is not None or row.note.startswith("not measured: "), row.name


def test_bundle_sizes(rows: list[Row]) -> None:
    full, delta, opening = _of(rows, "bundle")
    assert full.unit == delta.unit == "bytes"
    assert 800_000 < full.measured < 2_000_000 and full.baseline == 800_000
    assert 800 < delta.measured < 10_000 and delta.baseline == 800
    assert opening.unit == "ms" and opening.baseline is not None


def test_js_rows_are_measured_or_say_why(rows: list[Row]) -> None:
    verify, ratio, frame = _of(rows, "js_verify")
    assert verify.limit == 10 and verify.target_on == "value"
    assert ratio.limit == 2 and ratio.target_on == "ratio"  # JS verifier <= 2x the Python one (issue 18)
    if verify.measured is not None:
        assert ratio.baseline is not None and frame.measured is not None


def test_issuance_on_both_backends(rows: list[Row]) -> None:
    sqlite, sqlite_approve, postgres, postgres_approve = _of(rows, "issue")
    assert "SQLite" in sqlite.name and sqlite.measured is not None and sqlite.baseline is not None
    assert "PostgreSQL" in postgres.name
    assert sqlite.extra["passes_per_s"] > 0
    assert "approve_application" in sqlite_approve.name and "approve_application" in postgres_approve.name
    assert {r.limit for r in (sqlite, sqlite_approve, postgres, postgres_approve)} == {3.0}


def test_bulk_approval_rows(rows: list[Row]) -> None:
    rate, ratio = _of(rows, "bulk")
    assert (rate.unit, rate.op, rate.limit, rate.target_on) == ("applications/s", ">=", 1000.0, "value")
    assert ratio.limit == 4.0
    if rate.measured is not None:
        assert rate.ok, rate.note  # every application accepted, every pass stored, the chain intact


def test_expiry_is_set_based(rows: list[Row]) -> None:
    (row,) = _of(rows, "expire")
    assert row.limit == 1.2
    if row.measured is not None:
        assert row.extra["set_based"] is True, row.note
        assert row.extra["rows"] == 10_000


def test_field_robustness_rates(rows: list[Row]) -> None:
    field_rows = _of(rows, "field")
    assert len(field_rows) == 5  # screen and paper (targets), each vs the DCC-sized code; ECC Q for information
    assert [row.limit for row in field_rows] == [99, 1, 99, 1, None]
    for row in field_rows:
        assert row.unit == "%" and 0 < row.measured <= 100
        assert row.baseline is None or 0 < row.baseline <= 100
    assert field_rows[0].extra["per_degradation"]["DCC M"]


def test_online_endpoint_rows(rows: list[Row]) -> None:
    row, stock, floor = _of(rows, "online")
    assert row.unit == stock.unit == floor.unit == "req/s" and row.op == ">=" and row.limit == 0.6
    assert stock.limit is None and floor.limit is None  # information rows
    assert "minimal_verify_app" in floor.note and "floor" in floor.name
    for each in (row, stock, floor):
        assert each.measured is not None and each.baseline is not None
        assert "endpoint" in each.extra
        # each server's CPU per request, measured from its process group (robust to a loaded machine)
        assert all(run["cpu_us"] > 0 for runs in each.extra["runs"].values() for run in runs)
        assert "server CPU per request" in each.note
    assert (row.extra["socket"], stock.extra["socket"], floor.extra["socket"]) == ("nodelay", "stock", "nodelay")



def test_exemption_export_rows(rows: list[Row]) -> None:
    rate, memory = _of(rows, "exemptions")
    # >= 0.8x the bare cursor + csv.writer on the same rows (issue 18)
    assert rate.unit == "rows/s" and rate.target_on == "ratio" and rate.op == ">=" and rate.limit == 0.8
    assert memory.unit == "MiB" and memory.target_on == "ratio" and memory.limit == 1.5
    if rate.measured is not None:
        assert rate.baseline is not None and rate.extra["rows"] == 50_000  # quick sizes
        assert (memory.extra["rows_small"], memory.extra["rows_big"]) == (10_000, 50_000)
