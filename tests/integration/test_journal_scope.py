"""The journal's records and their subjects on SQLite and PostgreSQL (issue H4): an authority sees the
records about its own objects, whoever made them, found by id, by the JSON of a deleted object's
record or by its code; never another authority's, and no record's odd id ("*") breaks the query."""

from __future__ import annotations

import uuid

import pytest
from factories import AUTHORITY_PARIS_ID, USER_ADMIN_ID, USER_REVIEWER_ID, ZONE_CENTRE_ID, make_submitted_application
from sqlmodel import col, select

from cirqliz.db.models import AccessRule
from cirqliz.issuance.accounts import invite_member
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.authority_queries import audit_page, audit_subjects
from cirqliz.issuance.organisations import add_membership, create_organisation
from cirqliz.issuance.zones import delete_access_rule

pytestmark = pytest.mark.usefixtures("world")
LYON_ID = uuid.UUID("00000000-0000-4000-a000-00000000c001")


async def test_each_authority_sees_its_own_records_only(session_factory, clock) -> None:
    async with session_factory() as session, session.begin():
        await create_organisation(session, kind="authority", code="lyon", name="Ville de Lyon", clock=clock,
                                  organisation_id=LYON_ID)
        await add_membership(session, user_id=USER_REVIEWER_ID, organisation_id=LYON_ID, role="reviewer",
                             clock=clock, actor_id=USER_REVIEWER_ID)  # Paris's reviewer, also Lyon's
        invitation, _ = await invite_member(session, organisation_id=AUTHORITY_PARIS_ID, email="new@paris.test",
                                            role="reviewer", invited_by=USER_ADMIN_ID, clock=clock,
                                            secret_key="k" * 40)
        app = await make_submitted_application(session, clock)
        rule_id = (await session.exec(select(AccessRule.id).where(col(AccessRule.zone_id) == ZONE_CENTRE_ID))).first()
        await delete_access_rule(session, rule_id=rule_id, clock=clock, actor_id=USER_ADMIN_ID)
        for code, entity in (("paris", "bundle"), ("lyon", "bundle"), ("lyon", "key")):
            await record_change(session, actor_id=USER_REVIEWER_ID, entity=entity, entity_id="7", action="publish",
                                at=clock.now(), after={"authority": code, "seq": 7})
        await record_change(session, actor_id=None, entity="pass", entity_id="*", action="expire", at=clock.now(),
                            after={"count": 3})
        await record_change(session, actor_id=USER_REVIEWER_ID, entity="organisation", entity_id=LYON_ID,
                            action="update", at=clock.now(), after={"name": "Ville de Lyon"})

    async with session_factory() as session:
        paris = (await audit_page(session, AUTHORITY_PARIS_ID, limit=500)).rows
        lyon = (await audit_page(session, LYON_ID, limit=500)).rows
        found = await audit_subjects(session, AUTHORITY_PARIS_ID, paris)

    def seen(rows: list, entity: str) -> set[str]:
        return {r.entity_id for r in rows if r.entity == entity}

    assert seen(paris, "organisation") >= {str(AUTHORITY_PARIS_ID)} and str(LYON_ID) not in seen(paris, "organisation")
    assert seen(lyon, "organisation") == {str(LYON_ID)}
    assert str(invitation.id) in seen(paris, "invitation") and not seen(lyon, "invitation")
    assert len(seen(lyon, "membership")) == 1 and not seen(lyon, "membership") & seen(paris, "membership")
    assert str(rule_id) in seen(paris, "access_rule")  # deleted: found by its record's zone_id
    assert str(app.id) in seen(paris, "application") and not seen(lyon, "application")
    assert [r.after["authority"] for r in paris if r.entity in ("bundle", "key")] == ["paris"]
    assert sorted(r.entity for r in lyon if r.entity in ("bundle", "key")) == ["bundle", "key"]
    assert "*" not in seen(paris, "pass") | seen(lyon, "pass")  # the platform's expiry sweep is nobody's
    # Subjects: the zone and the application by name, the deleted rule absent, people by name.
    assert found.objects[("zone", str(ZONE_CENTRE_ID))]["code"] == "CENTRE"
    assert ("application", str(app.id)) in found.objects and ("access_rule", str(rule_id)) not in found.objects
    assert found.people[str(USER_REVIEWER_ID)] == "instruction"
    assert found.objects[("organisation", str(AUTHORITY_PARIS_ID))]["name"] == "Ville de Paris"
