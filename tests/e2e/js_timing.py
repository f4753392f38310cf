"""JavaScript timings in Chromium, for the benchmark suite (bench/ belongs to the benchmarks;
call these from there).

    from tests.e2e.js_timing import measure_js_timings
    measure_js_timings(n=1500, scans=5)
    # {'verify_ms_median': 0.1, 'webcrypto_ms_median': 0.09, 'verify_n': 1500, 'batch': 50,
    #  'frame_to_verdict_ms_median': 20.0, 'decode_ms_median': 16.0, 'scans': 5, 'browser': '...'}

- `measure_js_verify(page, n, batch=50, baseline=None)`: median time of verifyPass (verifier.js,
  WebCrypto) per pass, in ms, on the golden vector `valid_es256`, in a page already on the
  application's origin; beside it, in the same rounds, WebCrypto's `subtle.verify` alone on the same
  bytes with the bundle's already imported key (what the browser itself costs), and `baseline()`
  when given (a callable timing one batch elsewhere, e.g. the Python verifier: its median comes
  back as `baseline_ms_median`). Each round times one batch of each, sequential awaited verifies,
  the order alternating from round to round so machine noise hits every side alike.
- `measure_frame_to_verdict(page, scans)`: median time from grabbing a camera frame to the verdict
  (zxing-wasm decode + verify + rendering the verdict), in ms, on a signed-in /scan page whose
  fake camera shows a pass.
- `measure_js_timings(n, scans, batch, baseline)`: both, standalone: a live server on a temp SQLite
  database, a pass issued through the services, a y4m fake camera, Debian's chromium. Raises
  RuntimeError when no browser is available.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import chromium_missing, issue_pass, launch_chromium, sign_in, start_live_server, write_y4m

VECTORS = Path(__file__).parents[1] / "vectors" / "passes.json"
CASE = "valid_es256"
BATCH = 50

# The page keeps two functions to time: the whole verifyPass, and WebCrypto's verify alone with the
# CryptoKey the bundle imported, over the same signature and Sig_structure bytes.
_VERIFY_SETUP = """async ({vectors, name}) => {
  const v = await import('/static/scanner/verifier.js');
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const c = vectors.cases.find((x) => x.name === name);
  let bundle = null;
  for (const b of [].concat(c.bundle)) {
    bundle = await v.openBundle(bytes(vectors.bundles[b]), [bytes(vectors.root_spki)], { current: bundle });
  }
  const options = { zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: vectors.skew };
  const message = v.parsePassText(c.text);
  const kid = Array.from(message.protected.get(4), (b) => b.toString(16).padStart(2, '0')).join('');
  const key = bundle.keysByKid.get(kid)[0].key;
  const data = v.toBeSigned(message.protectedRaw, message.payload);
  const params = key.alg === -7 ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
  const timed = {
    verify: async () => (await v.verifyPass(c.text, bundle, options)).reason,
    webcrypto: async () => String(await crypto.subtle.verify(params, key.cryptoKey, message.signature, data)),
  };
  for (let i = 0; i < 100; i++) for (const f of Object.values(timed)) await f();  // warm-up (JIT tiers)
  globalThis.__cirqlizTimed = timed;
  return { reason: await timed.verify(), expected: c.reason, webcrypto: await timed.webcrypto() };
}"""

# One batch of `n` sequential awaited calls. performance.now() is coarse (0.1 ms) outside
# cross-origin isolation: a batch of 50 verifies (about 5 ms) keeps that step near 2 %.
_VERIFY_BATCH = """async ({what, n}) => {
  const f = globalThis.__cirqlizTimed[what];
  let last = null;
  const t0 = performance.now();
  for (let k = 0; k < n; k++) last = await f();
  return { ms: (performance.now() - t0) / n, last };
}"""


def _p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the larger value of two)."""
    return sorted(values)[max(0, math.ceil(0.95 * len(values)) - 1)]


def measure_js_verify(page: Any, n: int = 200, *, batch: int = BATCH,
                      baseline: Callable[[int], float] | None = None) -> dict[str, Any]:
    """Median verifyPass time (ms) per pass over about `n` runs (batches of `batch`) of the golden
    vector `valid_es256`, in `page` (any page of the application's origin, e.g. /healthz), with
    WebCrypto's verify alone and `baseline(batch)` (ms per call over one batch) in the same rounds."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    ready = page.evaluate(_VERIFY_SETUP, {"vectors": vectors, "name": CASE})
    if ready["reason"] != ready["expected"]:
        raise AssertionError(f"verifier.js gave {ready['reason']} for {CASE}, expected {ready['expected']}")
    if ready["webcrypto"] != "true":
        raise AssertionError(f"WebCrypto did not verify the signature of {CASE}")
    batch = max(1, min(batch, n))
    rounds = math.ceil(n / batch)
    sides: list[str] = ["verify", "webcrypto"] + (["baseline"] if baseline is not None else [])
    times: dict[str, list[float]] = {side: [] for side in sides}
    for round_ in range(rounds):
        for side in sides if round_ % 2 == 0 else reversed(sides):
            if side == "baseline":
                assert baseline is not None
                times[side].append(baseline(batch))
                continue
            result = page.evaluate(_VERIFY_BATCH, {"what": side, "n": batch})
            expected = ready["expected"] if side == "verify" else "true"
            if result["last"] != expected:
                raise AssertionError(f"{side} gave {result['last']} for {CASE} while timing, expected {expected}")
            times[side].append(result["ms"])
    out: dict[str, Any] = {
        "verify_ms_median": statistics.median(times["verify"]), "verify_ms_p95": _p95(times["verify"]),
        "webcrypto_ms_median": statistics.median(times["webcrypto"]),
        "verify_n": rounds * batch, "batch": batch,
    }
    if baseline is not None:
        out["baseline_ms_median"] = statistics.median(times["baseline"])
    return out


def measure_frame_to_verdict(page: Any, scans: int = 5) -> dict[str, Any]:
    """Median frame-to-verdict and decode times (ms) over `scans` camera scans on a ready /scan page
    (zone chosen, bundle held, fake camera filming a pass)."""
    frame, decode, verify = [], [], []
    for _ in range(scans):
        before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
        page.click("#start")
        page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=30_000)
        data = page.evaluate("({...document.querySelector('#verdict').dataset})")
        frame.append(float(data["frameToVerdictMs"]))
        decode.append(float(data["decodeMs"]))
        verify.append(float(data["verifyMs"]))
        page.click("#back")
    return {"frame_to_verdict_ms_median": statistics.median(frame), "decode_ms_median": statistics.median(decode),
            "scan_verify_ms_median": statistics.median(verify), "scans": scans}


def measure_js_timings(n: int = 200, scans: int = 5, *, batch: int = BATCH,
                       baseline: Callable[[int], float] | None = None) -> dict[str, Any]:
    """Both measurements, standalone (see the module docstring)."""
    reason = chromium_missing()
    if reason:
        raise RuntimeError(f"cannot measure JavaScript timings: {reason}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cirqliz-js-timing-") as tmp:
        folder = Path(tmp)
        server = start_live_server(folder / "live", at=datetime.now(UTC))
        try:
            issued = issue_pass(server)
            y4m = write_y4m(issued.text, folder / "pass.y4m")
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright, y4m)
                try:
                    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
                    context.grant_permissions(["camera"], origin=server.base_url)
                    page = context.new_page()
                    page.goto(f"{server.base_url}/healthz")
                    results = measure_js_verify(page, n, batch=batch, baseline=baseline)
                    sign_in(page, server.base_url, "agent", "/scan")
                    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                    page.select_option("#zone", "PARIS-CENTRE")
                    results.update(measure_frame_to_verdict(page, scans))
                    results["browser"] = browser.version
                finally:
                    browser.close()
        finally:
            server.stop()
    return results


if __name__ == "__main__":
    print(json.dumps(measure_js_timings(), indent=2))
