"""Organisations, users, vehicles, zones and rules in the database."""

from datetime import date

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    COMPANY_ACME_ID,
    ORGANISER_FESTIVAL_ID,
    SQUARE,
    USER_ADMIN_ID,
    USER_ALICE_ID,
    ZONE_CENTRE_ID,
    make_organisation,
    make_vehicle,
    make_zone,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from cirqliz.db.models import AccessRule, AuditRecord, Organisation, Zone, window_from_json
from cirqliz.domain.errors import (
    CompanyIdError,
    DomainError,
    GeometryError,
    OpeningHoursError,
    TransitionError,
    ZoneError,
)
from cirqliz.domain.windows import parse_window
from cirqliz.issuance.organisations import add_membership, create_organisation
from cirqliz.issuance.vehicles import register_vehicle
from cirqliz.issuance.zones import (
    add_access_rule,
    change_zone_status,
    create_event,
    create_zone,
    rule_spec,
    zone_rules,
)

pytestmark = pytest.mark.usefixtures("world")


async def test_company_needs_a_valid_siren_or_siret(session, clock):
    async with session.begin():
        org = await make_organisation(session, clock, siret="732 829 320 00074")
    assert (org.siren, org.siret) == ("732829320", "73282932000074")
    with pytest.raises(CompanyIdError):
        async with session.begin():
            await make_organisation(session, clock, siret="73282932000075")
    with pytest.raises(DomainError) as info:
        async with session.begin():
            await create_organisation(session, kind="company", code="anon", name="Sans SIREN",
                                      clock=clock)
    assert info.value.code == "company_without_siren"


async def test_siret_is_unique(session, clock):
    with pytest.raises(IntegrityError):
        async with session.begin():
            await make_organisation(session, clock, siret="44306184100047")  # Acme's


async def test_roles_must_suit_the_organisation(session, clock):
    with pytest.raises(DomainError) as info:
        async with session.begin():
            await add_membership(session, user_id=USER_ALICE_ID, organisation_id=COMPANY_ACME_ID,
                                 role="reviewer", clock=clock)
    assert info.value.code == "role_not_allowed"
    with pytest.raises(IntegrityError):  # same role twice
        async with session.begin():
            await add_membership(session, user_id=USER_ALICE_ID, organisation_id=COMPANY_ACME_ID,
                                 role="professional", clock=clock)


async def test_vehicle_plates_normalised_and_unique_per_fleet(session, clock):
    async with session.begin():
        vehicle = await make_vehicle(session, clock, plate="xy 321 zt")
    assert vehicle.plate == "XY321ZT"
    with pytest.raises(IntegrityError):
        async with session.begin():
            await make_vehicle(session, clock, plate="XY-321-ZT")
    with pytest.raises(DomainError):
        async with session.begin():
            await register_vehicle(session, organisation_id=AUTHORITY_PARIS_ID, plate="AB-123-CD",
                                   category="N1", crit_air=1, clock=clock)


async def test_zone_refs_are_per_authority_and_never_reused(session, clock):
    async with session.begin():
        first = await make_zone(session, clock, code="A1")
        await change_zone_status(session, zone_id=first.id, status="archived", clock=clock)
        second = await make_zone(session, clock, code="A2")
        lyon = await make_organisation(session, clock, kind="authority", code="lyon",
                                       name="Métropole de Lyon", siret=None, siren=None)
        lyon_zone = await make_zone(session, clock, authority_id=lyon.id, code="A1")
    assert (first.ref, second.ref, lyon_zone.ref) == (3, 4, 1)
    async with session.begin():
        await session.delete(await session.get(Zone, second.id))
    async with session.begin():
        third = await make_zone(session, clock, code="A3")
    assert third.ref == 5  # 4 was deleted but is not handed out again
    with pytest.raises(IntegrityError):
        async with session.begin():
            await make_zone(session, clock, code="A3")


async def test_zone_checks(session, clock):
    with pytest.raises(GeometryError) as info:
        async with session.begin():
            await make_zone(session, clock, geometry={"type": "Polygon", "coordinates": [
                [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})
    assert "le contour se recoupe" in info.value.message
    with pytest.raises(ZoneError):
        async with session.begin():
            await make_zone(session, clock, permanent=False)  # no dates
    with pytest.raises(ZoneError):
        async with session.begin():
            await make_zone(session, clock, authority_id=COMPANY_ACME_ID)
    with pytest.raises(ZoneError):
        async with session.begin():
            await make_zone(session, clock, delegated_to_id=COMPANY_ACME_ID)
    with pytest.raises(DomainError):
        async with session.begin():
            await make_zone(session, clock, time_zone="Europe/Lutece")


async def test_temporary_event_zone_delegated_to_an_organiser(session, clock):
    async with session.begin():
        event = await create_event(session, organiser_id=ORGANISER_FESTIVAL_ID,
                                   name="Festival d'été", starts_at=clock.now(),
                                   ends_at=clock.now().replace(month=7), clock=clock)
        zone = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code="FEST-BLEU",
                                 name="Périmètre bleu", kind="event_perimeter",
                                 geometry={"type": "MultiPolygon", "coordinates": [
                                     SQUARE["coordinates"]]},
                                 permanent=False, starts_on=date(2026, 6, 20),
                                 ends_on=date(2026, 6, 22), delegated_to_id=ORGANISER_FESTIVAL_ID,
                                 event_id=event.id, clock=clock, actor_id=USER_ADMIN_ID)
    session.expunge_all()
    async with session.begin():
        stored = await session.get(Zone, zone.id)
    assert stored.geometry["type"] == "MultiPolygon" and stored.status == "draft"
    assert (stored.starts_on, stored.ends_on) == (date(2026, 6, 20), date(2026, 6, 22))


async def test_zone_status_life_cycle_is_audited(session, clock):
    async with session.begin():
        await change_zone_status(session, zone_id=ZONE_CENTRE_ID, status="suspended",
                                 clock=clock, actor_id=USER_ADMIN_ID)
        await change_zone_status(session, zone_id=ZONE_CENTRE_ID, status="active", clock=clock,
                                 actor_id=USER_ADMIN_ID)
        await change_zone_status(session, zone_id=ZONE_CENTRE_ID, status="archived",
                                 clock=clock, actor_id=USER_ADMIN_ID)
    with pytest.raises(TransitionError):
        async with session.begin():
            await change_zone_status(session, zone_id=ZONE_CENTRE_ID, status="active",
                                     clock=clock)
    async with session.begin():
        trail = (await session.exec(select(AuditRecord).where(
            col(AuditRecord.entity_id) == str(ZONE_CENTRE_ID),
            col(AuditRecord.actor_id) == USER_ADMIN_ID))).all()
    assert sorted((r.before["status"], r.after["status"]) for r in trail) == [
        ("active", "archived"), ("active", "suspended"), ("suspended", "active")]


async def test_rules_from_opening_hours_and_windows(session, clock):
    async with session.begin():
        zone = await make_zone(session, clock, code="R1")
        expressible = await add_access_rule(session, zone_id=zone.id, clock=clock,
                                            opening_hours="Mo-Fr 08:00-20:00; PH off",
                                            review_mode="automatic")
        raw = await add_access_rule(session, zone_id=zone.id, clock=clock,
                                    opening_hours="Mo-Sa 11:00-06:00; Su,PH 10:00-06:00",
                                    review_mode="automatic")
        typed = await add_access_rule(session, zone_id=zone.id, clock=clock,
                                      windows=[parse_window("Mo-Fr 07:00-11:00")],
                                      categories=["N1"], max_crit_air=2, purposes=[1])
    session.expunge_all()
    async with session.begin():
        rules = await zone_rules(session, zone.id)
        zone_after = await session.get(Zone, zone.id)
    assert [r.id for r in rules] == [expressible.id, raw.id, typed.id]
    first, second, third = rules
    assert [window_from_json(w).describe() for w in first.windows] == [
        "Mo-Fr 08:00-20:00 sauf fériés"]
    assert second.windows is None and second.opening_hours.startswith("Mo-Sa 11:00-06:00")
    assert rule_spec(second).review_mode == "manual"  # hours a person must read
    assert third.opening_hours == "Mo-Fr 07:00-11:00" and third.categories == ["N1"]
    assert zone_after.data_version == 5  # created 1, activated +1, three rules +3
    with pytest.raises(OpeningHoursError):
        async with session.begin():
            await add_access_rule(session, zone_id=zone.id, clock=clock, opening_hours="lundi")


async def test_rule_check_constraints(session, clock):
    with pytest.raises(IntegrityError):
        async with session.begin():
            session.add(AccessRule(zone_id=ZONE_CENTRE_ID, purposes=[], categories=[],
                                   max_crit_air=7, created_at=clock.now()))


async def test_organisation_code_is_unique(session, clock):
    with pytest.raises(IntegrityError):
        async with session.begin():
            await make_organisation(session, clock, code="ACME", siret="73282932000074")
    async with session.begin():
        codes = (await session.exec(select(Organisation.code))).all()
    assert "acme" in codes
