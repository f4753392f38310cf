"""The offline verifier. Rules, in order, are specified in docs/pass-format.md §5 (and ADR 0002, 0007)."""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature

from cirqliz.clock import to_epoch
from cirqliz.domain.plates import loose_key
from cirqliz.domain.windows import TimeWindow, local_from_epoch, utc_offset_at
from cirqliz.passcode.bundle import BundleContent, BundleZone, TrustBundle, revocation_hash
from cirqliz.passcode.claims import PassClaims, claims_from_match, decode_claims, read_claims_common
from cirqliz.passcode.cose import HEADER_ALG, HEADER_KID
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.keys import ECDSA_SHA256, Algorithm, algorithm_from_label, raw_to_der
from cirqliz.passcode.token import parse_pass_text, read_pass_fast
from cirqliz.verify.messages import message

DEFAULT_SKEW = 300
_ES256 = Algorithm.ES256
_ALGORITHMS = {int(a): a for a in Algorithm}  # by COSE value; both readers only pass on ints
_DAYS_FR = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


def _local_time(local: datetime) -> str:
    """'mer. 21:00': the local day and time a detail names (built on failure paths only)."""
    return f"{_DAYS_FR[local.weekday()]} {local:%H:%M}"


def _duration(seconds: int) -> str:
    """'2 h 0 min', as the CLI writes a bundle's age."""
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _instant(epoch: int) -> str:
    """'04/03/2026 à 07:30 UTC' for a pass's exp or nbf (the number itself past year 9999)."""
    try:
        when = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, ValueError, OSError):
        return f"{epoch} (horodatage Unix)"
    return f"{when:%d/%m/%Y} à {when:%H:%M} UTC"


class Status(StrEnum):
    """Traffic light shown to the agent."""

    VALID = "VALID"  # green
    REFUSED = "REFUSED"  # red
    UNCERTAIN = "UNCERTAIN"  # orange: the device cannot decide safely (stale data, clock)


class Reason(StrEnum):
    """Why: one code for every outcome (messages in cirqliz.verify.messages)."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    KEY_WITHDRAWN = "KEY_WITHDRAWN"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    KEY_NOT_AUTHORISED = "KEY_NOT_AUTHORISED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    UNKNOWN_ZONE = "UNKNOWN_ZONE"
    WRONG_ZONE = "WRONG_ZONE"
    ZONE_CLOSED = "ZONE_CLOSED"
    PLATE_MISMATCH = "PLATE_MISMATCH"
    STALE_BUNDLE = "STALE_BUNDLE"
    CLOCK_SUSPECT = "CLOCK_SUSPECT"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"
    NOT_RESTRICTED = "NOT_RESTRICTED"  # green: the zone's restriction is not in force now


_UNCERTAIN = frozenset({Reason.STALE_BUNDLE, Reason.CLOCK_SUSPECT, Reason.UNKNOWN_ZONE})
_GREEN = frozenset({Reason.VALID, Reason.NOT_RESTRICTED})


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check: status, reason code, detail, and what could be read.

    `issuer` is the authority whose bundle verified the signature (set once the pass's claims are
    read and its iss is that bundle's), `issuer_name` its display name; `zone_authority` is the
    authority of the checkpoint zone (None when that authority is not trusted).
    """

    status: Status
    reason: Reason
    detail: str
    checked_at: int
    claims: PassClaims | None = None
    zone: BundleZone | None = None
    kid: bytes | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    zone_authority: str | None = None

    @property
    def valid(self) -> bool:
        """True only for a green verdict (VALID, or NOT_RESTRICTED: no pass needed now)."""
        return self.status is Status.VALID

    @property
    def message_fr(self) -> str:
        """One line for the agent, in French."""
        return message(self.reason, "fr")

    @property
    def message_en(self) -> str:
        """One line for the agent, in English."""
        return message(self.reason, "en")

    def as_json(self) -> dict[str, Any]:
        """JSON-friendly form (CLI --json, API, check records)."""
        return {
            "status": self.status.value,
            "reason": self.reason.value,
            "detail": self.detail,
            "message_fr": self.message_fr,
            "message_en": self.message_en,
            "checked_at": self.checked_at,
            "zone": self.zone.code if self.zone else None,
            "kid": self.kid.hex() if self.kid else None,
            "claims": self.claims.as_json() if self.claims else None,
            "issuer": self.issuer,
            "issuer_name": self.issuer_name,
            "zone_authority": self.zone_authority,
        }


class _GreenVerdict:
    """Verdict's slots without the frozen __setattr__: a green verdict is built on every good scan.

    Its frozen dataclass __init__ sets each field through object.__setattr__ by name; this twin
    (same slots, so the same memory layout) takes plain attribute stores, then becomes a Verdict
    by __class__ assignment, which CPython allows between classes of identical layout. Verdict has
    no __post_init__: the result is the same object as Verdict(...) would build.
    """

    __slots__ = Verdict.__slots__


def _valid(now: int, claims: PassClaims, zone: BundleZone, kid: bytes, issuer: BundleContent) -> Verdict:
    verdict = _GreenVerdict()
    verdict.status = Status.VALID
    verdict.reason = Reason.VALID
    verdict.detail = ""
    verdict.checked_at = now
    verdict.claims = claims
    verdict.zone = zone
    verdict.kid = kid
    iss = issuer.iss
    verdict.issuer = iss
    verdict.issuer_name = issuer.name or None
    verdict.zone_authority = iss  # a green verdict is always at a zone of the issuer
    verdict.__class__ = Verdict  # type: ignore[assignment]
    return verdict  # type: ignore[return-value]


def _verdict(reason: Reason, detail: str, now: int, claims: PassClaims | None = None, kid: bytes | None = None,
             zone: BundleZone | None = None, issuer: BundleContent | None = None,
             zone_authority: str | None = None) -> Verdict:
    if reason in _GREEN:
        status = Status.VALID
    elif reason in _UNCERTAIN:
        status = Status.UNCERTAIN
    else:
        status = Status.REFUSED
    return Verdict(status, reason, detail, now, claims, zone, kid, issuer.iss if issuer else None,
                   (issuer.name or None) if issuer else None, zone_authority)


def verify_pass(
    text: str,
    bundle: TrustBundle,
    *,
    zone: str,
    now: datetime | int,
    plate: str | None = None,
    last_seen: int | None = None,
    skew: int = DEFAULT_SKEW,
    checkpoint_bundle: TrustBundle | None = None,
    read: tuple[Any, ...] | None = None,
) -> Verdict:
    """Check a pass text at checkpoint `zone` (code) at device time `now`.

    `last_seen` is the latest time this device has already observed (its previous scan); with the
    bundle's issued_at it bounds "now" from below, so turning the clock back cannot revive an
    expired pass. `checkpoint_bundle` is the bundle of the authority the checkpoint zone belongs to
    (None: `bundle`, the issuer's); a pass never covers another authority's zone (WRONG_ZONE).
    `read` is what `read_pass_fast(text)` gave, when the caller has already read the text (the
    online verifier finds the issuer that way); it is never trusted more than the text itself.
    Never raises for bad input: every outcome is a Verdict.
    """
    device_now = now if type(now) is int else to_epoch(now)
    content = bundle.content
    if checkpoint_bundle is None:
        checkpoint_bundle = bundle
    place = checkpoint_bundle.content
    za = place.iss
    last = last_seen or 0
    floor = content.issued_at if content.issued_at >= last else last  # max() without the call
    t = device_now if device_now >= floor else floor

    parts = read or read_pass_fast(text)
    if parts is None:  # not the usual layout: the strict reader decides and names the problem
        try:
            message = parse_pass_text(text)
        except SchemeError as exc:
            return _verdict(Reason.MALFORMED, exc.message, t, zone_authority=za)
        parts = (message.protected[HEADER_ALG], message.protected[HEADER_KID], message.to_be_signed(),
                 message.payload, message.signature, None)
    alg_value, kid, tbs, payload, signature, claim_parts = parts
    # A withdrawn kid is refused as such even once its key entry has left the bundle.
    if kid in content.withdrawn:
        return _verdict(Reason.KEY_WITHDRAWN, f"clé {kid.hex()} retirée", t, kid=kid, zone_authority=za)
    trusted = bundle.keys_by_kid.get(kid)
    if not trusted:
        return _verdict(Reason.UNKNOWN_KEY, f"clé {kid.hex()} absente du paquet de confiance n° {content.seq}", t,
                        kid=kid, zone_authority=za)
    # both readers accept only a supported alg; the dict lookup spares the call on every scan
    alg = _ALGORITHMS.get(alg_value) or algorithm_from_label(alg_value)
    signer = None
    failure = "signature invalide"
    for candidate in trusted:
        key = candidate.key
        if key.alg is not alg:  # the algorithm comes from the key, never from the message
            failure = f"le message annonce {alg.label} mais la clé est {key.alg.label}"
            continue
        if alg is _ES256 and len(signature) == 64:
            # VerifyKey.verify's ES256 branch, inlined: the same check, one call and one try fewer
            try:
                key.public.verify(raw_to_der(signature), tbs, ECDSA_SHA256)  # type: ignore[call-arg]
            except InvalidSignature:
                failure = "signature invalide"
                continue
        else:
            try:
                key.verify(signature, tbs)
            except SchemeError as exc:
                failure = exc.message
                continue
        signer = candidate
        break
    if signer is None:
        return _verdict(Reason.BAD_SIGNATURE, failure, t, kid=kid, zone_authority=za)
    # decode_claims's fast paths, called directly: from what read_pass_fast matched, else the payload
    claims = claims_from_match(*claim_parts) if claim_parts is not None else read_claims_common(payload)
    if claims is None:
        try:
            claims = decode_claims(payload)
        except SchemeError as exc:
            return _verdict(Reason.MALFORMED, exc.message, t, kid=kid, zone_authority=za)

    # Failures pass claims, kid (and the zone once known) positionally: no keyword dict per scan.
    if claims.iss != content.iss:
        return _verdict(Reason.UNKNOWN_KEY, f"émetteur {claims.iss!r} au lieu de {content.iss!r}", t, claims, kid,
                        zone_authority=za)
    entry = signer.entry
    if claims.iat < entry.not_before or (entry.not_after is not None and claims.iat >= entry.not_after):
        return _verdict(Reason.KEY_NOT_AUTHORISED, "clé hors de sa période de validité à la signature", t, claims, kid,
                        None, content, za)
    if entry.zones is not None and not set(claims.zones) <= set(entry.zones):
        return _verdict(Reason.KEY_NOT_AUTHORISED, "clé non autorisée pour ces zones", t, claims, kid, None,
                        content, za)
    checkpoint = checkpoint_bundle.zones_by_code.get(zone)
    if (
        checkpoint is not None
        and checkpoint.restriction  # falsy for most zones: nothing more is done for them
        and t <= place.issued_at + place.max_age
        and device_now + skew >= floor
        and (not checkpoint.closures or checkpoint.closure_at(t) is None)
    ):
        local = local_from_epoch(t, checkpoint.tz)
        if not _inside(checkpoint.restriction, local, checkpoint_bundle.holiday_dates):
            # Before REVOKED/EXPIRED: at the barrier the question is whether this vehicle may
            # enter now, and outside the restriction anyone may (ADR 0007), whoever issued the pass.
            return _verdict(
                Reason.NOT_RESTRICTED, f"réglementation pas en vigueur ; heure locale {_local_time(local)}", t,
                claims, kid, checkpoint, content, za,
            )
    if revocation_hash(claims.iss, claims.cti) in bundle.revoked_set:
        return _verdict(Reason.REVOKED, f"numéro de série {claims.serial} révoqué", t, claims, kid, None, content, za)
    if t >= claims.exp + skew:
        return _verdict(Reason.EXPIRED, f"expiré le {_instant(claims.exp)}", t, claims, kid, None, content, za)
    if t < claims.nbf - skew:
        return _verdict(Reason.NOT_YET_VALID, f"valide à partir du {_instant(claims.nbf)}", t, claims, kid, None,
                        content, za)

    if checkpoint is None:
        where = f"de {za} (n° {place.seq})" if za != content.iss else f"n° {place.seq}"
        return _verdict(Reason.UNKNOWN_ZONE, f"zone {zone!r} absente du paquet de confiance {where}", t, claims, kid,
                        None, content, za)
    if za != content.iss:  # zone refs are per authority: a pass never covers another's zone
        detail = f"laissez-passer émis par {content.iss} ; zone du contrôle relevant de {za}"
        return _verdict(Reason.WRONG_ZONE, detail, t, claims, kid, checkpoint, content, za)
    if checkpoint.ref not in claims.zones:
        detail = f"laissez-passer pour les références de zone {list(claims.zones)}"
        return _verdict(Reason.WRONG_ZONE, detail, t, claims, kid, checkpoint, content, za)
    closure = checkpoint.closure_at(t) if checkpoint.closures else None
    if closure is not None:
        return _verdict(Reason.ZONE_CLOSED, closure.reason, t, claims, kid, checkpoint, content, za)
    # claims.plate is normalised (A-Z, 0-9, optional "XX:" prefix): its loose key is what follows the colon
    if plate is not None and plate != claims.plate and loose_key(plate) != claims.plate.rpartition(":")[2]:
        return _verdict(Reason.PLATE_MISMATCH, f"laissez-passer établi pour {claims.plate}", t, claims, kid, checkpoint,
                        content, za)
    if t > content.issued_at + content.max_age:
        age = t - content.issued_at
        detail = f"paquet de confiance âgé de {_duration(age)} (au plus {_duration(content.max_age)})"
        return _verdict(Reason.STALE_BUNDLE, detail, t, claims, kid, checkpoint, content, za)
    if device_now + skew < floor:
        detail = f"horloge de l'appareil en retard de {_duration(floor - device_now)}"
        return _verdict(Reason.CLOCK_SUSPECT, detail, t, claims, kid, checkpoint, content, za)
    if checkpoint.valid_from is not None and t < checkpoint.valid_from:
        return _verdict(Reason.OUTSIDE_HOURS, "zone pas encore en vigueur", t, claims, kid, checkpoint, content, za)
    if checkpoint.valid_until is not None and t >= checkpoint.valid_until:
        return _verdict(Reason.OUTSIDE_HOURS, "zone plus en vigueur", t, claims, kid, checkpoint, content, za)
    zone_windows = checkpoint.windows
    pass_windows = claims.windows
    if zone_windows or pass_windows:
        # Local minute and weekday by epoch arithmetic (1970-01-01 was a Thursday): no datetime
        # is built unless a window or a refusal's detail needs one.
        tz = checkpoint.tz
        wall = t + utc_offset_at(t, tz)
        if type(wall) is not int:  # a float last_seen (hand-edited CLI state): floored, as datetime does
            wall = math.floor(wall)
        minute = wall // 60 % 1440
        weekday = (wall // 86400 + 3) % 7
        if zone_windows and not _inside_at(zone_windows, t, tz, minute, weekday, bundle.holiday_dates):
            detail = f"hors des horaires de la zone ; heure locale {_local_time(local_from_epoch(t, tz))}"
            return _verdict(Reason.OUTSIDE_HOURS, detail, t, claims, kid, checkpoint, content, za)
        if pass_windows and not _inside_at(pass_windows, t, tz, minute, weekday, ()):
            detail = f"hors des horaires du laissez-passer ; heure locale {_local_time(local_from_epoch(t, tz))}"
            return _verdict(Reason.OUTSIDE_HOURS, detail, t, claims, kid, checkpoint, content, za)
    return _valid(t, claims, checkpoint, kid, content)


def _inside(windows: tuple[TimeWindow, ...], local: datetime, holidays: Container[date] = ()) -> bool:
    # any(generator) costs more than the check itself for one or two windows
    for window in windows:
        if window.contains_local(local, holidays):
            return True
    return False


def _inside_at(windows: tuple[TimeWindow, ...], t: int, tz: str, minute: int, weekday: int,
               holidays: Container[date]) -> bool:
    """_inside at epoch `t` in zone `tz`, whose local minute of day and weekday are given.

    A window without dates or holidays is checked here (TimeWindow.contains_local's common case,
    same-day or across midnight); any other asks contains_local with the local time.
    """
    local = None
    for w in windows:
        if w.first_day is None and w.last_day is None and not w.skip_public_holidays:
            start, end = w.start, w.end
            if start < end:
                if start <= minute < end and w.weekdays >> weekday & 1:
                    return True
            elif (minute >= start and w.weekdays >> weekday & 1) or (
                minute < end and w.weekdays >> (weekday - 1) % 7 & 1
            ):
                return True
        else:
            if local is None:
                local = local_from_epoch(t, tz)
            if w.contains_local(local, holidays):
                return True
    return False
