"""Fuzz targets: every decoder and importer, its typed errors, its seeds and its mutator.

A target's `run(data: bytes)` feeds one input to the entry point. The contract under test: the
entry point either returns, or raises one of the project's own typed errors (`typed`: DomainError
and its subclasses such as ImportFileError, SchemeError and its subclasses). Any other exception
(KeyError, TypeError, a ValueError that is not ours, RecursionError, UnicodeEncodeError, lxml or
xmlschema errors…) is a crash. Harnesses also check cheap properties where they hold (a decoded
Base45 or CBOR value encodes back to the same input, a plate's normal form parses to itself); a
broken property is an AssertionError, hence a crash too.

Text entry points get the bytes decoded as UTF-8 with surrogateescape, so undecodable bytes become
lone surrogates, as JSON's "\\udc80" escapes do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from random import Random
from typing import Any

from fuzz.mutators import mutate_bytes, mutate_csv, mutate_json, mutate_lines, mutate_xml

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "tests" / "vectors" / "passes.json"
Mutator = Callable[[Random, bytes, Sequence[bytes], Sequence[bytes]], bytes]


# Modules the harnesses import on first use that take seconds to import (Litestar, the importers'
# schemas): the campaign's fork server imports them once, instead of once per target process.
PRELOAD = (
    "cirqliz.web.controllers.scanner", "cirqliz.web.controllers.zones_admin", "cirqliz.issuance.zone_imports",
    "cirqliz.issuance.event_imports", "cirqliz.issuance.events", "cirqliz.issuance.pro_queries",
    "cirqliz.issuance.zonefile", "cirqliz.imports.datex2", "cirqliz.imports.perimeters", "cirqliz.imports.ical",
    "cirqliz.verify.core", "cirqliz.passcode.bundle",
)


class SharedDataMissing(RuntimeError):
    """The third-party seed files (../shared/data) are not beside the clone."""


def shared_data() -> Path:
    """The published example files (cirqliz.imports.common.open_data_dir), or SharedDataMissing."""
    from cirqliz.imports.common import open_data_dir

    folder = open_data_dir()
    if not folder.is_dir():
        raise SharedDataMissing(f"{folder} is absent: importer targets need the published example files")
    return folder


@dataclass(frozen=True)
class Target:
    """One fuzz target. `share` is its part of a campaign's total number of inputs."""

    name: str
    run: Callable[[bytes], Any]
    typed: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]
    share: float = 0.0  # part of a campaign's inputs: SHARES, set by all_targets()
    mutate: Mutator = mutate_bytes
    tokens: tuple[bytes, ...] = ()
    needs_shared: bool = False
    description: str = ""


def text_of(data: bytes) -> str:
    """Bytes as text the way the harnesses see them (UTF-8, bad bytes as lone surrogates)."""
    return data.decode("utf-8", "surrogateescape")


# ---- scheme: base45, CBOR, COSE, claims, pass text, verifier, bundle ----------------------------------


@cache
def _vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


@cache
def _root() -> Any:
    from cirqliz.passcode.keys import VerifyKey

    return VerifyKey.from_spki(base64.b64decode(_vectors()["root_spki"]))


@cache
def _bundle_bytes() -> dict[str, bytes]:
    return {name: base64.b64decode(data) for name, data in _vectors()["bundles"].items()}


@cache
def _main_bundle() -> Any:
    from cirqliz.passcode.bundle import open_bundle

    return open_bundle(_bundle_bytes()["main"], [_root()])


def _pass_texts() -> list[str]:
    return [case["text"] for case in _vectors()["cases"] if isinstance(case["text"], str)]


def _cose_wg_messages() -> list[bytes]:
    try:
        folder = shared_data() / "cose-wg"
    except SharedDataMissing:
        return []
    out = []
    for path in sorted(folder.rglob("*.json")):
        cbor_hex = (json.loads(path.read_text(encoding="utf-8")).get("output") or {}).get("cbor")
        if cbor_hex:
            out.append(bytes.fromhex(cbor_hex))
    return out


def _cose_seeds() -> list[bytes]:
    from cirqliz.passcode.base45 import b45decode
    from cirqliz.passcode.errors import SchemeError
    from cirqliz.passcode.token import PREFIX

    out = list(_bundle_bytes().values())
    for text in _pass_texts():
        try:
            out.append(b45decode(text.removeprefix(PREFIX)))
        except SchemeError:
            continue
    return out + _cose_wg_messages()


def _payloads(messages: list[bytes]) -> list[bytes]:
    from cirqliz.passcode.cose import decode_sign1
    from cirqliz.passcode.errors import SchemeError

    out = []
    for message in messages:
        try:
            out.append(decode_sign1(message).payload)
        except SchemeError:
            continue
    return out


def _claims_seeds() -> list[bytes]:
    return sorted(set(_payloads(_cose_seeds()[len(_bundle_bytes()):])))


def _bundle_payload_seeds() -> list[bytes]:
    return _payloads(list(_bundle_bytes().values()))


def run_base45(data: bytes) -> None:
    from cirqliz.passcode.base45 import b45decode, b45encode

    text = text_of(data)
    decoded = b45decode(text)
    assert b45encode(decoded) == text, "Base45 decode/encode is not a round trip"


def run_cbor(data: bytes) -> None:
    import cbor2

    from cirqliz.passcode.cbor import dumps_deterministic, loads_deterministic

    value = loads_deterministic(data, "fuzz")
    if not isinstance(value, cbor2.CBORTag | cbor2.CBORSimpleValue) and not _has_special(value):
        assert dumps_deterministic(value) == data, "deterministic CBOR does not encode back to its input"


def _has_special(value: Any) -> bool:
    """Values whose Python form loses their CBOR encoding (tags, simple values, undefined)."""
    import cbor2

    if isinstance(value, dict):
        return any(_has_special(k) or _has_special(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_special(v) for v in value)
    return isinstance(value, cbor2.CBORTag | cbor2.CBORSimpleValue) or value is cbor2.undefined or not isinstance(
        value, str | bytes | int | bool | type(None) | dict | list | tuple | frozenset)


def run_cose(data: bytes) -> None:
    from cirqliz.passcode.cose import _decode_sign1_generic, _read_sign1_common, decode_sign1
    from cirqliz.passcode.errors import SchemeError

    fast = _read_sign1_common(data)
    if fast is not None:
        assert _decode_sign1_generic(data, deterministic=True) == fast, "fast and generic COSE decoders disagree"
    try:
        decode_sign1(data, deterministic=True)
    except SchemeError:
        pass
    decode_sign1(data, deterministic=False)


def run_claims(data: bytes) -> str:
    from cirqliz.passcode.claims import decode_claims

    claims = decode_claims(data)
    assert claims.to_cbor() == data, "claims do not encode back to their input"
    return "ok"


def run_pass_text(data: bytes) -> None:
    from cirqliz.passcode.token import parse_pass_text

    parse_pass_text(text_of(data))


def run_verify(data: bytes) -> str:
    from cirqliz.verify.core import Verdict, verify_pass

    case = _vectors()["cases"][0]
    verdict = verify_pass(text_of(data), _main_bundle(), zone=case["zone"], now=case["at"], plate=None)
    assert isinstance(verdict, Verdict)
    verdict.as_json()
    return verdict.reason.value


@cache
def _fuzz_signer() -> tuple[Any, Any]:
    """A fixed Ed25519 key, and the main vector bundle with that key trusted for every zone."""
    from dataclasses import replace

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from cirqliz.passcode.bundle import BundleKey, TrustBundle
    from cirqliz.passcode.keys import SigningKey

    key = SigningKey.from_private(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    content = _main_bundle().content
    entry = BundleKey(kid=key.kid, alg=key.alg, spki=key.verify_key().spki(), not_before=0)
    return key, TrustBundle.from_content(replace(content, keys=(*content.keys, entry)))


@cache
def _case_of_payload() -> dict[bytes, dict[str, Any]]:
    from cirqliz.passcode.base45 import b45decode
    from cirqliz.passcode.cose import decode_sign1
    from cirqliz.passcode.errors import SchemeError
    from cirqliz.passcode.token import PREFIX

    found: dict[bytes, dict[str, Any]] = {}
    for case in _vectors()["cases"]:
        if case["bundle"] != "main" or not isinstance(case["text"], str) or not case["text"].startswith(PREFIX):
            continue
        try:
            found.setdefault(decode_sign1(b45decode(case["text"][len(PREFIX):])).payload, case)
        except (SchemeError, ValueError):
            continue
    return found


def run_verify_signed(data: bytes) -> str:
    """Arbitrary claims bytes, signed with a trusted key: the verifier's rules behind the signature."""
    from cirqliz.passcode.base45 import b45encode
    from cirqliz.passcode.cose import sign1
    from cirqliz.passcode.token import PREFIX
    from cirqliz.verify.core import verify_pass

    key, bundle = _fuzz_signer()
    text = PREFIX + b45encode(sign1(data, key, tagged=False))
    # Cases checked against the main bundle (the one the fuzz key is added to): a vector's own
    # claims are checked at its own zone and time (so genuine claims reach the time rules);
    # other bytes borrow a case by length.
    cases = [c for c in _vectors()["cases"] if c["bundle"] == "main"]
    case = _case_of_payload().get(bytes(data)) or cases[len(data) % len(cases)]
    zone = case["zone"] if isinstance(case["zone"], str) else "PARIS-CENTRE"
    plate = "AB123CD" if len(data) % 3 == 0 else None
    verdict = verify_pass(text, bundle, zone=zone, now=case["at"] + (len(data) % 11) * 3 * 3600, plate=plate,
                          last_seen=case["at"] if len(data) % 5 == 0 else None)
    verdict.as_json()
    return verdict.reason.value


def run_bundle_open(data: bytes) -> None:
    from cirqliz.passcode.bundle import open_bundle

    open_bundle(data, [_root()], current=_main_bundle() if len(data) % 2 else None)


def run_bundle_payload(data: bytes) -> str:
    """What open_bundle does after the signature check, on arbitrary payload bytes."""
    from cirqliz.passcode.bundle import DELTA, TrustBundle, apply_delta, decode_payload

    kind, content, delta = decode_payload(data)
    if kind == DELTA:
        content = apply_delta(_main_bundle().content, content, delta)
    bundle = TrustBundle.from_content(content)
    bundle.revoked_count()
    for zone in bundle.content.zones:
        zone.closure_at(bundle.content.issued_at)
    return "full" if kind != DELTA else "delta"


# ---- domain strings: plates, opening hours, window specs, geometry ---------------------------------

PLATES = ("AB-123-CD", "ab 123 cd", "123 ABC 75", "1234 AB 2A", "D:BAB1234", "CH:ZH 12345", "B-1-ABC-123",
          "XX-000-XX", "9999 ZZZ 976", "I:AB123CD", "  aa.123.bb  ", "GB:AB12 CDE", "A", "")
HOURS = ("Mo-Fr 07:00-11:00", "Mo-Fr 08:00-20:00; PH off", "24/7", "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00",
         "Mo-Su 22:00-06:00", "2024 Jul 18-2024 Sep 08 Mo-Su 06:00-23:00", "Mo,We,Fr 07:00-09:00,17:00-19:00",
         "Sa 07:00-13:30, Su 08:00-12:00", "sunrise-sunset", "Jan-Mar Mo-Fr 07:00-10:00", "off",
         "Mo-Fr 07:00-11:00; PH closed", "week 01-10 Mo 10:00-12:00", "Mo-Fr 00:00-24:00")
HOURS_TOKENS = tuple(t.encode() for t in ("Mo", "Su", "PH", "SH", "off", "24/7", "-", ",", ";", ":", " ", "||", "+",
                                          "24:00", "00:00", "99:99", "2024", "Jan", "week", "easter", "sunrise",
                                          "\"comment\"", "[1]", "-1", "open", "closed", "unknown"))
WINDOWS = ("Mo-Fr 07:00-11:00", "Lu-Ve 07:00-11:00", "07:00-24:00", "Sa,Su 22:00-06:00", "Mo 00:00-00:00",
           "di-lu 10:00-11:00", "Mo-Fr 7:5-11:00")


def run_plate(data: bytes) -> None:
    from cirqliz.domain.plates import loose_key, parse_plate

    text = text_of(data)
    loose_key(text)
    plate = parse_plate(text)
    again = parse_plate(plate.normalised)
    assert again == plate, "a plate's normal form does not read back as the same plate"
    assert plate.display and plate.kind


def run_opening_hours(data: bytes) -> str:
    from cirqliz.domain.osm_hours import parse_opening_hours, windows_to_opening_hours

    spec = parse_opening_hours(text_of(data))
    if spec.windows:
        windows_to_opening_hours(spec.windows)
    return "expressible" if spec.expressible else "raw_only"


def run_window(data: bytes) -> None:
    from cirqliz.domain.windows import parse_window

    window = parse_window(text_of(data))
    window.describe()


def run_geometry(data: bytes) -> None:
    from cirqliz.domain.zones import validate_geometry

    validate_geometry(text_of(data))


def _geometry_seeds() -> list[bytes]:
    seeds = [json.dumps({"type": "Polygon", "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86],
                                                             [2.35, 48.85]]]}).encode()]
    try:
        document = json.loads((shared_data() / "jop" / "para_ouverture.geojson").read_text(encoding="utf-8"))
    except SharedDataMissing:
        return seeds
    seeds += [json.dumps(f["geometry"]).encode() for f in document["features"][:3]]
    seeds.append(json.dumps(document["features"][0]).encode())
    return seeds


# ---- importers --------------------------------------------------------------------------------------

ICAL_WINDOW = (datetime(2024, 8, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))


def _read(*parts: str) -> bytes:
    return shared_data().joinpath(*parts).read_bytes()


def _event_record_checks(batch: Any) -> int:
    """What the event importer does with each record after the file is read."""
    from cirqliz.issuance.event_imports import _fingerprint, _level, _zone_dates

    for record in batch.records:
        _fingerprint(record), _level(record), _zone_dates(record)
    _problems(batch)
    return len(batch.records)


def run_perimeters(data: bytes) -> int:
    from cirqliz.imports.perimeters import import_perimeters

    return _event_record_checks(import_perimeters(data))


def _problems(batch: Any) -> None:
    for problem in batch.problems:
        problem.describe()


def _zone_record_checks(batch: Any) -> None:
    from cirqliz.domain.errors import DomainError
    from cirqliz.issuance.zone_imports import _as_zone_records, record_fields, record_rules

    for record in _as_zone_records(batch.records, []):
        record_rules(record, [])
        try:
            record_fields(record)
        except DomainError:
            pass  # reported per zone by the planner (typed)
    _problems(batch)


def run_zfe(data: bytes) -> int:
    from cirqliz.issuance.zone_imports import read_zone_file

    batch = read_zone_file(data, "zfe")
    _zone_record_checks(batch)
    return len(batch.records)


def run_cerema(data: bytes) -> int:
    from cirqliz.issuance.zone_imports import read_zone_file

    batch = read_zone_file(data, "cerema")
    _zone_record_checks(batch)
    return len(batch.records)


def run_datex2(data: bytes) -> int:
    from cirqliz.imports.datex2 import import_datex2

    return _event_record_checks(import_datex2(data))


def run_ical(data: bytes) -> int:
    from cirqliz.imports.ical import import_ical

    batch = import_ical(data, start=ICAL_WINDOW[0], end=ICAL_WINDOW[1])
    _problems(batch)
    return len(batch.records)


def run_fleet_csv(data: bytes) -> int:
    from cirqliz.issuance.pro_queries import parse_fleet_csv

    lines, _ = parse_fleet_csv(data, energies={"Électrique": "electric", "Gazole": "diesel"})
    return len(lines)


@dataclass(frozen=True)
class _ZoneStub:
    code: str


_SUPPLIER_ZONES = {code: _ZoneStub(code) for code in ("ZONE-A", "ZONE-B", "PARIS-CENTRE")}


def run_supplier_csv(data: bytes) -> int:
    from cirqliz.issuance.events import read_supplier_csv

    lines, _ = read_supplier_csv(data, _SUPPLIER_ZONES)  # type: ignore[arg-type]
    return len(lines)


def run_zone_file(data: bytes) -> int:
    from cirqliz.issuance.zonefile import zones_from_text

    return len(zones_from_text(text_of(data)))


FLEET_SEEDS = (
    "plaque;categorie;critair;energie;poids_kg;longueur_cm\nAB-123-CD;N1;2;diesel;3500;600\n"
    "EF-456-GH;n2;1;Électrique;7500;\n",
    "plaque,categorie,critair,energie,poids_kg,longueur_cm\r\nAB-123-CD,N1,,,,\r\nD:BAB1234,L3e,0,electric,200,210\r\n",
)
SUPPLIER_SEEDS = (
    "entreprise;immatriculation;zones;creneaux\nTraiteur Dupont;AB-123-CD;ZONE-A;Lu-Ve 07:00-11:00\n"
    "Son et Lumière;EF-456-GH;ZONE-A+ZONE-B;Mo-Fr 07:00-11:00|Sa 08:00-12:00\n",
    "company,plate,zones,slots\r\nA,AB-123-CD,PARIS-CENTRE,\r\n",
)


def _demo_zone_file() -> bytes:
    from importlib import resources

    return resources.files("cirqliz.demo").joinpath("zones.json").read_bytes()


JSON_TOKENS = (b'"\\ud800"', b"[[[[[[[[", b"1e999", b"-0", b"null", b'"type"', b"{}", b"[]", b'\\u0000')


def _ical_seeds() -> list[bytes]:
    folder = REPO / "tests" / "formats"
    return [path.read_bytes() for path in sorted(folder.glob("*.ics"))]


def _zfe_seeds() -> list[bytes]:
    """A short copy of the published example (first feature, ten positions), then the example:
    JSON Schema validation of every position is what makes this importer slow."""
    full = _read("zfe", "exemple-valide-voie-speciale.geojson")
    document = json.loads(full)
    feature = document["features"][0]
    if feature["geometry"]["type"] == "LineString":
        feature["geometry"]["coordinates"] = feature["geometry"]["coordinates"][:10]
    document["features"] = [feature]
    return [json.dumps(document, ensure_ascii=False).encode(), full]


def _dx(*names: str) -> Callable[[], list[bytes]]:
    return lambda: [_read(*name.split("/")) for name in names]


def _scheme_typed() -> tuple[type[BaseException], ...]:
    from cirqliz.passcode.errors import SchemeError

    return (SchemeError,)


def _domain_typed() -> tuple[type[BaseException], ...]:
    from cirqliz.domain.errors import DomainError

    return (DomainError,)


def _zone_file_typed() -> tuple[type[BaseException], ...]:
    from cirqliz.passcode.errors import KeyStoreError

    return (KeyStoreError,)


def _encoded(items: Sequence[str]) -> Callable[[], list[bytes]]:
    return lambda: [item.encode() for item in items]


# ---- web bodies: the scanner's check uploads, and GeoJSON typed into the zone and event forms ---------


def run_checks_body(data: bytes) -> int:
    """POST /scan/api/checks up to the database: the body decoded as the application does it, then
    converted and checked item by item (what Litestar and upload_checks do before storing)."""
    import msgspec

    from cirqliz.web.bodies import decode_json_body
    from cirqliz.web.controllers.scanner import CheckUpload, _checked_at

    value = decode_json_body(data)
    items = msgspec.convert(value, list[CheckUpload], strict=False)  # Litestar's 400 on ValidationError
    for number, item in enumerate(items, start=1):
        _checked_at(item, number)
    return len(items)


def _checks_typed() -> tuple[type[BaseException], ...]:
    import msgspec
    from litestar.exceptions import ClientException

    # ClientException covers UnreadableBody and ValidationException (both 400 with a French message).
    return (ClientException, msgspec.ValidationError)


def _checks_seeds() -> list[bytes]:
    check = {"id": "6f1c4d52-8f7e-4b43-9c8e-0d7f3c1a2b3c", "checked_at": 1795420800, "verdict": "VALID",
             "reason": "VALID", "serial": "0123456789ABCDEF", "zone": "PARIS-CENTRE", "device_id": "phone-1"}
    return [json.dumps([check]).encode(), json.dumps([check, {**check, "verdict": "REFUSED"}]).encode(),
            b"[" * 200 + b"]" * 200, b'[{"checked_at": 1' + b"0" * 400 + b"}]"]


def run_zone_geojson(data: bytes) -> None:
    """GeoJSON pasted into the authority's zone form or an organiser's perimeter form: read as the
    pages read it (one feature of a collection), then checked as a zone geometry."""
    from cirqliz.domain.zones import validate_geometry
    from cirqliz.web.controllers.zones_admin import _single_feature

    value = _single_feature(text_of(data))
    validate_geometry(value.get("geometry", value) if isinstance(value, dict) and value.get("type") == "Feature"
                      else value)


# Parts of a campaign's inputs (normalised to add up to 1). Fast decoders (tens of thousands of inputs a
# second) take most; importers that validate against a schema (tens to hundreds a second) get
# thousands each, which keeps a 1,000,000-input campaign within a few minutes on two cores.
SHARES = {
    "base45": 0.15, "cbor": 0.13, "cose": 0.11, "claims": 0.11, "pass_text": 0.10, "verify": 0.10,
    "verify_signed": 0.02, "bundle_open": 0.04, "bundle_payload": 0.06, "plate": 0.06, "opening_hours": 0.04,
    "window": 0.04, "geometry": 0.01, "zone_file": 0.004, "fleet_csv": 0.015, "supplier_csv": 0.015,
    "perimeters": 0.006, "zfe": 0.0025, "cerema": 0.005, "datex2": 0.0025, "ical": 0.004,
    "checks_body": 0.01, "zone_geojson": 0.01,
}


def all_targets() -> list[Target]:
    """Every target with its share (SHARES)."""
    return [replace(t, share=SHARES[t.name]) for t in _targets()]


def _targets() -> list[Target]:
    scheme, domain = _scheme_typed(), _domain_typed()
    b45_tokens = (b"CQ1:", b"%%%", b"GGW", b"ZZZ", b"000", b" ", b":", b"\xc3\xa9")
    return [
        Target("base45", run_base45, scheme, lambda: [t.removeprefix("CQ1:").encode() for t in _pass_texts()],
               tokens=b45_tokens, description="Base45 decoder (RFC 9285), round trip"),
        Target("cbor", run_cbor, scheme, _cose_seeds, tokens=(b"\x9f", b"\xbf", b"\xff", b"\xfb", b"\xd8\x18",
               b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff", b"\x5b\xff\xff\xff\xff"),
               description="strict deterministic CBOR decoder, round trip"),
        Target("cose", run_cose, scheme, _cose_seeds, tokens=(b"\xd2", b"\x84", b"\xa0", b"\x58\x40", b"\x4d"),
               description="COSE_Sign1 parser (fast and generic paths agree)"),
        Target("claims", run_claims, scheme, _claims_seeds, tokens=(b"\x3a\x00\x01\x00\x00", b"\x1a", b"\xf9"),
               description="pass claims (CWT) decoder, round trip"),
        Target("pass_text", run_pass_text, scheme, _encoded(_pass_texts()), tokens=b45_tokens,
               description="CQ1: text → COSE_Sign1"),
        Target("verify", run_verify, (), _encoded(_pass_texts()), tokens=b45_tokens,
               description="offline verifier: never raises, always a Verdict"),
        Target("verify_signed", run_verify_signed, (), _claims_seeds,
               description="verifier rules on arbitrary claims signed by a trusted key"),
        Target("bundle_open", run_bundle_open, scheme, lambda: list(_bundle_bytes().values()),
               description="trust bundle: signature, rollback, delta base"),
        Target("bundle_payload", run_bundle_payload, scheme, _bundle_payload_seeds,
               description="trust bundle payload decoder, delta application, key loading"),
        Target("plate", run_plate, domain, _encoded(PLATES), tokens=(b"-", b":", b" ", b"\xc2\xb7", b"2A"),
               description="licence plate reader"),
        Target("opening_hours", run_opening_hours, domain, _encoded(HOURS), tokens=HOURS_TOKENS,
               description="OSM opening_hours → windows"),
        Target("window", run_window, domain, _encoded(WINDOWS), tokens=HOURS_TOKENS,
               description="window spec « Mo-Fr 07:00-11:00 » (API, CSV)"),
        Target("geometry", run_geometry, domain, _geometry_seeds, mutate=mutate_json, tokens=JSON_TOKENS,
               description="zone GeoJSON upload (validate_geometry)"),
        Target("checks_body", run_checks_body, _checks_typed(), _checks_seeds, mutate=mutate_json,
               tokens=JSON_TOKENS, description="scanner check upload body (POST /scan/api/checks)"),
        Target("zone_geojson", run_zone_geojson, domain, lambda: [*_geometry_seeds(), b"[" * 5000 + b"]" * 5000],
               mutate=mutate_json, tokens=JSON_TOKENS, description="GeoJSON of the zone and perimeter forms"),
        Target("zone_file", run_zone_file, _zone_file_typed(), lambda: [_demo_zone_file()], mutate=mutate_json,
               tokens=JSON_TOKENS, description="bundle zones JSON file (CLI)"),
        Target("fleet_csv", run_fleet_csv, domain, _encoded(FLEET_SEEDS), mutate=mutate_csv,
               description="fleet CSV (professionals)"),
        Target("supplier_csv", run_supplier_csv, domain, _encoded(SUPPLIER_SEEDS), mutate=mutate_csv,
               description="organiser's bulk supplier CSV"),
        Target("perimeters", run_perimeters, domain, _dx("jop/para_ouverture.geojson"), mutate=mutate_json,
               tokens=JSON_TOKENS, needs_shared=True, description="Préfecture de Police perimeters (GeoJSON)"),
        Target("zfe", run_zfe, domain, _zfe_seeds, mutate=mutate_json,
               tokens=JSON_TOKENS, needs_shared=True, description="national ZFE schema (GeoJSON + JSON Schema)"),
        Target("cerema", run_cerema, domain, _dx("cerema-marchandises/exemple-valide.csv",
                                                 "cerema-marchandises/exemples/carros.csv"), mutate=mutate_csv,
               needs_shared=True, description="Cerema goods-traffic orders (CSV + Table Schema)"),
        Target("datex2", run_datex2, domain, _dx("dialog-datex2/example.xml", "dialog-datex2/sample.xml"),
               mutate=mutate_xml, needs_shared=True, description="DiaLog DATEX II v3 (XML + XSD)"),
        Target("ical", run_ical, domain, _ical_seeds, mutate=mutate_lines,
               description="iCalendar events with recurrences"),
    ]


def targets_by_name() -> dict[str, Target]:
    """The targets keyed by name."""
    return {t.name: t for t in all_targets()}
