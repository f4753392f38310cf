"""Request ids and structured (JSON) logs.

Every HTTP request gets an id — the caller's `X-Request-ID` when it is sane, else a new one —
returned in the response header and attached to every log record written while it is handled,
so one request's lines can be found across processes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import itertools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from cirqliz.settings import Settings
from cirqliz.web import metrics
from cirqliz.web.client import forward_client
from cirqliz.web.security import security_header_pairs

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# A new request id is this process's random prefix and a counter: unique across processes and
# hosts like a uuid4, without reading the system's random source on every request.
_id_prefix = uuid.uuid4().hex[:8]
_id_counter = itertools.count(1)
_ACCESS_FIELDS: dict[str, Any] = {}


def _reseed_ids() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = uuid.uuid4().hex[:8], itertools.count(1)
    _ACCESS_FIELDS.clear()  # the access records' pid
    _pending.lines.clear()  # the parent's lines are the parent's to write


os.register_at_fork(after_in_child=_reseed_ids)  # a forked worker must not repeat its parent's ids


def new_request_id() -> str:
    """A fresh request id: 16 hex characters."""
    return f"{_id_prefix}{next(_id_counter) & 0xFFFFFFFF:08x}"


_SANE_RAW_ID = re.compile(rb"[A-Za-z0-9._-]{6,64}")
ACCESS_LOGGER = "cirqliz.access"
access_log = logging.getLogger(ACCESS_LOGGER)
_app_log = logging.getLogger("cirqliz")
_root_log = logging.getLogger()


_MILLIS = [f".{millis:03d}+00:00" for millis in range(1000)]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and extra fields."""

    # Every request writes an access line: the time is formatted once per second (milliseconds
    # appended) and the object encoded by msgspec, the same line as datetime + json.dumps at a
    # fraction of the cost.
    _second: int = -1
    _stamp: str = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._stamp + _MILLIS[int((created - second) * 1000)]

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        extra = record.__dict__
        for key in ("method", "path", "status", "duration_ms", "client"):
            if key in extra:
                data[key] = extra[key]
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return _encode(data).decode()

    def access_line(self, created: float, method: str, path: str, status: int, duration_ms: float,
                    request_id: str, client: str | None = None) -> str:
        """What `format` gives for the access record with these fields (the line, without its end)."""
        data = {
            "time": self._time(created), "level": "info", "logger": ACCESS_LOGGER,
            "message": f"{method} {path} {status}", "request_id": request_id,
            "method": method, "path": path, "status": status, "duration_ms": duration_ms,
        }
        if client is not None:
            data["client"] = client
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


def _only_json_handler() -> logging.StreamHandler[Any] | None:
    """Our JSON handler when an access record would reach it and nothing else (no other handler,
    no filter on the way, as configure_logging leaves things), else None."""
    if (access_log.handlers or access_log.filters or access_log.disabled or not access_log.propagate
            or _root_log.handlers):
        return None
    handlers = _app_log.handlers
    if len(handlers) != 1 or _app_log.filters:
        return None
    handler = handlers[0]
    if (not getattr(handler, "_cirqliz", False) or handler.level > logging.INFO or len(handler.filters) != 1
            or type(handler) is not logging.StreamHandler or type(handler.formatter) is not JsonFormatter):
        return None
    return handler


class _AccessRecord(logging.LogRecord):
    """The access line's record: the fields `logging.LogRecord` would hold, most of them worked out
    once per process rather than on every request (file, module, process name)."""

    def __init__(self, method: str, path: str, status: int, duration_ms: float, request_id: str,
                 client: str | None = None) -> None:
        created = time.time()
        fields = self.__dict__
        fields.update(_access_fields())
        fields["args"] = (method, path, status)
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0
        fields["relativeCreated"] = (created - _LOGGING_START) * 1000
        fields["thread"] = threading.get_ident()
        fields["threadName"] = threading.current_thread().name
        fields["method"], fields["path"], fields["status"] = method, path, status
        fields["duration_ms"], fields["request_id"] = duration_ms, request_id
        if client is not None:
            fields["client"] = client


_LOGGING_START: float = logging._startTime  # type: ignore[attr-defined]


def _access_fields() -> dict[str, Any]:
    """The constant fields of an access record (made again in a forked process: its pid)."""
    if not _ACCESS_FIELDS:
        _ACCESS_FIELDS.update(logging.LogRecord(access_log.name, logging.INFO, __file__, 0, "%s %s %s", (),
                                                None).__dict__)
    return _ACCESS_FIELDS


def write_access_line(method: str, path: str, status: int, duration_ms: float, request_id: str,
                      client: str | None = None) -> None:
    """One `cirqliz.access` record ("METHOD PATH STATUS" with those fields), as `access_log.info` would
    write it (call it when the logger is enabled for INFO). This runs on every request: when the
    line goes only to our JSON handler (configure_logging), it is formatted at once and written
    with the other lines of the same event-loop turn in one write (`_PendingLines`), without a
    LogRecord and logging's walk through loggers, filters and locks; otherwise (a handler or filter
    added, e.g. by tests) the record goes through logging."""
    handler = _only_json_handler()
    if handler is None:
        access_log.handle(_AccessRecord(method, path, status, duration_ms, request_id, client))
        return
    try:
        line = handler.formatter.access_line(  # type: ignore[union-attr]
            time.time(), method, path, status, duration_ms, request_id, client) + handler.terminator
    except Exception:  # as logging does: report on stderr, never fail the request
        handler.handleError(_AccessRecord(method, path, status, duration_ms, request_id, client))
        return
    _pending.add(handler, line)


class _PendingLines:
    """Access lines waiting for the end of the current event-loop turn.

    A write to standard error is a system call, and system calls are dear on virtual machines
    (~4 µs each here, as much as formatting the line): the lines of every request that ends in
    the same turn of the event loop go out in one write, at the start of the next turn, so a line
    is never held longer than that turn. Without a running loop (a thread, a script) the line is
    written at once. Whatever is still held is written at exit."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.handler: logging.StreamHandler[Any] | None = None

    def add(self, handler: logging.StreamHandler[Any], line: str) -> None:
        if self.handler is not None and handler is not self.handler:
            self.flush()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or threading.current_thread() is not threading.main_thread():
            self.flush()
            self._write(handler, line)
            return
        if not self.lines:
            loop.call_soon(self.flush)
        self.handler = handler
        self.lines.append(line)

    def flush(self) -> None:
        """Write the held lines now (one write)."""
        if not self.lines or self.handler is None:
            return
        lines, self.lines = self.lines, []
        self._write(self.handler, "".join(lines))

    @staticmethod
    def _write(handler: logging.StreamHandler[Any], text: str) -> None:
        try:
            with handler.lock:  # type: ignore[union-attr]
                handler.stream.write(text)
                handler.stream.flush()
        except Exception:  # as logging does: report on stderr, never fail the request
            handler.handleError(logging.makeLogRecord({"msg": "access lines", "name": ACCESS_LOGGER}))


_pending = _PendingLines()
atexit.register(_pending.flush)


def flush_access_lines() -> None:
    """Write the access lines still held for this event-loop turn (tests read them at once)."""
    _pending.flush()


def edge_middleware(app: ASGIApp, settings: Settings, route_template: Callable[[Scope], str | None]) -> ASGIApp:
    """The application's outermost ASGI middleware, one layer for what every HTTP response needs:

    - the client's address behind trusted proxies (web/client.py), before anything reads it;
    - a request id (the caller's sane `X-Request-ID`, else a new one) in a context variable, for
      every log record written meanwhile, and in the response header;
    - the security headers (web/security.py: the API's own set under /api/) a handler did not set itself;
    - the request metrics by route template (web/metrics.py), when enabled;
    - one JSON access line, with the client's address (uvicorn's own access log is off: `cirqliz serve`).

    Headers are added as raw pairs worked out once. `route_template(scope)` gives the route the
    request goes to (None when there is none: such requests are not counted in the metrics)."""
    networks = settings.proxy_networks
    page_headers = security_header_pairs(settings)
    api_headers = security_header_pairs(settings, api=True)
    fixed_names = frozenset(name for name, _ in page_headers + api_headers)
    counters = metrics.RequestMetrics() if settings.metrics_enabled else None

    async def edge(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if networks and scope["type"] == "websocket":
                forward_client(scope, networks)
            await app(scope, receive, send)
            return
        if networks:
            forward_client(scope, networks)
        # The last X-Request-ID, as a dict of every header would give it, without building that dict.
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
        if given is not None and _SANE_RAW_ID.fullmatch(given):
            request_id, raw_id = given.decode("ascii"), given
        else:
            request_id = new_request_id()
            raw_id = request_id.encode("ascii")
        token = REQUEST_ID.set(request_id)
        fixed = api_headers if scope["path"].startswith("/api/") else page_headers
        method = scope["method"]
        status = 500
        started = time.perf_counter()
        counted = None
        if counters is not None and method not in metrics.NOT_COUNTED:
            template = route_template(scope)
            if template is not None and template != metrics.PATH:
                counted = counters.started(method, template)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers") or ()
                for name, _ in headers:  # a loop, not a set: two or three names, usually none of ours
                    if name.lower() in fixed_names:
                        names = {name.lower() for name, _ in headers}
                        message["headers"] = [*headers, (b"x-request-id", raw_id),
                                              *(pair for pair in fixed if pair[0] not in names)]
                        break
                else:
                    message["headers"] = [*headers, (b"x-request-id", raw_id), *fixed]
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        except Exception as exc:
            # Escaped every exception handler: the server answers 500 (or the exception's status).
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            elapsed = time.perf_counter() - started
            if counted is not None:
                counters.finished(counted, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                peer = scope.get("client")
                write_access_line(method, scope["path"], status, round(elapsed * 1000, 2), request_id,
                                  peer[0] if peer else None)
            REQUEST_ID.reset(token)

    return edge
