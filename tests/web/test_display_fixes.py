"""Small display fixes found while hardening the pages (issue 9, secondary items)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from litestar.testing import TestClient

from .conftest import login, post_form
from .test_professional import approve, submitted_application, visible

SCANNER_JS = Path(__file__).parents[2] / "cirqliz" / "web" / "static" / "scanner" / "app.js"


def _labels(client: TestClient, url: str) -> dict:
    page = client.get(url)
    raw = re.search(r'<script type="application/json" id="scanner-labels">(.*?)</script>', page.text, re.S).group(1)
    return json.loads(raw)


def test_scanner_serial_lookup_says_the_pass_status_in_the_page_language(client: TestClient) -> None:
    login(client, "agent")
    assert _labels(client, "/scan?lang=fr")["statusWords"] == {
        "active": "valide", "suspended": "suspendu", "revoked": "révoqué", "expired": "expiré"}
    assert _labels(client, "/scan?lang=en")["statusWords"]["revoked"] == "revoked"
    # The typed-serial verdict goes through the words, never the raw API code.
    code = SCANNER_JS.read_text(encoding="utf-8")
    assert "fill(L.serialStatus, { status: L.statusWords?.[code] ?? code })" in code
    assert "{ status: data.status }" not in code


def test_phone_page_shows_the_zone_hours_when_the_pass_has_none(client: TestClient, web_world) -> None:
    login(client, "pro")
    issued = approve(web_world, submitted_application(client))
    assert not issued.windows
    phone = visible(client.get(f"/pro/laissez-passer/{issued.id}/telephone").text)
    printable = visible(client.get(f"/pro/laissez-passer/{issued.id}/imprimer").text)
    hours = re.search(r"PARIS-CENTRE : ([^;]+?) (?:Validité|$)", printable).group(1).strip()
    assert hours and "7 h" in hours, printable
    assert f"PARIS-CENTRE : {hours}" in phone


def test_back_office_shows_whole_day_periods_as_inclusive_days(client: TestClient, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)  # 24/11/2026 to 10/12/2026, whole days
    post_form(client, "/deconnexion")
    login(client, "reviewer")
    expected = "du 24/11/2026 au 10/12/2026 inclus"
    for url in (f"/autorite/demandes/{app_id}", "/autorite/demandes?statut=submitted", "/autorite/demandes"):
        page = visible(client.get(url).text)
        assert expected in page, url
        assert "00:00 →" not in page, url
    issued = approve(web_world, app_id)
    for url in (f"/autorite/laissez-passer/{issued.id}", "/autorite/laissez-passer"):
        page = visible(client.get(url).text)
        assert expected in page and "00:00 →" not in page, url
