"""Federation of trust (issue 19, ADR 0009): golden vectors of tests/vectors/federation.json, the
bundle format keys 16 (partners) and 17 (name), and verify_federated against verify_pass.

The expectations were written by hand in tests/vectors/generate.py; the browser verifier
(tests/js/federation.test.mjs) runs the same file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirqliz.passcode.bundle import (
    B_NAME,
    B_PARTNERS,
    BundlePartner,
    TrustBundle,
    decode_payload,
    encode_delta,
    encode_full,
    normalise_fingerprint,
    open_bundle,
    root_fingerprint,
    sign_bundle,
    sign_delta,
)
from cirqliz.passcode.cose import decode_sign1
from cirqliz.passcode.errors import BundleError, MalformedError
from cirqliz.passcode.keys import Algorithm, SigningKey, VerifyKey
from cirqliz.passcode.token import sign_pass
from cirqliz.verify import Reason, Status, TrustSet, open_trust_set, parse_zone_ref, verify_federated, verify_pass

from ._support import ROOT, SIGNER, T0, claims, content

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
FED = json.loads((VECTORS_DIR / "federation.json").read_text())
PASSES = json.loads((VECTORS_DIR / "passes.json").read_text())
HOME_ROOT = VerifyKey.from_spki(base64.b64decode(FED["home_root_spki"]))
RAW = {name: base64.b64decode(data) for name, data in FED["bundles"].items()}


def open_home(home: str | list[str], *, first_only: bool = False) -> TrustBundle:
    names = [home] if isinstance(home, str) else home
    bundle = None
    for name in names[:1] if first_only else names:
        bundle = open_bundle(RAW[name], [HOME_ROOT], current=bundle)
    assert bundle is not None
    return bundle


def trust_of(case: dict[str, Any]) -> tuple[TrustSet, dict[str, BundleError]]:
    """The trust set of a vector case, built as federation.json's description says."""
    held = None
    if "held" in case:
        held, refused = open_trust_set(open_home(case["home"], first_only=True),
                                       {iss: RAW[name] for iss, name in case["held"].items()})
        assert not refused
    return open_trust_set(open_home(case["home"]), {iss: RAW[name] for iss, name in case["partners"].items()},
                          current=held)


# ---- golden vectors -----------------------------------------------------------------------------


def test_description_says_how_to_read_the_file() -> None:
    for word in ("bundles", "home", "partners", "held", "cases", "bundle_cases", "open_trust_set"):
        assert word in FED["description"]


@pytest.mark.parametrize("case", FED["cases"], ids=lambda c: c["name"])
def test_federation_vector(case: dict[str, Any]) -> None:
    trust, _ = trust_of(case)
    verdict = verify_federated(case["text"], trust, zone=case["zone"], now=case["at"], plate=case["plate"],
                               last_seen=case["last_seen"], skew=FED["skew"])
    got = (verdict.status.value, verdict.reason.value, verdict.issuer, verdict.issuer_name, verdict.zone_authority)
    want = (case["status"], case["reason"], case["issuer"], case["issuer_name"], case["zone_authority"])
    assert got == want, verdict.detail
    data = verdict.as_json()
    assert (data["issuer"], data["issuer_name"], data["zone_authority"]) == want[2:]


@pytest.mark.parametrize("case", FED["bundle_cases"], ids=lambda c: c["name"])
def test_federation_bundle_vector(case: dict[str, Any]) -> None:
    trust, refusals = trust_of(case)
    assert {iss: exc.code for iss, exc in refusals.items()} == case["refusals"]
    assert {iss: b.seq for iss, b in trust.partners.items()} == case["trusted"]
    assert trust.home.seq == case["home_seq"]
    assert [p.iss for p in trust.home.content.partners] == case["home_partners"]


def test_vectors_cover_the_required_outcomes() -> None:
    reasons = {c["reason"] for c in FED["cases"]}
    assert {"VALID", "WRONG_ZONE", "UNKNOWN_KEY", "REVOKED", "STALE_BUNDLE", "UNKNOWN_ZONE",
            "NOT_RESTRICTED"} <= reasons
    codes = {code for c in FED["bundle_cases"] for code in c["refusals"].values()}
    assert {"bundle_rollback", "bundle_unknown_root", "bundle_wrong_issuer"} <= codes


def test_home_delta_carries_partners_only_when_they_change() -> None:
    _, _, removing = decode_payload(decode_sign1(RAW["ville_delta_1_2"]).payload)
    assert [p.iss for p in removing["partners"]] == ["METRO"]
    _, _, keeping = decode_payload(decode_sign1(RAW["ville_delta_2_3"]).payload)
    assert keeping["partners"] is None
    assert B_PARTNERS not in cbor2.loads(decode_sign1(RAW["ville_delta_2_3"]).payload)


def test_partner_bundle_name_is_the_issuer_name_else_the_home_entry() -> None:
    trust, _ = trust_of({"home": "ville_v1", "partners": {"METRO": "metro_5", "PREF": "pref"}})
    assert trust.name_of("METRO") == "Métropole de Test"  # its own B_NAME, not the entry's "Métropole"
    assert trust.home.partner("METRO").name == "Métropole"  # type: ignore[union-attr]
    assert trust.name_of("PREF") == "Préfecture de Test"  # no B_NAME: the home entry's name
    assert trust.name_of("ROGUE") is None


def test_passes_json_untouched_by_federation() -> None:
    # Bundles without partners or a name keep their bytes: passes.json decodes with neither.
    for name, data in PASSES["bundles"].items():
        if name == "tampered":
            continue
        payload = cbor2.loads(decode_sign1(base64.b64decode(data)).payload)
        assert B_PARTNERS not in payload and B_NAME not in payload, name


# ---- encoding and strict decoding ---------------------------------------------------------------

PARTNER_ROOT = SigningKey.generate(Algorithm.EDDSA)
OTHER_ROOT = SigningKey.generate(Algorithm.ES256)


def partner(iss: str, root: SigningKey = PARTNER_ROOT, name: str = "Partenaire") -> BundlePartner:
    return BundlePartner(iss, name, root.verify_key().spki(), f"https://{iss.lower()}.example/b.cose")


def payload_with(**changes: object) -> bytes:
    """A full bundle payload re-encoded with raw CBOR changes (key -> value; None deletes)."""
    data = cbor2.loads(encode_full(content(iss="HOME")))
    for key, value in changes.items():
        k = int(key[1:])
        if value is None:
            data.pop(k, None)
        else:
            data[k] = value
    return cbor2.dumps(data, canonical=True)


def raw_partner(iss: object = "METRO", name: object = "Métropole", root: object = None, url: object = "u") -> dict:
    return {1: iss, 2: name, 3: PARTNER_ROOT.verify_key().spki() if root is None else root, 4: url}


def test_full_bundle_round_trips_partners_and_name() -> None:
    c = dataclasses.replace(content(iss="HOME"), name="Ville", partners=(partner("A"), partner("B", OTHER_ROOT)))
    opened = open_bundle(sign_bundle(c, ROOT), [ROOT.verify_key()])
    assert opened.content == c
    assert opened.content.name == "Ville"
    assert opened.partner_roots["B"].spki() == OTHER_ROOT.verify_key().spki()


def test_partners_are_encoded_sorted() -> None:
    c = dataclasses.replace(content(iss="HOME"), partners=(partner("B"), partner("A")))
    raw = cbor2.loads(encode_full(c))
    assert [p[1] for p in raw[B_PARTNERS]] == ["A", "B"]


@pytest.mark.parametrize(
    ("partners", "problem"),
    [
        ([raw_partner("B"), raw_partner("A")], "à trier"),
        ([raw_partner("A"), raw_partner("A")], "sans répétition"),
        ([raw_partner("HOME")], "son propre partenaire"),
        ([raw_partner("")], "iss"),
        ([raw_partner("X" * 33)], "plus de 32 caractères"),
        ([raw_partner("A/B")], "'/'"),
        ([raw_partner(name="")], "nom du partenaire"),
        ([raw_partner(name="N" * 201)], "plus de 200 caractères"),
        ([raw_partner(root="not bytes")], "clé racine"),
        ([raw_partner(url=None)], "url"),
        ([{1: "A", 2: "N", 4: "u"}], "clé racine"),
        ("not an array", "tableau"),
    ],
)
def test_strict_partner_decoding(partners: object, problem: str) -> None:
    with pytest.raises(MalformedError) as refused:
        decode_payload(payload_with(k16=partners))
    assert refused.value.code == "bad_bundle"
    assert problem in refused.value.message


@pytest.mark.parametrize("name", ["", "N" * 201, 7])
def test_strict_name_decoding(name: object) -> None:
    with pytest.raises(MalformedError):
        decode_payload(payload_with(k17=name))


def test_partner_root_must_load_as_a_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for root in (b"\x30\x03junk", OTHER_ROOT.verify_key().spki()[:-1], p384):
        c = dataclasses.replace(content(iss="HOME"), partners=(BundlePartner("A", "A", root, ""),))
        with pytest.raises(BundleError) as refused:
            open_bundle(sign_bundle(c, ROOT), [ROOT.verify_key()])
        assert refused.value.code == "bundle_malformed"
        with pytest.raises(MalformedError) as direct:
            TrustBundle.from_content(c)
        assert direct.value.code == "bad_bundle"


def test_delta_partners_absent_unchanged_empty_removes_all() -> None:
    base = dataclasses.replace(content(iss="HOME", seq=1), partners=(partner("A"), partner("B")))
    same = dataclasses.replace(base, seq=2)
    none_left = dataclasses.replace(base, seq=3, partners=())
    assert B_PARTNERS not in cbor2.loads(encode_delta(base, same))
    assert cbor2.loads(encode_delta(base, none_left))[B_PARTNERS] == []
    held = open_bundle(sign_bundle(base, ROOT), [ROOT.verify_key()])
    kept = open_bundle(sign_delta(base, same, ROOT), [ROOT.verify_key()], current=held)
    assert kept.content.partners == base.partners
    emptied = open_bundle(sign_delta(base, none_left, ROOT), [ROOT.verify_key()], current=held)
    assert emptied.content.partners == () and emptied.content == none_left


def test_full_bundle_with_empty_partner_array_means_none() -> None:
    _, decoded, _ = decode_payload(payload_with(k16=[]))
    assert decoded.partners == ()


def test_root_fingerprint_format_and_normalising() -> None:
    spki = PARTNER_ROOT.verify_key().spki()
    fp = root_fingerprint(spki)
    groups = fp.split(" ")
    assert len(groups) == 16 and all(len(g) == 4 and g == g.upper() for g in groups)
    import hashlib

    assert fp.replace(" ", "") == hashlib.sha256(spki).hexdigest().upper()
    typed = "-".join(g.lower() for g in groups)
    assert normalise_fingerprint(typed) == normalise_fingerprint(fp) == fp.replace(" ", "")
    assert normalise_fingerprint("3f:2a 9c-01") == "3F2A9C01"


# ---- zone references ----------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "parsed"), [("CENTRE", (None, "CENTRE")), ("METRO/ZFE", ("METRO", "ZFE"))])
def test_parse_zone_ref(ref: str, parsed: tuple[str | None, str]) -> None:
    assert parse_zone_ref(ref) == parsed


@pytest.mark.parametrize("ref", ["", "/ZFE", "METRO/", "/", "A/B/C"])
def test_parse_zone_ref_rejects_empty_parts(ref: str) -> None:
    with pytest.raises(ValueError):
        parse_zone_ref(ref)


# ---- trust set ----------------------------------------------------------------------------------


def test_partner_root_change_drops_the_held_bundle() -> None:
    """A partner re-keyed: the bundle held under its old root is no longer trusted."""
    trust, _ = trust_of({"home": "ville_v1", "partners": {"METRO": "metro_5"}})
    home = trust.home
    entry = home.partner("METRO")
    assert entry is not None
    moved = dataclasses.replace(entry, root=OTHER_ROOT.verify_key().spki())
    rekeyed = TrustBundle.from_content(dataclasses.replace(
        home.content, seq=9, partners=tuple(moved if p.iss == "METRO" else p for p in home.content.partners)))
    again, refusals = open_trust_set(rekeyed, {}, current=trust)
    assert "METRO" not in again.partners and not refusals


def test_partner_without_new_bytes_keeps_the_held_bundle() -> None:
    trust, _ = trust_of({"home": "ville_v1", "partners": {"METRO": "metro_5"}})
    again, refusals = open_trust_set(trust.home, {}, current=trust)
    assert again.partners["METRO"] is trust.partners["METRO"] and not refusals


def test_unknown_kid_detail_names_no_bundle() -> None:
    trust, _ = trust_of({"home": "ville_v1", "partners": {}})
    case = next(c for c in FED["cases"] if c["name"] == "rogue_pass_offered_not_listed")
    verdict = verify_federated(case["text"], trust, zone="CENTRE", now=case["at"])
    assert verdict.reason is Reason.UNKNOWN_KEY and "absente de tous les paquets de confiance" in verdict.detail


def test_verdict_names_the_other_authority_on_wrong_zone() -> None:
    case = next(c for c in FED["cases"] if c["name"] == "ville_pass_at_metro_zone_same_ref")
    trust, _ = trust_of(case)
    verdict = verify_federated(case["text"], trust, zone=case["zone"], now=case["at"])
    assert verdict.detail == "laissez-passer émis par VILLE ; zone du contrôle relevant de METRO"
    # Without the namespacing, zone ref 1 of METRO would have let the VILLE pass through.
    assert verify_pass(case["text"], trust.home, zone="CENTRE", now=case["at"]).reason is Reason.VALID


def test_malformed_text_is_malformed() -> None:
    trust, _ = trust_of({"home": "ville_v1", "partners": {"METRO": "metro_5"}})
    for zone in ("CENTRE", "METRO/ZFE", "NOPE/X"):
        verdict = verify_federated("CQ1:???", trust, zone=zone, now=T0)
        assert verdict.reason is Reason.MALFORMED and verdict.issuer is None


# ---- property: one authority alone behaves as verify_pass ---------------------------------------

SINGLE = [c for c in PASSES["cases"]]
PASS_ROOT = VerifyKey.from_spki(base64.b64decode(PASSES["root_spki"]))
PASS_RAW = {name: base64.b64decode(data) for name, data in PASSES["bundles"].items()}


def _pass_bundle(chain: str | list[str]) -> TrustBundle:
    bundle = None
    for name in [chain] if isinstance(chain, str) else chain:
        bundle = open_bundle(PASS_RAW[name], [PASS_ROOT], current=bundle)
    assert bundle is not None
    return bundle


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(SINGLE), shift=st.integers(-3 * 86400, 20 * 86400), prefix=st.booleans())
def test_single_authority_trust_set_agrees_with_verify_pass(case: dict[str, Any], shift: int, prefix: bool) -> None:
    bundle = _pass_bundle(case["bundle"])
    trust, refusals = open_trust_set(bundle, {})
    assert not refusals and not trust.partners
    now = case["at"] + shift
    zone = f"{bundle.iss}/{case['zone']}" if prefix else case["zone"]
    kw = {"now": now, "plate": case["plate"], "last_seen": case["last_seen"]}
    alone = verify_pass(case["text"], bundle, zone=case["zone"], **kw)
    federated = verify_federated(case["text"], trust, zone=zone, **kw)
    assert (federated.status, federated.reason, federated.checked_at) == (alone.status, alone.reason,
                                                                         alone.checked_at)
    assert (federated.issuer, federated.zone_authority) == (alone.issuer, alone.zone_authority)
    if alone.reason is not Reason.UNKNOWN_KEY:
        assert federated.detail == alone.detail


def test_single_bundle_verdicts_name_issuer_and_zone_authority() -> None:
    bundle = _pass_bundle("main")
    case = next(c for c in PASSES["cases"] if c["name"] == "valid_es256")
    verdict = verify_pass(case["text"], bundle, zone=case["zone"], now=case["at"])
    assert (verdict.status, verdict.issuer, verdict.issuer_name, verdict.zone_authority) == (
        Status.VALID, "FR-TEST", None, "FR-TEST")
    named = TrustBundle.from_content(dataclasses.replace(content(), name="Ville"))
    signed = sign_pass(claims(), SIGNER)
    assert verify_pass(signed, named, zone="MARAIS", now=T0).issuer_name == "Ville"


# ---- details and refusals in French -----------------------------------------------------------------

ENGLISH_WORDS = ("is", "was", "the", "not", "no", "must", "expected", "bundle", "key", "issued", "belongs",
                 "trusted", "behind", "old", "from", "for", "of", "at", "and", "pass", "refused", "resync")


def english_words(text: str) -> list[str]:
    """English words of `text` (hex values, numbers, codes and French words never match)."""
    return [w for w in text.replace("'", " ").split() if w.strip(".,;:()[]").lower() in ENGLISH_WORDS]


def test_federation_details_and_refusals_are_french() -> None:
    details = {}
    for case in FED["cases"]:
        trust, _ = trust_of(case)
        details[case["name"]] = verify_federated(case["text"], trust, zone=case["zone"], now=case["at"],
                                                 plate=case["plate"], last_seen=case["last_seen"],
                                                 skew=FED["skew"]).detail
    assert {name: english_words(d) for name, d in details.items() if english_words(d)} == {}
    assert details["unknown_authority"] == "zone 'NOPE/X' : autorité 'NOPE' inconnue de cet appareil (resynchroniser)"
    assert details["empty_authority_part"] == "zone '/CENTRE' : attendu CODE ou AUTORITÉ/CODE"
    refusals = {case["name"]: trust_of(case)[1] for case in FED["bundle_cases"]}
    messages = {name: exc.message for name, found in refusals.items() for exc in found.values()}
    assert messages and {name: english_words(m) for name, m in messages.items() if english_words(m)} == {}
    assert messages["partner_bundle_wrong_issuer"] == (
        "paquet refusé : émis par 'METRO-BIS' au lieu de 'METRO', l'autorité que liste le paquet de votre autorité"
    )
