"""Typed errors of the scheme. Each names what is wrong with a stable `code`."""

from __future__ import annotations


class SchemeError(ValueError):
    """Base class: `code` is stable and machine-readable, the message says what is wrong."""

    code = "scheme_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class MalformedError(SchemeError):
    """The input is not a well-formed pass, COSE message or bundle (bad prefix, Base45, CBOR…)."""

    code = "malformed"


class UnsupportedError(MalformedError):
    """Well formed, but uses something this profile refuses (algorithm, message type, crit)."""

    code = "unsupported"


class SignatureError(SchemeError):
    """The signature does not verify with the key (or the header's alg disagrees with the key)."""

    code = "bad_signature"


class UnknownKeyError(SchemeError):
    """No trusted key has this kid."""

    code = "unknown_key"


class BundleError(SchemeError):
    """A trust bundle was refused: bad signature, rollback, wrong base for a delta, malformed."""

    code = "bundle_refused"


class KeyStoreError(SchemeError):
    """Key files are missing, unreadable, or in a state that forbids the operation."""

    code = "keystore"
