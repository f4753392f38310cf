"""The jobs page of an authority (issue H4): its own runs with their detail, the platform-wide runs
with their detail held back where it names other authorities, never another authority's runs."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from cirqliz.db.models import JobRun

from .conftest import WebWorld, text_of
from .two_authorities import add_second_authority, run, sign_in


def test_an_authority_sees_its_own_share_of_a_run_and_not_the_others(web_world: WebWorld) -> None:
    two = add_second_authority(web_world)
    now = web_world.clock.now()

    async def work(session: Any) -> None:
        started = now - timedelta(minutes=1)
        for authority_id, rows, detail in ((None, 2, "publiés : bis69 n° 4, demo75 n° 2"),
                                           (two.a.authority_id, 1, "paquet n° 2 publié"),
                                           (two.b.authority_id, 1, "paquet n° 4 publié")):
            session.add(JobRun(name="publish_bundles", tick=now, started_at=started, finished_at=now, outcome="ok",
                               rows=rows, detail=detail, worker="web-1:42", authority_id=authority_id))
        session.add(JobRun(name="import_feeds", tick=now, started_at=started - timedelta(minutes=5), finished_at=now,
                           outcome="ok", rows=3, detail="arretes-bis.ics : 3 créées", worker="web-1:42",
                           authority_id=two.b.authority_id))

    run(web_world, work)
    for side, mine, theirs in ((two.a, "paquet n° 2 publié", "paquet n° 4 publié"),
                               (two.b, "paquet n° 4 publié", "paquet n° 2 publié")):
        with TestClient(web_world.app) as client:
            sign_in(client, side, "admin")
            page = html.unescape(text_of(client.get("/autorite/taches").text))
        assert mine in page and "pour votre autorité" in page, side.name
        assert theirs not in page and "bis69 n° 4" not in page and "demo75" not in page, side.name
        assert "Toutes autorités : détail réservé à l'exploitant." in page  # the platform-wide run, held back
        assert ("arretes-bis.ics" in page) is (side is two.b)
