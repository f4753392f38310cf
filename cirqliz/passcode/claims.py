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
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
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
    return MalformedError(f"contenu du laissez-passer : {message}", code=code)


def _uint(value: object, name: str, limit: int = MAX_TIME) -> int:
    if type(value) is float:
        raise _bad(f"{name} : nombre à virgule flottante, entier attendu", "float_time")
    if type(value) is not int or not 0 <= value < limit:
        raise _bad(f"{name} : entier positif ou nul inférieur à {limit} attendu")
    return value


def _validate(c: PassClaims) -> None:
    # Runs for every decoded pass, so the common case is checked inline; the helpers name problems.
    iss, iat, nbf, exp = c.iss, c.iat, c.nbf, c.exp
    if type(iss) is not str or not 0 < len(iss) <= 64:
        raise _bad("l'émetteur (iss) doit être un texte de 1 à 64 caractères")
    if not (type(iat) is int and type(nbf) is int and type(exp) is int
            and 0 <= iat < MAX_TIME and 0 <= nbf < MAX_TIME and 0 <= exp < MAX_TIME):
        for name in ("iat", "nbf", "exp"):
            _uint(getattr(c, name), name)
    if exp <= nbf:
        raise _bad("la fin de validité (exp) doit suivre son début (nbf)")
    if type(c.cti) is not bytes or len(c.cti) != SERIAL_BYTES:
        raise _bad(f"le numéro de série (cti) doit faire exactement {SERIAL_BYTES} octets")
    if type(c.version) is not int or c.version != PROFILE_VERSION:
        raise MalformedError(f"contenu du laissez-passer : version de profil inconnue {c.version!r}",
                             code="unknown_profile")
    zones = c.zones
    if not zones or len(zones) > MAX_ZONES:
        raise _bad(f"de 1 à {MAX_ZONES} références de zone attendues")
    for ref in zones:
        if type(ref) is not int or not 0 <= ref < 2**32:
            _uint(ref, "référence de zone", 2**32)
    if len(set(zones)) != len(zones):
        raise _bad("une référence de zone est répétée")
    if len(c.windows) > MAX_WINDOWS:
        raise _bad(f"au plus {MAX_WINDOWS} créneaux")
    if type(c.plate) is not str or not _PLATE.fullmatch(c.plate):
        raise _bad("plaque non normalisée (A-Z, 0-9, préfixe de pays facultatif)")
    purpose, zone_data_version = c.purpose, c.zone_data_version
    if not (type(purpose) is int and 0 <= purpose < 2**16):
        _uint(purpose, "motif (purpose)", 2**16)
    if not (type(zone_data_version) is int and 0 <= zone_data_version < 2**32):
        _uint(zone_data_version, "version des données de zone", 2**32)


def decode_claims(payload: bytes) -> PassClaims:
    """Decode and check the claims of a pass; MalformedError naming what is wrong."""
    claims = _read_claims_common(payload)
    if claims is not None:
        return claims
    return _decode_claims_generic(payload)


# ---- fast path ------------------------------------------------------------------------------
# The claims as `to_cbor` writes them are read in place, checking while reading that each head is
# in its shortest form and that the keys come in deterministic order, instead of decoding with
# cbor2 and re-encoding to compare (several times faster). The reader only ever accepts: anything
# outside that one layout, or any value the checks refuse, makes it give up (None) and
# `_decode_claims_generic` decides and names the problem. tests/scheme/test_fast_decoder.py
# compares both paths on mutated passes.


class _ReadClaims:
    """PassClaims's slots without the frozen __setattr__, for the fast path.

    PassClaims's generated __init__ sets each of its 11 fields through object.__setattr__ by name,
    which costs as much as reading the claims. The fast path stores the fields on this twin (same
    slots, so the same memory layout), having made the checks of __post_init__ as it read, then
    turns it into a PassClaims by __class__ assignment (CPython allows it between classes of
    identical layout).
    """

    __slots__ = PassClaims.__slots__


class _NotCommon(Exception):
    """The bytes are not in the common layout: let the generic decoder decide."""


@lru_cache(maxsize=1024)
def _pass_windows(flat: tuple[int, ...]) -> tuple[TimeWindow, ...] | None:
    """The windows of a flat (mask, start, end)* array, or None when the generic path must decide.

    Cached: window sets repeat from pass to pass (Mo-Fr 07:00-11:00...) and TimeWindow is immutable.
    """
    if not flat or len(flat) % 3 or max(flat) >= 2**16:
        return None
    try:
        return tuple(TimeWindow(*flat[i : i + 3]) for i in range(0, len(flat), 3))
    except WindowError:
        return None


def _uint_at(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned integer below 2^32 in its shortest form: (value, next position)."""
    head = data[pos]
    if head < 24:
        return head, pos + 1
    if head == 24 and data[pos + 1] >= 24:
        return data[pos + 1], pos + 2
    if head == 25 and data[pos + 1]:
        return data[pos + 1] << 8 | data[pos + 2], pos + 3
    if head == 26 and (data[pos + 1] or data[pos + 2]):
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
    raise _NotCommon


# One unsigned integer below 2^32 in its shortest form, as _uint_at reads it.
_UINT = rb"(?:[\x00-\x17]|\x18[\x18-\xff]|\x19[\x01-\xff].|\x1a(?:[\x01-\xff].|\x00[\x01-\xff])..)"

# Everything after iss, in one match: keys 4, 5, 6 with 4-byte times (every time from
# 1970-01-01T18:12Z to 2106), key 7 with bstr(8), the profile's key -65537, then the profile:
# group 1 from the map(5) or map(6) head through key 0 with version 1, key 1 with the zones' head
# and items, key 2 with the windows' head and items (absent in a map(5)); then key 3 with the
# plate's text head (2) and its characters (3), key 4 with the purpose, key 5 with the zone data
# version (4). Group 1 is split again by _PROFILE_BLOCK (only when not cached yet), which makes the
# same choices: its lazy runs are tried in the same order and must end at the same byte.
# Unambiguous: an item run ends where a key and a head no item can start with follow (0x02 then
# an array head, 0x03 then a text head), a plate where 0x04 follows. The heads' counts and the
# plate's length are compared with what was matched afterwards.
_ZONE_RUN = rb"(?:[\x81-\x97]|\x98[\x18-\x20])" + _UINT + rb"+?"
_WINDOW_RUN = rb"(?:[\x83-\x97]|\x98[\x18-\x30])" + _UINT + rb"+?"
_AFTER_ISS = re.compile(
    rb"\x04\x1a....\x05\x1a....\x06\x1a....\x07\x48.{8}\x3a\x00\x01\x00\x00"
    rb"([\xa5\xa6]\x00\x01\x01" + _ZONE_RUN + rb"(?:\x02" + _WINDOW_RUN + rb")?)"
    rb"\x03([\x61-\x77])((?:[A-Z]{1,3}:)?[A-Z0-9]{1,12})"
    rb"\x04(" + _UINT + rb"\x05" + _UINT + rb")",
    re.DOTALL,
)
_PROFILE_BLOCK = re.compile(rb"[\xa5\xa6]\x00\x01\x01(" + _ZONE_RUN + rb")(?:\x02(" + _WINDOW_RUN + rb"))?", re.DOTALL)
_TIMES = struct.Struct(">2xI2xI2xI2x8s")  # exp, nbf, iat, cti between the marker bytes


@lru_cache(maxsize=4096)
def _decode_uints(run: bytes) -> tuple[int, ...]:
    # Cached by the raw bytes: a territory's zone sets and window sets repeat from pass to pass.
    values = []
    pos = 0
    while pos < len(run):
        value, pos = _uint_at(run, pos)
        values.append(value)
    return tuple(values)


def _counted(part: bytes) -> tuple[int, ...] | None:
    """The items of an array (its head, then the items as _AFTER_ISS matched them), or None when
    their number is not the head's."""
    head = part[0]
    if head == 0x98:
        count, run = part[1], part[2:]
    else:
        count, run = head & 0x1F, part[1:]
    values = _decode_uints(run)
    return values if len(values) == count else None


@lru_cache(maxsize=4096)
def _zone_refs(part: bytes) -> tuple[int, ...] | None:
    """The zone refs of an array when they pass the claims' checks (1 to MAX_ZONES refs below
    2^32, no repeats), else None. Cached by the raw bytes, checks included."""
    zones = _counted(part)
    if not zones or len(zones) > MAX_ZONES or len(set(zones)) != len(zones):
        return None
    return zones


@lru_cache(maxsize=1024)
def _window_run(part: bytes) -> tuple[TimeWindow, ...] | None:
    """The windows of an array (at most MAX_WINDOWS), else None. Cached by the raw bytes."""
    flat = _counted(part)
    if flat is None or len(flat) > 3 * MAX_WINDOWS:
        return None
    return _pass_windows(flat)


@lru_cache(maxsize=1024)
def _purpose_and_version(part: bytes) -> tuple[int, int] | None:
    """(purpose below 2^16, zone data version) from `purpose 0x05 version`, else None. Cached."""
    try:
        purpose, pos = _uint_at(part, 0)
        if purpose >= 0x10000 or part[pos] != P_ZONE_DATA:
            return None
        version, pos = _uint_at(part, pos + 1)
    except (_NotCommon, IndexError):
        return None
    return (purpose, version) if pos == len(part) else None


def _read_claims_common(payload: object) -> PassClaims | None:
    """The claims of a pass in the layout `PassClaims.to_cbor` writes, or None (see above).

    iss by hand, the rest with one regular expression (_AFTER_ISS), with the checks of `_validate`
    done while reading (or already true by the layout: 4-byte times, an 8-byte cti, integers below
    2^32), so `_validate` is not run again on what this accepts.
    """
    if type(payload) is not bytes or payload[:2] != b"\xa6\x01":  # map(6), key 1 (iss)
        return None
    data = payload
    # iss: text, length in shortest form, 1 to 64 characters
    head = data[2] if len(data) > 2 else 0
    if 0x61 <= head < 0x78:
        size, pos = head - 0x60, 3
    elif head == 0x78 and len(data) > 3 and data[3] >= 24:
        size, pos = data[3], 4
    else:
        return None
    try:
        iss = data[pos : pos + size].decode("utf-8")
    except UnicodeDecodeError:
        return None
    pos += size
    if len(iss) > 64:
        return None
    match = _AFTER_ISS.fullmatch(data, pos)
    if match is None:
        return None
    return claims_from_match(iss, data, pos, *match.groups())


# Caches of the parts that repeat from pass to pass, by their raw bytes (a territory has a few
# zone and window sets, purposes and data versions): plain dicts, filled up to a bound, cheaper
# to ask than lru_cache wrappers on every scan.
_BLOCKS: dict[bytes, tuple[tuple[int, ...], tuple[TimeWindow, ...]] | None] = {}
_TAILS: dict[bytes, tuple[int, int] | None] = {}
_CACHE_BOUND = 4096


def _remembered(cache: dict[bytes, Any], key: bytes, read: Callable[[bytes], Any]) -> Any:
    """`read(key)`, kept in `cache` (None too) while it holds fewer than _CACHE_BOUND entries."""
    found = cache.get(key, False)
    if found is False:
        found = read(key)
        if len(cache) < _CACHE_BOUND:
            cache[key] = found
    return found


def _zones_and_windows(block: bytes) -> tuple[tuple[int, ...], tuple[TimeWindow, ...]] | None:
    """(zones, windows) of a profile's start as _AFTER_ISS matched it (group 1), else None."""
    match = _PROFILE_BLOCK.fullmatch(block)
    if match is None:  # not for a group 1 of _AFTER_ISS: kept for other callers
        return None
    zone_part, window_part = match.groups()
    zones = _zone_refs(zone_part)
    if zones is None:
        return None
    if window_part is None:
        if block[0] != 0xA5:  # map(6) promises the windows
            return None
        return zones, ()
    if block[0] != 0xA6:
        return None
    windows = _window_run(window_part)
    return None if windows is None else (zones, windows)


def claims_from_match(iss: str, data: bytes, at: int, block: bytes, plate_head: bytes, plate: bytes,
                      tail: bytes) -> PassClaims | None:
    """The claims from what _AFTER_ISS matched at `at` (just after iss) in `data`, with the checks of
    `_validate` made here (or already true by the layout), or None when the generic path must decide.

    Also called by token.read_pass_fast, whose pattern embeds _AFTER_ISS.
    """
    exp, nbf, iat, cti = _TIMES.unpack_from(data, at)
    if exp < 0x10000 or nbf < 0x10000 or iat < 0x10000 or exp <= nbf:  # a smaller head would be shorter
        return None
    found = _remembered(_BLOCKS, block, _zones_and_windows)
    if found is None:
        return None
    zones, windows = found
    if len(plate) != plate_head[0] - 0x60:
        return None
    numbers = _remembered(_TAILS, tail, _purpose_and_version)
    if numbers is None:
        return None
    # PassClaims(...) without its __init__ and __post_init__: every check of _validate holds (above).
    claims = _ReadClaims()
    claims.iss = iss
    claims.iat = iat
    claims.nbf = nbf
    claims.exp = exp
    claims.cti = cti
    claims.zones = zones
    claims.plate = plate.decode("ascii")
    claims.purpose, claims.zone_data_version = numbers
    claims.windows = windows
    claims.version = PROFILE_VERSION
    claims.__class__ = PassClaims  # type: ignore[assignment]
    return claims  # type: ignore[return-value]


read_claims_common = _read_claims_common  # for the verifier's hot path (None: call decode_claims)


def _decode_claims_generic(payload: bytes) -> PassClaims:
    """Any claims map, decoded by cbor2 and checked field by field (the reference behaviour)."""
    claims = loads_deterministic(payload, "contenu du laissez-passer")
    if not isinstance(claims, Mapping):
        raise _bad("une table associative est attendue")
    # type(k) is int: cbor2's simple values and booleans compare equal to small ints (true == 1)
    extra = {k for k in claims if type(k) is not int or k not in _TOP_KEYS}
    if extra:
        raise _bad(f"champ(s) inconnu(s) {sorted(extra, key=str)}", "unknown_claim")
    missing = _TOP_KEYS - set(claims)
    if missing:
        raise _bad(f"champ(s) manquant(s) {sorted(missing)}", "missing_claim")
    profile = claims[CLAIM_PROFILE]
    if not isinstance(profile, Mapping):
        raise _bad("le profil d'accès doit être une table associative")
    extra = {k for k in profile if type(k) is not int or k not in _PROFILE_KEYS}
    if extra:
        raise _bad(f"champ(s) inconnu(s) du profil d'accès {sorted(extra, key=str)}", "unknown_claim")
    missing = (_PROFILE_KEYS - {P_WINDOWS}) - set(profile)
    if missing:
        raise _bad(f"champ(s) manquant(s) du profil d'accès {sorted(missing)}", "missing_claim")
    for name, key in (("iat", CLAIM_IAT), ("nbf", CLAIM_NBF), ("exp", CLAIM_EXP)):
        _uint(claims[key], name)
    zones = profile[P_ZONES]
    if not isinstance(zones, list | tuple):
        raise _bad("les zones doivent être un tableau")
    raw_windows = profile.get(P_WINDOWS, ())
    if not isinstance(raw_windows, list | tuple) or (P_WINDOWS in profile and not raw_windows):
        raise _bad("les créneaux, quand ils sont présents, doivent être un tableau non vide")
    if len(raw_windows) % 3:
        raise _bad("chaque créneau compte 3 nombres (jours, minute de début, minute de fin)")
    windows = []
    for i in range(0, len(raw_windows), 3):
        raw = raw_windows[i : i + 3]
        for value in raw:
            _uint(value, "champ de créneau", 2**16)
        try:
            windows.append(TimeWindow(raw[0], raw[1], raw[2]))
        except WindowError as exc:
            raise _bad(f"créneau {list(raw)} : {exc.message}", "bad_window") from exc
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
