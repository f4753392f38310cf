"""The agents' verifier in the browser: verifier.js in Chromium (targets: <= 10 ms per verify, and
<= 2x the Python verifier on the same vector, measured side by side in the same run).

Calls tests/e2e/js_timing.py's measure_js_timings, imported by path (bench/ does not depend on the
tests being a package on sys.path): it starts its own live server (a temporary SQLite database,
the demo world, a pass issued through the services), Debian's chromium with a fake camera showing
that pass, and measures
- verifyPass (WebCrypto) on the golden vector `valid_es256`, median ms per verify, sequential awaited
  verifies in batches of 50 (performance.now() steps by 0.1 ms in a page that is not cross-origin
  isolated);
- in the same rounds, WebCrypto's subtle.verify alone on the same bytes with the bundle's imported
  key: the part of a verify that is the browser's own (in the ratio row's note);
- frame to verdict on the signed-in /scan page: camera frame grabbed → zxing-wasm decode → verify
  → verdict shown (information, no target).
Baseline, side by side: cirqliz.verify.verify_pass (Python) on the same golden vector and bundle,
in this process, one batch of 50 between the browser's batches in every round (order alternating),
so both medians come from the same minutes of machine load. When Chromium or Playwright is missing
the rows say 'not measured' and why.
The live server's log lines go to bench/results/js_verify-server.log, not to the terminal.
"""

from __future__ import annotations

import base64
import gc
import importlib
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

from bench.harness import BENCH_DIR, RESULTS_DIR, Config, Row, not_measured
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify import verify_pass

ORDER = 60
E2E = BENCH_DIR.parent / "tests" / "e2e"
VECTORS = BENCH_DIR.parent / "tests" / "vectors" / "passes.json"
CASE = "valid_es256"
PACKAGE = "_cirqliz_bench_e2e"
VERIFY_NAME = "JS verifyPass in Chromium (median)"
RATIO_NAME = "JS verifyPass in Chromium vs Python verify_pass (medians)"
RATIO_LIMIT = 2.0
SERVER_LOG = RESULTS_DIR / "js_verify-server.log"
FRAME_NAME = "JS scan: camera frame to verdict (median)"
BATCH = 50


def load_js_timing() -> ModuleType:
    """tests/e2e/js_timing.py, imported by path as a submodule of a private package name."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PACKAGE, E2E / "__init__.py",
                                                      submodule_search_locations=[str(E2E)])
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {E2E}")
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.js_timing")


def python_verify_batch() -> Callable[[int], float]:
    """One batch of the Python verify_pass on the golden vector the browser verifies: `batch(n)` runs
    it n times (garbage collector off, as in bench.harness.interleaved) and gives ms per call."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    case = next(c for c in vectors["cases"] if c["name"] == CASE)
    root = VerifyKey.from_spki(base64.b64decode(vectors["root_spki"]))
    bundle = None
    names = case["bundle"] if isinstance(case["bundle"], list) else [case["bundle"]]
    for name in names:
        bundle = open_bundle(base64.b64decode(vectors["bundles"][name]), [root], current=bundle)
    assert bundle is not None

    def once() -> object:
        return verify_pass(case["text"], bundle, zone=case["zone"], now=case["at"], plate=case["plate"],
                           last_seen=case["last_seen"], skew=vectors["skew"])

    verdict = once()
    if verdict.reason.value != case["reason"]:  # type: ignore[attr-defined]
        raise AssertionError(f"verify_pass gave {verdict.reason} for {CASE}")
    for _ in range(100):  # warm-up, as the browser side has
        once()

    def batch(n: int) -> float:
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            for _ in range(n):
                once()
            elapsed = time.perf_counter() - start
        finally:
            if gc_was_enabled:
                gc.enable()
        return elapsed / n * 1e3

    return batch


@contextmanager
def server_log_to_file() -> Iterator[None]:
    """The live server's `cirqliz` log lines into SERVER_LOG while measuring.

    configure_logging (cirqliz.web.observability) adds its standard-error handler only when no
    handler of its own is there yet; a file handler marked as its own takes that place.
    """
    from cirqliz.web.observability import JsonFormatter

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("cirqliz")
    handler = logging.FileHandler(SERVER_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler._cirqliz = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def _not_measured(reason: str) -> list[Row]:
    return [not_measured(VERIFY_NAME, "ms", reason), not_measured(RATIO_NAME, "ms", reason, limit=RATIO_LIMIT),
            not_measured(FRAME_NAME, "ms", reason)]


def run(config: Config) -> list[Row]:
    try:
        js_timing = load_js_timing()
    except Exception as exc:  # playwright or the e2e helpers cannot be imported here
        return _not_measured(f"cannot import tests/e2e/js_timing.py: {type(exc).__name__}: {exc}")
    missing = js_timing.chromium_missing()
    if missing:
        return _not_measured(missing)
    python_batch = python_verify_batch()
    try:
        with server_log_to_file():
            result = js_timing.measure_js_timings(n=config.scale(3000, 200), scans=config.scale(5, 1),
                                                  batch=BATCH, baseline=python_batch)
    except Exception as exc:  # the browser could not start or the page broke: say so, do not crash
        return _not_measured(f"measure_js_timings failed: {type(exc).__name__}: {exc}")
    js_ms = result["verify_ms_median"]
    python_ms = result["baseline_ms_median"]
    webcrypto_ms = result["webcrypto_ms_median"]
    browser = result.get("browser", "?")
    rounds = result["verify_n"] // result["batch"]
    return [
        Row(VERIFY_NAME, "ms", js_ms, target_on="value", limit=10,
            note=f"Chromium {browser}, {result['verify_n']} verifies of {CASE} (batches of {result['batch']})",
            extra={"verify_ms_p95": result.get("verify_ms_p95"), "webcrypto_ms_median": webcrypto_ms}),
        Row(RATIO_NAME, "ms", js_ms, python_ms, limit=RATIO_LIMIT,
            note=f"baseline: Python verify_pass of {CASE} with the same bundle, in this process, batches of "
                 f"{result['batch']} interleaved with the browser's ({rounds} rounds, medians); WebCrypto's "
                 f"subtle.verify alone on the same bytes {webcrypto_ms:.3g} ms "
                 f"({webcrypto_ms / python_ms:.2f}x Python)"
                 + (f", the rest of verifyPass {js_ms - webcrypto_ms:.3g} ms" if js_ms >= webcrypto_ms else ""),
            extra={"webcrypto_ms_median": webcrypto_ms, "webcrypto_vs_python": webcrypto_ms / python_ms,
                   "rounds": rounds, "batch": result["batch"]}),
        Row(FRAME_NAME, "ms", result["frame_to_verdict_ms_median"],
            note=f"fake camera, {result['scans']} scan(s); zxing-wasm decode "
                 f"{result['decode_ms_median']:.3g} ms, verify {result['scan_verify_ms_median']:.3g} ms",
            extra={k: v for k, v in result.items() if k.endswith("_median")}),
    ]
