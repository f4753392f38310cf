"""Device cookies (OWASP "Slow down online guessing attacks with device cookies"): a browser where an
account signed in successfully is a trusted device of that account.

A sign-in from a trusted device is not held back by the per-account lock-out of untrusted attempts
(that lock-out is what anyone knowing an e-mail address could trigger on purpose); it has its own
limit per device cookie instead, after which the cookie is ignored. See docs/adr/0010-device-cookies.md.

The cookie holds, for up to DEVICE_TOKENS accounts, `nonce.expiry.mac` where mac is an HMAC of the
normalised e-mail, the nonce and the expiry under a key derived from the application's secret: the
address is not in it, it proves nothing for another address, and nothing is stored on the server
except the failure counters of each nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from litestar import Request, Response

from cirqliz.clock import to_epoch
from cirqliz.settings import Settings

DEVICE_COOKIE = "cirqliz_device"
DEVICE_COOKIE_PATH = "/connexion"
"""Only the sign-in form and its submission need it."""
DEVICE_COOKIE_DAYS = 365
DEVICE_TOKENS = 5
"""Accounts one browser is trusted for (a shared desk computer); the most recent ones are kept."""
_SEPARATOR = "~"
_TOKEN = re.compile(r"(?P<nonce>[A-Za-z0-9_-]{22})\.(?P<expires>[0-9]{1,12})\.(?P<mac>[A-Za-z0-9_-]{43})")


def _key(settings: Settings) -> bytes:
    # A key of its own, derived from the one configured secret (as the session and CSRF keys are).
    return hashlib.sha256(f"device-cookie:{settings.secret_key}".encode()).digest()


def _normalise(email: str) -> str:
    return email.strip().lower()


def _mac(settings: Settings, email: str, nonce: str, expires: int) -> str:
    digest = hmac.new(_key(settings), f"{_normalise(email)}|{nonce}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _tokens(value: str | None) -> list[re.Match[str]]:
    """The well-formed tokens of a cookie value (at most DEVICE_TOKENS, the rest is ignored)."""
    found = []
    for part in (value or "").split(_SEPARATOR)[:DEVICE_TOKENS]:
        match = _TOKEN.fullmatch(part)
        if match:
            found.append(match)
    return found


def _valid_for(settings: Settings, token: re.Match[str], email: str, now: int) -> bool:
    expires = int(token["expires"])
    return expires > now and hmac.compare_digest(token["mac"], _mac(settings, email, token["nonce"], expires))


def trusted_device(request: Request, email: str, now: datetime) -> str | None:
    """The nonce of the request's device cookie for `email` when it holds a valid, unexpired one; else None.

    Pure computation (no store, no database): the same work whether the address has an account or not."""
    settings: Settings = request.app.state.settings
    moment = to_epoch(now)
    for token in _tokens(request.cookies.get(DEVICE_COOKIE)):
        if _valid_for(settings, token, email, moment):
            return token["nonce"]
    return None


def remember_device(request: Request, response: Response, email: str, now: datetime) -> None:
    """Set on `response` a device cookie trusted for `email` (a new nonce: a fresh failure count),
    keeping this browser's unexpired tokens for other accounts. Only after a proof of the account
    (a successful sign-in, a password reset link), never after a failure: it tells nothing about
    whether an address has an account."""
    settings: Settings = request.app.state.settings
    moment = to_epoch(now)
    expires = moment + DEVICE_COOKIE_DAYS * 86400
    nonce = secrets.token_urlsafe(16)
    tokens = [f"{nonce}.{expires}.{_mac(settings, email, nonce, expires)}"]
    for token in _tokens(request.cookies.get(DEVICE_COOKIE)):
        if int(token["expires"]) > moment and not _valid_for(settings, token, email, moment):
            tokens.append(token[0])
    response.set_cookie(DEVICE_COOKIE, _SEPARATOR.join(tokens[:DEVICE_TOKENS]), max_age=DEVICE_COOKIE_DAYS * 86400,
                        path=DEVICE_COOKIE_PATH, httponly=True, samesite="lax",
                        secure=settings.env == "production")  # as the session cookie (web/app.py)
