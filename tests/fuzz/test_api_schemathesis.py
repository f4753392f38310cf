"""Schemathesis against the OpenAPI document (/schema/openapi.json): every /api/v1 operation (and the
public /donnees files) gets generated requests, valid and invalid by the document, with a valid bearer
token, in-process through
Litestar's TestClient on the demo world. No response may be a 5xx, and responses must match the
document's response schemas.

Examples per operation: EXAMPLES (the CI hypothesis profile derandomises them).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from litestar.testing import TestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from web.conftest import WEB_T0, _seed
from web.mailbox import in_db

from cirqliz.clock import FixedClock
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, DEMO_PASSWORD, USER_IDS, USERS
from cirqliz.issuance.api_tokens import create_api_token
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.publication import publish_bundle
from cirqliz.settings import Settings
from cirqliz.web.app import create_app

EXAMPLES = 80
ALL_SCOPES = ("applications:write", "passes:read", "verify", "exports:read")
BASE = "http://testserver"


class _World:
    def __init__(self, app: Any, settings: Settings, clock: FixedClock) -> None:
        self.app, self.settings, self.clock = app, settings, clock


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], dict[str, Any]]]:
    """The demo world with an approved application and a published bundle; tokens of the company
    and of the authority (rate limit raised for the run); the OpenAPI document."""
    root: Path = tmp_path_factory.mktemp("schemathesis")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{root / 'cirqliz.db'}", env="test",
        secret_key="test-secret-key-not-for-production-0123456789", keys_dir=str(root / "keys"),
        documents_dir=str(root / "documents"), outbox_dir=str(root / "outbox"), scheduler_enabled=False,
    )
    upgrade(settings.database_url)
    clock = FixedClock(WEB_T0)
    _seed(settings, clock)
    app = create_app(settings, clock=clock)
    app.state.api_rate_limit = 10**9
    world = _World(app, settings, clock)
    signer = app.state.signer

    async def prepare(session: Any) -> dict[str, str]:
        tokens = {}
        for name, organisation, user in (("company", COMPANY_ID, "pro"), ("authority", AUTHORITY_ID, "admin")):
            _, tokens[name] = await create_api_token(session, organisation_id=organisation, name="schemathesis",
                                                     scopes=ALL_SCOPES, created_by=USER_IDS[user], clock=clock)
        return tokens

    tokens = in_db(world, prepare)
    with TestClient(app) as client:
        body = {"zones": ["PARIS-CENTRE"], "vehicles": ["AB-123-CD"], "purpose": 1,
                "not_before": "2026-11-23T00:00:00+01:00", "expires_at": "2026-11-28T00:00:00+01:00"}
        created = client.post("/api/v1/applications", json=body,
                              headers={"Authorization": f"Bearer {tokens['company']}"})
        assert created.status_code == 201, created.text

        async def approve(session: Any) -> None:
            await approve_application(session, application_id=uuid.UUID(created.json()["id"]),
                                      reviewer_id=USER_IDS["reviewer"], signer=signer, clock=clock)
            await publish_bundle(session, authority_id=AUTHORITY_ID, keystore=signer.keystore(AUTHORITY_CODE),
                                 clock=clock)

        in_db(world, approve)
        document = client.get("/schema/openapi.json").json()
        yield client, tokens, document


def _operations(document: dict[str, Any]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path.startswith(("/api/v1/", "/donnees/"))]


def _send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    """A requests-style call (what schemathesis prepares) sent through Litestar's httpx TestClient."""
    options: dict[str, Any] = {"headers": kwargs.get("headers"), "params": kwargs.get("params") or None}
    if "json" in kwargs:
        options["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str | bytes):
        options["content"] = data
    elif data is not None:
        options["data"] = data
    if kwargs.get("files"):
        options["files"] = kwargs["files"]
    return client.request(kwargs["method"], kwargs["url"], **options)


def test_openapi_lists_the_api_operations(api) -> None:
    _, _, document = api
    labels = {op.label for op in _operations(document)}
    assert {"POST /api/v1/applications", "GET /api/v1/passes", "POST /api/v1/verify"} <= labels


def _fuzz_operation(client: TestClient, operation: Any, headers: dict[str, str], failures: list[str],
                    statuses: Counter) -> int:
    """EXAMPLES generated requests to one operation, valid and invalid by the document (schemathesis'
    positive and negative modes); failures are appended; returns the number of requests sent."""
    sent = 0

    @settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    def check(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = _send(client, case.as_transport_kwargs(base_url=BASE, headers=headers))
        statuses[response.status_code // 100 * 100] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except Exception as exc:
            failures.append(f"{operation.label} → {response.status_code}: {str(exc)[:600]}\n"
                            f"  request: {case.as_transport_kwargs(base_url=BASE)}")
            raise

    try:
        check()
    except Exception as exc:  # a check failure is already in `failures`
        if not failures or not failures[-1].startswith(operation.label):
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    return sent


def test_api_operations_never_answer_a_server_error(api) -> None:
    client, tokens, document = api
    counts: dict[str, int] = {}
    failures: list[str] = []
    statuses: Counter = Counter()
    for operation in _operations(document):
        token = tokens["authority" if "exemptions" in operation.path else "company"]
        counts[operation.label] = _fuzz_operation(client, operation, {"Authorization": f"Bearer {token}"}, failures,
                                                  statuses)
    print(f"\nschemathesis requests per operation: {counts}; responses by class: {dict(statuses)}")
    assert not failures, "\n".join(failures[:10])
    assert all(n >= 20 for n in counts.values()), counts
    assert statuses[200] > 0 and statuses[400] > 0, statuses  # the token works, and refusals are 4xx


def test_scanner_check_uploads_never_answer_a_server_error(api) -> None:
    """POST /scan/api/checks (session and CSRF header of an agent): generated bodies, valid and invalid
    (huge numbers, wrong types, deep nesting), are stored or refused with a 4xx, never a 5xx."""
    client, _, document = api
    [operation] = [op for op in _session_operations(document) if op.label == "POST /scan/api/checks"]
    client.get("/connexion")
    token = client.cookies.get("cirqliz_csrf")
    signed_in = client.post("/connexion", data={"email": USERS["agent"][0], "password": DEMO_PASSWORD,
                                                "_csrf_token": token}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text[:300]
    failures: list[str] = []
    statuses: Counter = Counter()
    try:
        sent = _fuzz_operation(client, operation, {"x-csrftoken": token}, failures, statuses)
    finally:
        client.post("/deconnexion", data={"_csrf_token": token})
    print(f"\nschemathesis /scan/api/checks: {sent} requests; responses by class: {dict(statuses)}")
    assert not failures, "\n".join(failures[:10])
    assert sent >= 20 and statuses[200] > 0 and statuses[400] > 0, statuses


def _session_operations(document: dict[str, Any]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize(("path", "status", "expected"), [
    ("/api/v1/passes?limit=%C2%B2", 400, {"field": "limit"}),  # "²" is a digit to isdigit(), not a number
    ("/api/v1/passes?offset=%D9%A1", 200, {"offset": 1}),  # Arabic-Indic one: a decimal digit, read as 1
])
def test_unicode_digits_in_integer_parameters(api, path: str, status: int, expected: dict) -> None:
    client, tokens, _ = api
    response = client.get(path, headers={"Authorization": f"Bearer {tokens['company']}"})
    assert response.status_code == status, response.text
    assert expected.items() <= response.json().items()


def test_verify_with_junk_text_is_a_verdict_not_an_error(api) -> None:
    client, tokens, _ = api
    response = client.post("/api/v1/verify", json={"text": "CQ1:%%%", "zone": "PARIS-CENTRE"},
                           headers={"Authorization": f"Bearer {tokens['company']}"})
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "MALFORMED"

