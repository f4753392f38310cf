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
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from cirqliz.settings import Settings

PATH = "/metrics"


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


def metrics_config() -> PrometheusConfig:
    """Request metrics labelled by route template (group_path), prefix cirqliz_http."""
    return PrometheusConfig(app_name="cirqliz", prefix="cirqliz_http", group_path=True,
                            exclude=[f"^{PATH}$"], excluded_http_methods=["OPTIONS", "HEAD"])


def middleware(settings: Settings) -> list[DefineMiddleware]:
    """The request-metrics middleware, when metrics are enabled."""
    return [metrics_config().middleware] if settings.metrics_enabled else []


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
