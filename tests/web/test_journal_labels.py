"""The journal names what each record is about in the business's words (zone name and code,
application reference, pass serial, bundle number, organisation, person), links to the object's
page when the viewer may open it, never shows a uuid, reads a constant number of statements per
page, and lists only records about the authority's own objects (issue H4)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS, ZONE_IDS
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.mail import application_reference

from .conftest import WebWorld, login, post_form, text_of
from .test_list_pages import statements
from .two_authorities import B_AUTHORITY_ID, B_USER_IDS, TwoAuthorities, add_second_authority, run

UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


@pytest.fixture
def two(web_world: WebWorld) -> TwoAuthorities:
    """Two authorities; on A's side also an invitation, a deleted rule, and a record made by one of A's
    admins (also B's reviewer) about B's zone."""
    from cirqliz.issuance.accounts import invite_member
    from cirqliz.issuance.organisations import add_membership
    from cirqliz.issuance.zones import delete_access_rule

    two = add_second_authority(web_world)
    clock = web_world.clock

    async def more(session: Any) -> None:
        await invite_member(session, organisation_id=AUTHORITY_ID, email="nouvelle.recrue@demo.cirqliz.fr",
                            role="reviewer", invited_by=USER_IDS["admin"], clock=clock,
                            secret_key=web_world.settings.secret_key)
        await delete_access_rule(session, rule_id=two.a.ids["rule"], clock=clock, actor_id=USER_IDS["admin"])
        await add_membership(session, user_id=USER_IDS["admin"], organisation_id=B_AUTHORITY_ID, role="reviewer",
                             clock=clock, actor_id=B_USER_IDS["admin"])
        await record_change(session, actor_id=USER_IDS["admin"], entity="traffic_order", entity_id=two.a.ids["order"],
                            action="create", at=clock.now(), after={"code": "ARR-99999-A"})
        await record_change(session, actor_id=USER_IDS["admin"], entity="zone", entity_id=two.b.zone_id,
                            action="update", at=clock.now(), before={"name": "Bis"}, after={"name": "Bis Centre"})

    run(web_world, more)
    return two


def _journal(client: TestClient, entity: str = "") -> tuple[str, str]:
    response = client.get("/autorite/journal", params={"entity": entity} if entity else {})
    assert response.status_code == 200, response.text
    return response.text, html.unescape(text_of(response.text))


def test_each_kind_of_record_is_named_in_french_and_linked(two: TwoAuthorities) -> None:
    a = two.a
    with TestClient(two.world.app) as client:
        login(client, "admin")
        raw, zones = _journal(client, "zone")
        assert "Paris Centre — zone à trafic limité (PARIS-CENTRE)" in zones
        assert f'href="/autorite/zones/{a.zone_id}"' in raw
        raw, applications = _journal(client, "application")
        assert f"n° {application_reference(a.ids['approved'])}" in applications
        assert f'href="/autorite/demandes/{a.ids["approved"]}"' in raw
        raw, passes = _journal(client, "pass")
        assert f"n° {a.ids['serial']}" in passes and f'href="/autorite/laissez-passer/{a.ids["pass_id"]}"' in raw
        assert "paquet n° 1" in _journal(client, "bundle")[1]  # published by the seed: no actor
        assert "règle supprimée" in _journal(client, "access_rule")[1]
        _, organisations = _journal(client, "organisation")
        assert "Ville de Démo" in organisations and "Festival de Démo" in organisations
        _, memberships = _journal(client, "membership")
        assert "Iris Instructrice" in memberships and "organisation : Ville de Démo" in memberships
        assert "nouvelle.recrue@demo.cirqliz.fr" in _journal(client, "invitation")[1]
        assert "Chemin des arrêtés A" in _journal(client, "traffic_order")[1]
        for entity in ("", "zone", "application", "pass", "bundle", "access_rule", "organisation", "membership",
                       "invitation", "traffic_order", "event", "key"):
            raw, page = _journal(client, entity)
            assert not UUID.search(page), (entity, UUID.search(page))
            assert "<code>" not in raw.split("<tbody>")[1]  # no raw identifier cell left
            # Nothing of B: its zone, organisations, people, serial, event.
            leaked = [m for m in (*two.b.markers(), "Ville Bis", "Bénédicte Admin-Bis", "BIS-CENTRE") if m in page]
            assert not leaked, (entity, leaked)


def test_a_reviewer_gets_no_admin_links_nor_invitees_addresses(two: TwoAuthorities) -> None:
    with TestClient(two.world.app) as client:
        login(client, "reviewer")
        raw, zones = _journal(client, "zone")
        assert "(PARIS-CENTRE)" in zones and 'href="/autorite/zones/' not in raw
        _, invitations = _journal(client, "invitation")
        assert "personne invitée" in invitations and "nouvelle.recrue@" not in invitations
        assert "adresse : réservé aux administrateurs" in invitations
        raw, _ = _journal(client, "application")
        assert 'href="/autorite/demandes/' in raw  # reviewers do open applications


def test_organisation_membership_and_invitation_records_reach_their_authority_only(two: TwoAuthorities) -> None:
    from cirqliz.issuance.authority_queries import audit_page

    def records(authority_id: uuid.UUID) -> list[Any]:
        return run(two.world, lambda session: audit_page(session, authority_id, limit=1000)).rows

    mine, theirs = records(AUTHORITY_ID), records(B_AUTHORITY_ID)
    a_ids = {str(AUTHORITY_ID), str(two.a.organiser_id)}
    b_ids = {str(B_AUTHORITY_ID), str(two.b.organiser_id)}
    # The seed's records (no actor) about A, its organiser and their members are A's.
    assert {r.entity_id for r in mine if r.entity == "organisation"} == a_ids
    assert {r.entity_id for r in theirs if r.entity == "organisation"} == b_ids
    assert {(r.after or {}).get("organisation_id") for r in mine if r.entity == "membership"} <= a_ids
    assert sum(r.entity == "membership" for r in mine) >= 5 and sum(r.entity == "invitation" for r in mine) == 1
    # A's admin, made reviewer of B and touching B's zone: B's records, not A's.
    b_membership = [r for r in theirs if r.entity == "membership"
                    and (r.after or {}).get("user_id") == str(USER_IDS["admin"])]
    assert len(b_membership) == 1 and b_membership[0].id not in {r.id for r in mine}
    assert str(two.b.zone_id) not in {r.entity_id for r in mine}
    assert str(two.b.zone_id) in {r.entity_id for r in theirs}
    # Events belong to their organiser's authority.
    events = {str(two.a.ids["event_approved"]), str(two.b.ids["event_approved"])}
    assert {r.entity_id for r in mine if r.entity == "event"} & events == {str(two.a.ids["event_approved"])}
    assert {r.entity_id for r in theirs if r.entity == "event"} & events == {str(two.b.ids["event_approved"])}
    # B sees none of A's objects, whoever the actor.
    assert not {r.entity_id for r in theirs} & {str(two.a.zone_id), *a_ids, str(two.a.ids["pass_id"])}


def _count(client: TestClient, url: str) -> int:
    client.get(url)  # first request: sign-in caches, the session row
    with statements(client) as seen:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return len(seen)


def test_the_statements_per_page_do_not_grow_with_the_rows(web_world: WebWorld, client: TestClient) -> None:
    from sqlmodel import select

    from cirqliz.db.models import AccessPass, Application

    login(client, "admin")

    async def touch(session: Any, count: int) -> None:
        passes = (await session.exec(select(AccessPass.id))).all()
        applications = (await session.exec(select(Application.id))).all()
        zones = list(ZONE_IDS.values())
        later = web_world.clock.now() + timedelta(hours=1)  # the newest records, at the top of the page
        for i in range(count):
            for entity, ids in (("zone", zones), ("pass", passes), ("application", applications)):
                if ids:
                    await record_change(session, actor_id=USER_IDS["admin"], entity=entity,
                                        entity_id=ids[i % len(ids)], action="update", at=later,
                                        after={"note": f"n° {i}", "zone_id": zones[i % len(zones)]})

    from .test_authority import submitted_application

    submitted_application(web_world)
    approved = post_form(client, f"/autorite/demandes/{submitted_application(web_world)}/accepter")
    assert approved.status_code == 200, approved.text  # redirected to the application, passes issued
    kinds = ("zone", "application", "pass")
    run(web_world, lambda session: touch(session, 2))
    few = {entity: _count(client, f"/autorite/journal?entity={entity}") for entity in kinds}
    run(web_world, lambda session: touch(session, 20))  # a whole page of zones, passes and applications
    full = _count(client, "/autorite/journal")
    run(web_world, lambda session: touch(session, 60))
    many = {entity: _count(client, f"/autorite/journal?entity={entity}") for entity in kinds}
    assert few == many, (few, many)
    assert _count(client, "/autorite/journal") == full
    assert "n° 59" in text_of(client.get("/autorite/journal?entity=zone").text)
