"""`create_app(settings)`: the Litestar application, built from settings, nothing at import time."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.stores.registry import StoreRegistry
from litestar.template.config import TemplateConfig
from litestar.types import Scope
from litestar.utils import normalize_path

from cirqliz.clock import Clock, SystemClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.settings import Settings
from cirqliz.web import auth, metrics
from cirqliz.web.bodies import CirqlizRequest
from cirqliz.web.controllers import (
    accounts,
    api,
    authority,
    bundles,
    opendata,
    organiser,
    organisers_admin,
    partners,
    professional,
    public,
    scanner,
    zones_admin,
)
from cirqliz.web.deps import provide_clock, provide_db, provide_signer
from cirqliz.web.errors import EXCEPTION_HANDLERS
from cirqliz.web.observability import configure_logging, edge_middleware
from cirqliz.web.security import FORM_LIMIT
from cirqliz.web.served import static_files_only, vendor_files_only
from cirqliz.web.stores import create_stores
from cirqliz.web.vendor_files import PACKAGED_VENDOR

WEB = Path(__file__).parent
SESSION_MAX_AGE = auth.SESSION_MAX_AGE


def _secret(settings: Settings, purpose: str) -> bytes:
    # Distinct 32-byte keys per purpose, derived from the one configured secret.
    return hashlib.sha256(f"{purpose}:{settings.secret_key}".encode()).digest()


def _node_modules() -> Path:
    """Where the front-end package files served under /vendor are: CIRQLIZ_NODE_MODULES if set, else
    the copy an installed wheel carries (cirqliz/web/vendor, see setup.py), else the checkout's
    node_modules (development and editable installs; ./dev run does `npm ci`)."""
    if not os.environ.get("CIRQLIZ_NODE_MODULES") and PACKAGED_VENDOR.is_dir():
        return PACKAGED_VENDOR
    folder = Path(os.environ.get("CIRQLIZ_NODE_MODULES", WEB.parents[1] / "node_modules"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stores(settings: Settings) -> StoreRegistry:
    # Redis (CIRQLIZ_REDIS_URL) when several processes serve, so rate limits are shared; see web/stores.py.
    return create_stores(settings)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Litestar:
    """The application for `settings` (from the environment by default)."""
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncGenerator[None, None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.session_maker = create_session_factory(engine)
        try:
            yield
        finally:
            await engine.dispose()

    # ---- scheduled jobs (issue 6): started inside the lifespan, gated by settings --------------
    @asynccontextmanager
    async def scheduler(app: Litestar) -> AsyncGenerator[None, None]:
        if not settings.scheduler_enabled:
            yield
            return
        from cirqliz.jobs.scheduler import JobScheduler

        jobs = JobScheduler(maker=app.state.session_maker, settings=settings, clock=clock, signer=app.state.signer)
        jobs.start()
        app.state.scheduler = jobs
        try:
            yield
        finally:
            jobs.shutdown()
    # ---- end of scheduled jobs ------------------------------------------------------------------

    production = settings.env == "production"
    # Sessions and CSRF concern the pages: their middleware wraps the pages' routes only (see
    # api.documented_routes), so an API request goes through no middleware of theirs at all.
    session_auth = SessionAuth[auth.CurrentUser, object](
        retrieve_user_handler=auth.retrieve_user_handler,
        # Sent again only when the session changed: its time of last activity at most once a minute.
        session_backend_config=auth.SessionCookieConfig(
            secret=_secret(settings, "session"),
            key="cirqliz_session",
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=production,
            exclude=["^/api/", "^/static/", "^/vendor/", "^/bundle/"],  # no cookies needed there
        ),
        exclude=["^/static/", "^/vendor/", "^/schema", "^/api/"],  # the API authenticates with bearer tokens
        exclude_opt_key="exclude_from_auth",
    )
    static = create_static_files_router(path="/static", directories=[WEB / "static"], name="static",
                                        opt={"exclude_from_auth": True}, guards=[static_files_only])
    vendor = create_static_files_router(
        path="/vendor", directories=[_node_modules()], name="vendor", opt={"exclude_from_auth": True},
        guards=[vendor_files_only],  # only the files the pages load (web/served.py)
    )
    csrf = CSRFConfig(
        secret=_secret(settings, "csrf").hex(),
        cookie_name="cirqliz_csrf",
        cookie_secure=production,
        cookie_samesite="lax",
        header_name="x-csrftoken",
        exclude=["^/api/", "^/bundle/"],  # GET-only public files: no CSRF cookie to set
    )

    def session_auth_on_app_init(app_config: AppConfig) -> AppConfig:
        # What SessionAuth adds (OpenAPI security scheme...) but its middleware, given to the pages' router.
        app_config = session_auth.on_app_init(app_config)
        added = app_config.middleware.pop(0)  # SessionAuth.on_app_init inserts its middleware first
        if getattr(added, "middleware", None) is not session_auth.middleware.middleware:
            raise RuntimeError("SessionAuth.on_app_init no longer inserts its middleware first: see web/app.py")
        return app_config

    app = Litestar(
        # In production the OpenAPI document (/schema) lists only the API: see api.documented_routes.
        route_handlers=api.documented_routes([
            *public.ROUTES,
            *accounts.ROUTES,
            *professional.ROUTES,
            *authority.ROUTES,
            *zones_admin.ROUTES,
            *bundles.ROUTES,
            *organiser.ROUTES,
            *organisers_admin.ROUTES,
            *partners.ROUTES,
            *scanner.ROUTES,
            *api.ROUTES,
            *opendata.ROUTES,
            *metrics.routes(settings),
            static,
            vendor,
        ], production=production,
            page_middleware=[session_auth.middleware, DefineMiddleware(CSRFMiddleware, config=csrf)]),
        dependencies={
            "db": Provide(provide_db),
            "clock": Provide(provide_clock, sync_to_thread=False),
            "signer": Provide(provide_signer, sync_to_thread=False),
        },
        lifespan=[database, scheduler],  # scheduler after the database: it uses the session maker
        on_app_init=[session_auth_on_app_init],
        request_max_body_size=FORM_LIMIT,  # upload routes set their own, larger, limit
        template_config=TemplateConfig(directory=WEB / "templates", engine=JinjaTemplateEngine),
        openapi_config=api.openapi_config(),  # /schema, viewer served from /vendor (no CDN)
        # An idle session's sign-out says why on the sign-in page (auth.py, ADR 0011).
        exception_handlers={**EXCEPTION_HANDLERS, auth.SessionIdleExpired: auth.on_session_idle},  # type: ignore[arg-type]
        request_class=CirqlizRequest,  # JSON bodies: depth limit, French 400s (web/bodies.py)
        stores=_stores(settings),
        logging_config=LoggingConfig(log_exceptions="debug", configure_root_logger=False),
        debug=False,
    )
    # Outside every Litestar layer, one middleware for the client's address behind trusted proxies,
    # the request id, the security headers, the metrics and the access line (web/observability.py).
    # POST /api/v1/verify, the checkpoints' hot path, is served before Litestar's router (api.verify_lane).
    app.asgi_handler = edge_middleware(api.verify_lane(app.asgi_handler), settings, route_template(app))
    app.state.update(initial_state(settings, clock))
    configure_logging()
    return app


def route_template(app: Litestar) -> Callable[[Scope], str | None]:
    """The route template (`/autorite/demandes/{application_id}`) a request's scope goes to, None when no
    route takes it: Litestar's own routing, as its router will use it, remembered per (path, method)."""
    routing = app.asgi_router.handle_routing
    found: dict[tuple[str, str, str | None], str] = {}

    def template(scope: Scope) -> str | None:
        key = (scope["path"], scope.get("root_path", ""), scope.get("method"))
        known = found.get(key)
        if known is not None:
            return known
        path = key[0].split(key[1], maxsplit=1)[-1] if key[1] else key[0]
        try:
            known = routing(path=normalize_path(path), method=key[2])[4]
        except Exception:  # no route (404, 405): the router answers; not remembered (routes may be added)
            return None
        if len(found) >= ROUTES_REMEMBERED:
            found.clear()
        found[key] = known
        return known

    return template


ROUTES_REMEMBERED = 1024


def initial_state(settings: Settings, clock: Clock) -> dict[str, object]:
    """What `app.state` holds before the first request. Keep anything a request may change (caches,
    counters) in app.state or app.stores: the tests build one app per settings and process and put it
    back to this state (and fresh stores) before each test, since building one costs ~0.2 s."""
    return {"settings": settings, "clock": clock, "signer": KeyStoreSigner(settings.keys_dir, clock=clock),
            "api_rate_limit": settings.api_rate_limit}  # the API's per-token limit (tests lower it)
