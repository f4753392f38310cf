"""The authority's keys on disk, and the trust bundles built from them.

Layout of the keys directory (git-ignored, private files mode 0600, directory 0700):

    keyring.json          issuer, root kid, signing keys with their status, last bundle seq
    private/<kid>.pem     PKCS#8 private keys (encrypted when CIRQLIZ_KEY_PASSPHRASE is set)
    public/<kid>.pem      public keys, named by kid
    bundles/<seq>.cose    every full bundle published (deltas are built from these)

A rotated key is *pending* until a bundle that contains it has been built: only then may it sign,
so verifiers always know a key before they meet a pass signed with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cirqliz.clock import Clock, SystemClock
from cirqliz.domain.holidays import holidays_between
from cirqliz.domain.windows import day_number
from cirqliz.passcode.bundle import (
    BundleContent,
    BundleKey,
    BundlePartner,
    BundleZone,
    TrustBundle,
    open_bundle,
    revocation_hash,
    sign_bundle,
    sign_delta,
    sorted_revocations,
)
from cirqliz.passcode.errors import KeyStoreError, SchemeError
from cirqliz.passcode.keys import Algorithm, SigningKey, VerifyKey

PASSPHRASE_ENV = "CIRQLIZ_KEY_PASSPHRASE"  # noqa: S105 (the name of a variable, not a secret)
KEYRING = "keyring.json"
# An authority's keys live in <keys root>/<code>: a code is one plain folder name, never a path.
_FOLDER_NAME = re.compile(r"\w[\w.-]{0,63}")


def authority_keys_folder(keys_root: str | Path, code: str) -> Path:
    """The keys folder of the authority `code` under `keys_root`; KeyStoreError when `code` is not a
    plain folder name (a separator, `..`, an absolute path would leave the keys root)."""
    if not isinstance(code, str) or not _FOLDER_NAME.fullmatch(code) or ".." in code:
        raise KeyStoreError("un code d'autorité est un simple nom de dossier (lettres, chiffres, - _ .)",
                            code="bad_authority_code")
    return Path(keys_root) / code


@dataclass
class KeyEntry:
    """One signing key as the keyring records it."""

    kid: str
    alg: str
    created_at: int
    published_seq: int | None = None
    withdrawn_at: int | None = None
    zones: list[int] | None = None

    @property
    def status(self) -> str:
        """'pending' (not yet in a bundle), 'active' or 'withdrawn'."""
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "active" if self.published_seq is not None else "pending"


def passphrase() -> bytes | None:
    """The private keys' passphrase (CIRQLIZ_KEY_PASSPHRASE), None when unset."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def check_private_mode(file: Path) -> None:
    """Refuse a private key that others than its owner may read or write (a leaked copy cannot be recalled)."""
    if os.name != "posix":
        return
    mode = file.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyStoreError(
            f"la clé privée {file} est lisible ou modifiable par le groupe ou les autres (mode {mode:04o}) : "
            f"elle n'est pas utilisée ; lancez `chmod 600 {file}` et vérifiez qui a pu la copier",
            code="key_permissions",
        )


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class KeyStore:
    """The keys directory of one authority (see module docstring)."""

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        ring = self.path / KEYRING
        if not ring.exists():
            raise KeyStoreError(f"pas de trousseau de clés dans {self.path} : lancez d'abord `cirqliz keys init`",
                                code="no_keyring")
        try:
            data = json.loads(ring.read_text())
            self.issuer: str = data["issuer"]
            self.root_kid: str = data["root"]
            self.last_seq: int = data["last_seq"]
            self.keys = [KeyEntry(**entry) for entry in data["signing"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"le trousseau de clés {ring} est illisible", code="bad_keyring") from exc

    # ---- creation --------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        issuer: str,
        alg: Algorithm = Algorithm.ES256,
        clock: Clock | None = None,
    ) -> KeyStore:
        """Create the root key and a first (pending) signing key; refuses an existing keyring."""
        path = Path(path)
        clock = clock or SystemClock()
        if (path / KEYRING).exists():
            raise KeyStoreError(f"{path} contient déjà un trousseau de clés : il n'est pas remplacé", code="exists")
        if not issuer or len(issuer) > 64:
            raise KeyStoreError("l'émetteur doit avoir de 1 à 64 caractères", code="bad_issuer")
        for sub in ("", "private", "public", "bundles"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(path / "private", 0o700)
        root = SigningKey.generate(Algorithm.ES256)
        cls._store_key(path, root)
        first = SigningKey.generate(alg)
        cls._store_key(path, first)
        now = int(clock.now().timestamp())
        ring = {
            "issuer": issuer,
            "root": root.kid.hex(),
            "last_seq": 0,
            "signing": [asdict(KeyEntry(first.kid.hex(), alg.label, now))],
        }
        _write_atomic(path / KEYRING, json.dumps(ring, indent=2).encode())
        return cls(path, clock=clock)

    @staticmethod
    def _store_key(path: Path, key: SigningKey) -> None:
        _write_private(path / "private" / f"{key.kid.hex()}.pem", key.to_pem(passphrase()))
        _write_atomic(path / "public" / f"{key.kid.hex()}.pem", key.verify_key().pem())

    def _save(self) -> None:
        ring = {
            "issuer": self.issuer,
            "root": self.root_kid,
            "last_seq": self.last_seq,
            "signing": [asdict(k) for k in self.keys],
        }
        _write_atomic(self.path / KEYRING, json.dumps(ring, indent=2).encode())

    # ---- keys ------------------------------------------------------------------------------

    def _load_private(self, kid: str) -> SigningKey:
        return self.load_private(kid)

    def load_private(self, kid: str) -> SigningKey:
        """A private key of this keystore, checked (owner-only file) and decrypted."""
        file = self.path / "private" / f"{kid}.pem"
        if file.exists():
            check_private_mode(file)
        try:
            return SigningKey.from_pem(file.read_bytes(), passphrase())
        except FileNotFoundError as exc:
            raise KeyStoreError(f"la clé privée {kid} manque dans {file.parent}", code="missing_key") from exc
        except (TypeError, ValueError) as exc:
            raise KeyStoreError(
                f"impossible d'ouvrir la clé privée {kid} : phrase secrète fausse ou absente ({PASSPHRASE_ENV}) ?",
                code="bad_passphrase",
            ) from exc

    def root_key(self) -> SigningKey:
        """The root key that signs bundles."""
        return self._load_private(self.root_kid)

    def root_public(self) -> VerifyKey:
        """The root public key verifiers pin."""
        return VerifyKey.from_pem((self.path / "public" / f"{self.root_kid}.pem").read_bytes())

    def entry(self, kid: str) -> KeyEntry:
        """The keyring entry of a signing key (kid as hex)."""
        for key in self.keys:
            if key.kid == kid.lower():
                return key
        raise KeyStoreError(f"pas de clé de signature {kid} dans ce trousseau", code="unknown_kid")

    def rotate(self, alg: Algorithm = Algorithm.ES256, zones: Iterable[int] | None = None) -> KeyEntry:
        """Add a signing key; it signs only once a built bundle contains it."""
        key = SigningKey.generate(alg)
        self._store_key(self.path, key)
        entry = KeyEntry(key.kid.hex(), alg.label, self._now(), zones=list(zones) if zones else None)
        self.keys.append(entry)
        self._save()
        return entry

    def withdraw(self, kid: str) -> KeyEntry:
        """Withdraw a signing key: the next bundle lists it as withdrawn and its passes fail."""
        entry = self.entry(kid)
        if entry.withdrawn_at is not None:
            raise KeyStoreError(f"la clé {kid} est déjà retirée", code="already_withdrawn")
        entry.withdrawn_at = self._now()
        self._save()
        return entry

    def signing_key(self, zones: Iterable[int] | None = None) -> SigningKey:
        """The newest published, not withdrawn signing key allowed to sign for every zone ref of `zones`.

        A key restricted to some zones (`rotate --zones`) never signs a pass for another zone:
        verifiers would refuse it (KEY_NOT_AUTHORISED), so an unrestricted older key signs it.
        """
        return self.load_private(self.signing_entry(zones).kid)

    def signing_entry(self, zones: Iterable[int] | None = None) -> KeyEntry:
        """The keyring entry of the key `signing_key` would load (KeyStoreError when none may sign)."""
        usable = [k for k in self.keys if k.status == "active"]
        if not usable:
            pending = any(k.status == "pending" for k in self.keys)
            hint = ("construisez et publiez d'abord un paquet de confiance (`cirqliz bundle build`)" if pending
                    else "créez une nouvelle clé (`cirqliz keys rotate`)")
            raise KeyStoreError(f"aucune clé de signature ne peut encore signer : {hint}", code="no_signing_key")
        if zones is not None:
            wanted = set(zones)
            usable = [k for k in usable if k.zones is None or wanted <= set(k.zones)]
            if not usable:
                raise KeyStoreError(
                    f"aucune clé de signature active ne peut signer pour les zones {sorted(wanted)} : "
                    "créez-en une (`cirqliz keys rotate`) et publiez un paquet de confiance",
                    code="no_key_for_zones",
                )
        return max(usable, key=lambda k: (k.published_seq, k.created_at))

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    # ---- bundles ---------------------------------------------------------------------------

    def build_bundle(
        self,
        *,
        zones: Iterable[BundleZone],
        revoked: Iterable[tuple[str, bytes]] = (),
        max_age: int = 3 * 86400,
        zone_data_version: int = 0,
        after_seq: int = 0,
        name: str = "",
        partners: Iterable[BundlePartner] = (),
        revoked_entries: bytes | None = None,
    ) -> tuple[bytes, BundleContent]:
        """Sign and store the next full bundle; pending keys become usable. Its seq follows both this
        keystore's last one and `after_seq` (the last seq published, as recorded elsewhere).
        `revoked_entries`, when given, is the revocation list already made (sorted_revocations of
        the revocation hashes), used instead of `revoked`.

        `name` is the authority's display name (B_NAME) and `partners` the partner authorities whose
        root keys the bundle lists (BundlePartner, sorted here by iss); both are left out when empty,
        so a bundle without them keeps its bytes."""
        now = self._now()
        seq = max(self.last_seq, after_seq) + 1
        year = datetime.fromtimestamp(now, UTC).year
        bundle_keys = tuple(
            BundleKey(
                kid=bytes.fromhex(k.kid),
                alg=Algorithm.ES256 if k.alg == "ES256" else Algorithm.EDDSA,
                spki=VerifyKey.from_pem((self.path / "public" / f"{k.kid}.pem").read_bytes()).spki(),
                not_before=k.created_at,
                zones=tuple(k.zones) if k.zones else None,
            )
            for k in self.keys
        )
        content = BundleContent(
            iss=self.issuer,
            seq=seq,
            issued_at=now,
            max_age=max_age,
            keys=bundle_keys,
            withdrawn=frozenset(bytes.fromhex(k.kid) for k in self.keys if k.withdrawn_at is not None),
            revoked=(revoked_entries if revoked_entries is not None
                     else sorted_revocations(revocation_hash(iss, cti) for iss, cti in revoked)),
            zones=tuple(sorted(zones, key=lambda z: z.ref)),
            holidays=tuple(sorted(day_number(d) for d in holidays_between(year - 1, year + 2))),
            zone_data_version=zone_data_version,
            name=name,
            partners=tuple(sorted(partners, key=lambda p: p.iss)),
        )
        data = sign_bundle(content, self.root_key())
        _write_atomic(self.path / "bundles" / f"{seq}.cose", data)
        for k in self.keys:
            if k.withdrawn_at is None and k.published_seq is None:
                k.published_seq = seq
        self.last_seq = seq
        self._save()
        return data, content

    def stored_bundle(self, seq: int) -> TrustBundle:
        """A bundle this keystore built earlier, checked again with the root key."""
        file = self.path / "bundles" / f"{seq}.cose"
        if not file.exists():
            raise KeyStoreError(f"pas de paquet de confiance n° {seq} enregistré", code="no_bundle")
        try:
            return open_bundle(file.read_bytes(), [self.root_public()])
        except SchemeError as exc:
            raise KeyStoreError(f"le paquet de confiance n° {seq} enregistré ne se vérifie pas ({exc.message})",
                                code="bad_bundle") from exc

    def latest_bundle(self) -> TrustBundle | None:
        """The last bundle built, or None."""
        return self.stored_bundle(self.last_seq) if self.last_seq else None

    def delta_since(self, base_seq: int) -> bytes:
        """A delta from stored bundle `base_seq` to the latest one, signed by the root key."""
        if base_seq >= self.last_seq:
            raise KeyStoreError(f"le n° {base_seq} n'est pas antérieur au dernier paquet (n° {self.last_seq})",
                                code="no_delta")
        base = self.stored_bundle(base_seq).content
        latest = self.stored_bundle(self.last_seq).content
        return sign_delta(base, latest, self.root_key())

    def describe(self) -> list[dict[str, Any]]:
        """Rows for `cirqliz keys list`."""
        rows = [{"kid": self.root_kid, "role": "root", "alg": "ES256", "status": "root", "published_seq": None}]
        rows += [
            {"kid": k.kid, "role": "signing", "alg": k.alg, "status": k.status, "published_seq": k.published_seq}
            for k in self.keys
        ]
        return rows
