"""Authorities are isolated from each other (issue 14, item 4): organisers belong to one authority,
the team page and invitations only reach the caller's authority and its organisers, events go to
the organiser's own authority, and an agent's check never lands on another authority's pass.

Each test reproduces one reported hole; the route-by-route matrix for two authorities is in
test_authorisation_matrix.py.
"""

from __future__ import annotations

import html
import uuid
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, Event, EventApproval, Invitation, PassCheck, ZoneClosure
from cirqliz.demo.seed import ORGANISER_ID

from .conftest import csrf_token, post_form, text_of
from .mailbox import outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .two_authorities import TwoAuthorities, add_second_authority, database_state, run, sign_in


@pytest.fixture
def two(web_world) -> TwoAuthorities:
    """The demo authority A and a second authority B, with objects on both sides."""
    return add_second_authority(web_world)


def _rows(two: TwoAuthorities, statement) -> list:
    async def work(session):
        return list((await session.exec(statement)).all())

    return run(two.world, work)


def test_an_admin_cannot_invite_anyone_into_another_authoritys_organiser(two: TwoAuthorities) -> None:
    """The reported hole: A's admin invited themself into B's organiser, then issued passes signed
    with B's key. Now refused like an unknown organiser (400), and nothing is stored or sent."""
    before = _rows(two, select(Invitation))
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "admin")
        response = post_form(client, "/autorite/equipe", {
            "email": two.a.emails["admin"], "role": "organiser", "organisation_id": str(two.b.organiser_id)})
        assert response.status_code == 400, response.text
        assert "hoisissez l'organisateur d'événements" in html.unescape(text_of(response.text))
        assert _rows(two, select(Invitation)) == before
        # Its own organiser still works.
        response = post_form(client, "/autorite/equipe", {
            "email": "nouveau@demo.cirqliz.fr", "role": "organiser", "organisation_id": str(two.a.organiser_id)})
        assert response.status_code == 200, response.text
    invited = _rows(two, select(Invitation))
    assert [(i.email, i.organisation_id) for i in invited] == [("nouveau@demo.cirqliz.fr", two.a.organiser_id)]


def test_the_team_page_lists_only_the_authoritys_own_organisers(two: TwoAuthorities) -> None:
    for side in (two.a, two.b):
        other = two.other(side)
        with TestClient(two.world.app) as client:
            sign_in(client, side, "admin")
            page = text_of(client.get("/autorite/equipe").text)
        assert side.organiser_name in page and side.emails["organiser"] in page
        assert other.organiser_name not in page and other.emails["organiser"] not in page
        assert str(other.organiser_id) not in page


def test_an_agent_cannot_add_a_check_to_another_authoritys_pass(two: TwoAuthorities) -> None:
    """A's agent uploads a check of B's pass: it is kept as A's agent's observation, never tied to
    B's pass, and B's checks page does not show it."""
    check_id = uuid.uuid4()
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "agent")
        response = client.post("/scan/api/checks", headers={"x-csrftoken": csrf_token(client)}, json=[{
            "id": str(check_id), "checked_at": int(two.world.clock.now().timestamp()), "verdict": "VALID",
            "serial": two.b.ids["serial"], "plate_seen": "ZZ-999-ZZ"}])
        assert response.status_code == 200, response.text
    (stored,) = _rows(two, select(PassCheck).where(col(PassCheck.id) == check_id))
    assert stored.pass_id is None
    with TestClient(two.world.app) as client:
        sign_in(client, two.b, "admin")
        page = client.get("/autorite/controles").text
        assert "ZZ999ZZ" not in page and "ZZ-999-ZZ" not in page
        assert client.get(f"/autorite/controles?serial={two.b.ids['serial']}").text.count(two.b.ids["serial"]) >= 1
    # Its own authority's pass is still linked.
    own = uuid.uuid4()
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "agent")
        client.post("/scan/api/checks", headers={"x-csrftoken": csrf_token(client)}, json=[{
            "id": str(own), "checked_at": int(two.world.clock.now().timestamp()), "verdict": "VALID",
            "serial": two.a.ids["serial"]}])
    (mine,) = _rows(two, select(PassCheck).where(col(PassCheck.id) == own))
    assert mine.pass_id == two.a.ids["pass_id"]


def test_an_organiser_submits_events_to_its_own_authority_only(two: TwoAuthorities) -> None:
    before = database_state(two.world)
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "organiser")
        home = client.get("/organisateur").text
        assert two.a.authority_name in home and two.b.authority_name not in home
        response = post_form(client, "/organisateur/evenements", {
            "name": "Fête chez les voisins", "authority_id": str(two.b.authority_id),
            "starts_at": "2026-12-01T08:00", "ends_at": "2026-12-01T20:00"})
        assert response.status_code == 422, response.text
        assert "autorité de rattachement" in text_of(response.text)
    assert database_state(two.world) == before


def test_an_organiser_never_sees_nor_issues_on_an_event_of_another_authority(two: TwoAuthorities) -> None:
    """An event of A's organiser approved by B (older data, before organisers belonged to an
    authority): its pages answer 404 and no pass is signed with B's key."""
    now = two.world.clock.now()

    async def legacy(session):
        event = Event(organiser_id=ORGANISER_ID, name="Ancien événement", starts_at=now + timedelta(days=1),
                      ends_at=now + timedelta(days=2), created_at=now)
        session.add(event)
        await session.flush()
        session.add(EventApproval(event_id=event.id, authority_id=two.b.authority_id, status="approved",
                                  pass_quota=10, updated_at=now))
        return event.id

    event_id = run(two.world, legacy)
    passes_before = _rows(two, select(AccessPass))
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "organiser")
        assert client.get(f"/organisateur/evenements/{event_id}").status_code == 404
        assert "Ancien événement" not in client.get("/organisateur").text
        csv = "entreprise;immatriculation;zones;creneaux\nTraiteur;AB-123-CD;BIS-CENTRE;\n"
        response = client.post(f"/organisateur/evenements/{event_id}/laissez-passer",
                               data={"_csrf_token": csrf_token(client)},
                               files={"csv_file": ("f.csv", csv.encode(), "text/csv")})
        assert response.status_code == 404, response.text
    assert _rows(two, select(AccessPass)) == passes_before


def test_closing_another_authoritys_zone_reads_like_an_unknown_zone(two: TwoAuthorities) -> None:
    before = _rows(two, select(ZoneClosure))
    with TestClient(two.world.app) as client:
        sign_in(client, two.a, "admin")
        answers = [post_form(client, "/autorite/incidents", {
            "zone_id": str(zone_id), "ends_at": "2026-11-23T18:00", "reason": "Manifestation"})
            for zone_id in (two.b.zone_id, uuid.uuid4())]
    assert [r.status_code for r in answers] == [422, 422]
    messages = [text_of(r.text).split("Fermetures")[0] for r in answers]
    assert messages[0] == messages[1]
    assert _rows(two, select(ZoneClosure)) == before
