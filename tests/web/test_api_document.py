"""The API's OpenAPI document (/schema/openapi.json) speaks French and says what the API really answers:
every /api/ operation is described in web/api_document.py (or written by hand for the plain ASGI
verify), no English reason phrase of Litestar's is left, and real answers, refusals included, match the
document's schemas."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from cirqliz.demo.seed import AUTHORITY_ID
from cirqliz.settings import Settings
from cirqliz.web.api_document import OPERATIONS
from cirqliz.web.app import create_app
from cirqliz.web.controllers.api import PLAIN_OPERATIONS

from .test_api import BODY, _approve_and_publish, _auth, _token

ENGLISH = {status.phrase for status in HTTPStatus} | {"Validation Exception", "Redirect Response"}


def _api_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in document["paths"].items() if path.startswith("/api/")
            for method, operation in item.items()]


def _matches(document: dict[str, Any], path: str, method: str, status: int, answer: Any,
             media: str = "application/json") -> None:
    """`answer` fits the schema the document gives for (method, path, status)."""
    response = document["paths"][path][method]["responses"][str(status)]
    schema = {**response["content"][media]["schema"], "components": document["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(answer), key=str)
    assert not errors, f"{method.upper()} {path} {status}: {[e.message for e in errors][:3]}"


def test_every_api_operation_is_described_in_french(client: TestClient) -> None:
    document = client.get("/schema/openapi.json").json()
    operations = _api_operations(document)
    assert len(operations) >= 7
    for method, path, operation in operations:
        written = OPERATIONS.get((method, path)) or PLAIN_OPERATIONS.get(path, {}).get(method)
        assert written is not None, f"{method.upper()} {path} is not described in web/api_document.py"
        assert operation["description"] == written["description"]
        for status, response in operation["responses"].items():
            assert response["description"] not in ENGLISH, (method, path, status, response["description"])
        # The refusals every operation of the API may give, with the API's error object.
        for status in ("400", "401", "403", "429"):
            content = operation["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/ApiError"}, (method, path, status)
        for parameter in operation.get("parameters", []):
            if parameter["in"] in ("query", "path"):
                assert parameter.get("description"), (method, path, parameter["name"])
    assert "Validation Exception" not in str([operation for _, _, operation in operations])
    assert document["components"]["schemas"]["ApplicationRequest"]["properties"]["zones"]["type"] == "array"


def test_real_answers_match_the_document(client: TestClient, web_world) -> None:
    document = client.get("/schema/openapi.json").json()
    token = _token(web_world)
    created = client.post("/api/v1/applications", json=BODY, headers=_auth(token))
    assert created.status_code == 201, created.text
    _matches(document, "/api/v1/applications", "post", 201, created.json())
    _approve_and_publish(web_world, created.json()["id"])

    path = "/api/v1/applications/{application_id}"
    read = client.get(f"/api/v1/applications/{created.json()['id']}", headers=_auth(token))
    assert read.status_code == 200 and read.json()["passes"], read.text
    _matches(document, path, "get", 200, read.json())
    listed = client.get("/api/v1/passes", headers=_auth(token))
    _matches(document, "/api/v1/passes", "get", 200, listed.json())
    serial = listed.json()["passes"][0]["serial"]
    one = client.get(f"/api/v1/passes/{serial}", headers=_auth(token))
    assert one.json()["text"].startswith("CQ1:")
    _matches(document, "/api/v1/passes/{ref}", "get", 200, one.json())

    refusals = {
        ("post", "/api/v1/applications", 422): client.post("/api/v1/applications", json=BODY | {"purpose": 99},
                                                           headers=_auth(token)),
        ("post", "/api/v1/applications", 400): client.post("/api/v1/applications", json=BODY | {"zones": []},
                                                           headers=_auth(token)),
        ("get", path, 404): client.get(f"/api/v1/applications/{'0' * 8}-0000-4000-8000-{'0' * 12}",
                                       headers=_auth(token)),
        ("get", "/api/v1/passes", 401): client.get("/api/v1/passes", headers=_auth("cq_inconnu")),
        ("get", "/api/v1/passes", 403): client.get(
            "/api/v1/passes", headers=_auth(_token(web_world, scopes=("verify",)))),
        ("get", "/api/v1/exemptions.json", 403): client.get("/api/v1/exemptions.json", headers=_auth(token)),
    }
    for (method, where, status), answer in refusals.items():
        assert answer.status_code == status, (where, answer.text)
        _matches(document, where, method, status, answer.json())

    authority = _token(web_world, organisation=AUTHORITY_ID, user="admin")
    rows = client.get("/api/v1/exemptions.json", headers=_auth(authority))
    assert rows.status_code == 200 and rows.json(), rows.text
    _matches(document, "/api/v1/exemptions.json", "get", 200, rows.json())


def test_production_document_lists_only_the_api_with_its_token(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}", env="production",
                        secret_key="test-secret-key-not-for-production-0123456789", keys_dir=str(tmp_path / "keys"),
                        scheduler_enabled=False)
    with TestClient(create_app(settings)) as client:
        document = client.get("/schema/openapi.json").json()
    assert all(path.startswith("/api/") for path in document["paths"])
    assert document["security"] == [{"BearerToken": []}]
    assert set(document["components"]["securitySchemes"]) == {"BearerToken"}

