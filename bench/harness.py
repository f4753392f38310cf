"""The benchmark harness: rows, interleaved timing, discovery, the table and the JSON file.

A benchmark is a module `bench/bench_<name>.py` defining `run(config: Config) -> list[Row]`
(and optionally `ORDER`, an int, to place it in the table). Timings compare a measured function
with its baseline in the same run, interleaved batch by batch (alternating which goes first) so
machine noise hits both; the table shows the best batch of each, the JSON also the medians.
Tests never assert timings: tests/bench only checks that rows are well formed.
Benchmarks that need a database or a server use the helpers below: scratch PostgreSQL databases
(bench_<random>, always dropped), quiet Alembic migrations, free local ports.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pkgutil
import platform
import socket
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

Op = Literal["<=", "<", ">=", ">"]


@dataclass(frozen=True)
class Config:
    """How hard to measure. `quick` divides iterations (CI smoke); `install` allows creating helper venvs."""

    quick: bool = False
    install: bool = True

    def scale(self, full: int, quick: int) -> int:
        """`full` iterations normally, `quick` in quick mode."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one function: best and median batch, how many batches and calls per batch."""

    best: float
    median: float
    repeats: int
    number: int


@dataclass
class Row:
    """One line of the table.

    `measured` and `baseline` are in `unit`; `ratio` = measured / baseline when both are timed in
    the same run. The target applies to the ratio (`target_on="ratio"`) or to the measured value
    itself (`"value"`); `limit` None means the row is information only. `met` is None when the
    row was not measured (`note` says why) or carries no target.
    """

    name: str
    unit: str
    measured: float | None
    baseline: float | None = None
    target_on: Literal["ratio", "value"] = "ratio"
    op: Op = "<="
    limit: float | None = None
    note: str = ""
    ok: bool = True  # False forces the row to fail (e.g. a QR that does not decode)
    benchmark: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    @property
    def target(self) -> str:
        if self.limit is None:
            return "info"
        what = "ratio" if self.target_on == "ratio" else "value"
        return f"{what} {self.op} {self.limit:g}"

    @property
    def met(self) -> bool | None:
        if not self.ok:
            return False
        if self.limit is None:
            return None
        value = self.ratio if self.target_on == "ratio" else self.measured
        if value is None:
            return None
        return _compare(value, self.op, self.limit)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ratio=self.ratio, target=self.target, met=self.met)
        return out


def _compare(value: float, op: Op, limit: float) -> bool:
    return {"<=": value <= limit, "<": value < limit, ">=": value >= limit, ">": value > limit}[op]


def not_measured(name: str, unit: str, reason: str, **kw: Any) -> Row:
    """A row for something that could not be measured in this run, with the reason."""
    return Row(name, unit, None, note=f"not measured: {reason}", **kw)


def interleaved(
    funcs: dict[str, Callable[[], object]], *, number: int, repeats: int
) -> dict[str, Timing]:
    """Time each function `number` calls per batch, `repeats` batches, batches interleaved.

    The order alternates every round so neither side always runs first (caches, turbo, other
    processes); the garbage collector is off inside a batch, as in timeit.
    """
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    names = list(funcs)
    for name in names:  # warm up: imports, caches, first-call costs
        funcs[name]()
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            func = funcs[name]
            loop = range(number)
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in loop:
                    func()
                elapsed = time.perf_counter() - start
            finally:
                if gc_was_enabled:
                    gc.enable()
            samples[name].append(elapsed / number)
    return {
        name: Timing(min(values), statistics.median(values), repeats, number)
        for name, values in samples.items()
    }


# ---- scratch databases and ports (benchmarks that need a server) -----------------------------

POSTGRES_SERVER = os.environ.get("CIRQLIZ_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
"""The PostgreSQL server scratch databases are created on (CIRQLIZ_BENCH_POSTGRES overrides it)."""


def postgres_admin() -> Any:
    """An autocommit psycopg connection to the server's maintenance database."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_SERVER)
    return psycopg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, dbname=url.database or "postgres", autocommit=True, connect_timeout=3,
    )


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers)."""
    try:
        with postgres_admin() as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"PostgreSQL not reachable at {POSTGRES_SERVER}: {type(exc).__name__}: {exc}".strip()
    return None


def postgres_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    """The SQLAlchemy URL of `database` on the benchmark server."""
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_SERVER).set(drivername=driver, database=database).render_as_string(
        hide_password=False)


def create_postgres_database(template: str | None = None) -> str:
    """CREATE DATABASE bench_<random> (a file copy of `template` when given); its name."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    suffix = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
    with postgres_admin() as conn:
        conn.execute(f"CREATE DATABASE {name}{suffix}")
    return name


def drop_postgres_database(name: str) -> None:
    """DROP DATABASE IF EXISTS, even with connections left open."""
    with postgres_admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def scratch_postgres(template: str | None = None) -> Iterator[str]:
    """A scratch database for the duration of the block (dropped afterwards, whatever happens)."""
    name = create_postgres_database(template)
    try:
        yield name
    finally:
        drop_postgres_database(name)


def migrate(database_url: str) -> None:
    """Alembic upgrade to head, without its INFO lines in the benchmark output."""
    import logging

    from cirqliz.db.migrate import upgrade

    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        upgrade(database_url)
    finally:
        logger.setLevel(level)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- discovery and running ------------------------------------------------------------------


def discover() -> dict[str, Any]:
    """The benchmark modules, by short name (bench_verify -> 'verify'), in table order."""
    found = []
    for info in pkgutil.iter_modules([str(BENCH_DIR)]):
        if info.name.startswith("bench_"):
            module = importlib.import_module(f"bench.{info.name}")
            found.append((getattr(module, "ORDER", 100), info.name.removeprefix("bench_"), module))
    return {name: module for _, name, module in sorted(found, key=lambda x: (x[0], x[1]))}


def run_benchmarks(config: Config, only: Sequence[str] | None = None) -> list[Row]:
    """Run the selected benchmarks; one that crashes gives a failed row instead of stopping the run."""
    modules = discover()
    if only:
        unknown = [name for name in only if name not in modules]
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {unknown}; known: {', '.join(modules)}")
        modules = {name: modules[name] for name in only}
    rows: list[Row] = []
    for name, module in modules.items():
        try:
            produced = module.run(config)
        except Exception as exc:  # a broken benchmark must not hide the others
            traceback.print_exc()
            produced = [Row(name, "", None, note=f"crashed: {type(exc).__name__}: {exc}", ok=False)]
        for row in produced:
            row.benchmark = name
        rows.extend(produced)
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("chars", "version", "bytes"):
        return f"{value:g}"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table."""
    header = ("benchmark", "measured", "baseline", "ratio", "target", "met")
    lines = []
    for row in rows:
        met = {True: "yes", False: "NO", None: "—" if row.limit is None and row.ok else "n/a"}[row.met]
        ratio = "—" if row.ratio is None else f"{row.ratio:.3f}"
        lines.append((row.name, _fmt(row.measured, row.unit), _fmt(row.baseline, row.unit), ratio, row.target, met))
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for line, row in zip(lines, rows, strict=True):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if row.note:
            out.append(f"    {row.note}")
    return "\n".join(out)


def format_markdown(document: dict[str, Any]) -> str:
    """A results file (bench/results/*.json) as the README's Markdown table."""
    lines = ["| benchmark | measured | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for row in document["rows"]:
        met = {True: "yes", False: "**no**", None: "—"}[row.get("met")]
        ratio = "—" if row.get("ratio") is None else f"{row['ratio']:.2f}"
        target = row.get("target") or "—"
        if target.startswith("info"):
            target = "info"
        name = row["name"].replace("|", "\\|")
        lines.append(f"| {name} | {_fmt(row.get('measured'), row.get('unit', ''))} | "
                     f"{_fmt(row.get('baseline'), row.get('unit', ''))} | {ratio} | {target} | {met} |")
    return "\n".join(lines)


def write_json(rows: Sequence[Row], config: Config, path: Path | None = None) -> Path:
    """Write the run to bench/results/bench-<UTC time>.json (git-ignored) and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = path or RESULTS_DIR / f"bench-{stamp}.json"
    document = {
        "created": stamp,
        "config": asdict(config),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "rows": [row.as_json() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names (e.g. verify,qr)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke run)")
    parser.add_argument("--no-install", action="store_true", help="do not create helper venvs (cose)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--markdown", metavar="RESULTS_JSON",
                        help="print a results file as the README's Markdown table and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        print(format_markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    if args.list:
        print("\n".join(discover()))
        return 0
    config = Config(quick=args.quick, install=not args.no_install)
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    rows = run_benchmarks(config, only)
    print(format_table(rows))
    path = write_json(rows, config)
    print(f"\nwritten {path.relative_to(BENCH_DIR.parent)}")
    # Timings never fail the run (machines differ); a crash or an undecodable QR does.
    return 1 if any(not row.ok for row in rows) else 0
