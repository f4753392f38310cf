"""GET /metrics: request counters by route template, application counters, and who may read them."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cirqliz.demo.seed import VEHICLES
from cirqliz.web.app import create_app
from cirqliz.web.metrics import is_loopback

from .conftest import login

TOKEN = "jeton-de-supervision-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_client(web_world):
    settings = dataclasses.replace(web_world.settings, metrics_token=TOKEN)
    with TestClient(create_app(settings, clock=web_world.clock)) as client:
        yield client


@functools.lru_cache(maxsize=8)
def _samples(text: str) -> tuple[Any, ...]:
    # Parsed once per text: the process's registry grows through the run, and a test reads one text
    # for many samples.
    return tuple(sample for family in text_string_to_metric_families(text) for sample in family.samples)


def _sample(text: str, name: str, **labels: str) -> float:
    for sample in _samples(text):
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return 0.0


def test_requests_are_counted_by_route_template_and_status(metrics_client) -> None:
    before = metrics_client.get("/metrics", headers=AUTH)
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    start = _sample(before.text, "cirqliz_http_requests_total", path="/connexion", status_code="200", method="GET")
    for _ in range(3):
        assert metrics_client.get("/connexion").status_code == 200
    after = metrics_client.get("/metrics", headers=AUTH).text
    assert _sample(after, "cirqliz_http_requests_total", path="/connexion", status_code="200", method="GET") \
        == start + 3
    assert _sample(after, "cirqliz_http_request_duration_seconds_count", path="/connexion", status_code="200") >= 3


def test_labels_are_route_templates_never_ids_or_plates(metrics_client) -> None:
    vehicle_id = VEHICLES[0][0]
    application_id = uuid.uuid4()
    login(metrics_client, "reviewer")
    assert metrics_client.get(f"/autorite/demandes/{application_id}").status_code == 404
    login(metrics_client, "pro")
    metrics_client.get(f"/pro/vehicules/{vehicle_id}")
    text = metrics_client.get("/metrics", headers=AUTH).text
    assert str(vehicle_id) not in text and str(application_id) not in text
    assert "AB-123-CD" not in text and "@" not in text
    assert _sample(text, "cirqliz_http_requests_total", path="/autorite/demandes/{application_id}",
                   status_code="404") >= 1


def test_labels_are_looked_up_once_per_route_and_status(metrics_client, monkeypatch) -> None:
    from cirqliz.web import metrics

    assert metrics_client.get("/connexion").status_code == 200  # the children of this route now exist
    calls = []
    for metric in (metrics.REQUESTS, metrics.DURATION, metrics.IN_PROGRESS, metrics.ERRORS):
        monkeypatch.setattr(metric, "labels", lambda *values, _m=metric.labels: calls.append(values) or _m(*values))
    before = _sample(metrics_client.get("/metrics", headers=AUTH).text, "cirqliz_http_requests_total",
                     path="/connexion", status_code="200", method="GET")
    for _ in range(3):
        assert metrics_client.get("/connexion").status_code == 200
    metrics_client.head("/connexion")  # HEAD and OPTIONS are not counted
    assert calls == []
    after = metrics_client.get("/metrics", headers=AUTH).text
    assert _sample(after, "cirqliz_http_requests_total", path="/connexion", status_code="200", method="GET") \
        == before + 3
    assert _sample(after, "cirqliz_http_requests_in_progress", path="/connexion", method="GET") == 0
    assert _sample(after, "cirqliz_http_requests_total", path="/metrics") == 0  # /metrics itself is not counted


def test_a_refusal_by_an_inner_middleware_is_counted_with_its_status(metrics_client) -> None:
    labels = {"path": "/connexion", "method": "POST"}
    before = metrics_client.get("/metrics", headers=AUTH).text
    # No CSRF token: the CSRF middleware refuses with 403 before the handler runs.
    assert metrics_client.post("/connexion", data={"email": "a@b.fr", "password": "x"}).status_code == 403
    after = metrics_client.get("/metrics", headers=AUTH).text
    assert _sample(after, "cirqliz_http_requests_total", status_code="403", **labels) \
        == _sample(before, "cirqliz_http_requests_total", status_code="403", **labels) + 1
    assert _sample(after, "cirqliz_http_requests_total", status_code="200", **labels) \
        == _sample(before, "cirqliz_http_requests_total", status_code="200", **labels)


def test_the_token_is_required_when_set(metrics_client) -> None:
    assert metrics_client.get("/metrics").status_code == 401
    assert metrics_client.get("/metrics", headers={"Authorization": "Bearer faux"}).status_code == 401
    assert metrics_client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert metrics_client.get("/metrics", headers=AUTH).status_code == 200


def test_without_a_token_only_loopback_clients_may_read(client) -> None:
    assert client.get("/metrics").status_code == 403  # the test client is not 127.0.0.1
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.9.10")
    assert not is_loopback("10.0.0.1") and not is_loopback("testclient") and not is_loopback(None)


def test_metrics_can_be_switched_off(web_world) -> None:
    settings = dataclasses.replace(web_world.settings, metrics_enabled=False, metrics_token=TOKEN)
    with TestClient(create_app(settings, clock=web_world.clock)) as client:
        assert client.get("/metrics", headers=AUTH).status_code == 404


def test_request_metrics_add_what_inc_and_observe_would() -> None:
    from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest

    from cirqliz.web import metrics

    registry = CollectorRegistry()
    reference = Histogram("reference_seconds", "the same buckets", registry=registry)
    counter = metrics.RequestMetrics()
    path = f"/essai/{uuid.uuid4().hex}"
    for elapsed, status in ((0.003, 200), (0.3, 200), (0.005, 200), (7.0, 503), (100.0, 503), (0.0, 200)):
        request = counter.started("POST", path)
        assert _sample(generate_latest(REGISTRY).decode(), "cirqliz_http_requests_in_progress", path=path) == 1
        counter.finished(request, status, elapsed)
        reference.observe(elapsed)
    text = generate_latest(REGISTRY).decode()
    assert _sample(text, "cirqliz_http_requests_in_progress", path=path) == 0
    assert _sample(text, "cirqliz_http_requests_total", path=path, status_code="200", method="POST") == 4
    assert _sample(text, "cirqliz_http_requests_total", path=path, status_code="503", method="POST") == 2
    assert _sample(text, "cirqliz_http_requests_error_total", path=path, status_code="503") == 2
    assert _sample(text, "cirqliz_http_requests_error_total", path=path, status_code="200") == 0
    expected = generate_latest(registry).decode()
    for sample in next(iter(text_string_to_metric_families(expected))).samples:
        name = sample.name.replace("reference_seconds", "cirqliz_http_request_duration_seconds")
        if sample.name.endswith("_created"):
            continue
        ours = sum(_sample(text, name, path=path, status_code=status, **{k: v for k, v in sample.labels.items()})
                   for status in ("200", "503"))
        assert ours == pytest.approx(sample.value), (sample.name, sample.labels)
