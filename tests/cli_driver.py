"""Run `cirqliz` commands in process (cirqliz.cli.main) and capture what they print."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from cirqliz.cli import main


@dataclass
class Run:
    """Exit status and output of one command."""

    rc: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        """The standard output read as JSON."""
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run `cirqliz ARGS…`; an argparse usage error is exit status 2, as in a shell."""
    capsys.readouterr()
    try:
        rc = main(list(args))
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return Run(rc, captured.out, captured.err)
