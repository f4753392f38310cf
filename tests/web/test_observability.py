"""Request ids in responses and in JSON log lines."""

from __future__ import annotations

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
