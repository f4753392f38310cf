"""`python -m fuzz`: a bounded fuzz campaign over every decoder and importer.

    python -m fuzz --total 1000000 --seconds 300          every target, its share of the total
    python -m fuzz --targets cbor,plate --total 100000    some targets
    python -m fuzz --list                                 targets, shares and what they cover
    python -m fuzz --reproduce fuzz/crashes/X.bin --target cbor   replay one saved input

Exit status: 0 when no input raised an untyped exception, 1 on a crash (input saved under
fuzz/crashes/ with the command that replays it), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from fuzz.runner import CRASH_DIR, budgets, limit_memory, run_campaign, run_one
from fuzz.targets import all_targets, targets_by_name


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1_000_000, help="inputs across all targets (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=None, help="wall-time limit of the whole campaign")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (same seed, same inputs)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (targets run in parallel)")
    parser.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    parser.add_argument("--keep-going", action="store_true", help="record every distinct crash instead of stopping")
    parser.add_argument("--crash-dir", type=Path, default=CRASH_DIR, help="where crashing inputs are saved")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--reproduce", type=Path, help="run one saved input (with --target)")
    parser.add_argument("--target", help="target of --reproduce")
    args = parser.parse_args(argv)

    by_name = targets_by_name()
    if args.list:
        plan = budgets(list(by_name.values()), args.total)
        for target in by_name.values():
            print(f"{target.name:<15} {plan[target.name]:>9}  {target.description}")
        return 0
    if args.reproduce:
        target = by_name.get(args.target or args.reproduce.name.rsplit("-", 1)[0])
        if target is None:
            print(f"unknown target: give --target (one of {', '.join(by_name)})", file=sys.stderr)
            return 2
        try:
            outcome = run_one(args.reproduce.read_bytes(), target)
        except BaseException:  # the point is to show it
            traceback.print_exc()
            return 1
        print(f"{target.name}: {outcome}")
        return 0

    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        print(f"unknown target(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    chosen = [by_name[n] for n in names] if names else all_targets()
    if os.environ.get("CIRQLIZ_REQUIRE_SHARED") and any(t.needs_shared for t in chosen):
        from fuzz.targets import shared_data

        shared_data()  # raises when ../shared/data is absent: CI must not skip the importers

    def progress(result: object) -> None:
        print(f"  {result.name}: {result.inputs} inputs in {result.seconds:.1f} s", file=sys.stderr, flush=True)

    campaign = run_campaign(chosen, total=args.total, seconds=args.seconds, seed=args.seed, jobs=args.jobs,
                            crash_dir=args.crash_dir, keep_going=args.keep_going, progress=progress)
    print(campaign.table())
    for crash in campaign.crashes:
        print(crash.describe())
    return 1 if campaign.crashes else 0


if __name__ == "__main__":
    limit_memory()  # only as a command: never in a test process, whose children (browsers) inherit it
    sys.exit(main())
