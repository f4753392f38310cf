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
from bisect import bisect_left
from typing import Any, NamedTuple

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.http_handlers import HTTPRouteHandler
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


class _Done(NamedTuple):
    """The values one (method, route, status) adds to when a request ends."""

    count: Any
    total: Any
    bounds: list[float]
    buckets: list[Any]
    errors: Any


class RequestMetrics:
    """Counts each HTTP request and its duration by method, route template and status, for the
    application's outermost middleware (web/observability.py): templates
    (`/autorite/demandes/{application_id}`), never URLs, so no id or plate becomes a label. The
    caller leaves out /metrics itself, OPTIONS, HEAD and requests that match no route; a request
    whose exception escapes counts with the status the client gets.

    This runs on every request: the labelled children are looked up once per (method, route,
    status), and their values (in memory or, with several processes, in prometheus_client's
    shared files) are added to directly, as `inc()` and `observe()` do after their checks."""

    def __init__(self) -> None:
        self._in_progress: dict[tuple[str, str], Any] = {}
        self._done: dict[tuple[str, str, int], _Done] = {}

    def started(self, method: str, path: str) -> tuple[str, str, Any]:
        """A request to the route `path` starts (in progress until `finished`)."""
        key = (method, path)
        value = self._in_progress.get(key)
        if value is None:
            value = self._in_progress[key] = IN_PROGRESS.labels(method, path, "200", APP_NAME)._value
        value.inc(1)
        return method, path, value

    def finished(self, request: tuple[str, str, Any], status: int, elapsed: float) -> None:
        """The request `started` gave ended with `status` after `elapsed` seconds."""
        method, path, in_progress = request
        in_progress.inc(-1)
        key = (method, path, status)
        done = self._done.get(key)
        if done is None:
            values = (method, path, str(status), APP_NAME)
            histogram = DURATION.labels(*values)
            done = self._done[key] = _Done(REQUESTS.labels(*values)._value, histogram._sum,
                                           list(histogram._upper_bounds), histogram._buckets,
                                           ERRORS.labels(*values)._value if status >= 500 else None)
        done.count.inc(1)
        done.total.inc(elapsed)
        # The first bucket whose bound is >= elapsed, as Histogram.observe finds it (the last is +Inf).
        done.buckets[bisect_left(done.bounds, elapsed)].inc(1)
        if done.errors is not None:
            done.errors.inc(1)


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
