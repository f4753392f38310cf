"""approve_application reads what it needs in one statement (issue 18): a fleet in several zones with
several rules each, the chain head noted on SQLite, refusals unchanged, statements counted."""

import re

import pytest
from factories import (
    CENTRE_RULE,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_VAN_ID,
    ZONE_CENTRE_ID,
    make_submitted_application,
    make_vehicle,
    make_zone,
)
from sqlalchemy import event, update
from sqlmodel import col, func, select

from cirqliz.db.models import AccessPass, Application, AuditRecord, PassZone, Vehicle, Zone
from cirqliz.domain.errors import EligibilityError
from cirqliz.issuance.applications import _passes_with_zones_insert, approve_application
from cirqliz.issuance.audit import record_change, verify_chain
from cirqliz.issuance.zones import add_access_rule

pytestmark = pytest.mark.usefixtures("world")

# SQLite: BEGIN, the reads, the status UPDATE, its transition, the passes, their zones, the audit records.
# PostgreSQL: the status UPDATE and transition in one statement, the locked reads, the passes with their
# zones in one, the audit lock and head in one (migration 0019), the audit records.
MAX_STATEMENTS = {"sqlite": 7, "postgresql": 5}


class Statements:
    """Counts the statements an engine runs while `counting` is true."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.counting = False
        self.texts: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection, _cursor, statement, *_args) -> None:
        self.count += self.counting
        if self.counting:
            self.texts.append(statement)


async def _approve_counted(session_factory, statements, application_id, clock, signer):
    statements.count, statements.counting, statements.texts = 0, True, []
    try:
        async with session_factory() as session, session.begin():
            return await approve_application(session, application_id=application_id,
                                             reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)
    finally:
        statements.counting = False


async def test_fleet_in_two_zones_with_two_rules_each(engine, session_factory, clock, signer):
    async with session_factory() as session, session.begin():
        # The second zone's first rule admits no N1: the second one must be found, in order.
        other = await make_zone(session, clock, code="BIS", rule={**CENTRE_RULE, "categories": ["N3"],
                                                                  "name": "Poids lourds"})
        await add_access_rule(session, zone_id=other.id, clock=clock, **CENTRE_RULE)
        third = await make_vehicle(session, clock, plate="KL-012-MN")
        app = await make_submitted_application(session, clock, zone_ids=[ZONE_CENTRE_ID, other.id],
                                               vehicle_ids=[VEHICLE_VAN_ID, third.id, VEHICLE_EV_ID])
        refs = sorted((await session.exec(select(Zone.ref).where(col(Zone.id).in_([ZONE_CENTRE_ID, other.id])))).all())
    statements = Statements(engine)
    passes = await _approve_counted(session_factory, statements, app.id, clock, signer)
    assert statements.count <= MAX_STATEMENTS[engine.dialect.name]
    assert not [t for t in statements.texts if re.search(r"zone\.geometry\b", t)]  # outlines are not read
    assert sorted(p.plate for p in passes) == ["AB123CD", "GH789JK", "KL012MN"]
    assert all(p.zone_refs == refs for p in passes)
    assert [c.zone_refs for c in signer.signed] == [tuple(refs)] * 3
    async with session_factory() as session, session.begin():
        assert (await session.exec(select(func.count()).select_from(PassZone))).one() == 6
        assert (await session.get(Application, app.id)).status == "approved"
        assert (await verify_chain(session)).intact


async def test_single_approvals_keep_the_chain_and_refusals_write_nothing(engine, session_factory, clock, signer):
    apps = []
    async with session_factory() as session, session.begin():
        for _ in range(3):
            apps.append(await make_submitted_application(session, clock))
        late = await make_vehicle(session, clock, plate="ZZ-999-ZY")
        refused = await make_submitted_application(session, clock, vehicle_ids=[VEHICLE_EV_ID, late.id])
    statements = Statements(engine)
    for app in apps:
        passes = await _approve_counted(session_factory, statements, app.id, clock, signer)
        assert len(passes) == 1 and statements.count <= MAX_STATEMENTS[engine.dialect.name]
        async with session_factory() as session, session.begin():  # another use case commits in between
            await record_change(session, actor_id=None, entity="test", entity_id=app.id, action="touch",
                                at=clock.now())
    async with session_factory() as session, session.begin():
        records = (await session.exec(select(func.count()).select_from(AuditRecord))).one()
        # the vehicle's Crit'Air sticker got worse after submission: the approval refuses it
        await session.exec(update(Vehicle).where(col(Vehicle.id) == late.id).values(crit_air=5))
    with pytest.raises(EligibilityError) as caught:
        await _approve_counted(session_factory, statements, refused.id, clock, signer)
    assert "ZZ-999-ZY / CENTRE" in str(caught.value.refusals[0].message)
    async with session_factory() as session, session.begin():
        assert (await session.get(Application, refused.id)).status == "submitted"
        assert (await session.exec(select(func.count()).select_from(AccessPass)
                                   .where(col(AccessPass.application_id) == refused.id))).one() == 0
        assert (await session.exec(select(func.count()).select_from(AuditRecord))).one() == records
        report = await verify_chain(session)
    assert report.intact and report.count == records


def test_the_postgresql_insert_of_passes_with_their_zones_is_compiled_once() -> None:
    """Built once per number of passes, and cacheable by SQLAlchemy (a multi-row VALUES is not: it would
    be compiled again for every approval)."""
    names = tuple(AccessPass.__table__.c.keys())  # type: ignore[attr-defined]
    for count in (1, 3):
        statement = _passes_with_zones_insert(count, names)
        assert statement is _passes_with_zones_insert(count, names)
        assert statement._generate_cache_key() is not None
