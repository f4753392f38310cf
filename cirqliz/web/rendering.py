"""Page rendering: every template gets the language, `_`, the user, the CSRF input and the session tag."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import Any

from litestar import Request
from litestar.response import Template

from cirqliz.db.models import window_from_json
from cirqliz.domain.errors import DomainError
from cirqliz.domain.hours_form import describe_period, describe_windows
from cirqliz.domain.plates import parse_plate
from cirqliz.domain.windows import to_local
from cirqliz.web.i18n import LANG_COOKIE, gettext_for, negotiate

DISPLAY_TZ = "Europe/Paris"
"""Time zone of dates shown on pages (a zone's own hours use the zone's time zone)."""


def inclusive_days(start: datetime, end: datetime, tz: str = DISPLAY_TZ) -> tuple[str, str] | None:
    """(first day, last day) when a period runs from local midnight to local midnight, shown as
    inclusive days on every page ("du 01/12 au 07/12 inclus"); None for any other period."""
    first, after = to_local(start, tz), to_local(end, tz)
    if first.time() != time.min or after.time() != time.min:
        return None
    return first.strftime("%d/%m/%Y"), (after - timedelta(days=1)).strftime("%d/%m/%Y")


def hours_text(windows: Iterable[Any] | None, lang: str = "fr", always: str = "") -> str:
    """Windows (TimeWindow or their stored JSON) as every page shows them: 'lun.–ven. 7 h–11 h'
    in French, 'Mon–Fri 07:00–11:00' in English; `always` ('' by default) when there is none."""
    items = [window_from_json(w) if isinstance(w, Mapping) else w for w in windows or ()]
    return describe_windows(items, always=always or None, lang=lang) if items else always


def period_text(start: datetime, end: datetime | None, lang: str = "fr", tz: str = DISPLAY_TZ) -> str:
    """A validity period phrased the one way of every page and e-mail ('du 24/11/2026 au
    10/12/2026 inclus', 'le 24/11/2026 de 9 h à 18 h')."""
    return describe_period(start, end, tz, lang=lang)


def plate_display(value: str | None) -> str:
    """A stored (normalised) plate as people write it: 'AB-123-CD', or as stored if unreadable."""
    if not value:
        return ""
    try:
        return parse_plate(value).display
    except DomainError:
        return value


def session_tag(session: Mapping[str, Any] | None) -> str | None:
    """A name of this sign-in session that pages may hold (<meta name="cirqliz-session">, GET /moi/session):
    one-way from the random session id, and not the key its sign-out is recorded under
    (auth.sign_out_session). A sign-out made offline names it, so it never ends a later session."""
    sid = (session or {}).get("sid")
    if not sid:
        return None
    # The prefix is the one the scanner used first: marks recorded then still match.
    return hashlib.sha256(f"cirqliz-scanner-session:{sid}".encode()).hexdigest()[:32]


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A Template response with the common context."""
    lang = negotiate(request)
    user = request.scope.get("user")
    response = Template(
        template_name=template,
        context={"lang": lang, "_": gettext_for(lang), "user": user, "plate": plate_display,
                 "hours_text": hours_text, "period_text": period_text,
                 "session_tag": session_tag(request.scope.get("session")) if user else None, **context},
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def wants_json(request: Request) -> bool:
    """API paths and clients that ask for JSON get JSON errors instead of pages."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")
