"""The port through which issuance signs passes; the real signer lives in cirqliz.passcode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import TimeWindow


@dataclass(frozen=True, slots=True)
class ClaimsInput:
    """Everything a signed pass states (brief §4); the signer maps it to
    cirqliz.passcode.claims.PassClaims (epoch seconds, zone refs, windows without dates)."""

    issuer: str  # `iss`: the authority's code
    serial: bytes  # `cti`: 8 random bytes
    issued_at: datetime  # `iat`, aware UTC
    not_before: datetime  # `nbf`
    expires_at: datetime  # `exp`
    plate: str  # normalised (cirqliz.domain.plates)
    zone_refs: tuple[int, ...]
    purpose: Purpose
    windows: tuple[TimeWindow, ...] = ()  # empty: the zones' own hours
    zone_data_version: int = 0


class SignedPass(NamedTuple):
    """The signer's answer: the QR text, the key id used, and the serial it signed."""

    text: str
    kid: str
    serial: bytes


class PassSigner(Protocol):
    """Signs pass claims with the issuer's current key."""

    def sign(self, *, claims_input: ClaimsInput) -> SignedPass:
        """Return the signed text; must sign exactly `claims_input.serial`."""
        ...


def batch_signer(signer: PassSigner) -> PassSigner:
    """The signer for one batch of passes: `signer.for_batch()` when it has one (a signer that
    chooses and checks its key once per batch), else `signer` itself."""
    for_batch = getattr(signer, "for_batch", None)
    return for_batch() if callable(for_batch) else signer
