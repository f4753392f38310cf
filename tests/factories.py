"""Named ids, a fake signer and factories with overridable defaults for database tests.

Factories go through the services (so they exercise the same checks) and flush only: the
caller owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import Application, Organisation, UserAccount, Vehicle, Zone
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import parse_window
from cirqliz.issuance.applications import create_application, submit_application
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.signer import ClaimsInput, SignedPass
from cirqliz.issuance.vehicles import register_vehicle
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone

# A Monday, 09:00 in Paris (winter time).
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://cirqliz.test/{name}")


AUTHORITY_PARIS_ID = _id("authority/paris")
ORGANISER_FESTIVAL_ID = _id("organiser/festival")
COMPANY_ACME_ID = _id("company/acme")
COMPANY_BETA_ID = _id("company/beta")
USER_ADMIN_ID = _id("user/admin")
USER_REVIEWER_ID = _id("user/reviewer")
USER_REVIEWER_2_ID = _id("user/reviewer-2")
USER_ALICE_ID = _id("user/alice")  # professional at Acme
USER_AGENT_ID = _id("user/agent")
VEHICLE_VAN_ID = _id("vehicle/van")  # N1, Crit'Air 2, 3.0 t
VEHICLE_TRUCK_ID = _id("vehicle/truck")  # N3, Crit'Air 3, 19 t
VEHICLE_EV_ID = _id("vehicle/ev")  # N1, Crit'Air 0
VEHICLE_OLD_ID = _id("vehicle/old")  # N1, unclassified
ZONE_CENTRE_ID = _id("zone/centre")  # limited-traffic, Mo-Sa 07:00-11:00, manual review
ZONE_ZFE_ID = _id("zone/zfe")  # low-emission, 1-day passes, 24 days a year, automatic

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[2.34, 48.85], [2.36, 48.85], [2.36, 48.87], [2.34, 48.87], [2.34, 48.85]]],
}


class FakeSigner:
    """Deterministic stand-in for the real signer: the text spells out the claims."""

    kid = "FAKEKID0"

    def __init__(self) -> None:
        self.signed: list[ClaimsInput] = []

    def sign(self, *, claims_input: ClaimsInput) -> SignedPass:
        """Record the claims and return 'FAKE:iss:SERIAL:plate:zones'."""
        self.signed.append(claims_input)
        zones = ",".join(str(z) for z in claims_input.zone_refs)
        text = (f"FAKE:{claims_input.issuer}:{claims_input.serial.hex().upper()}:"
                f"{claims_input.plate}:{zones}")
        return SignedPass(text=text, kid=self.kid, serial=claims_input.serial)


async def make_organisation(session: AsyncSession, clock: Clock, **overrides: Any) -> Organisation:
    """A company by default (Acme-like, valid SIRET)."""
    fields: dict[str, Any] = {"kind": "company", "code": f"org-{uuid.uuid4().hex[:8]}",
                              "name": "Entreprise de test", "siret": "44306184100047"}
    fields.update(overrides)
    return await create_organisation(session, clock=clock, **fields)


async def make_user(session: AsyncSession, clock: Clock, **overrides: Any) -> UserAccount:
    """A user with a unique e-mail address."""
    fields: dict[str, Any] = {"email": f"{uuid.uuid4().hex[:10]}@example.fr",
                              "display_name": "Utilisatrice de test"}
    fields.update(overrides)
    return await create_user(session, clock=clock, **fields)


async def make_vehicle(session: AsyncSession, clock: Clock, **overrides: Any) -> Vehicle:
    """An Acme delivery van unless told otherwise."""
    fields: dict[str, Any] = {"organisation_id": COMPANY_ACME_ID, "plate": "AA-001-AA",
                              "category": "N1", "crit_air": 2, "energy": "diesel",
                              "gross_weight_kg": 3000, "length_cm": 550}
    fields.update(overrides)
    return await register_vehicle(session, clock=clock, **fields)


async def make_zone(
    session: AsyncSession, clock: Clock, *, rule: dict[str, Any] | None = None,
    activate: bool = True, **overrides: Any,
) -> Zone:
    """An active Paris zone with one rule (overrides for the zone, `rule` for the rule)."""
    fields: dict[str, Any] = {"authority_id": AUTHORITY_PARIS_ID,
                              "code": f"Z{uuid.uuid4().hex[:6].upper()}", "name": "Zone de test",
                              "kind": "limited_traffic", "geometry": SQUARE}
    fields.update(overrides)
    zone = await create_zone(session, clock=clock, **fields)
    if rule is not None:
        await add_access_rule(session, zone_id=zone.id, clock=clock, **rule)
    if activate:
        await change_zone_status(session, zone_id=zone.id, status="active", clock=clock)
    return zone


CENTRE_RULE: dict[str, Any] = {
    "opening_hours": "Mo-Sa 07:00-11:00",
    "purposes": [Purpose.DELIVERY, Purpose.ARTISAN],
    "categories": ["N1", "N2"],
    "max_crit_air": 3,
    "max_weight_kg": 7500,
    "max_pass_days": 366,
    "review_mode": "manual",
    "name": "Livraisons du matin",
}
ZFE_RULE: dict[str, Any] = {
    "opening_hours": "Mo-Fr 08:00-20:00; PH off",
    "max_pass_days": 1,
    "quota_days_per_year": 24,
    "review_mode": "automatic",
    "name": "Pass ZFE 24 h",
}


async def seed_world(session: AsyncSession, clock: Clock) -> None:
    """The named organisations, users, vehicles and zones above."""
    await create_organisation(session, clock=clock, organisation_id=AUTHORITY_PARIS_ID,
                              kind="authority", code="paris", name="Ville de Paris",
                              siren="217500016")
    await create_organisation(session, clock=clock, organisation_id=ORGANISER_FESTIVAL_ID,
                              kind="organiser", code="festival", name="Festival d'été",
                              authority_id=AUTHORITY_PARIS_ID)
    await create_organisation(session, clock=clock, organisation_id=COMPANY_ACME_ID,
                              kind="company", code="acme", name="Acme Livraisons",
                              siret="44306184100047")
    await create_organisation(session, clock=clock, organisation_id=COMPANY_BETA_ID,
                              kind="company", code="beta", name="Beta Travaux", siren="552100554")
    people = [
        (USER_ADMIN_ID, "admin@paris.test", AUTHORITY_PARIS_ID, "authority_admin"),
        (USER_REVIEWER_ID, "instruction@paris.test", AUTHORITY_PARIS_ID, "reviewer"),
        (USER_REVIEWER_2_ID, "instruction2@paris.test", AUTHORITY_PARIS_ID, "reviewer"),
        (USER_AGENT_ID, "agent@paris.test", AUTHORITY_PARIS_ID, "agent"),
        (USER_ALICE_ID, "alice@acme.test", COMPANY_ACME_ID, "professional"),
    ]
    for user_id, email, org_id, role in people:
        await create_user(session, clock=clock, user_id=user_id, email=email,
                          display_name=email.split("@")[0])
        await add_membership(session, clock=clock, user_id=user_id, organisation_id=org_id,
                             role=role)
    await make_vehicle(session, clock, vehicle_id=VEHICLE_VAN_ID, plate="AB-123-CD")
    await make_vehicle(session, clock, vehicle_id=VEHICLE_TRUCK_ID, plate="EF-456-GH",
                       category="N3", crit_air=3, gross_weight_kg=19000, length_cm=1200)
    await make_vehicle(session, clock, vehicle_id=VEHICLE_EV_ID, plate="GH-789-JK",
                       crit_air=0, energy="electric")
    await make_vehicle(session, clock, vehicle_id=VEHICLE_OLD_ID, plate="123 ABC 75",
                       crit_air=None)
    await make_zone(session, clock, zone_id=ZONE_CENTRE_ID, code="CENTRE", name="Paris Centre",
                    rule=CENTRE_RULE)
    await make_zone(session, clock, zone_id=ZONE_ZFE_ID, code="ZFE", name="ZFE métropolitaine",
                    kind="low_emission", rule=ZFE_RULE)


async def make_application(session: AsyncSession, clock: Clock, **overrides: Any) -> Application:
    """A draft for the Acme van in Paris Centre, next month, weekday mornings."""
    now = clock.now()
    fields: dict[str, Any] = {
        "organisation_id": COMPANY_ACME_ID,
        "applicant_id": USER_ALICE_ID,
        "zone_ids": [ZONE_CENTRE_ID],
        "vehicle_ids": [VEHICLE_VAN_ID],
        "purpose": Purpose.DELIVERY,
        "not_before": now + timedelta(days=1),
        "expires_at": now + timedelta(days=31),
        "windows": [parse_window("Mo-Fr 07:30-10:30")],
    }
    fields.update(overrides)
    return await create_application(session, clock=clock, **fields)


async def make_submitted_application(
    session: AsyncSession, clock: Clock, **overrides: Any
) -> Application:
    """make_application, then submitted by Alice."""
    app = await make_application(session, clock, **overrides)
    return await submit_application(session, application_id=app.id, actor_id=USER_ALICE_ID,
                                    clock=clock)
