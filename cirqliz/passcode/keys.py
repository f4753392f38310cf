"""Signing and verification keys: ES256 (P-256, the default) and Ed25519.

`kid` = first 8 bytes of SHA-256 of the public key's SubjectPublicKeyInfo DER, so anyone holding
the public key can recompute it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cirqliz.passcode.errors import SignatureError, UnsupportedError

PublicKeyType = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKeyType = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Algorithm(IntEnum):
    """COSE algorithm identifiers this profile accepts (IANA COSE Algorithms registry)."""

    ES256 = -7
    EDDSA = -8

    @property
    def label(self) -> str:
        """Name as written in docs and CLI output."""
        return "ES256" if self is Algorithm.ES256 else "EdDSA"


# Known COSE algorithms that this profile refuses, named so the refusal says which one.
OTHER_ALGORITHMS = {
    -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512", -47: "ES256K",
    -257: "RS256", -258: "RS384", -259: "RS512", 4: "HMAC 256/64", 5: "HMAC 256/256",
}
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


_BY_LABEL = {int(a): a for a in Algorithm}


def algorithm_from_label(label: object) -> Algorithm:
    """The Algorithm for a COSE `alg` value; UnsupportedError naming it otherwise."""
    if type(label) is int:
        alg = _BY_LABEL.get(label)  # a dict lookup is faster than Algorithm(label) in the verify path
        if alg is not None:
            return alg
        try:
            return Algorithm(label)
        except ValueError:
            name = OTHER_ALGORITHMS.get(label, f"algorithme {label}")
            raise UnsupportedError(f"algorithme non pris en charge : {name}", code="unsupported_alg") from None
    raise UnsupportedError(f"algorithme non pris en charge : {label!r}", code="unsupported_alg")


def algorithm_from_name(name: str) -> Algorithm:
    """'ES256' or 'EdDSA'/'Ed25519' (any case) to an Algorithm."""
    lowered = name.lower()
    if lowered == "es256":
        return Algorithm.ES256
    if lowered in ("eddsa", "ed25519"):
        return Algorithm.EDDSA
    raise UnsupportedError(f"algorithme non pris en charge : {name}", code="unsupported_alg")


def spki_der(public: PublicKeyType) -> bytes:
    """SubjectPublicKeyInfo DER of a public key."""
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_for(public: PublicKeyType) -> bytes:
    """The key identifier: first 8 bytes of SHA-256 of the SPKI DER."""
    return hashlib.sha256(spki_der(public)).digest()[:8]


def _algorithm_of(public: object) -> Algorithm:
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1):
            raise UnsupportedError(f"courbe elliptique non prise en charge : {public.curve.name}",
                                   code="unsupported_alg")
        return Algorithm.ES256
    if isinstance(public, ed25519.Ed25519PublicKey):
        return Algorithm.EDDSA
    raise UnsupportedError(f"type de clé non pris en charge : {type(public).__name__}", code="unsupported_alg")


def _der_integer(value: bytes) -> bytes:
    # DER INTEGER of an unsigned big-endian number: no leading zero bytes except one that keeps
    # the sign bit clear (and a single zero for 0).
    if value[0]:  # the usual case: 32 significant bytes, a 0x00 in front when the top bit is set
        return (b"\x02\x21\x00" if value[0] & 0x80 else b"\x02\x20") + value
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return bytes((0x02, len(value))) + value


# DER heads of the usual signature (r and s with 32 significant bytes each), indexed by their top
# bits: SEQUENCE and INTEGER r heads by r0 >> 7 << 1 | s0 >> 7, INTEGER s head by s0 >> 7.
_DER_SEQ_R = (b"\x30\x44\x02\x20", b"\x30\x45\x02\x20", b"\x30\x45\x02\x21\x00", b"\x30\x46\x02\x21\x00")
_DER_INT_S = (b"\x02\x20", b"\x02\x21\x00")


def raw_to_der(signature: bytes) -> bytes:
    """The DER (SEQUENCE of two INTEGERs) form of a raw 64-byte ES256 signature r‖s.

    Same bytes as cryptography's encode_dss_signature(r, s), built without converting to Python
    ints and back (it runs on every verify; tests compare the two).
    """
    r0, s0 = signature[0], signature[32]
    if r0 and s0:  # the usual case: 32 significant bytes each, heads from the tables
        s7 = s0 >> 7
        return b"".join((_DER_SEQ_R[r0 >> 7 << 1 | s7], signature[:32], _DER_INT_S[s7], signature[32:]))
    body = _der_integer(signature[:32]) + _der_integer(signature[32:])
    return bytes((0x30, len(body))) + body


_raw_to_der = raw_to_der  # the former private name


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """A public key with its kid and algorithm; `verify` checks a raw COSE signature."""

    kid: bytes
    alg: Algorithm
    public: PublicKeyType = field(repr=False)

    @classmethod
    def from_public(cls, public: PublicKeyType, kid: bytes | None = None) -> VerifyKey:
        """Wrap a cryptography public key (kid derived unless given)."""
        return cls(kid if kid is not None else kid_for(public), _algorithm_of(public), public)

    @classmethod
    def from_spki(cls, der: bytes, kid: bytes | None = None) -> VerifyKey:
        """Load from SubjectPublicKeyInfo DER."""
        try:
            public = serialization.load_der_public_key(der)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # its text is English: kept as the cause
            raise UnsupportedError("clé publique illisible (DER SubjectPublicKeyInfo attendu)", code="bad_key") from exc
        return cls.from_public(public, kid)  # type: ignore[arg-type]

    @classmethod
    def from_pem(cls, pem: bytes, kid: bytes | None = None) -> VerifyKey:
        """Load from a PEM public key."""
        try:
            public = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # its text is English: kept as the cause
            raise UnsupportedError("clé publique illisible (PEM attendu)", code="bad_key") from exc
        return cls.from_public(public, kid)  # type: ignore[arg-type]

    def spki(self) -> bytes:
        """SubjectPublicKeyInfo DER."""
        return spki_der(self.public)

    def pem(self) -> bytes:
        """PEM of the public key."""
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check a raw signature (r‖s for ES256); SignatureError if it does not verify."""
        if len(signature) != 64:
            raise SignatureError(
                f"signature de {len(signature)} octets au lieu de 64", code="bad_signature_length"
            )
        try:
            if self.alg is Algorithm.ES256:
                self.public.verify(raw_to_der(signature), data, ECDSA_SHA256)  # type: ignore[call-arg]
            else:
                self.public.verify(signature, data)  # type: ignore[call-arg]
        except InvalidSignature:
            raise SignatureError("signature invalide", code="bad_signature") from None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key with its kid and algorithm; `sign` returns a raw COSE signature."""

    kid: bytes
    alg: Algorithm
    private: PrivateKeyType = field(repr=False)

    @classmethod
    def from_private(cls, private: PrivateKeyType) -> SigningKey:
        """Wrap a cryptography private key."""
        public = private.public_key()
        return cls(kid_for(public), _algorithm_of(public), private)

    @classmethod
    def generate(cls, alg: Algorithm = Algorithm.ES256) -> SigningKey:
        """A new random key."""
        if alg is Algorithm.ES256:
            return cls.from_private(ec.generate_private_key(ec.SECP256R1()))
        return cls.from_private(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> SigningKey:
        """Load a PKCS#8 PEM private key (encrypted when a passphrase is given)."""
        private = serialization.load_pem_private_key(pem, password=passphrase)
        if not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise UnsupportedError("type de clé privée non pris en charge", code="unsupported_alg")
        return cls.from_private(private)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted with the passphrase when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def verify_key(self) -> VerifyKey:
        """The matching public key."""
        return VerifyKey(self.kid, self.alg, self.private.public_key())

    def sign(self, data: bytes) -> bytes:
        """Raw signature over `data`: 64 bytes (r‖s for ES256)."""
        if self.alg is Algorithm.ES256:
            der = self.private.sign(data, ECDSA_SHA256)  # type: ignore[call-arg]
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data)  # type: ignore[call-arg]
