"""Public pages, sign-in and sign-out, health checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from cirqliz.issuance.accounts import check_credentials
from cirqliz.opendata.files import opendata_status
from cirqliz.ops.doctor import READY_CHECKS_FR, readiness_problems
from cirqliz.web.auth import (
    CurrentUser,
    home_for,
    new_session,
    retrieve_user_handler,
    sign_out_session,
    user_in_session,
)
from cirqliz.web.client import client_host
from cirqliz.web.deps import DB, ClockDep
from cirqliz.web.device_cookies import remember_device, trusted_device
from cirqliz.web.rendering import page, session_tag
from cirqliz.web.stores import count_hit

PUBLIC = {"exclude_from_auth": True}
LOGIN_ATTEMPTS = 5
"""Failed sign-ins per client address and account in LOGIN_WINDOW (untrusted attempts)."""
LOGIN_ATTEMPTS_PER_ACCOUNT = 10
"""Failed sign-ins per account, from any address, in LOGIN_WINDOW (untrusted attempts)."""
DEVICE_ATTEMPTS = 5
"""Failed sign-ins per device cookie in LOGIN_WINDOW; past them the cookie is ignored (web/device_cookies.py)."""
LOGIN_WINDOW = 15 * 60
TOO_MANY_ATTEMPTS = "Trop de tentatives : réessayez dans quelques minutes."


@dataclass
class LoginForm:
    """The sign-in form."""

    email: str
    password: str
    next: str = ""


def _safe_next(target: str) -> str:
    # Only local paths: never redirect to another site after sign-in.
    return target if target.startswith("/") and not target.startswith("//") else ""


@get("/", opt=PUBLIC, name="home")
async def home(request: Request) -> Template:
    """Landing page; a signed-in person is shown the way to their own space."""
    user = await _signed_in(request)
    return page(request, "home.html", own_space=home_for(user) if user else None)


async def _signed_in(request: Request) -> CurrentUser | None:
    # Public routes skip the authentication middleware: read the session here so that the page
    # (and its header) knows who is signed in.
    user = request.scope.get("user")
    if user is None and request.session:
        user = await retrieve_user_handler(request.session, request)
        request.scope["user"] = user
    return user


async def _legal(request: Request, template: str) -> Template:
    await _signed_in(request)
    settings = request.app.state.settings
    return page(request, template, operator=settings,
                retention={"checks": settings.retention_checks_days,
                           "rejected": settings.retention_rejected_applications_days})


@get("/mentions-legales", opt=PUBLIC, name="legal_notice")
async def legal_notice(request: Request) -> Template:
    """Legal notice (LCEN art. 6 III): operator, director of publication, host."""
    return await _legal(request, "legal/mentions.html")


@get("/accessibilite", opt=PUBLIC, name="accessibility_statement")
async def accessibility_statement(request: Request) -> Template:
    """Accessibility statement (loi n° 2005-102 art. 47, RGAA 4.1)."""
    return await _legal(request, "legal/accessibilite.html")


@get("/donnees-personnelles", opt=PUBLIC, name="personal_data")
async def personal_data(request: Request) -> Template:
    """What personal data the service keeps, why, how long, and the holder's rights (RGPD art. 13)."""
    return await _legal(request, "legal/donnees.html")


@get("/contact", opt=PUBLIC, name="contact")
async def contact(request: Request) -> Template:
    """Whom to write to."""
    return await _legal(request, "legal/contact.html")


_FAVICON = Path(__file__).parents[1] / "static" / "scanner" / "icon-192.png"


@get("/favicon.ico", opt=PUBLIC, name="favicon", cache=86400)
async def favicon() -> Response[bytes]:
    """The site icon where browsers look for it without a <link> (a PNG: every browser accepts it)."""
    return Response(_FAVICON.read_bytes(), media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})


@get("/connexion", opt=PUBLIC, name="login")
async def login_form(request: Request, next: FromQuery[str] = "") -> Template:
    """The sign-in form."""
    return page(request, "auth/login.html", next=_safe_next(next), error=None, email="")


def _attempt_keys(request: Request, email: str) -> tuple[str, str]:
    # Per client address and account, and per account alone: failures spread over many addresses
    # still lock the account for a while. The same for addresses without an account.
    return f"{client_host(request)}:{email}", f"account:{email}"


def _device_key(nonce: str) -> str:
    return f"device:{nonce}"


async def _too_many_attempts(request: Request, email: str) -> bool:
    store = request.app.stores.get("login_attempts")
    by_address, by_account = _attempt_keys(request, email)
    here, everywhere = await store.get(by_address), await store.get(by_account)
    return (here is not None and int(here) >= LOGIN_ATTEMPTS) or (
        everywhere is not None and int(everywhere) >= LOGIN_ATTEMPTS_PER_ACCOUNT)


async def _trusted_nonce(request: Request, email: str, now: datetime) -> str | None:
    """The nonce of a valid device cookie for `email` that has not failed too often lately, else None
    (then the attempt is an untrusted one, under the per-address and per-account limits)."""
    nonce = trusted_device(request, email, now)
    if nonce is None:
        return None
    failed = await request.app.stores.get("login_attempts").get(_device_key(nonce))
    return None if failed is not None and int(failed) >= DEVICE_ATTEMPTS else nonce


async def _count_failure(request: Request, email: str, nonce: str | None) -> None:
    # A trusted device's failures count against its own cookie only: they never help lock the
    # account for everybody else.
    store = request.app.stores.get("login_attempts")
    for key in ((_device_key(nonce),) if nonce else _attempt_keys(request, email)):
        await count_hit(store, key, expires_in=LOGIN_WINDOW)


@post("/connexion", opt=PUBLIC, name="login_submit")
async def login_submit(
    request: Request,
    db: DB,
    clock: ClockDep,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Check the password; on success the session cookie holds the user id and the browser becomes a
    trusted device of the account. The same work and the same answers whether the address has an
    account or not."""
    email = data.email.strip().lower()
    nonce = await _trusted_nonce(request, email, clock.now())
    if nonce is None and await _too_many_attempts(request, email):
        return page(request, "auth/login.html", status_code=429, next=_safe_next(data.next), email=email,
                    error=TOO_MANY_ATTEMPTS, locked=True)
    user = await check_credentials(db, email=email, password=data.password)
    if user is None:
        await _count_failure(request, email, nonce)
        return page(request, "auth/login.html", status_code=400, next=_safe_next(data.next), email=email,
                    error="Adresse ou mot de passe incorrect.")
    current = await user_in_session(db, user.id)
    request.clear_session()  # a fresh session on every sign-in (no fixation)
    request.set_session(new_session(user, clock.now()))
    target = _safe_next(data.next) or (home_for(current) if current else "/")
    response = Redirect(target, status_code=303)
    remember_device(request, response, email, clock.now())
    return response


@post("/deconnexion", name="logout")
async def logout(request: Request, db: DB, clock: ClockDep) -> Redirect:
    """Sign out this session (the user's other sessions, e.g. on a phone, go on): the cookie is
    cleared and its session id refused from now on, by every process."""
    await sign_out_session(db, dict(request.session), clock.now())
    request.clear_session()
    return Redirect("/", status_code=303)


@get("/moi", name="me")
async def me(request: Request[CurrentUser, Any, Any]) -> Redirect:
    """Where the signed-in user belongs."""
    return Redirect(home_for(request.user), status_code=303)


@get("/moi/session", name="me_session", sync_to_thread=False)
def my_session(request: Request[CurrentUser, Any, Any]) -> Response[dict[str, Any]]:
    """The tag of the session signed in now (the one pages carry), for a sign-out recorded offline
    (static/common/signout-pending.js): it ends that session only. Any signed-in user; the session
    middleware answers anonymous requests and sessions expired or signed out (401 in JSON, else 303
    to /connexion) — then nothing is left to end."""
    return Response({"session": session_tag(request.session)}, headers={"Cache-Control": "no-store"})


@get("/healthz", opt=PUBLIC, name="healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, name="readyz")
async def readyz(request: Request, state: State, clock: ClockDep) -> Response[dict[str, Any]]:
    """Ready to serve: the database answers and is migrated, Redis answers when the stores live there
    (CIRQLIZ_REDIS_URL), every authority's signing keys are usable and its trust bundle is not stale.
    Otherwise 503 naming the failing checks (names only: no path, address or secret)."""
    problems = await readiness_problems(state.engine, keys_root=state.settings.keys_dir, now=clock.now(),
                                        cache=state.setdefault("readyz_bundles", {}))
    if state.settings.redis_url:
        try:
            await request.app.stores.get("login_attempts").get("readyz")
        except Exception:  # whatever Redis raises, the answer is the same
            problems.append("redis")
    if not problems:
        return Response({"status": "ready", "opendata": await _opendata_validation(state, clock.now().timestamp())})
    detail = "Service pas prêt : " + " ; ".join(READY_CHECKS_FR[name] for name in problems) + "."
    return Response({"status": "not_ready", "detail": detail, "failing": problems}, status_code=503,
                    headers={"Retry-After": "5", "Cache-Control": "no-store"})


OPENDATA_STATUS_SECONDS = 60
"""How long /readyz reuses its reading of the open-data folder (it hashes the published files)."""


async def _opendata_validation(state: State, now: float) -> dict[str, str]:
    """{format: validation active} ("schémas publiés" or "contrôles intégrés"), read at most once a minute."""
    cached = state.get("readyz_opendata")
    if cached is None or now - cached[0] > OPENDATA_STATUS_SECONDS:
        cached = (now, (await asyncio.to_thread(opendata_status)).summary())
        state["readyz_opendata"] = cached
    return cached[1]


ROUTES = [home, legal_notice, accessibility_statement, personal_data, contact, favicon, login_form, login_submit,
          logout, me, my_session, healthz, readyz]
