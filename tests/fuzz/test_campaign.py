"""The bounded fuzz campaign (fuzz/): 1,000,000 inputs across every decoder and importer, fixed seed,
no untyped exception. In CI (CI=true) or with CIRQLIZ_SLOW=1 the full million runs (two worker
processes, a few minutes); elsewhere a 30,000-input campaign with the same targets (seconds: the fork
server imports the slow modules once, fuzz.targets.PRELOAD). CIRQLIZ_FUZZ_TOTAL=N sets the number of
inputs whatever the environment (e.g. CIRQLIZ_FUZZ_TOTAL=1000000 for the long campaign anywhere).

Also: the runner does catch an untyped exception (a harness that raises KeyError is reported and its
input saved), and atheris runs a target when it is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fuzz.__main__ import main as fuzz_main
from fuzz.runner import budgets, fuzz_target, run_campaign
from fuzz.targets import all_targets, targets_by_name

FULL = bool(os.environ.get("CI") or os.environ.get("CIRQLIZ_SLOW"))
TOTAL = int(os.environ.get("CIRQLIZ_FUZZ_TOTAL") or (1_000_000 if FULL else 30_000))
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_campaign_runs_every_target_without_an_untyped_exception(shared_data: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    targets = all_targets()
    campaign = run_campaign(targets, total=TOTAL, seed=0, jobs=2, seconds=900, crash_dir=tmp_path)
    with capsys.disabled():
        print(f"\nfuzz campaign, {TOTAL} inputs:\n{campaign.table()}")
    assert not campaign.crashes, "\n".join(c.describe() for c in campaign.crashes)
    plan = budgets(targets, TOTAL)
    for result in campaign.results:
        assert result.skipped is None, result.skipped
        assert not result.stopped_by_time, f"{result.name} hit the time limit"
        assert result.inputs == plan[result.name]
        assert sum(result.outcomes.values()) == result.inputs
    assert campaign.total == TOTAL
    if TOTAL >= 1_000_000:
        for result in campaign.results:
            assert result.inputs >= 2_000, f"{result.name}: only {result.inputs} inputs"
    # the harnesses reach past the first checks: typed refusals of several kinds, and accepted inputs
    by_name = {r.name: r for r in campaign.results}
    assert len(by_name["cose"].typed_codes) >= 5
    assert len(by_name["claims"].typed_codes) >= 5
    assert by_name["verify"].outcomes["VALID"] > 0
    signed = by_name["verify_signed"].outcomes  # genuine passes reach the time checks (ADR 0007: NOT_RESTRICTED too)
    assert signed["VALID"] + signed["OUTSIDE_HOURS"] + signed["NOT_RESTRICTED"] > 0
    for name in ("perimeters", "zfe", "cerema", "datex2", "ical"):
        accepted = sum(v for k, v in by_name[name].outcomes.items() if not k.startswith("error:"))
        assert accepted > 0, f"{name}: no input got past the file-level checks"


def test_campaign_is_deterministic(tmp_path: Path) -> None:
    target = targets_by_name()["cbor"]
    first = fuzz_target(target, 3_000, seed=7, crash_dir=tmp_path)
    second = fuzz_target(target, 3_000, seed=7, crash_dir=tmp_path)
    other = fuzz_target(target, 3_000, seed=8, crash_dir=tmp_path)
    assert first.outcomes == second.outcomes
    assert first.outcomes != other.outcomes


def test_an_untyped_exception_is_a_crash_with_the_input_saved(tmp_path: Path, capsys) -> None:
    def harness(data: bytes) -> None:
        if b"\x00" in data:
            raise KeyError("boom")

    target = replace(targets_by_name()["base45"], run=harness)
    result = fuzz_target(target, 5_000, seed=0, crash_dir=tmp_path)
    assert len(result.crashes) == 1
    crash = result.crashes[0]
    assert crash.kind == "KeyError" and crash.path is not None and b"\x00" in crash.path.read_bytes()
    assert "python -m fuzz --reproduce" in crash.describe()
    # the command line replays it: the real base45 target only gives a typed error on it
    assert fuzz_main(["--reproduce", str(crash.path), "--target", "base45"]) == 0
    assert "base45: error:MalformedError:bad_base45" in capsys.readouterr().out


def test_command_line_exit_status(tmp_path: Path) -> None:
    assert fuzz_main(["--targets", "plate,window", "--total", "2000", "--crash-dir", str(tmp_path)]) == 0
    assert fuzz_main(["--targets", "nope"]) == 2


def test_atheris_runs_a_target() -> None:
    pytest.importorskip("atheris")
    done = subprocess.run([sys.executable, "-m", "fuzz.atheris_fuzz", "cbor", "-runs=3000", "-seed=1"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Done 3000 runs" in done.stderr


def test_a_worker_that_dies_is_reported_instead_of_hanging_the_campaign(tmp_path: Path) -> None:
    # The worker process cannot find this target and exits without a result, as a native crash would.
    ghost = replace(targets_by_name()["base45"], name="ghost")
    campaign = run_campaign([ghost, targets_by_name()["cbor"]], total=2_000, seed=0, jobs=2, seconds=120,
                            crash_dir=tmp_path, keep_going=True)
    died = [c for c in campaign.crashes if c.kind == "WorkerDied"]
    assert [c.target for c in died] == ["ghost"]
    assert "exit code 1" in died[0].message and "--targets ghost" in died[0].describe()
    assert {r.name for r in campaign.results} == {"ghost", "cbor"}


def test_json_mutations_leave_the_shared_odd_values_untouched() -> None:
    """The odd values put into documents are copies: mutating a document never changes them (they
    once came to contain themselves, and the mutator then looped)."""
    import json
    from random import Random

    from fuzz import mutators

    before = repr(mutators._JSON_ODDITIES)
    seed = b'{"type": "Polygon", "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]]}'
    rng, document = Random(1), json.loads(seed)
    for _ in range(3_000):
        document = mutators.mutate_json_tree(rng, document)
        if rng.random() < 0.05:
            document = json.loads(seed)
    assert repr(mutators._JSON_ODDITIES) == before


def test_the_fork_server_preloads_modules_that_exist() -> None:
    """The campaign's fork server imports PRELOAD once for every target process; multiprocessing
    ignores a module that fails to import there, so a wrong name would only make campaigns slow."""
    import importlib

    from fuzz.targets import PRELOAD

    assert PRELOAD
    for name in PRELOAD:
        importlib.import_module(name)
