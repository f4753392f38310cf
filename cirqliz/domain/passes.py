"""Passes: status life cycle, serials, and low-emission-zone exemptions."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from enum import StrEnum

from cirqliz.domain.errors import DomainError, TransitionError
from cirqliz.domain.windows import to_local

SERIAL_BYTES = 8
SERIAL_HEX = re.compile(r"^[0-9A-F]{16}$")


class PassStatus(StrEnum):
    """Where a pass stands."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


PASS_TRANSITIONS: frozenset[tuple[PassStatus, PassStatus]] = frozenset(
    {
        (PassStatus.ACTIVE, PassStatus.SUSPENDED),
        (PassStatus.SUSPENDED, PassStatus.ACTIVE),
        (PassStatus.ACTIVE, PassStatus.REVOKED),
        (PassStatus.SUSPENDED, PassStatus.REVOKED),
        (PassStatus.ACTIVE, PassStatus.EXPIRED),
        (PassStatus.SUSPENDED, PassStatus.EXPIRED),
    }
)


def check_pass_transition(current: str, target: str) -> PassStatus:
    """The target status if allowed from `current`, else TransitionError."""
    source, goal = PassStatus(current), PassStatus(target)
    if (source, goal) not in PASS_TRANSITIONS:
        from cirqliz.labels import PASS_STATUS_FR  # the table imports this module

        raise TransitionError(
            f"un laissez-passer « {PASS_STATUS_FR[source]} » ne peut pas passer à « {PASS_STATUS_FR[goal]} »",
            code="illegal_pass_transition",
        )
    return goal


def new_serial() -> bytes:
    """Eight random bytes: the pass serial (CWT `cti`) and its revocation key."""
    return secrets.token_bytes(SERIAL_BYTES)


def serial_hex(serial: bytes) -> str:
    """Upper-case hex form of a serial, as stored and printed on passes."""
    if len(serial) != SERIAL_BYTES:
        raise DomainError("numéro de laissez-passer invalide (8 octets attendus)",
                          code="invalid_serial")
    return serial.hex().upper()


def parse_serial(text: str) -> str:
    """A serial as typed or scanned, in its stored form (16 upper-case hex digits)."""
    value = text.strip().replace(" ", "").upper()
    if not SERIAL_HEX.match(value):
        raise DomainError(f"numéro de laissez-passer illisible : {text!r} (16 caractères "
                          "hexadécimaux)", code="invalid_serial")
    return value


def pass_days(not_before: datetime, expires_at: datetime, tz: str) -> set[date]:
    """The local days a validity period touches (what day-pass quotas count)."""
    if expires_at <= not_before:
        return set()
    first = to_local(not_before, tz).date()
    # The end is exclusive: a pass ending at midnight does not use the next day.
    last = to_local(expires_at - timedelta(microseconds=1), tz).date()
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


class ExemptionKind(StrEnum):
    """Low-emission-zone exemption ("dérogation") kinds (CGCT art. L2213-4-1 and R2213-1-0-1;
    national cases: décret n° 2020-1138 du 16 septembre 2020)."""

    NATIONAL = "national"
    LOCAL = "local"
    DAY_PASS = "day_pass"  # noqa: S105 (not a secret)

    @property
    def label_fr(self) -> str:
        """French label shown to people (cirqliz.labels)."""
        from cirqliz.labels import EXEMPTION_KIND_FR  # the table imports this module

        return EXEMPTION_KIND_FR[self]
