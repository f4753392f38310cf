"""Trust bundle: what an offline verifier needs, signed by the authority's root key.

The bundle is a COSE_Sign1 (root key, ES256 or Ed25519) whose payload is an integer-keyed map
(layout in docs/pass-format.md). A full bundle carries everything; a delta carries what changed
since `base_seq` and applies only on top of exactly that bundle. `seq` never decreases: a
verifier refuses a bundle older than the one it holds.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from cirqliz.domain.errors import WindowError
from cirqliz.domain.windows import TimeWindow, day_from_number, day_number, zone_info
from cirqliz.passcode.cbor import Encoded, array_head, dumps_deterministic, loads_deterministic
from cirqliz.passcode.cose import decode_sign1, sign1, verify_sign1
from cirqliz.passcode.errors import BundleError, MalformedError, SchemeError
from cirqliz.passcode.keys import Algorithm, SigningKey, VerifyKey, algorithm_from_label

FULL, DELTA = 1, 2
REVOCATION_HASH_BYTES = 8
(B_KIND, B_ISS, B_SEQ, B_ISSUED, B_MAX_AGE, B_KEYS, B_WITHDRAWN, B_REVOKED, B_ZONES, B_HOLIDAYS,
 B_ZONE_DATA, B_BASE_SEQ, B_REVOKED_ADDED, B_REVOKED_REMOVED, B_ZONES_CHANGED, B_ZONES_REMOVED,
 B_PARTNERS, B_NAME) = range(18)
P_ISS, P_NAME, P_ROOT, P_URL = 1, 2, 3, 4
ISS_MAX, NAME_MAX = 32, 200
K_KID, K_ALG, K_SPKI, K_NOT_BEFORE, K_NOT_AFTER, K_ZONES = 1, 2, 3, 4, 5, 6
(Z_REF, Z_CODE, Z_NAME, Z_KIND, Z_TZ, Z_WINDOWS, Z_FROM, Z_UNTIL, Z_CLOSURES,
 Z_GEOMETRY, Z_RESTRICTION) = range(1, 12)
WINDOW_SKIP_HOLIDAYS = 1
COORDINATE_SCALE = 1_000_000


# CPython's own SHA-256 when there is one: for a 16-byte message (one revocation entry per scan)
# its copy-update-digest costs half of OpenSSL's, whose per-call setup dominates.
try:
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - CPython 3.12+ names it _sha2; other interpreters: hashlib
    try:
        from _sha2 import sha256 as _sha256
    except ImportError:
        _sha256 = hashlib.sha256

_ISSUER_HASHES: dict[str, Any] = {}  # iss -> SHA-256 state after iss ‖ 0x00 (a territory has a few issuers)


def revocation_hash(iss: str, cti: bytes) -> bytes:
    """The revocation entry of a pass: SHA-256(iss ‖ 0x00 ‖ cti) truncated to 8 bytes."""
    state = _ISSUER_HASHES.get(iss)
    if state is None:
        state = _sha256(iss.encode() + b"\x00")
        if len(_ISSUER_HASHES) < 64:
            _ISSUER_HASHES[iss] = state
    digest = state.copy()  # the issuer's prefix is hashed once, not on every scan
    digest.update(cti)
    return digest.digest()[:REVOCATION_HASH_BYTES]


@dataclass(frozen=True, slots=True)
class BundleKey:
    """A signing key the bundle trusts, with when and for which zones it may sign."""

    kid: bytes
    alg: Algorithm
    spki: bytes
    not_before: int
    not_after: int | None = None
    zones: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """A short-notice closure of a zone (incident message): passes refused from start to end."""

    start: int
    end: int
    reason: str


@dataclass(frozen=True, slots=True)
class BundleZone:
    """A zone as agents' verifiers know it: identity, time zone, access windows, geometry.

    `windows` say when pass holders may enter while the restriction is in force (union of the
    rules' windows; empty: at any time); `restriction` says when the restriction is in force
    (empty: at all times within valid_from/valid_until). Outside every restriction window anyone
    may enter (verdict NOT_RESTRICTED), see docs/adr/0007-restriction-schedule.md.
    """

    ref: int
    code: str
    name: str
    kind: str
    tz: str
    windows: tuple[TimeWindow, ...] = ()
    valid_from: int | None = None
    valid_until: int | None = None
    closures: tuple[Closure, ...] = ()
    geometry: tuple[tuple[tuple[int, ...], ...], ...] | None = None
    restriction: tuple[TimeWindow, ...] = ()

    def closure_at(self, now: int) -> Closure | None:
        """The closure in force at `now`, if any."""
        return next((c for c in self.closures if c.start <= now < c.end), None)


@dataclass(frozen=True, slots=True)
class BundlePartner:
    """A partner authority whose passes this authority's agents accept (federation, ADR 0009).

    `root` is the SubjectPublicKeyInfo DER of the partner's root key: the partner's own bundle is
    accepted only if it verifies with it and states `iss`. `url` is informative.
    """

    iss: str
    name: str
    root: bytes
    url: str


@dataclass(frozen=True)
class BundleContent:
    """Everything a full bundle states."""

    iss: str
    seq: int
    issued_at: int
    max_age: int
    keys: tuple[BundleKey, ...]
    withdrawn: frozenset[bytes] = frozenset()
    revoked: bytes = b""
    zones: tuple[BundleZone, ...] = ()
    holidays: tuple[int, ...] = ()
    zone_data_version: int = 0
    name: str = ""
    partners: tuple[BundlePartner, ...] = ()

    def __post_init__(self) -> None:
        if len(self.revoked) % REVOCATION_HASH_BYTES:
            raise MalformedError("paquet de confiance : longueur de la liste de révocations non multiple de 8",
                                 code="bad_bundle")


def root_fingerprint(spki: bytes) -> str:
    """SHA-256 of a root's SPKI DER, read out by telephone: 16 groups of 4 uppercase hex digits."""
    digest = hashlib.sha256(spki).hexdigest().upper()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


def normalise_fingerprint(text: str) -> str:
    """A fingerprint as an administrator typed it, for comparison: no spaces, colons or dashes; uppercase."""
    return "".join(c for c in text if c not in " \t:-").upper()


def sorted_revocations(hashes: Iterable[bytes]) -> bytes:
    """Concatenate revocation hashes in sorted order, without repeats."""
    return b"".join(sorted(set(hashes)))


def _split(revoked: bytes) -> list[bytes]:
    n = REVOCATION_HASH_BYTES
    return [revoked[i : i + n] for i in range(0, len(revoked), n)]


# ---- encoding -------------------------------------------------------------------------------


def _window_out(w: TimeWindow) -> list[Any]:
    out: list[Any] = [w.weekdays, w.start, w.end]
    flags = WINDOW_SKIP_HOLIDAYS if w.skip_public_holidays else 0
    if flags or w.first_day or w.last_day:
        out.append(flags)
    if w.first_day or w.last_day:
        out += [
            day_number(w.first_day) if w.first_day else None,
            day_number(w.last_day) if w.last_day else None,
        ]
    return out


def _zone_out(z: BundleZone) -> dict[int, Any]:
    out: dict[int, Any] = {Z_REF: z.ref, Z_CODE: z.code, Z_NAME: z.name, Z_KIND: z.kind, Z_TZ: z.tz}
    if z.windows:
        out[Z_WINDOWS] = [_window_out(w) for w in z.windows]
    if z.valid_from is not None:
        out[Z_FROM] = z.valid_from
    if z.valid_until is not None:
        out[Z_UNTIL] = z.valid_until
    if z.closures:
        out[Z_CLOSURES] = [[c.start, c.end, c.reason] for c in z.closures]
    if z.geometry:
        out[Z_GEOMETRY] = [[list(ring) for ring in polygon] for polygon in z.geometry]
    if z.restriction:  # absent when in force at all times: older bundles keep their bytes
        out[Z_RESTRICTION] = [_window_out(w) for w in z.restriction]
    return out


ZONE_ITEMS_KEPT = 20_000
"""Encoded zones kept per process (a few KB each): a zone object encoded once, not at every bundle."""
_zone_items: OrderedDict[int, tuple[BundleZone, bytes]] = OrderedDict()


def _zone_item(z: BundleZone) -> bytes:
    """The zone's deterministic CBOR item, the same bytes as encoding `_zone_out(z)`.

    Kept per zone object (issue 18: the publisher hands the same BundleZone objects for the zones
    that did not change, cirqliz.issuance.publication), and only for a zone made of immutable
    parts (hashable: no list inside), so the kept bytes cannot go stale; the entry holds the object,
    so its id is not reused while kept."""
    key = id(z)
    found = _zone_items.get(key)
    if found is not None and found[0] is z:
        _zone_items.move_to_end(key)
        return found[1]
    data = dumps_deterministic(_zone_out(z))
    try:
        hash(z)
    except TypeError:  # a list somewhere in the zone: encoded each time
        return data
    _zone_items[key] = (z, data)
    _zone_items.move_to_end(key)
    while len(_zone_items) > ZONE_ITEMS_KEPT:
        _zone_items.popitem(last=False)
    return data


_last_zones: list[Any] = [(), None]
"""The last zones array encoded, (zones, Encoded): publishing again with the same zone objects in the
same order (cirqliz.issuance.publication keeps them) encodes nothing, not even the array."""


def _zones_out(zones: Iterable[BundleZone]) -> Encoded:
    """A CBOR array of the zones' items, as `[_zone_out(z) for z in zones]` encodes, from the kept items."""
    zones = tuple(zones)
    last, encoded = _last_zones
    if encoded is not None and len(last) == len(zones) and all(a is b for a, b in zip(last, zones, strict=True)):
        return encoded
    items = [_zone_item(z) for z in zones]
    encoded = Encoded(array_head(len(items)) + b"".join(items))
    # Only zones whose item _zone_item kept (immutable ones): then the array cannot go stale either.
    if all(_zone_items.get(id(z), (None,))[0] is z for z in zones):
        _last_zones[:] = [zones, encoded]
    return encoded


def _key_out(k: BundleKey) -> dict[int, Any]:
    out: dict[int, Any] = {K_KID: k.kid, K_ALG: int(k.alg), K_SPKI: k.spki, K_NOT_BEFORE: k.not_before}
    if k.not_after is not None:
        out[K_NOT_AFTER] = k.not_after
    if k.zones is not None:
        out[K_ZONES] = list(k.zones)
    return out


def _partner_out(p: BundlePartner) -> dict[int, Any]:
    return {P_ISS: p.iss, P_NAME: p.name, P_ROOT: p.root, P_URL: p.url}


def _partners_out(partners: Iterable[BundlePartner]) -> list[dict[int, Any]]:
    return [_partner_out(p) for p in sorted(partners, key=lambda p: p.iss)]


def _common_out(c: BundleContent, kind: int) -> dict[int, Any]:
    out = {
        B_KIND: kind,
        B_ISS: c.iss,
        B_SEQ: c.seq,
        B_ISSUED: c.issued_at,
        B_MAX_AGE: c.max_age,
        B_KEYS: [_key_out(k) for k in c.keys],
        B_WITHDRAWN: sorted(c.withdrawn),
        B_HOLIDAYS: sorted(c.holidays),
        B_ZONE_DATA: c.zone_data_version,
    }
    if c.name:  # absent when unnamed: older bundles keep their bytes
        out[B_NAME] = c.name
    return out


def encode_full(content: BundleContent) -> bytes:
    """Deterministic CBOR payload of a full bundle."""
    out = _common_out(content, FULL)
    out[B_REVOKED] = content.revoked
    out[B_ZONES] = _zones_out(sorted(content.zones, key=lambda z: z.ref))
    if content.partners:  # absent = no partners: bundles without partners keep their bytes
        out[B_PARTNERS] = _partners_out(content.partners)
    return dumps_deterministic(out)


def encode_delta(base: BundleContent, new: BundleContent) -> bytes:
    """Deterministic CBOR payload of a delta that turns `base` into `new`."""
    if new.seq <= base.seq:
        raise BundleError("un différentiel doit augmenter le numéro de paquet (seq)", code="delta_seq")
    old_set, new_set = set(_split(base.revoked)), set(_split(new.revoked))
    old_zones = {z.ref: z for z in base.zones}
    new_zones = {z.ref: z for z in new.zones}
    out = _common_out(new, DELTA)
    out[B_BASE_SEQ] = base.seq
    out[B_REVOKED_ADDED] = sorted_revocations(new_set - old_set)
    out[B_REVOKED_REMOVED] = sorted_revocations(old_set - new_set)
    out[B_ZONES_CHANGED] = _zones_out(z for ref, z in sorted(new_zones.items()) if old_zones.get(ref) != z)
    out[B_ZONES_REMOVED] = sorted(set(old_zones) - set(new_zones))
    if _partners_out(base.partners) != _partners_out(new.partners):
        out[B_PARTNERS] = _partners_out(new.partners)  # the complete new list (empty: none left)
    return dumps_deterministic(out)


def sign_bundle(content: BundleContent, root: SigningKey) -> bytes:
    """A full bundle signed by the root key."""
    return sign1(encode_full(content), root)


def sign_delta(base: BundleContent, new: BundleContent, root: SigningKey) -> bytes:
    """A delta bundle (changes from `base` to `new`) signed by the root key."""
    return sign1(encode_delta(base, new), root)


# ---- decoding -------------------------------------------------------------------------------


def _bad(message: str) -> MalformedError:
    # No prefix: open_bundle says "paquet refusé : " in front of it.
    return MalformedError(message, code="bad_bundle")


def _int(value: object, name: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if type(value) is not int or value < 0:
        raise _bad(f"{name} : entier positif ou nul attendu")
    return value


_LAST_DAY = date.max.toordinal() - date(1970, 1, 1).toordinal()


def _day(value: object, name: str, *, optional: bool = False) -> Any:
    day = _int(value, name, optional=optional)
    if day is not None and day > _LAST_DAY:
        raise _bad(f"{name} : au-delà de l'an 9999")
    return day


def _text(value: object, name: str) -> str:
    if type(value) is not str or not value:
        raise _bad(f"{name} : texte non vide attendu")
    return value


def _bounded_text(value: object, name: str, longest: int) -> str:
    text = _text(value, name)
    if len(text) > longest:
        raise _bad(f"{name} : plus de {longest} caractères")
    return text


def _partner_in(raw: object) -> BundlePartner:
    p = _map(raw, "partenaire")
    iss = _bounded_text(p.get(P_ISS), "émetteur (iss) d'un partenaire", ISS_MAX)
    if "/" in iss:
        raise _bad(f"émetteur (iss) de partenaire {iss!r} : contient '/' (les zones s'écrivent AUTORITÉ/CODE)")
    root = p.get(P_ROOT)
    if not isinstance(root, bytes) or not root:
        raise _bad(f"clé racine du partenaire {iss} : octets attendus (SubjectPublicKeyInfo DER)")
    url = p.get(P_URL)
    if type(url) is not str:
        raise _bad(f"adresse (url) du partenaire {iss} : texte attendu")
    return BundlePartner(iss, _bounded_text(p.get(P_NAME), f"nom du partenaire {iss}", NAME_MAX), root, url)


def _partners_in(value: object, own_iss: str) -> tuple[BundlePartner, ...]:
    partners = tuple(_partner_in(p) for p in _seq(value, "partenaires"))
    if any(a.iss >= b.iss for a, b in itertools.pairwise(partners)):
        raise _bad("partenaires : à trier par émetteur (iss), sans répétition")
    if any(p.iss == own_iss for p in partners):
        raise _bad(f"{own_iss} ne peut pas être son propre partenaire")
    return partners


def _seq(value: object, name: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _bad(f"{name} : tableau attendu")
    return value


def _map(value: object, name: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _bad(f"{name} : table associative attendue")
    return value


def _window_in(raw: object, name: str = "créneau de zone") -> TimeWindow:
    items = _seq(raw, name)
    if len(items) not in (3, 4, 6):
        raise _bad(f"{name} : 3, 4 ou 6 champs attendus")
    mask, start, end = (_int(v, f"champ du {name}") for v in items[:3])
    flags = _int(items[3], f"options du {name}") if len(items) > 3 else 0
    first = _day(items[4], f"premier jour du {name}", optional=True) if len(items) == 6 else None
    last = _day(items[5], f"dernier jour du {name}", optional=True) if len(items) == 6 else None
    try:
        return TimeWindow(
            mask, start, end,
            first_day=day_from_number(first) if first is not None else None,
            last_day=day_from_number(last) if last is not None else None,
            skip_public_holidays=bool(flags & WINDOW_SKIP_HOLIDAYS),
        )
    except (WindowError, ValueError, OverflowError) as exc:
        why = exc.message if isinstance(exc, WindowError) else "date hors limites"
        raise _bad(f"{name} {list(items)} : {why}") from exc


def _restriction_in(z: Mapping[Any, Any]) -> tuple[TimeWindow, ...]:
    if Z_RESTRICTION not in z:
        return ()
    items = _seq(z[Z_RESTRICTION], "réglementation de la zone")
    if not items:
        # "In force at all times" has one encoding, the absent key; an empty array could be read
        # as "never in force" and wave every vehicle through.
        raise _bad("réglementation de la zone : ne doit pas être vide (l'omettre quand elle s'applique en permanence)")
    return tuple(_window_in(w, "créneau de réglementation") for w in items)


def _zone_in(raw: object) -> BundleZone:
    z = _map(raw, "zone")
    tz = _text(z.get(Z_TZ), "fuseau horaire de la zone")
    try:
        zone_info(tz)
    except WindowError as exc:
        raise _bad(exc.message) from exc
    closures = []
    for c in _seq(z.get(Z_CLOSURES, ()), "fermetures"):
        c = _seq(c, "fermeture")
        if len(c) != 3:
            raise _bad("fermeture : [début, fin, motif] attendu")
        closures.append(Closure(_int(c[0], "début de fermeture"), _int(c[1], "fin de fermeture"), str(c[2])))
    geometry = None
    if Z_GEOMETRY in z:
        geometry = tuple(
            tuple(tuple(_coords(ring)) for ring in _seq(polygon, "polygone"))
            for polygon in _seq(z[Z_GEOMETRY], "géométrie")
        )
    return BundleZone(
        ref=_int(z.get(Z_REF), "référence de zone"),
        code=_text(z.get(Z_CODE), "code de zone"),
        name=_text(z.get(Z_NAME), "nom de zone"),
        kind=_text(z.get(Z_KIND), "type de zone"),
        tz=tz,
        windows=tuple(_window_in(w) for w in _seq(z.get(Z_WINDOWS, ()), "créneaux de la zone")),
        valid_from=_int(z.get(Z_FROM), "début de validité de la zone (valid_from)", optional=True),
        valid_until=_int(z.get(Z_UNTIL), "fin de validité de la zone (valid_until)", optional=True),
        closures=tuple(closures),
        geometry=geometry,
        restriction=_restriction_in(z),
    )


def _coords(ring: object) -> Sequence[int]:
    values = _seq(ring, "contour")
    if len(values) % 2 or any(type(v) is not int for v in values):
        raise _bad("contour : tableau plat de coordonnées entières attendu (lon, lat en millionièmes de degré)")
    return values


def _key_in(raw: object) -> BundleKey:
    k = _map(raw, "clé")
    kid = k.get(K_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise _bad("identifiant de clé (kid) : 8 octets attendus")
    spki = k.get(K_SPKI)
    if not isinstance(spki, bytes):
        raise _bad("clé publique (spki) : octets attendus")
    zones = k.get(K_ZONES)
    return BundleKey(
        kid=kid,
        alg=algorithm_from_label(k.get(K_ALG)),
        spki=spki,
        not_before=_int(k.get(K_NOT_BEFORE), "début de validité de la clé (not_before)"),
        not_after=_int(k.get(K_NOT_AFTER), "fin de validité de la clé (not_after)", optional=True),
        zones=None if zones is None else tuple(_int(r, "zone de la clé") for r in _seq(zones, "zones de la clé")),
    )


def _revoked_in(value: object, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) % REVOCATION_HASH_BYTES:
        raise _bad(f"{name} : octets attendus, en nombre multiple de 8")
    entries = _split(value)
    if any(a >= b for a, b in itertools.pairwise(entries)):
        raise _bad(f"{name} : entrées à trier, sans répétition")
    return value


def decode_payload(payload: bytes) -> tuple[int, BundleContent, dict[str, Any]]:
    """Decode a bundle payload: (kind, content, delta parts). Content of a delta lacks the lists."""
    data = _map(loads_deterministic(payload, "contenu du paquet"), "contenu du paquet")
    kind = data.get(B_KIND)
    if kind not in (FULL, DELTA):
        raise _bad(f"type de paquet inconnu {kind!r}")
    withdrawn = _seq(data.get(B_WITHDRAWN, ()), "clés retirées")
    if any(not isinstance(k, bytes) for k in withdrawn):
        raise _bad("clés retirées : identifiants (kid) en octets attendus")
    common = {
        "iss": _text(data.get(B_ISS), "émetteur (iss)"),
        "seq": _int(data.get(B_SEQ), "numéro de paquet (seq)"),
        "issued_at": _int(data.get(B_ISSUED), "date d'émission (issued_at)"),
        "max_age": _int(data.get(B_MAX_AGE), "âge maximal (max_age)"),
        "keys": tuple(_key_in(k) for k in _seq(data.get(B_KEYS), "clés")),
        "withdrawn": frozenset(withdrawn),
        "holidays": tuple(_day(d, "jour férié") for d in _seq(data.get(B_HOLIDAYS, ()), "jours fériés")),
        "zone_data_version": _int(data.get(B_ZONE_DATA, 0), "version des données de zone"),
        "name": _bounded_text(data[B_NAME], "nom de l'autorité", NAME_MAX) if B_NAME in data else "",
    }
    partners = _partners_in(data[B_PARTNERS], common["iss"]) if B_PARTNERS in data else None
    if kind == FULL:
        content = BundleContent(
            **common,
            revoked=_revoked_in(data.get(B_REVOKED, b""), "révocations"),
            zones=tuple(_zone_in(z) for z in _seq(data.get(B_ZONES, ()), "zones")),
            partners=partners or (),
        )
        return kind, content, {}
    delta = {
        "base_seq": _int(data.get(B_BASE_SEQ), "numéro du paquet de base (base_seq)"),
        "added": _revoked_in(data.get(B_REVOKED_ADDED, b""), "révocations ajoutées"),
        "removed": _revoked_in(data.get(B_REVOKED_REMOVED, b""), "révocations levées"),
        "zones_changed": tuple(_zone_in(z) for z in _seq(data.get(B_ZONES_CHANGED, ()), "zones modifiées")),
        "zones_removed": frozenset(_int(r, "référence de zone")
                                   for r in _seq(data.get(B_ZONES_REMOVED, ()), "zones supprimées")),
        "partners": partners,  # None: unchanged from the base
    }
    return kind, BundleContent(**common), delta


def apply_delta(base: BundleContent, new_common: BundleContent, delta: Mapping[str, Any]) -> BundleContent:
    """The full content obtained by applying a decoded delta to `base`."""
    revoked = (set(_split(base.revoked)) - set(_split(delta["removed"]))) | set(_split(delta["added"]))
    zones = {z.ref: z for z in base.zones if z.ref not in delta["zones_removed"]}
    zones.update({z.ref: z for z in delta["zones_changed"]})
    partners = delta.get("partners")
    return replace(
        new_common,
        revoked=sorted_revocations(revoked),
        zones=tuple(zones[r] for r in sorted(zones)),
        partners=base.partners if partners is None else partners,
    )


# ---- the verified bundle --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A bundle key ready to verify: its entry and the loaded public key."""

    entry: BundleKey
    key: VerifyKey


@dataclass(frozen=True)
class TrustBundle:
    """A bundle whose signature was checked, indexed for fast lookups (load once, verify many)."""

    content: BundleContent
    keys_by_kid: Mapping[bytes, tuple[TrustedKey, ...]] = field(repr=False)
    revoked_set: frozenset[bytes] = field(repr=False)
    zones_by_code: Mapping[str, BundleZone] = field(repr=False)
    zones_by_ref: Mapping[int, BundleZone] = field(repr=False)
    holiday_dates: frozenset[date] = field(repr=False)
    partner_roots: Mapping[str, VerifyKey] = field(default_factory=dict, repr=False)

    @classmethod
    def from_content(cls, content: BundleContent) -> TrustBundle:
        """Index a content whose signature has already been checked (or that we built)."""
        keys: dict[bytes, list[TrustedKey]] = {}
        for entry in content.keys:
            try:
                verify_key = VerifyKey.from_spki(entry.spki, kid=entry.kid)
            except SchemeError as exc:
                raise _bad(f"clé {entry.kid.hex()} : {exc.message}") from exc
            if verify_key.alg is not entry.alg:
                raise _bad(f"clé {entry.kid.hex()} : algorithme différent de celui de sa clé publique")
            keys.setdefault(entry.kid, []).append(TrustedKey(entry, verify_key))
        roots: dict[str, VerifyKey] = {}
        for partner in content.partners:
            try:
                roots[partner.iss] = VerifyKey.from_spki(partner.root)
            except SchemeError as exc:
                raise _bad(f"clé racine du partenaire {partner.iss} : {exc.message}") from exc
        return cls(
            content=content,
            keys_by_kid={kid: tuple(v) for kid, v in keys.items()},
            revoked_set=frozenset(_split(content.revoked)),
            zones_by_code={z.code: z for z in content.zones},
            zones_by_ref={z.ref: z for z in content.zones},
            holiday_dates=frozenset(day_from_number(d) for d in content.holidays),
            partner_roots=roots,
        )

    @property
    def seq(self) -> int:
        """The bundle's sequence number."""
        return self.content.seq

    @property
    def iss(self) -> str:
        """The authority that issued the bundle."""
        return self.content.iss

    def partner(self, iss: str) -> BundlePartner | None:
        """The partner entry for `iss`, if this bundle lists it."""
        return next((p for p in self.content.partners if p.iss == iss), None)

    def is_revoked(self, iss: str, cti: bytes) -> bool:
        """Whether the pass (iss, cti) is on the revocation list."""
        return revocation_hash(iss, cti) in self.revoked_set

    def zone(self, code_or_ref: str | int) -> BundleZone | None:
        """A zone by code, or by ref."""
        if isinstance(code_or_ref, int):
            return self.zones_by_ref.get(code_or_ref)
        return self.zones_by_code.get(code_or_ref)

    def revoked_count(self) -> int:
        """How many revocation entries the bundle holds."""
        return len(self.content.revoked) // REVOCATION_HASH_BYTES


def contains_revocation(revoked: bytes, entry: bytes) -> bool:
    """Binary search of one entry in a sorted revocation list (the browser twin does this)."""
    entries = _split(revoked)
    i = bisect.bisect_left(entries, entry)
    return i < len(entries) and entries[i] == entry


def open_bundle(
    data: bytes,
    roots: Iterable[VerifyKey],
    *,
    current: TrustBundle | None = None,
    min_seq: int | None = None,
) -> TrustBundle:
    """Check a full or delta bundle against the pinned root keys; BundleError if refused.

    A bundle with a lower `seq` than `current` (or than `min_seq`) is refused as a rollback; a full
    bundle with the seq of `current` returns `current` when its content is the same and is refused
    (bundle_seq_conflict) otherwise; a delta applies only on top of `current` with `seq == base_seq`.
    """
    try:
        message = decode_sign1(data, deterministic=True)
    except SchemeError as exc:
        raise BundleError(f"paquet refusé : {exc.message}", code="bundle_malformed") from exc
    kid = message.kid
    candidates = [r for r in roots if r.kid == kid]
    if not candidates:
        raise BundleError("paquet refusé : pas signé par une clé racine épinglée", code="bundle_unknown_root")
    for root in candidates:
        try:
            verify_sign1(message, root)
            break
        except SchemeError:
            continue
    else:
        raise BundleError("paquet refusé : signature invalide (paquet altéré ?)", code="bundle_bad_signature")
    try:
        kind, content, delta = decode_payload(message.payload)
    except SchemeError as exc:
        raise BundleError(f"paquet refusé : {exc.message}", code="bundle_malformed") from exc
    floor = max(min_seq or 0, current.seq if current else 0)
    if content.seq < floor or (kind == DELTA and current is not None and content.seq <= current.seq):
        raise BundleError(
            f"paquet refusé : n° {content.seq} plus ancien que le n° {floor} déjà détenu (retour en arrière)",
            code="bundle_rollback",
        )
    if current is not None and content.iss != current.content.iss:
        raise BundleError(
            f"paquet refusé : émis par une autre autorité ({content.iss!r} au lieu de {current.content.iss!r})",
            code="bundle_wrong_issuer",
        )
    if kind == FULL and current is not None and content.seq == current.seq:
        # One seq names one content: the same again changes nothing, another one is suspect.
        if content != current.content:
            raise BundleError(
                f"paquet refusé : même numéro {content.seq} que celui détenu mais contenu différent "
                "(suspect : le paquet détenu est conservé)",
                code="bundle_seq_conflict",
            )
        return current
    if kind == DELTA:
        if current is None or current.seq != delta["base_seq"]:
            held = "aucun" if current is None else f"n° {current.seq}"
            raise BundleError(
                f"paquet refusé : différentiel pour le n° {delta['base_seq']}, paquet détenu : {held} ; "
                "récupérez un paquet complet",
                code="bundle_delta_base",
            )
        content = apply_delta(current.content, content, delta)
    try:
        return TrustBundle.from_content(content)
    except SchemeError as exc:
        raise BundleError(f"paquet refusé : {exc.message}", code="bundle_malformed") from exc


Geometry = tuple[tuple[tuple[int, ...], ...], ...]


def geometry_from_lonlat(polygons: Iterable[Iterable[Iterable[tuple[float, float]]]]) -> Geometry:
    """Scale polygons of (lon, lat) rings to the bundle's integer form (1e-6 degrees)."""
    return tuple(
        tuple(
            tuple(v for lon, lat in ring for v in (round(lon * COORDINATE_SCALE), round(lat * COORDINATE_SCALE)))
            for ring in polygon
        )
        for polygon in polygons
    )
