"""The client's address, one answer for the whole application (rate limits, audit, loopback checks).

The address is the TCP peer, except when the peer is one of the reverse proxies listed in
CIRQLIZ_TRUSTED_PROXIES: then it is the right-most address of `X-Forwarded-For` that is not itself a
trusted proxy (what the nearest trusted proxy saw), and `X-Forwarded-Proto` gives the scheme. With
no trusted proxy (the default) both headers are ignored, so a client cannot choose the address a
limit counts by sending them. The result is written into the ASGI scope once, before any
handler, guard or middleware of the application reads `connection.client`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.types import Scope

from cirqliz.settings import Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: compare them as the IPv4 address.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(text: str | None, networks: tuple[Network, ...]) -> bool:
    address = _address(text) if text else None
    return address is not None and any(address in network for network in networks)


def resolve_client(peer: str | None, forwarded_for: Iterable[str], networks: tuple[Network, ...]) -> str | None:
    """The client's address given the TCP peer, the X-Forwarded-For header values and the trusted proxies."""
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _trusted(hop, networks):
            continue
        # A hop that is no address was not written by a proxy we trust: keep the peer.
        return str(_address(hop)) if _address(hop) is not None else peer
    return hops[0] if hops else peer


def forward_client(scope: Scope, networks: tuple[Network, ...]) -> None:
    """Write into the scope the client (and scheme) the trusted proxies saw, when the peer is one of them
    (called by the application's outermost middleware, web/observability.py)."""
    peer = scope.get("client")
    if not peer or not _trusted(peer[0], networks):
        return
    headers = scope.get("headers") or []
    values = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
    host = resolve_client(peer[0], values, networks)
    if host and host != peer[0]:
        scope["client"] = (host, 0)
    proto = next((v.decode("latin-1").strip().lower() for k, v in headers if k == b"x-forwarded-proto"), "")
    if proto in ("http", "https"):
        scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")


def client_host(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address as a string ("-" when unknown)."""
    return connection.client.host if connection.client else "-"


def is_loopback_client(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the client is this host (127.0.0.0/8 or ::1), after the proxy rules above."""
    address = _address(client_host(connection))
    return address is not None and address.is_loopback
