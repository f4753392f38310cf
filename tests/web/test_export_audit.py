"""Issue 14, item 8: refused exemption exports and the audit log.

Requests without a valid token are not written to the audit log (a log line and a metric) and are
rate-limited per client address; refusals of someone known (wrong role, missing scope, a token of
an organisation that is not an authority) are audited, with capped, known fields only.
"""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient
from prometheus_client import REGISTRY
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord
from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS
from cirqliz.issuance.exemptions import MAX_REFUSAL_TEXT

from .conftest import login
from .mailbox import api_token, in_db

HUGE = {"zone": "Z" * 700, "junk": "x" * 700, "status": "s" * 700}  # a query string of over 2 KB
REQUESTS = 50


def _audit(world) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).order_by(col(AuditRecord.at)))).all())

    return in_db(world, work)




def _unaudited_refusals() -> float:
    return REGISTRY.get_sample_value("cirqliz_export_refusals_total", {"channel": "api", "status": "401"}) or 0.0


def _stored_text(record: AuditRecord) -> str:
    return json.dumps(record.after, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("authorization", [None, "Bearer pas-un-vrai-jeton"], ids=["no_token", "bad_token"])
def test_anonymous_refusals_are_not_audited_and_are_rate_limited(client: TestClient, web_world,
                                                                 authorization) -> None:
    before = len(_audit(web_world))
    limit = web_world.settings.export_refusal_rate_limit
    counted = _unaudited_refusals()
    headers = {"Authorization": authorization} if authorization else {}
    statuses = []
    for _ in range(REQUESTS):
        response = client.get("/api/v1/exemptions.csv", params=HUGE, headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = response.json()
            assert body["detail"].startswith("Trop de requêtes refusées depuis cette adresse")
    assert len(_audit(web_world)) == before  # not one record, whatever the query string
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[:limit] == [401] * limit
    # the counting window is one minute: a run across its edge may be let through twice at most
    assert statuses.count(429) >= REQUESTS - 2 * limit, statuses
    assert _unaudited_refusals() - counted == REQUESTS  # each one is still counted (metric)


def test_rate_limit_of_anonymous_refusals_leaves_valid_tokens_alone(client: TestClient, web_world) -> None:
    for _ in range(web_world.settings.export_refusal_rate_limit + 2):
        client.get("/api/v1/exemptions.csv")
    token = api_token(web_world, AUTHORITY_ID, ["exports:read"])
    assert client.get("/api/v1/exemptions.csv", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_refusal_for_a_missing_scope_is_audited_with_capped_fields(client: TestClient, web_world) -> None:
    before = len(_audit(web_world))
    token = api_token(web_world, AUTHORITY_ID, ["verify"])
    response = client.get("/api/v1/exemptions.csv", params=HUGE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    (record,) = _audit(web_world)[before + 1:]  # after the token's own creation record
    assert record.action == "export_refused" and record.after["status"] == 403
    assert record.after["token_id"] is not None
    assert len(_stored_text(record)) <= MAX_REFUSAL_TEXT
    assert "junk" not in record.after["query"]  # only the export's own parameters
    assert record.after["query"].startswith("status=sss")  # parameters in name order, then cut


def test_refusal_of_a_wrong_role_is_audited_with_capped_fields(client: TestClient, web_world) -> None:
    login(client, "pro")
    before = len(_audit(web_world))
    response = client.get("/autorite/exports/derogations", params=HUGE)
    assert response.status_code == 403
    (record,) = _audit(web_world)[before:]
    assert record.action == "export_refused" and record.actor_id == USER_IDS["pro"]
    assert len(_stored_text(record)) <= MAX_REFUSAL_TEXT
    assert "junk" not in record.after["query"]


def test_refusal_of_a_token_of_another_kind_of_organisation_is_audited(client: TestClient, web_world) -> None:
    token = api_token(web_world, COMPANY_ID, ["exports:read"])
    before = len(_audit(web_world))
    response = client.get("/api/v1/exemptions.json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    (record,) = _audit(web_world)[before:]
    assert record.action == "export_refused" and record.after["status"] == 403
    assert record.after["token_id"] is not None
