"""The real pass signer: one keystore per authority under the keys directory (`keys/<issuer>/`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cirqliz.clock import Clock, to_epoch
from cirqliz.domain.errors import DomainError
from cirqliz.issuance.keystore import KEYRING, KeyStore, authority_keys_folder, check_private_mode, passphrase
from cirqliz.issuance.signer import ClaimsInput, SignedPass
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.errors import KeyStoreError, SchemeError
from cirqliz.passcode.keys import SigningKey
from cirqliz.passcode.token import sign_pass

SIGNING_REFUSALS_FR = {
    "no_signing_key": "aucune clé de signature n'est utilisable : publiez un paquet de confiance "
                      "(cirqliz bundle build) ou créez une nouvelle clé (cirqliz keys rotate)",
    "no_key_for_zones": "aucune clé de signature active n'est autorisée pour toutes les zones de ce "
                        "laissez-passer : créez-en une (cirqliz keys rotate) puis publiez un paquet de confiance",
    "key_permissions": "la clé privée de signature est lisible par d'autres que son propriétaire : elle n'est "
                       "pas utilisée (chmod 600 sur le fichier, et vérifiez qui a pu la copier)",
    "missing_key": "le fichier de la clé privée de signature manque dans le dossier des clés",
    "bad_passphrase": "la clé privée de signature ne s'ouvre pas (phrase de passe CIRQLIZ_KEY_PASSPHRASE)",
}
"""What a reviewer reads when a pass cannot be signed (the keystore's own messages are for the CLI)."""


class KeyStoreSigner:
    """Signs with the newest published key of the issuer's keystore."""

    def __init__(self, keys_root: str | Path, *, clock: Clock | None = None) -> None:
        self.keys_root = Path(keys_root)
        self.clock = clock
        # Loading a keyring and a private key costs far more than signing (a passphrase-protected
        # key runs a KDF): both are kept, the keyring while its bytes are unchanged (a rotation,
        # withdrawal or publication rewrites it), a private key by (file, passphrase).
        self._keyrings: dict[Path, tuple[bytes, KeyStore]] = {}
        self._private: dict[tuple[Path, bytes], SigningKey] = {}

    def keystore(self, issuer: str) -> KeyStore:
        """The keystore of an issuer (DomainError if it has none, or if `issuer` is not a plain name)."""
        try:
            path = authority_keys_folder(self.keys_root, issuer)
        except SchemeError as exc:
            raise DomainError("code d'autorité invalide pour un dossier de clés", code=exc.code) from exc
        try:
            return KeyStore(path, clock=self.clock)
        except SchemeError as exc:
            raise DomainError(
                f"l'autorité {issuer!r} n'a pas encore de clés de signature "
                f"(cirqliz keys init --dir {path} --issuer {issuer})",
                code="no_keys",
            ) from exc

    def _current_keystore(self, issuer: str) -> KeyStore:
        """The issuer's keystore, parsed again only when its keyring file changed."""
        try:
            path = authority_keys_folder(self.keys_root, issuer)
            data = (path / KEYRING).read_bytes()
        except (SchemeError, OSError):
            return self.keystore(issuer)  # its typed errors
        cached = self._keyrings.get(path)
        if cached is not None and cached[0] == data:
            return cached[1]
        store = self.keystore(issuer)
        self._keyrings[path] = (data, store)
        return store

    def _private_key(self, store: KeyStore, kid: str) -> SigningKey:
        """A signing key, loaded once; its file is still checked (present, owner-only) at each use."""
        file = store.path / "private" / f"{kid}.pem"
        try:
            check_private_mode(file)
        except FileNotFoundError as exc:
            raise KeyStoreError(f"la clé privée {kid} manque dans {file.parent}", code="missing_key") from exc
        secret = passphrase()
        cache_key = (file, hashlib.sha256(secret or b"").digest())
        key = self._private.get(cache_key)
        if key is None:
            key = self._private[cache_key] = store.load_private(kid)
        return key

    def forget_keys(self) -> None:
        """Drop every cached keyring and private key (e.g. after restoring a keys folder)."""
        self._keyrings.clear()
        self._private.clear()

    def key_for(self, issuer: str, zone_refs: tuple[int, ...]) -> SigningKey:
        """The key that signs for `issuer` and these zones now; DomainError when none may."""
        store = self._current_keystore(issuer)
        try:
            return self._private_key(store, store.signing_entry(zone_refs).kid)
        except SchemeError as exc:
            reason = SIGNING_REFUSALS_FR.get(exc.code or "", exc.message)
            raise DomainError(f"signature impossible : {reason}", code=exc.code) from exc

    def sign(self, *, claims_input: ClaimsInput) -> SignedPass:
        """Sign the claims; DomainError when no key may sign yet."""
        return sign_with(self.key_for(claims_input.issuer, tuple(claims_input.zone_refs)), claims_input)

    def for_batch(self) -> BatchSigner:
        """A signer for one batch of passes (one transaction): the keyring and the key's file are
        checked at the batch's first pass for an issuer and zones, not at every pass."""
        return BatchSigner(self)


class BatchSigner:
    """KeyStoreSigner.sign with the key chosen once per (issuer, zones) of a batch."""

    def __init__(self, signer: KeyStoreSigner) -> None:
        self._signer = signer
        self._keys: dict[tuple[str, tuple[int, ...]], SigningKey] = {}

    def sign(self, *, claims_input: ClaimsInput) -> SignedPass:
        """Sign the claims; DomainError when no key may sign."""
        wanted = (claims_input.issuer, tuple(claims_input.zone_refs))
        key = self._keys.get(wanted)
        if key is None:
            key = self._keys[wanted] = self._signer.key_for(*wanted)
        return sign_with(key, claims_input)


def sign_with(key: SigningKey, claims_input: ClaimsInput) -> SignedPass:
    """The pass of `claims_input` signed with `key`."""
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
