"""Golden vectors (tests/vectors/passes.json): fixed keys, fixed clock, expected verdicts.

The expectations were written by hand in tests/vectors/generate.py; the browser verifier runs
the same file, so both verifiers must agree on every case.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.passcode.errors import BundleError
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify import Reason, Status, verify_pass

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "passes.json").read_text())
ROOT = VerifyKey.from_spki(base64.b64decode(VECTORS["root_spki"]))
RAW = {name: base64.b64decode(data) for name, data in VECTORS["bundles"].items()}


def open_chain(chain: list[str] | str) -> TrustBundle:
    names = [chain] if isinstance(chain, str) else chain
    bundle = None
    for name in names:
        bundle = open_bundle(RAW[name], [ROOT], current=bundle)
    assert bundle is not None
    return bundle


def test_every_reason_is_covered() -> None:
    covered = {case["reason"] for case in VECTORS["cases"]}
    assert covered == {r.value for r in Reason}


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_pass_vector(case: dict) -> None:
    verdict = verify_pass(
        case["text"],
        open_chain(case["bundle"]),
        zone=case["zone"],
        now=case["at"],
        plate=case["plate"],
        last_seen=case["last_seen"],
        skew=VECTORS["skew"],
    )
    assert (verdict.status, verdict.reason) == (Status(case["status"]), Reason(case["reason"])), verdict.detail
    assert verdict.message_fr and verdict.message_en


@pytest.mark.parametrize("case", VECTORS["bundle_cases"], ids=lambda c: c["name"])
def test_bundle_vector(case: dict) -> None:
    if case["expect"] == "ok":
        assert open_chain(case["chain"]).seq > 0
    else:
        with pytest.raises(BundleError) as refused:
            open_chain(case["chain"])
        assert refused.value.code == case["expect"]


def test_delta_equals_full_content() -> None:
    via_delta = open_chain(["main", "delta_7_8"])
    assert via_delta.seq == 8
    assert via_delta.revoked_count() == 2
    assert via_delta.content.zones == open_chain("main").content.zones
