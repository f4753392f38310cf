"""The field agents' scanner: an offline-first PWA at /scan, and its small session-guarded API.

Pages and files:
    GET  /scan                       the scanner (role agent; anonymous → sign-in)
    GET  /scan/manifest.webmanifest  the web app manifest (public)
    GET  /scan/sw.js                 the service worker, scope /scan (public; lists the assets it caches)
Trust data comes from the authorities' public files /bundle/{code}.cose (?since=SEQ for a delta)
and /bundle/{code}/root.pem (controllers/authority.py).
API (role agent, scoped to the agent's authority; POST needs the `x-csrftoken` header):
    GET  /scan/api/serial/{serial}   status of a pass by the serial printed on it (typed fallback)
    POST /scan/api/checks            upload checks recorded on the device (JSON list; idempotent on `id`;
                                     `clock_offset_s`: the phone's clock against the server's; `issuer`:
                                     the pass's issuing authority; `zone`: `CODE` or `ISS/CODE`)
Partner authorities' bundles come through the relay /scan/partenaires/{iss}.cose (issue 19).
A sign-out made offline (static/common/signout-pending.js) asks GET /moi/session (controllers/public.py)
which session the phone holds; the page gives its own in its settings (`session`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, Organisation, Zone
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import parse_serial
from cirqliz.issuance.passes import record_check
from cirqliz.labels import PASS_STATUS_FR
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.deps import DB
from cirqliz.web.i18n import gettext_for, negotiate
from cirqliz.web.rendering import page, session_tag

STATIC = Path(__file__).parents[1] / "static"
TEMPLATES = Path(__file__).parents[1] / "templates"
AGENT = requires(Role.AGENT)
PUBLIC = {"exclude_from_auth": True}
MAX_CHECKS_PER_UPLOAD = 500
VERDICTS = frozenset({"VALID", "REFUSED", "UNCERTAIN"})
# Beyond this many seconds between the phone's clock and the server's, the agent is warned on every
# verdict and the authority's checks page flags the record.
CLOCK_WARNING_S = 600
# A phone reset to 1970 is about 56 years behind; the bound keeps the value in a PostgreSQL integer.
CLOCK_OFFSET_LIMIT_S = 2_000_000_000

# Everything the scanner needs offline, besides the page itself (cached by the service worker).
SCANNER_MODULES = (
    "app.js", "store.js", "sync.js", "clock.js", "camera.js", "geo.js", "view.js", "scanner.css",
    "verifier.js", "base45.js", "bundle.js", "cbor.js", "claims.js", "cose.js", "errors.js", "keys.js",
    "messages.js", "plates.js", "windows.js", "entry.js", "federation.js", "signout.js",
    "icon.svg", "icon-192.png", "icon-512.png",
)
# Files of static/common/ the scanner page uses (the sign-out that holds without network).
COMMON_MODULES = ("signout-pending.js", "signout-gate.js")
VENDOR_FILES = (
    "zxing-wasm/dist/es/reader/index.js",
    "zxing-wasm/dist/es/share.js",
    "zxing-wasm/dist/reader/zxing_reader.wasm",
)
ZXING_WASM_URL = "/vendor/zxing-wasm/dist/reader/zxing_reader.wasm"


def scanner_assets() -> list[str]:
    """URLs the service worker pre-caches (the page /scan comes first)."""
    return (["/scan", "/scan/manifest.webmanifest"]
            + [f"/static/scanner/{name}" for name in SCANNER_MODULES]
            + [f"/static/common/{name}" for name in COMMON_MODULES]
            + [f"/vendor/{name}" for name in VENDOR_FILES])


def _cached_files(node_modules: str) -> list[Path]:
    return ([STATIC / "scanner" / name for name in (*SCANNER_MODULES, "sw.js")]
            + [STATIC / "common" / name for name in COMMON_MODULES]
            + [Path(node_modules) / name for name in VENDOR_FILES]
            + [TEMPLATES / "scanner" / "index.html"])


def _service_worker(node_modules: str) -> tuple[str, str]:
    """(sw.js text, version); the version changes with any cached file, which renews the device cache."""
    stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else (str(f), 0, 0)
                   for f in _cached_files(node_modules))
    return _service_worker_for(stamps)


@lru_cache(maxsize=8)
def _service_worker_for(stamps: tuple[tuple[str, int, int], ...]) -> tuple[str, str]:
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        file = Path(name)
        digest.update(file.read_bytes() if file.exists() else name.encode())
    version = digest.hexdigest()[:16]
    head = (f"const VERSION = {json.dumps(version)};\n"
            f"const ASSETS = {json.dumps(scanner_assets())};\n")
    return head + (STATIC / "scanner" / "sw.js").read_text(encoding="utf-8"), version


async def _authority_of(db: DB, user: CurrentUser) -> Organisation:
    """The authority whose bundle and passes the agent checks (the agent's organisation)."""
    org = await db.get(Organisation, user.organisation_for(Role.AGENT))
    if org is None or org.kind != OrganisationKind.AUTHORITY:
        raise PermissionDeniedException("Le contrôle n'est ouvert qu'aux agents d'une autorité.")
    return org


@get("/scan", guards=[AGENT], name="scanner")
async def scanner_page(request: Request[CurrentUser, Any, Any], db: DB) -> Template:
    """The scanner shell: everything else happens in the browser, online or not."""
    authority = await _authority_of(db, request.user)
    config = {
        "authority": authority.code,
        "authorityName": authority.name,
        "agent": request.user.display_name,
        # The authorities' public files (controllers/authority.py): full bundle, or ?since=SEQ delta.
        "bundleUrl": f"/bundle/{authority.code}.cose",
        "rootUrl": f"/bundle/{authority.code}/root.pem",
        "serialUrl": "/scan/api/serial/",
        "checksUrl": "/scan/api/checks",
        # Partner authorities' bundles, relayed by this server: {partnersUrl}{iss}.cose (?since=SEQ).
        "partnersUrl": "/scan/partenaires/",
        "wasmUrl": ZXING_WASM_URL,
        "swUrl": "/scan/sw.js",
        "clockWarning": CLOCK_WARNING_S,
        "clockOffsetLimit": CLOCK_OFFSET_LIMIT_S,
        # A sign-out made offline names the session it is for: a later sign-in on the phone is not ended.
        "session": session_tag(request.session),
    }
    words = gettext_for(negotiate(request))
    status_words = {str(status): words(label) for status, label in PASS_STATUS_FR.items()}
    response = page(request, "scanner/index.html", config=config, status_words=status_words)
    # The page names the agent: only the service worker keeps it (deleted at sign-out), never the
    # browser's own caches, which "back" would show offline after a sign-out on a shared phone.
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/scan/manifest.webmanifest", opt=PUBLIC, name="scanner_manifest", sync_to_thread=False)
def manifest() -> Response[dict[str, Any]]:
    """Install the scanner as an app that opens on /scan, full screen."""
    body = {
        "name": "CirQliz Contrôle",
        "short_name": "Contrôle",
        "description": "Contrôle hors ligne des laissez-passer CirQliz",
        "lang": "fr",
        "start_url": "/scan",
        "scope": "/scan",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#10243e",
        "theme_color": "#10243e",
        "icons": [
            {"src": "/static/scanner/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/scanner/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
            {"src": "/static/scanner/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(body, media_type="application/manifest+json")


@get("/scan/sw.js", opt=PUBLIC, name="scanner_sw")
async def service_worker(request: Request) -> Response[str]:
    """The service worker; served under /scan with `Service-Worker-Allowed: /scan` for scope /scan."""
    from cirqliz.web.app import _node_modules

    text, version = _service_worker(str(_node_modules()))
    return Response(text, media_type="text/javascript",
                    headers={"Service-Worker-Allowed": "/scan", "Cache-Control": "no-cache", "ETag": f'"{version}"'})


def _epoch(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


@get("/scan/api/serial/{serial:str}", guards=[AGENT], name="scanner_serial")
async def serial_status(request: Request[CurrentUser, Any, Any], db: DB, serial: FromPath[str]) -> dict[str, Any]:
    """Status of a pass of the agent's authority by its printed serial (404 for any other)."""
    authority = await _authority_of(db, request.user)
    try:
        value = parse_serial(serial)
    except DomainError as exc:
        raise ValidationException(exc.message) from exc
    row = (await db.exec(select(AccessPass).where(
        col(AccessPass.serial) == value, col(AccessPass.authority_id) == authority.id))).first()
    if row is None:
        raise NotFoundException("Numéro inconnu pour cette autorité.")
    zones = (await db.exec(select(Zone).where(
        col(Zone.authority_id) == authority.id, col(Zone.ref).in_(row.zone_refs or [])))).all()
    return {
        "serial": row.serial,
        "status": row.status,
        "plate": row.plate,
        "zones": sorted(z.code for z in zones),
        "zone_refs": list(row.zone_refs or []),
        "not_before": _epoch(row.not_before),
        "expires_at": _epoch(row.expires_at),
        "windows": row.windows,
    }


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


@dataclass
class CheckUpload:
    """One check recorded on the device."""

    id: uuid.UUID
    checked_at: int
    verdict: str
    reason: str | None = None
    serial: str | None = None
    zone: str | None = None
    plate_seen: str | None = None
    device_id: str | None = None
    # The pass's issuing authority as the phone read it (a partner's code for a partner's pass).
    issuer: str | None = None
    # Seconds the phone's clock was ahead of the server's at its last sync (negative: behind).
    clock_offset_s: int | None = None


MAX_ISSUER = 32  # an authority code (pass_check.issuer)
MAX_ZONE_REF = 65  # `ISS/CODE` (pass_check.zone_code)
MAX_CHECK_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold


def _invalid_check(message: str) -> ValidationException:
    """A 400 whose French message the error handlers show (they read `extra`)."""
    return ValidationException(message, extra=[{"message": message, "source": "body"}])


def _checked_at(item: CheckUpload, number: int) -> datetime:
    """The check's time from its Unix timestamp; a 400 (not an OverflowError) for any out of range."""
    value = item.checked_at
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CHECK_EPOCH:
        raise _invalid_check(f"contrôle n° {number}, checked_at : horodatage Unix en secondes attendu, entre 0 "
                             f"et {MAX_CHECK_EPOCH}")
    return datetime.fromtimestamp(value, UTC)


def _clock_offset(item: CheckUpload, number: int) -> int | None:
    """The phone's clock offset in seconds, or None; a 400 for anything but an integer in range."""
    value = item.clock_offset_s
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > CLOCK_OFFSET_LIMIT_S:
        raise _invalid_check(f"contrôle n° {number}, clock_offset_s : nombre entier de secondes attendu, entre "
                             f"-{CLOCK_OFFSET_LIMIT_S} et {CLOCK_OFFSET_LIMIT_S}")
    return value


def _issuer_and_zone(item: CheckUpload, number: int) -> tuple[str | None, str | None]:
    """The check's issuer and zone reference, or a 400 when either is too long to be one."""
    if item.issuer is not None and not 1 <= len(item.issuer) <= MAX_ISSUER:
        raise _invalid_check(f"contrôle n° {number}, issuer : code d'autorité de 1 à {MAX_ISSUER} caractères attendu")
    if item.zone is not None and len(item.zone) > MAX_ZONE_REF:
        raise _invalid_check(f"contrôle n° {number}, zone : référence de zone de {MAX_ZONE_REF} caractères au plus "
                             "attendue (CODE ou AUTORITÉ/CODE)")
    return item.issuer, item.zone or None


def _home_zone_code(zone: str | None, home: str) -> str | None:
    """The home authority's zone code a checkpoint reference names ('CODE' or 'HOME/CODE'), else None."""
    if not zone:
        return None
    iss, slash, code = zone.partition("/")
    if not slash:
        return zone
    return code if iss == home else None


def clock_offset_text(seconds: int, gettext: Callable[[str], str]) -> str:
    """A clock offset for people, signed: '+25 min', '−3 h', '+400 j' (whole minutes, hours or days)."""
    sign = "+" if seconds >= 0 else "−"
    size = abs(seconds)
    if size < 100 * 60:
        return gettext("{sign}{n} min").format(sign=sign, n=round(size / 60))
    if size < 48 * 3600:
        return gettext("{sign}{n} h").format(sign=sign, n=round(size / 3600))
    return gettext("{sign}{n} j").format(sign=sign, n=round(size / 86400))


def clock_is_off(seconds: int | None) -> bool:
    """Whether a check's clock offset is beyond the warning threshold (either way)."""
    return seconds is not None and abs(seconds) > CLOCK_WARNING_S


@post("/scan/api/checks", guards=[AGENT], name="scanner_checks", status_code=200)
async def upload_checks(request: Request[CurrentUser, Any, Any], db: DB,
                        data: JSONBody[list[CheckUpload]]) -> dict[str, Any]:
    """Store the device's checks; an id already stored is skipped, so retries never duplicate."""
    # Not `clock: ClockDep`: with a typed body, Litestar validates every parameter with msgspec, which
    # cannot isinstance-check the Clock protocol (500). The same clock, from the application state.
    clock = request.app.state.clock
    if len(data) > MAX_CHECKS_PER_UPLOAD:
        raise _invalid_check(f"Au plus {MAX_CHECKS_PER_UPLOAD} contrôles par envoi.")
    authority = await _authority_of(db, request.user)
    zone_ids = {z.code: z.id for z in (await db.exec(select(Zone).where(Zone.authority_id == authority.id))).all()}
    # Every item is checked before the first is stored.
    times = [_checked_at(item, number) for number, item in enumerate(data, start=1)]
    offsets = [_clock_offset(item, number) for number, item in enumerate(data, start=1)]
    origins = [_issuer_and_zone(item, number) for number, item in enumerate(data, start=1)]
    for number, item in enumerate(data, start=1):
        if item.verdict not in VERDICTS:
            raise _invalid_check(f"contrôle n° {number} : verdict inconnu {item.verdict[:20]!r} (VALID, REFUSED ou "
                                 "UNCERTAIN)")
    accepted: list[str] = []
    for item, checked_at, offset, (issuer, zone) in zip(data, times, offsets, origins, strict=True):
        try:
            serial = parse_serial(item.serial) if item.serial else None
        except DomainError:
            serial = None  # an unreadable serial is not a reason to lose the check
        await record_check(
            db, check_id=item.id, agent_id=request.user.id, clock=clock,
            checked_at=checked_at, verdict=item.verdict,
            serial=serial, zone_id=zone_ids.get(_home_zone_code(zone, authority.code) or ""),
            reason_code=_clip(item.reason, 64), plate_seen=_clip(item.plate_seen, 16),
            device_id=_clip(item.device_id, 64), authority_id=authority.id, clock_offset_s=offset,
            issuer=issuer, zone_code=zone,
        )
        accepted.append(str(item.id))
    return {"accepted": accepted}


ROUTES: list = [scanner_page, manifest, service_worker, serial_status, upload_checks]
