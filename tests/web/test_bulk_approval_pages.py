"""The bulk approval button: a large selection runs in the background with a progress page that
reloads itself and ends on the result; another authority can neither approve by posting ids nor
see the run."""

from __future__ import annotations

import re
import time

import pytest

from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.passwords import hash_password
from cirqliz.web.controllers import authority as authority_pages

from .conftest import login, post_form, text_of
from .test_authority import EV, TRUCK, VAN, application, passes_of, run, submitted_application

BULK = "/autorite/demandes/acceptation-groupee"
OTHER_PASSWORD = "autre-autorite-2026"


def _finished_page(client, url: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        response = client.get(url)
        assert response.status_code == 200
        if 'http-equiv="refresh"' not in response.text:
            return response.text
        assert time.monotonic() < deadline, "the bulk approval never finished"
        time.sleep(0.05)


def test_a_large_selection_runs_in_the_background_with_its_progress(client, web_world, monkeypatch) -> None:
    monkeypatch.setattr(authority_pages, "BULK_INLINE", 1)
    ids = [submitted_application(web_world, vehicles=(v,)) for v in (VAN, EV, TRUCK)]
    login(client, "reviewer")
    response = post_form(client, BULK, {"ids": [str(i) for i in ids]}, follow_redirects=False)
    assert response.status_code == 303
    progress = response.headers["location"]
    assert re.fullmatch(r"/autorite/demandes/acceptation-groupee/[0-9a-f-]{36}", progress)
    first = client.get(progress)
    assert first.status_code == 200
    if 'http-equiv="refresh"' in first.text:  # still running: the count done / total is shown
        assert re.search(r"\d / 3 demandes acceptées", text_of(first.text))
    page = text_of(_finished_page(client, progress))
    accepted = sum(1 for i in ids if application(web_world, i).status == "approved")
    assert f"{accepted} demande(s) acceptée(s), {3 - accepted} en échec." in page
    assert accepted >= 2 and all(len(passes_of(web_world, i)) == 1 for i in ids[:2])
    state = client.get(progress + "/etat").json()
    assert state["finished"] and state["total"] == 3 and state["accepted"] == accepted


def test_another_authority_cannot_approve_by_posting_ids_nor_see_the_run(client, web_world, monkeypatch) -> None:
    monkeypatch.setattr(authority_pages, "BULK_INLINE", 1)
    ids = [submitted_application(web_world, vehicles=(v,)) for v in (VAN, EV)]
    login(client, "reviewer")
    progress = post_form(client, BULK, {"ids": [str(ids[0]), "x"]}, follow_redirects=False).headers["location"]
    _finished_page(client, progress)

    async def other_authority(session):
        org = await create_organisation(session, kind=OrganisationKind.AUTHORITY, code="autre14",
                                        name="Autre Ville", clock=web_world.clock)
        user = await create_user(session, email="instructeur@autre14.fr", display_name="Instructeur Autre",
                                 clock=web_world.clock, password_hash=hash_password(OTHER_PASSWORD))
        await add_membership(session, user_id=user.id, organisation_id=org.id, role=Role.REVIEWER,
                             clock=web_world.clock)

    run(web_world, other_authority)
    client.cookies.clear()
    assert post_form(client, "/connexion", {"email": "instructeur@autre14.fr", "password": OTHER_PASSWORD},
                     follow_redirects=False).status_code == 303
    assert client.get(progress).status_code == 404
    assert client.get(progress + "/etat").status_code == 404
    for posted, inline in ((["1"], True), ([str(ids[1]), "y"], False)):
        monkeypatch.setattr(authority_pages, "BULK_INLINE", 5 if inline else 1)
        response = post_form(client, BULK, {"ids": posted}, follow_redirects=True)
        assert response.status_code == 200
        page = text_of(_finished_page(client, str(response.url)) if not inline else response.text)
        assert "0 demande(s) acceptée(s)" in page
    assert application(web_world, ids[1]).status == "submitted" and not passes_of(web_world, ids[1])


@pytest.mark.parametrize("who", ["pro", "agent"])
def test_only_reviewers_see_a_run(client, web_world, who, monkeypatch) -> None:
    monkeypatch.setattr(authority_pages, "BULK_INLINE", 0)
    login(client, "reviewer")
    progress = post_form(client, BULK, {"ids": ["z"]}, follow_redirects=False).headers["location"]
    client.cookies.clear()
    login(client, who)
    assert client.get(progress).status_code in (401, 403)


def test_the_tasks_page_lists_scheduled_jobs_not_bulk_approvals(client, web_world, monkeypatch) -> None:
    monkeypatch.setattr(authority_pages, "BULK_INLINE", 0)
    app_id = submitted_application(web_world)
    login(client, "admin")
    _finished_page(client, post_form(client, BULK, {"ids": [str(app_id)]}, follow_redirects=False).headers["location"])
    page = client.get("/autorite/taches")
    assert page.status_code == 200
    assert "acceptation_groupee" not in page.text and str(app_id) not in page.text


def test_a_run_cut_short_by_a_restart_says_so_and_stops_reloading(client, web_world) -> None:
    from datetime import timedelta

    from sqlmodel import select

    from cirqliz.db.models import Organisation
    from cirqliz.demo.seed import AUTHORITY_CODE
    from cirqliz.issuance.bulk_approval import job_row

    app_id = submitted_application(web_world)

    async def recorded_never_run(session):  # a server that stopped right after recording the run
        authority = (await session.exec(select(Organisation).where(Organisation.code == AUTHORITY_CODE))).one()
        row = job_row(authority_id=authority.id, reviewer_id=None, raw_ids=[str(app_id)], at=web_world.clock.now())
        session.add(row)
        return row.id

    job_id = run(web_world, recorded_never_run)
    login(client, "reviewer")
    url = f"{BULK}/{job_id}"
    web_world.clock.advance(timedelta(minutes=1))
    page = client.get(url)
    assert 'http-equiv="refresh"' in page.text and "interrompue" not in page.text
    assert client.get(url + "/etat").json()["stalled"] is False
    web_world.clock.advance(timedelta(minutes=2))
    page = client.get(url)
    assert page.status_code == 200 and 'http-equiv="refresh"' not in page.text
    assert "interrompue (le serveur a redémarré)" in text_of(page.text)
    assert "aucune ne sera acceptée deux fois" in text_of(page.text)
    assert client.get(url + "/etat").json()["stalled"] is True
    # posting the same selection again finishes the work
    response = post_form(client, BULK, {"ids": [str(app_id)]}, follow_redirects=True)
    assert "1 demande(s) acceptée(s)" in text_of(response.text)
    assert application(web_world, app_id).status == "approved"
