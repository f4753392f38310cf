"""The offline verifier. Rules, in order, are specified in docs/pass-format.md §5 (and ADR 0002, 0007)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from cirqliz.clock import to_epoch
from cirqliz.domain.plates import loose_key
from cirqliz.domain.windows import TimeWindow, local_from_epoch
from cirqliz.passcode.bundle import BundleZone, TrustBundle, revocation_hash
from cirqliz.passcode.claims import PassClaims, decode_claims
from cirqliz.passcode.cose import HEADER_ALG, HEADER_KID
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.keys import algorithm_from_label
from cirqliz.passcode.token import parse_pass_text, read_pass_parts
from cirqliz.verify.messages import message

DEFAULT_SKEW = 300


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
    """The outcome of one check: status, reason code, detail, and what could be read."""

    status: Status
    reason: Reason
    detail: str
    checked_at: int
    claims: PassClaims | None = None
    zone: BundleZone | None = None
    kid: bytes | None = None

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
        }


# Verdict is a frozen dataclass whose generated __init__ sets each field through object.__setattr__
# by name; a green verdict is built on every good scan, so its slots are set directly (Verdict has
# no __post_init__: the result is the same object).
_VERDICT_SLOTS = tuple(Verdict.__dict__[f.name].__set__ for f in fields(Verdict))


def _valid(now: int, claims: PassClaims, zone: BundleZone, kid: bytes) -> Verdict:
    set_status, set_reason, set_detail, set_checked_at, set_claims, set_zone, set_kid = _VERDICT_SLOTS
    verdict = object.__new__(Verdict)
    set_status(verdict, Status.VALID)
    set_reason(verdict, Reason.VALID)
    set_detail(verdict, "")
    set_checked_at(verdict, now)
    set_claims(verdict, claims)
    set_zone(verdict, zone)
    set_kid(verdict, kid)
    return verdict


def _verdict(reason: Reason, detail: str, now: int, claims: PassClaims | None = None, kid: bytes | None = None,
             zone: BundleZone | None = None) -> Verdict:
    if reason in _GREEN:
        status = Status.VALID
    elif reason in _UNCERTAIN:
        status = Status.UNCERTAIN
    else:
        status = Status.REFUSED
    return Verdict(status, reason, detail, now, claims, zone, kid)


def verify_pass(
    text: str,
    bundle: TrustBundle,
    *,
    zone: str,
    now: datetime | int,
    plate: str | None = None,
    last_seen: int | None = None,
    skew: int = DEFAULT_SKEW,
) -> Verdict:
    """Check a pass text at checkpoint `zone` (code) at device time `now`.

    `last_seen` is the latest time this device has already observed (its previous scan); with the
    bundle's issued_at it bounds "now" from below, so turning the clock back cannot revive an
    expired pass. Never raises for bad input: every outcome is a Verdict.
    """
    device_now = now if type(now) is int else to_epoch(now)
    content = bundle.content
    last = last_seen or 0
    floor = content.issued_at if content.issued_at >= last else last  # max() without the call
    t = device_now if device_now >= floor else floor

    parts = read_pass_parts(text)
    if parts is None:  # not the usual layout: the strict reader decides and names the problem
        try:
            message = parse_pass_text(text)
        except SchemeError as exc:
            return _verdict(Reason.MALFORMED, exc.message, t)
        parts = (message.protected[HEADER_ALG], message.protected[HEADER_KID], message.to_be_signed(),
                 message.payload, message.signature)
    alg_value, kid, tbs, payload, signature = parts
    # A withdrawn kid is refused as such even once its key entry has left the bundle.
    if kid in content.withdrawn:
        return _verdict(Reason.KEY_WITHDRAWN, f"kid {kid.hex()} was withdrawn", t, kid=kid)
    trusted = bundle.keys_by_kid.get(kid)
    if not trusted:
        return _verdict(Reason.UNKNOWN_KEY, f"kid {kid.hex()} is not in bundle {content.seq}", t, kid=kid)
    alg = algorithm_from_label(alg_value)  # both readers accept only a supported alg
    signer = None
    failure = "signature does not verify"
    for candidate in trusted:
        key = candidate.key
        if key.alg is not alg:  # the algorithm comes from the key, never from the message
            failure = f"message says {alg.label} but the key is {key.alg.label}"
            continue
        try:
            key.verify(signature, tbs)
        except SchemeError as exc:
            failure = exc.message
            continue
        signer = candidate
        break
    if signer is None:
        return _verdict(Reason.BAD_SIGNATURE, failure, t, kid=kid)
    try:
        claims = decode_claims(payload)
    except SchemeError as exc:
        return _verdict(Reason.MALFORMED, exc.message, t, kid=kid)

    # Failures pass claims, kid (and the zone once known) positionally: no keyword dict per scan.
    if claims.iss != content.iss:
        return _verdict(Reason.UNKNOWN_KEY, f"issuer {claims.iss!r} is not {content.iss!r}", t, claims, kid)
    entry = signer.entry
    if claims.iat < entry.not_before or (entry.not_after is not None and claims.iat >= entry.not_after):
        return _verdict(Reason.KEY_NOT_AUTHORISED, "key was not valid when the pass was signed", t, claims, kid)
    if entry.zones is not None and not set(claims.zones) <= set(entry.zones):
        return _verdict(Reason.KEY_NOT_AUTHORISED, "key may not sign for these zones", t, claims, kid)
    checkpoint = bundle.zones_by_code.get(zone)
    if (
        checkpoint is not None
        and checkpoint.restriction  # falsy for most zones: nothing more is done for them
        and t <= content.issued_at + content.max_age
        and device_now + skew >= floor
        and (not checkpoint.closures or checkpoint.closure_at(t) is None)
    ):
        local = local_from_epoch(t, checkpoint.tz)
        if not _inside(checkpoint.restriction, local, bundle.holiday_dates):
            # Before REVOKED/EXPIRED: at the barrier the question is whether this vehicle may
            # enter now, and outside the restriction anyone may (ADR 0007).
            return _verdict(
                Reason.NOT_RESTRICTED, f"restriction not in force; local time {local:%a %H:%M}", t,
                claims=claims, kid=kid, zone=checkpoint,
            )
    if revocation_hash(claims.iss, claims.cti) in bundle.revoked_set:
        return _verdict(Reason.REVOKED, f"serial {claims.serial} is revoked", t, claims, kid)
    if t >= claims.exp + skew:
        return _verdict(Reason.EXPIRED, f"expired at {claims.exp}", t, claims, kid)
    if t < claims.nbf - skew:
        return _verdict(Reason.NOT_YET_VALID, f"valid from {claims.nbf}", t, claims, kid)

    if checkpoint is None:
        return _verdict(Reason.UNKNOWN_ZONE, f"zone {zone!r} is not in bundle {content.seq}", t, claims, kid)
    if checkpoint.ref not in claims.zones:
        return _verdict(Reason.WRONG_ZONE, f"pass is for zone refs {list(claims.zones)}", t, claims, kid, checkpoint)
    closure = checkpoint.closure_at(t) if checkpoint.closures else None
    if closure is not None:
        return _verdict(Reason.ZONE_CLOSED, closure.reason, t, claims, kid, checkpoint)
    if plate is not None and plate != claims.plate and loose_key(plate) != loose_key(claims.plate):
        return _verdict(Reason.PLATE_MISMATCH, f"pass is for {claims.plate}", t, claims, kid, checkpoint)
    if t > content.issued_at + content.max_age:
        age = t - content.issued_at
        detail = f"bundle is {age} s old (max {content.max_age} s)"
        return _verdict(Reason.STALE_BUNDLE, detail, t, claims, kid, checkpoint)
    if device_now + skew < floor:
        detail = f"device clock is {floor - device_now} s behind"
        return _verdict(Reason.CLOCK_SUSPECT, detail, t, claims, kid, checkpoint)
    if checkpoint.valid_from is not None and t < checkpoint.valid_from:
        return _verdict(Reason.OUTSIDE_HOURS, "zone not yet in force", t, claims, kid, checkpoint)
    if checkpoint.valid_until is not None and t >= checkpoint.valid_until:
        return _verdict(Reason.OUTSIDE_HOURS, "zone no longer in force", t, claims, kid, checkpoint)
    if checkpoint.windows or claims.windows:
        local = local_from_epoch(t, checkpoint.tz)
        holidays = bundle.holiday_dates
        if checkpoint.windows and not _inside(checkpoint.windows, local, holidays):
            detail = f"zone hours; local time {local:%a %H:%M}"
            return _verdict(Reason.OUTSIDE_HOURS, detail, t, claims, kid, checkpoint)
        if claims.windows and not _inside(claims.windows, local):
            detail = f"pass hours; local time {local:%a %H:%M}"
            return _verdict(Reason.OUTSIDE_HOURS, detail, t, claims, kid, checkpoint)
    return _valid(t, claims, checkpoint, kid)


def _inside(windows: tuple[TimeWindow, ...], local: datetime, holidays: Container[date] = ()) -> bool:
    # any(generator) costs more than the check itself for one or two windows
    for window in windows:
        if window.contains_local(local, holidays):
            return True
    return False
