"""The Python verifier's `detail` for every golden vector, as JSON on stdout.

tests/js/details-fr.test.mjs runs this with the project's venv and compares the JavaScript
verifier's details with these, case by case: the two verifiers must word the same case alike.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.passcode.errors import BundleError
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify import open_trust_set, verify_federated, verify_pass

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _chain(raw: dict[str, bytes], names: str | list[str], root: VerifyKey) -> TrustBundle:
    bundle = None
    for name in [names] if isinstance(names, str) else names:
        bundle = open_bundle(raw[name], [root], current=bundle)
    assert bundle is not None
    return bundle


def passes() -> dict[str, Any]:
    """Details of passes.json: {'cases': {name: detail}, 'bundle_cases': {name: message or null}}."""
    data = json.loads((VECTORS / "passes.json").read_text())
    root = VerifyKey.from_spki(base64.b64decode(data["root_spki"]))
    raw = {name: base64.b64decode(b) for name, b in data["bundles"].items()}
    cases = {}
    for c in data["cases"]:
        verdict = verify_pass(c["text"], _chain(raw, c["bundle"], root), zone=c["zone"], now=c["at"],
                              plate=c["plate"], last_seen=c["last_seen"], skew=data["skew"])
        cases[c["name"]] = verdict.detail
    bundles: dict[str, str | None] = {}
    for c in data["bundle_cases"]:
        try:
            _chain(raw, c["chain"], root)
            bundles[c["name"]] = None
        except BundleError as exc:
            bundles[c["name"]] = exc.message
    return {"cases": cases, "bundle_cases": bundles}


def federation() -> dict[str, Any]:
    """Details of federation.json: {'cases': {name: detail}, 'bundle_cases': {name: {iss: message}}}."""
    data = json.loads((VECTORS / "federation.json").read_text())
    root = VerifyKey.from_spki(base64.b64decode(data["home_root_spki"]))
    raw = {name: base64.b64decode(b) for name, b in data["bundles"].items()}

    def trust_of(case: dict[str, Any]) -> tuple[Any, dict[str, BundleError]]:
        held = None
        home = case["home"] if isinstance(case["home"], list) else [case["home"]]
        if "held" in case:
            held, _ = open_trust_set(_chain(raw, home[:1], root), {i: raw[n] for i, n in case["held"].items()})
        return open_trust_set(_chain(raw, home, root), {i: raw[n] for i, n in case["partners"].items()},
                              current=held)

    cases = {}
    for c in data["cases"]:
        trust, _ = trust_of(c)
        verdict = verify_federated(c["text"], trust, zone=c["zone"], now=c["at"], plate=c["plate"],
                                   last_seen=c["last_seen"], skew=data["skew"])
        cases[c["name"]] = verdict.detail
    bundles = {c["name"]: {iss: exc.message for iss, exc in trust_of(c)[1].items()} for c in data["bundle_cases"]}
    return {"cases": cases, "bundle_cases": bundles}


if __name__ == "__main__":
    json.dump({"passes": passes(), "federation": federation()}, sys.stdout, ensure_ascii=False, indent=1)
