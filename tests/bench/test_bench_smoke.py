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


def test_every_benchmark_module_is_found() -> None:
    assert {"verify", "cose", "pass_size", "qr"} <= set(discover())


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
