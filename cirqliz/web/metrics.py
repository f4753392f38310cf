"""GET /metrics for Prometheus: request counts and latencies by route template and status, plus the
application's own metrics (cirqliz/ops/metrics.py: job outcomes, audit records, passes issued).

Access: served when settings.metrics_enabled. With CIRQLIZ_METRICS_TOKEN set, a request needs
`Authorization: Bearer <token>` (401 otherwise); without it, only loopback clients (a Prometheus on
the same host) get the metrics (403 otherwise), so a public deployment never shows them by
accident. Labels are route templates (`/autorite/demandes/{application_id:uuid}`), never URLs: no
id, plate or e-mail reaches the metrics. Several workers: see cirqliz/ops/metrics.py.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from cirqliz.settings import Settings

PATH = "/metrics"
APP_NAME = "cirqliz"
LABELS = ("method", "path", "status_code", "app_name")
# The names, labels and types Litestar's PrometheusMiddleware used (prefix cirqliz_http), kept so
# that dashboards and alerts written against them go on working.
REQUESTS = Counter("cirqliz_http_requests_total", "Total requests", LABELS)
DURATION = Histogram("cirqliz_http_request_duration_seconds", "Request duration, in seconds", LABELS)
IN_PROGRESS = Gauge("cirqliz_http_requests_in_progress", "Total requests currently in progress", LABELS,
                    multiprocess_mode="livesum")
ERRORS = Counter("cirqliz_http_requests_error_total", "Total errors in requests", LABELS)
NOT_COUNTED = frozenset({"OPTIONS", "HEAD"})


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (what a local Prometheus scrapes from)."""
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(settings: Settings, connection: ASGIConnection[Any, Any, Any, Any]) -> Response[bytes] | None:
    """The plain-text 401 or 403 for a request that may not read the metrics, or None."""
    token = settings.metrics_token
    if token:
        scheme, _, given = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return Response("jeton requis pour les métriques (Authorization: Bearer …)\n".encode(), status_code=401,
                        media_type="text/plain; charset=utf-8",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if is_loopback(connection.client.host if connection.client else None):
        return None
    return Response("métriques réservées à l'hôte local, ou à CIRQLIZ_METRICS_TOKEN\n".encode(), status_code=403,
                    media_type="text/plain; charset=utf-8")


Observe = Callable[[float], None]


class _Children:
    """The labelled children of the request metrics, looked up once per (method, route, status):
    prometheus_client's `labels()` checks and joins the label values on every call, and this runs
    on every request."""

    def __init__(self) -> None:
        self.in_progress: dict[tuple[str, str], Gauge] = {}
        self.done: dict[tuple[str, str, int], tuple[Callable[[], None], Observe, Callable[[], None] | None]] = {}

    def gauge(self, method: str, path: str) -> Gauge:
        key = (method, path)
        child = self.in_progress.get(key)
        if child is None:
            child = self.in_progress[key] = IN_PROGRESS.labels(method, path, "200", APP_NAME)
        return child

    def finished(self, method: str, path: str, status: int) -> tuple[Callable[[], None], Observe,
                                                                       Callable[[], None] | None]:
        key = (method, path, status)
        found = self.done.get(key)
        if found is None:
            values = (method, path, str(status), APP_NAME)
            error = ERRORS.labels(*values).inc if status >= 500 else None
            found = self.done[key] = (REQUESTS.labels(*values).inc, DURATION.labels(*values).observe, error)
        return found


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: count each HTTP request and its duration by method, route template and status.

    Applied per route by Litestar, so the scope already holds the route's template
    (`/autorite/demandes/{application_id}`): URLs, ids and plates never become labels. /metrics
    itself, OPTIONS and HEAD are not counted. A request whose exception escapes counts with the
    exception's status (500 when it has none), as the client gets it."""
    children = _Children()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method in NOT_COUNTED or scope["path"] == PATH:
            await app(scope, receive, send)
            return
        path = scope.get("path_template") or scope["path"]
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        gauge = children.gauge(method, path)
        gauge.inc()
        try:
            await app(scope, receive, send_with_status)
        except Exception as exc:
            # Raised by a middleware inside this one (e.g. CSRF's 403): Litestar's outer handler
            # answers with the exception's status, through the original `send`.
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            elapsed = time.perf_counter() - started
            gauge.dec()
            count, observe, error = children.finished(method, path, status)
            count()
            observe(elapsed)
            if error is not None:
                error()

    return middleware


def middleware(settings: Settings) -> list[Callable[[ASGIApp], ASGIApp]]:
    """The request-metrics middleware, when metrics are enabled."""
    return [metrics_middleware] if settings.metrics_enabled else []


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def routes(settings: Settings) -> list[HTTPRouteHandler]:
    """The /metrics handler, when metrics are enabled."""
    if not settings.metrics_enabled:
        return []

    # Answered here rather than by guards: the application turns 401s into a redirect to the login page.
    @get(PATH, opt={"exclude_from_auth": True}, include_in_schema=False, name="metrics", sync_to_thread=False)
    def metrics_page(request: Request[Any, Any, Any]) -> Response[bytes]:
        """Every metric, in Prometheus' text format."""
        refused = refusal(settings, request)
        if refused is not None:
            return refused
        return Response(generate_latest(_registry()), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [metrics_page]
