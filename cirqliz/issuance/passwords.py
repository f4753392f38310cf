"""Password hashing with Argon2id (argon2-cffi defaults, RFC 9106 second recommended option)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cirqliz.domain.errors import DomainError

MIN_LENGTH = 10
_hasher = PasswordHasher()


def check_password_policy(password: str) -> None:
    """Refuse passwords a person should not use (DomainError with the reason)."""
    if len(password) < MIN_LENGTH:
        raise DomainError(f"mot de passe trop court : {MIN_LENGTH} caractères au moins", code="weak_password")
    if password.isdigit() or password.isalpha():
        raise DomainError("mot de passe trop simple : mêlez lettres et chiffres", code="weak_password")


def hash_password(password: str) -> str:
    """Argon2id hash of a password that passes the policy."""
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; False for a missing or malformed hash."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with older parameters."""
    return _hasher.check_needs_rehash(password_hash)
