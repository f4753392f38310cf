"""Request ids and structured (JSON) logs.

Every HTTP request gets an id — the caller's `X-Request-ID` when it is sane, else a new one —
returned in the response header and attached to every log record written while it is handled,
so one request's lines can be found across processes.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{6,64}$")
access_log = logging.getLogger("cirqliz.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Send the `cirqliz` loggers to standard error as JSON lines (idempotent)."""
    logger = logging.getLogger("cirqliz")
    logger.setLevel(level)
    if any(getattr(h, "_cirqliz", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RequestIdFilter())
    handler._cirqliz = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = True


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: request id in a context variable and the response header, one access line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex[:16]
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except Exception as exc:
            # Raised by a middleware (e.g. a body over the limit): Litestar's outer handler answers
            # with the exception's status, through the original `send`, after this line is written.
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            access_log.info(
                "%s %s %s", scope.get("method"), scope.get("path"), status,
                extra={"method": scope.get("method"), "path": scope.get("path"), "status": status,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
            )
            REQUEST_ID.reset(token)

    return middleware
