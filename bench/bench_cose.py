"""Our offline verify against an off-the-shelf COSE library verifying the same token (BRIEF §8).

python-cwt needs cbor2 < 6 (and pycose breaks with cbor2 6), so it cannot live in the project's
environment: it gets its own venv, bench/.venv-cose (git-ignored), created on first use, and runs
in a worker process (bench/cwt_worker.py) whose batches are interleaved with ours. Ours is the
whole verify as in bench_verify (Base45 text to verdict, all the rules); theirs is COSE_Sign1
bytes (tagged, as python-cwt wants) to verified, decoded claims. If the venv cannot be made, the
row says why instead of failing the run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.fixtures import sample
from bench.harness import BENCH_DIR, Config, Row, not_measured
from cirqliz.passcode.base45 import b45decode
from cirqliz.verify import verify_pass

ORDER = 20
VENV = BENCH_DIR / ".venv-cose"
REQUIREMENT = "cwt>=3.3,<4"
NAME = "offline verify vs python-cwt"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_venv(config: Config) -> str | None:
    """Make sure bench/.venv-cose has python-cwt; None when ready, else the reason it is not."""
    python = _venv_python()
    probe = [str(python), "-c", "import cwt, cbor2"]
    if python.exists() and subprocess.run(probe, capture_output=True, timeout=60).returncode == 0:
        return None
    if not config.install:
        return f"{VENV.name} is not set up (run `python -m bench --only cose` once to create it)"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REQUIREMENT],
            check=True, capture_output=True, timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        last = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else []
        return f"cannot create {VENV.name}: {exc}" + (f" ({last[0]})" if last else "")
    if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
        return f"{VENV.name} was created but cannot import cwt"
    return None


def run(config: Config) -> list[Row]:
    reason = ensure_venv(config)
    if reason:
        return [not_measured(NAME, "µs", reason, limit=1.0, op="<")]
    s = sample()
    tagged = b"\xd2" + b45decode(s.text[4:])  # python-cwt refuses untagged COSE_Sign1
    spec = {"cose": tagged.hex(), "pem": s.key.verify_key().pem().decode(), "kid": s.key.kid.hex()}
    number, repeats = config.scale(50, 20), config.scale(201, 5)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "token.json"
        spec_path.write_text(json.dumps(spec))
        worker = subprocess.Popen(
            [str(_venv_python()), str(BENCH_DIR / "cwt_worker.py"), str(spec_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert worker.stdin is not None and worker.stdout is not None
            ready = worker.stdout.readline()
            if not ready.startswith("ready"):
                error = (worker.stderr.read() if worker.stderr else "").strip().splitlines()[-1:]
                return [not_measured(NAME, "µs", f"python-cwt worker failed: {error}", limit=1.0, op="<")]

            def theirs() -> float:
                worker.stdin.write(f"{number}\n")  # type: ignore[union-attr]
                worker.stdin.flush()  # type: ignore[union-attr]
                return float(worker.stdout.readline()) / number  # type: ignore[union-attr]

            def ours() -> float:
                start = time.perf_counter()
                for _ in range(number):
                    verify_pass(s.text, s.bundle, zone=s.zone, now=s.now)
                return (time.perf_counter() - start) / number

            ours(), theirs()  # warm up
            mine: list[float] = []
            other: list[float] = []
            for round_ in range(repeats):
                if round_ % 2:
                    other.append(theirs())
                    mine.append(ours())
                else:
                    mine.append(ours())
                    other.append(theirs())
            worker.stdin.write("\n")
            worker.stdin.flush()
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    version = subprocess.run(
        [str(_venv_python()), "-c", "import importlib.metadata as m; print(m.version('cwt'), m.version('cbor2'))"],
        capture_output=True, text=True, timeout=60,
    ).stdout.split()
    return [
        Row(
            NAME,
            "µs",
            min(mine) * 1e6,
            min(other) * 1e6,
            op="<",
            limit=1.0,
            note=f"python-cwt {version[0] if version else '?'} (cbor2 {version[1] if len(version) > 1 else '?'}) "
            "in bench/.venv-cose: COSE_Sign1 verify + claims decode",
            extra={"median_ratio": statistics.median(mine) / statistics.median(other)},
        )
    ]
