"""Request ids in responses and in JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

from cirqliz.web.observability import JsonFormatter


def test_every_response_carries_a_request_id_and_a_sane_given_one_is_kept(client) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert first and second and first != second
    assert client.get("/healthz", headers={"X-Request-ID": "trace-abc-123"}).headers["x-request-id"] == "trace-abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


def test_access_lines_are_json_with_the_request_id(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="cirqliz.access"):
        response = client.get("/readyz", headers={"X-Request-ID": "trace-xyz-789"})
    records = [r for r in caplog.records if r.name == "cirqliz.access" and getattr(r, "path", "") == "/readyz"]
    assert records, "an access line per request"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "trace-xyz-789"
    assert line["status"] == response.status_code == 200
    assert line["method"] == "GET" and line["duration_ms"] >= 0


def test_the_access_line_has_the_status_the_client_got_when_a_middleware_refuses(client, caplog) -> None:
    # A body over the limit is refused before any handler runs: the line must say 413, not 500.
    with caplog.at_level(logging.INFO, logger="cirqliz.access"):
        response = client.post("/connexion", content=b"x" * (2 * 1024 * 1024),
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    records = [r for r in caplog.records if r.name == "cirqliz.access" and getattr(r, "path", "") == "/connexion"]
    assert records and records[-1].status == 413


def test_a_json_line_gives_the_utc_time_to_the_millisecond_and_any_extra_value() -> None:
    formatter = JsonFormatter()
    for created in (1795420800.0, 1795420800.9996, 1795420801.25, 1795420800.5):  # also back in time
        record = logging.LogRecord("cirqliz.access", logging.INFO, __file__, 0, "POST %s", ("/vérif",), None)
        record.created = created
        record.path, record.status = "/vérif", 200
        record.duration_ms = object()  # not JSON: written as its text rather than failing the request
        line = json.loads(formatter.format(record))
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert line["time"] == expected, (created, line["time"])
        assert line["message"] == "POST /vérif" and line["path"] == "/vérif" and line["status"] == 200
        assert line["duration_ms"].startswith("<object object")
        assert line["level"] == "info" and line["logger"] == "cirqliz.access" and line["request_id"] == "-"


def test_an_access_line_written_straight_to_the_json_handler_is_the_line_logging_would_write(monkeypatch) -> None:
    from cirqliz.web import observability

    observability.configure_logging()
    handler = next(h for h in logging.getLogger("cirqliz").handlers if getattr(h, "_cirqliz", False))
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's own capture handlers
    assert observability._only_json_handler() is handler
    monkeypatch.setattr(observability.time, "time", lambda: 1795420800.25)
    observability.write_access_line("POST", "/api/v1/vérif", 429, 1.5, "trace-abc-123")
    direct = stream.getvalue()
    record = observability._AccessRecord("POST", "/api/v1/vérif", 429, 1.5, "trace-abc-123")
    assert direct == JsonFormatter().format(record) + "\n"
    assert json.loads(direct) == {
        "time": "2026-11-23T08:00:00.250+00:00", "level": "info", "logger": "cirqliz.access",
        "message": "POST /api/v1/vérif 429", "request_id": "trace-abc-123", "method": "POST",
        "path": "/api/v1/vérif", "status": 429, "duration_ms": 1.5}

    # Another handler on the way: the record goes through logging, to both.
    seen = []
    extra = logging.Handler()
    extra.emit = seen.append  # type: ignore[method-assign]
    monkeypatch.setattr(logging.getLogger(), "handlers", [extra])
    assert observability._only_json_handler() is None
    observability.write_access_line("GET", "/healthz", 200, 0.1, "trace-def-456")
    assert [(r.name, r.path, r.status, r.request_id, r.getMessage()) for r in seen] == [
        ("cirqliz.access", "/healthz", 200, "trace-def-456", "GET /healthz 200")]
    assert json.loads(stream.getvalue().splitlines()[-1])["request_id"] == "trace-def-456"


def test_an_unrouted_request_gets_an_id_the_security_headers_and_an_access_line(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="cirqliz.access"):
        response = client.get("/nulle-part/ici", headers={"X-Request-ID": "trace-404-abc"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-404-abc"
    assert response.headers["x-content-type-options"] == "nosniff"
    records = [r for r in caplog.records if r.name == "cirqliz.access" and r.path == "/nulle-part/ici"]
    assert [(r.status, r.request_id, r.client) for r in records] == [(404, "trace-404-abc", "testclient")]


def test_api_requests_go_through_no_session_or_csrf_middleware(web_world, monkeypatch) -> None:
    from litestar.middleware.csrf import CSRFMiddleware
    from litestar.middleware.session.base import SessionMiddleware
    from litestar.testing import TestClient

    from cirqliz.web.app import create_app

    calls = []
    for cls in (CSRFMiddleware, SessionMiddleware):
        monkeypatch.setattr(cls, "__call__", lambda self, *args, _real=cls.__call__, _cls=cls:
                            calls.append(_cls) or _real(self, *args))
    with TestClient(create_app(web_world.settings, clock=web_world.clock)) as client:
        assert client.get("/api/v1/passes").status_code == 401
        assert calls == []
        assert client.get("/connexion").status_code == 200  # pages keep both
        assert CSRFMiddleware in calls and SessionMiddleware in calls
