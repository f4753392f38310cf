"""The authority's journal shows an issued pass as people read it: status « valide », zones by code."""

from __future__ import annotations

import html
import re

from litestar.testing import TestClient

from .conftest import login
from .test_api import _apply, _approve_and_publish, _token


def test_an_issued_pass_reads_with_its_zone_codes_and_status(client: TestClient, web_world) -> None:
    created = _apply(client, _token(web_world), zones=["PARIS-CENTRE", "MARAIS-PIETON"])
    _approve_and_publish(web_world, created["id"])
    login(client, "reviewer")
    page = html.unescape(client.get("/autorite/journal").text)
    zones = re.findall(r"zones : ([^<]*)</li>", page)
    # The application's record and the issued pass's both name the zones by code (the pass's record holds
    # their reference numbers, 1 and 2 in the demo).
    assert zones.count("PARIS-CENTRE, MARAIS-PIETON") == 2 and "1, 2" not in zones, zones
    assert "statut : valide" in page
