"""Request ids and structured (JSON) logs.

Every HTTP request gets an id — the caller's `X-Request-ID` when it is sane, else a new one —
returned in the response header and attached to every log record written while it is handled,
so one request's lines can be found across processes.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re
import time
import uuid
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# A new request id is this process's random prefix and a counter: unique across processes and
# hosts like a uuid4, without reading the system's random source on every request.
_id_prefix = uuid.uuid4().hex[:8]
_id_counter = itertools.count(1)


def _reseed_ids() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = uuid.uuid4().hex[:8], itertools.count(1)


os.register_at_fork(after_in_child=_reseed_ids)  # a forked worker must not repeat its parent's ids


def new_request_id() -> str:
    """A fresh request id: 16 hex characters."""
    return f"{_id_prefix}{next(_id_counter) & 0xFFFFFFFF:08x}"


_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{6,64}$")
access_log = logging.getLogger("cirqliz.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and extra fields."""

    # Every request writes an access line: the time is formatted once per second (milliseconds
    # appended) and the object encoded by msgspec, the same line as datetime + json.dumps at a
    # fraction of the cost.
    _second: int = -1
    _stamp: str = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = int((record.created - second) * 1000)
        data: dict[str, Any] = {
            "time": f"{self._stamp}.{millis:03d}+00:00",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        extra = record.__dict__
        for key in ("method", "path", "status", "duration_ms"):
            if key in extra:
                data[key] = extra[key]
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return _encode(data).decode()


def _default(value: Any) -> str:
    return str(value)  # what json.dumps(default=str) would give for an odd extra value


_encode = msgspec.json.Encoder(enc_hook=_default).encode


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
        # The last X-Request-ID, as a dict of every header would give it, without building that dict.
        given = ""
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                given = value.decode("latin-1")
        request_id = given if given and _SANE_ID.match(given) else new_request_id()
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
            if access_log.isEnabledFor(logging.INFO):
                # The record is made here rather than by access_log.info(): the same record, without
                # logging's look-up of the calling frame (on every request, for a line that never shows it).
                method, path = scope.get("method"), scope.get("path")
                record = access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, "%s %s %s",
                                               (method, path, status), None, extra={
                                                   "method": method, "path": path, "status": status,
                                                   "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
                access_log.handle(record)
            REQUEST_ID.reset(token)

    return middleware
