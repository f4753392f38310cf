"""Content types name their charset once: a media type given with `; charset=utf-8` made Litestar
append a second one ("text/csv; charset=utf-8; charset=utf-8"), which strict clients reject."""

from __future__ import annotations

import pytest

from .conftest import login


@pytest.mark.parametrize(("who", "url", "expected"), [
    (None, "/scan/sw.js", "text/javascript; charset=utf-8"),
    (None, "/pro/laissez-passer/sw.js", "text/javascript; charset=utf-8"),
    ("pro", "/pro/vehicules/modele.csv", "text/csv; charset=utf-8"),
    ("admin", "/autorite/exports/derogations?format=csv", "text/csv; charset=utf-8"),
    ("admin", "/autorite/exports/derogations?format=csv-fr", "text/csv; charset=utf-8"),
    ("admin", "/autorite/tableau-de-bord/demandes-par-jour.csv", "text/csv; charset=utf-8"),
])
def test_one_charset_per_content_type(client, web_world, who, url, expected) -> None:
    if who:
        login(client, who)
    response = client.get(url)
    assert response.status_code == 200, response.text[:200]
    assert response.headers["content-type"] == expected
