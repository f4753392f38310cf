"""JavaScript timings in Chromium, for the benchmark suite (bench/ belongs to the benchmarks;
call these from there).

    from tests.e2e.js_timing import measure_js_timings
    measure_js_timings(n=200, scans=5)
    # {'verify_ms_median': 0.4, 'verify_n': 200, 'frame_to_verdict_ms_median': 130.0,
    #  'decode_ms_median': 120.0, 'scans': 5, 'browser': '...'}

- `measure_js_verify(page, n)`: median time of verifyPass (verifier.js, WebCrypto) per pass, in ms,
  on the golden vector `valid_es256`, in a page already on the application's origin.
- `measure_frame_to_verdict(page, scans)`: median time from grabbing a camera frame to the verdict
  (zxing-wasm decode + verify + rendering the verdict), in ms, on a signed-in /scan page whose
  fake camera shows a pass.
- `measure_js_timings(n, scans)`: both, standalone: a live server on a temp SQLite database, a pass
  issued through the services, a y4m fake camera, Debian's chromium. Raises RuntimeError when no
  browser is available.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import chromium_missing, issue_pass, launch_chromium, sign_in, start_live_server, write_y4m

VECTORS = Path(__file__).parents[1] / "vectors" / "passes.json"
CASE = "valid_es256"

_VERIFY_LOOP = """async ({vectors, name, n}) => {
  const v = await import('/static/scanner/verifier.js');
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const c = vectors.cases.find((x) => x.name === name);
  let bundle = null;
  for (const b of [].concat(c.bundle)) {
    bundle = await v.openBundle(bytes(vectors.bundles[b]), [bytes(vectors.root_spki)], { current: bundle });
  }
  const options = { zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: vectors.skew };
  for (let i = 0; i < 20; i++) await v.verifyPass(c.text, bundle, options);  // warm-up (JIT, key import)
  // performance.now() is coarse (0.1 ms) outside cross-origin isolation: time batches of 10.
  const times = [];
  let reason = null;
  for (let i = 0; i < Math.ceil(n / 10); i++) {
    const t0 = performance.now();
    for (let k = 0; k < 10; k++) reason = (await v.verifyPass(c.text, bundle, options)).reason;
    times.push((performance.now() - t0) / 10);
  }
  return { times, reason, expected: c.reason };
}"""


def measure_js_verify(page: Any, n: int = 200) -> dict[str, Any]:
    """Median verifyPass time (ms) per pass over `n` runs (batches of 10) of the golden vector
    `valid_es256`, in `page` (any page of the application's origin, e.g. /healthz)."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    result = page.evaluate(_VERIFY_LOOP, {"vectors": vectors, "name": CASE, "n": n})
    if result["reason"] != result["expected"]:
        raise AssertionError(f"verifier.js gave {result['reason']} for {CASE}, expected {result['expected']}")
    times = result["times"]
    return {"verify_ms_median": statistics.median(times), "verify_ms_p95": sorted(times)[int(0.95 * (len(times) - 1))],
            "verify_n": n}


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


def measure_js_timings(n: int = 200, scans: int = 5) -> dict[str, Any]:
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
                    results = measure_js_verify(page, n)
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
