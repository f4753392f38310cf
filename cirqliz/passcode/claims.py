"""Pass claims: CWT (RFC 8392) with one private claim holding the access profile.

    1 iss  text          issuing authority
    4 exp  int seconds   not valid at or after (UTC epoch)
    5 nbf  int seconds   not valid before
    6 iat  int seconds   when it was signed
    7 cti  8 bytes       serial, and the revocation key with iss
 -65537 profile map:
    0 version     int (1)
    1 zones       array of zone refs (uint), non-empty, no repeats
    2 windows     flat array: mask, start minute, end minute per window (omitted when none)
    3 plate       normalised plate text
    4 purpose     uint (cirqliz.domain.purposes.Purpose)
    5 zone data   uint, version of the zone data the pass was issued against
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cirqliz.domain.errors import WindowError
from cirqliz.domain.windows import TimeWindow
from cirqliz.passcode.cbor import dumps_deterministic, loads_deterministic
from cirqliz.passcode.errors import MalformedError

CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI = 1, 4, 5, 6, 7
CLAIM_PROFILE = -65537
P_VERSION, P_ZONES, P_WINDOWS, P_PLATE, P_PURPOSE, P_ZONE_DATA = 0, 1, 2, 3, 4, 5
PROFILE_VERSION = 1
SERIAL_BYTES = 8
MAX_TIME = 2**40
MAX_ZONES = 32
MAX_WINDOWS = 16
_PLATE = re.compile(r"^(?:[A-Z]{1,3}:)?[A-Z0-9]{1,12}$")
_TOP_KEYS = frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_PROFILE})
_PROFILE_KEYS = frozenset({P_VERSION, P_ZONES, P_WINDOWS, P_PLATE, P_PURPOSE, P_ZONE_DATA})


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a pass states: plate may enter zones during windows between nbf and exp."""

    iss: str
    iat: int
    nbf: int
    exp: int
    cti: bytes
    zones: tuple[int, ...]
    plate: str
    purpose: int
    windows: tuple[TimeWindow, ...] = ()
    zone_data_version: int = 0
    version: int = PROFILE_VERSION

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def serial(self) -> str:
        """The serial as printed on passes: 16 upper-case hex digits."""
        return self.cti.hex().upper()

    def to_cbor(self) -> bytes:
        """Deterministic CBOR of the claims."""
        profile: dict[int, Any] = {
            P_VERSION: self.version,
            P_ZONES: list(self.zones),
            P_PLATE: self.plate,
            P_PURPOSE: self.purpose,
            P_ZONE_DATA: self.zone_data_version,
        }
        if self.windows:
            profile[P_WINDOWS] = [v for w in self.windows for v in (w.weekdays, w.start, w.end)]
        return dumps_deterministic(
            {
                CLAIM_ISS: self.iss,
                CLAIM_EXP: self.exp,
                CLAIM_NBF: self.nbf,
                CLAIM_IAT: self.iat,
                CLAIM_CTI: self.cti,
                CLAIM_PROFILE: profile,
            }
        )

    def as_json(self) -> dict[str, Any]:
        """A JSON-friendly view (for CLI output, vectors and the web)."""
        return {
            "iss": self.iss,
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "serial": self.serial,
            "zones": list(self.zones),
            "windows": [[w.weekdays, w.start, w.end] for w in self.windows],
            "plate": self.plate,
            "purpose": self.purpose,
            "zone_data_version": self.zone_data_version,
        }


def _bad(message: str, code: str = "bad_claims") -> MalformedError:
    return MalformedError(f"claims: {message}", code=code)


def _uint(value: object, name: str, limit: int = MAX_TIME) -> int:
    if type(value) is float:
        raise _bad(f"{name} is a floating-point number, expected an integer", "float_time")
    if type(value) is not int or not 0 <= value < limit:
        raise _bad(f"{name} must be an unsigned integer below {limit}")
    return value


def _validate(c: PassClaims) -> None:
    if type(c.iss) is not str or not 0 < len(c.iss) <= 64:
        raise _bad("iss must be text of 1 to 64 characters")
    for name in ("iat", "nbf", "exp"):
        _uint(getattr(c, name), name)
    if c.exp <= c.nbf:
        raise _bad("exp must be after nbf")
    if type(c.cti) is not bytes or len(c.cti) != SERIAL_BYTES:
        raise _bad(f"cti must be exactly {SERIAL_BYTES} bytes")
    if type(c.version) is not int or c.version != PROFILE_VERSION:
        raise MalformedError(f"claims: unknown profile version {c.version!r}", code="unknown_profile")
    if not c.zones or len(c.zones) > MAX_ZONES:
        raise _bad(f"zones must list 1 to {MAX_ZONES} zone refs")
    for ref in c.zones:
        _uint(ref, "zone ref", 2**32)
    if len(set(c.zones)) != len(c.zones):
        raise _bad("zones repeat a zone ref")
    if len(c.windows) > MAX_WINDOWS:
        raise _bad(f"at most {MAX_WINDOWS} windows")
    if type(c.plate) is not str or not _PLATE.match(c.plate):
        raise _bad("plate must be a normalised plate (A-Z, 0-9, optional country prefix)")
    _uint(c.purpose, "purpose", 2**16)
    _uint(c.zone_data_version, "zone data version", 2**32)


def decode_claims(payload: bytes) -> PassClaims:
    """Decode and check the claims of a pass; MalformedError naming what is wrong."""
    claims = loads_deterministic(payload, "claims")
    if not isinstance(claims, Mapping):
        raise _bad("payload must be a map")
    extra = set(claims) - _TOP_KEYS
    if extra:
        raise _bad(f"unknown claim(s) {sorted(extra, key=str)}", "unknown_claim")
    missing = _TOP_KEYS - set(claims)
    if missing:
        raise _bad(f"missing claim(s) {sorted(missing)}", "missing_claim")
    profile = claims[CLAIM_PROFILE]
    if not isinstance(profile, Mapping):
        raise _bad("profile claim must be a map")
    extra = set(profile) - _PROFILE_KEYS
    if extra:
        raise _bad(f"unknown profile field(s) {sorted(extra, key=str)}", "unknown_claim")
    missing = (_PROFILE_KEYS - {P_WINDOWS}) - set(profile)
    if missing:
        raise _bad(f"missing profile field(s) {sorted(missing)}", "missing_claim")
    for name, key in (("iat", CLAIM_IAT), ("nbf", CLAIM_NBF), ("exp", CLAIM_EXP)):
        _uint(claims[key], name)
    zones = profile[P_ZONES]
    if not isinstance(zones, list | tuple):
        raise _bad("zones must be an array")
    raw_windows = profile.get(P_WINDOWS, ())
    if not isinstance(raw_windows, list | tuple) or (P_WINDOWS in profile and not raw_windows):
        raise _bad("windows must be a non-empty array when present")
    if len(raw_windows) % 3:
        raise _bad("windows must hold 3 numbers per window (mask, start minute, end minute)")
    windows = []
    for i in range(0, len(raw_windows), 3):
        raw = raw_windows[i : i + 3]
        for value in raw:
            _uint(value, "window field", 2**16)
        try:
            windows.append(TimeWindow(raw[0], raw[1], raw[2]))
        except WindowError as exc:
            raise _bad(f"window {list(raw)}: {exc.message}", "bad_window") from exc
    return PassClaims(
        iss=claims[CLAIM_ISS],
        iat=claims[CLAIM_IAT],
        nbf=claims[CLAIM_NBF],
        exp=claims[CLAIM_EXP],
        cti=claims[CLAIM_CTI],
        zones=tuple(zones),
        plate=profile[P_PLATE],
        purpose=profile[P_PURPOSE],
        windows=tuple(windows),
        zone_data_version=profile[P_ZONE_DATA],
        version=profile[P_VERSION],
    )
