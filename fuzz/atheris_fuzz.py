"""Coverage-guided fuzzing of one target with atheris (libFuzzer), when atheris is installed.

    python -m fuzz.atheris_fuzz cbor -runs=200000 -seed=1
    python -m fuzz.atheris_fuzz ical -max_total_time=300 fuzz/corpus-ical   (a corpus folder is optional)

The harness is the same as the campaign's (fuzz/targets.py): typed errors are expected, anything
else is reported by libFuzzer as a crash and written as crash-<sha1> in the current folder.
Replay one with `python -m fuzz --reproduce crash-... --target NAME`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run atheris on the target named by the first argument; the rest goes to libFuzzer."""
    args = list(sys.argv if argv is None else argv)
    if len(args) < 2 or args[1].startswith("-"):
        print("usage: python -m fuzz.atheris_fuzz TARGET [libFuzzer options] [corpus folder]", file=sys.stderr)
        return 2
    try:
        import atheris
    except ImportError:
        print("atheris is not installed (pip install atheris): use `python -m fuzz` instead", file=sys.stderr)
        return 2
    with atheris.instrument_imports(include=["cirqliz"]):
        import cirqliz.imports
        import cirqliz.issuance.events
        import cirqliz.issuance.pro_queries
        import cirqliz.issuance.zone_imports
        import cirqliz.issuance.zonefile
        import cirqliz.passcode.bundle
        import cirqliz.verify.core  # noqa: F401
    from fuzz.targets import targets_by_name

    name = args[1]
    target = targets_by_name().get(name)
    if target is None:
        print(f"unknown target {name!r} (see python -m fuzz --list)", file=sys.stderr)
        return 2
    typed = target.typed

    def one_input(data: bytes) -> None:
        try:
            target.run(data)
        except typed:
            pass

    seeds_dir = _seed_corpus(target) if not any(not a.startswith("-") for a in args[2:]) else None
    libfuzzer_args = [args[0], *args[2:]] + ([seeds_dir] if seeds_dir else [])
    atheris.Setup(libfuzzer_args, one_input)
    atheris.Fuzz()
    return 0


def _seed_corpus(target: object) -> str | None:
    """A temporary folder holding the target's seeds (libFuzzer starts from them)."""
    import tempfile
    from pathlib import Path

    try:
        seeds = target.seeds()  # type: ignore[attr-defined]
    except Exception:  # no seeds: libFuzzer starts from nothing
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"cirqliz-fuzz-{target.name}-"))  # type: ignore[attr-defined]
    for i, seed in enumerate(seeds):
        (folder / f"seed-{i}").write_bytes(seed)
    return str(folder)


if __name__ == "__main__":
    sys.exit(main())
