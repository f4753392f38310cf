"""The real pass signer: one keystore per authority under the keys directory (`keys/<issuer>/`)."""

from __future__ import annotations

from pathlib import Path

from cirqliz.clock import Clock, to_epoch
from cirqliz.domain.errors import DomainError
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.signer import ClaimsInput, SignedPass
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.token import sign_pass


class KeyStoreSigner:
    """Signs with the newest published key of the issuer's keystore."""

    def __init__(self, keys_root: str | Path, *, clock: Clock | None = None) -> None:
        self.keys_root = Path(keys_root)
        self.clock = clock

    def keystore(self, issuer: str) -> KeyStore:
        """The keystore of an issuer (DomainError if it has none)."""
        path = self.keys_root / issuer
        try:
            return KeyStore(path, clock=self.clock)
        except SchemeError as exc:
            raise DomainError(
                f"l'autorité {issuer!r} n'a pas encore de clés de signature "
                f"(cirqliz keys init --dir {path} --issuer {issuer})",
                code="no_keys",
            ) from exc

    def sign(self, *, claims_input: ClaimsInput) -> SignedPass:
        """Sign the claims; DomainError when no key may sign yet."""
        store = self.keystore(claims_input.issuer)
        try:
            key = store.signing_key(claims_input.zone_refs)
        except SchemeError as exc:
            raise DomainError(f"signature impossible : {exc.message}", code=exc.code) from exc
        claims = PassClaims(
            iss=claims_input.issuer,
            iat=to_epoch(claims_input.issued_at),
            nbf=to_epoch(claims_input.not_before),
            exp=to_epoch(claims_input.expires_at),
            cti=claims_input.serial,
            zones=tuple(claims_input.zone_refs),
            plate=claims_input.plate,
            purpose=int(claims_input.purpose),
            windows=tuple(claims_input.windows),
            zone_data_version=claims_input.zone_data_version,
        )
        return SignedPass(sign_pass(claims, key), key.kid.hex(), claims_input.serial)
