"""Demo data: an authority with zones and keys, an organiser, a company with vehicles, and one
user per role. Used by `cirqliz serve --demo` and by the web tests (named ids below)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import Organisation, window_to_json
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import parse_window
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.passwords import hash_password
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.vehicles import register_vehicle
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone
from cirqliz.settings import Settings

DEMO_PASSWORD = "demo-cirqliz-2026"  # noqa: S105 (demo accounts only, printed on start)
AUTHORITY_ID = uuid.UUID("00000000-0000-4000-a000-000000000001")
ORGANISER_ID = uuid.UUID("00000000-0000-4000-a000-000000000002")
COMPANY_ID = uuid.UUID("00000000-0000-4000-a000-000000000003")
OTHER_COMPANY_ID = uuid.UUID("00000000-0000-4000-a000-000000000004")
AUTHORITY_CODE = "demo75"
AUTHORITY_SIREN = "200000008"  # fictitious (valid check digit)

USERS = {
    "admin": ("admin@demo.cirqliz.fr", "Alice Admin", AUTHORITY_ID, (Role.AUTHORITY_ADMIN, Role.REVIEWER)),
    "reviewer": ("instructeur@demo.cirqliz.fr", "Iris Instructrice", AUTHORITY_ID, (Role.REVIEWER,)),
    "agent": ("agent@demo.cirqliz.fr", "Alain Agent", AUTHORITY_ID, (Role.AGENT,)),
    "organiser": ("organisateur@demo.cirqliz.fr", "Olga Organisatrice", ORGANISER_ID, (Role.ORGANISER,)),
    "pro": ("pro@demo.cirqliz.fr", "Paul Pro", COMPANY_ID, (Role.PROFESSIONAL,)),
    "other_pro": ("autre@demo.cirqliz.fr", "Olivier Autre", OTHER_COMPANY_ID, (Role.PROFESSIONAL,)),
}
USER_IDS = {name: uuid.uuid4() for name in USERS}
"""Random for each process (a database seeded by it keeps them): with the public development secret,
a fixed id would let anyone write a session cookie for the demo administrator."""
VEHICLES = (
    (uuid.UUID("00000000-0000-4000-c000-000000000001"), COMPANY_ID, "AB-123-CD", "N1", 1, "diesel"),
    (uuid.UUID("00000000-0000-4000-c000-000000000002"), COMPANY_ID, "EF-456-GH", "N2", 2, "diesel"),
    (uuid.UUID("00000000-0000-4000-c000-000000000003"), COMPANY_ID, "GH-789-JK", "N1", 0, "electric"),
    (uuid.UUID("00000000-0000-4000-c000-000000000004"), OTHER_COMPANY_ID, "KL-012-MN", "N1", 2, "diesel"),
)
ZONE_IDS = {code: uuid.UUID(f"00000000-0000-4000-d000-00000000000{i}") for i, code in enumerate(
    ("PARIS-CENTRE", "MARAIS-PIETON", "ZFE-GRAND-PARIS", "NUIT-BLANCHE"), 1)}


@dataclass(frozen=True)
class DemoWorld:
    """What the seed created (ids are constants, users' ids are USER_IDS, so tests can name them)."""

    authority_id: uuid.UUID
    keys_dir: Path
    bundle_seq: int


def _zone_geojson(item: dict) -> dict:
    coordinates = item["geometry"]
    return {"type": "MultiPolygon", "coordinates": coordinates}


async def _create(session: AsyncSession, *, keys_root: Path, clock: Clock) -> None:
    # The SIREN gives the ids of its low-emission zones in the national ZFE schema (SIREN-ZFE-NNN).
    await create_organisation(session, kind=OrganisationKind.AUTHORITY, code=AUTHORITY_CODE,
                              name="Ville de Démo", siren=AUTHORITY_SIREN, clock=clock, organisation_id=AUTHORITY_ID)
    await create_organisation(session, kind=OrganisationKind.ORGANISER, code="festival-demo",
                              name="Festival de Démo", clock=clock, organisation_id=ORGANISER_ID,
                              authority_id=AUTHORITY_ID)
    await create_organisation(session, kind=OrganisationKind.COMPANY, code="transports-exemple",
                              name="Transports Exemple SARL", siren="123456782", clock=clock,
                              organisation_id=COMPANY_ID)
    await create_organisation(session, kind=OrganisationKind.COMPANY, code="autre-livreur",
                              name="Autre Livreur SAS", siren="552100554", clock=clock,
                              organisation_id=OTHER_COMPANY_ID)
    password_hash = hash_password(DEMO_PASSWORD)
    for name, (email, display, org_id, roles) in USERS.items():
        await create_user(session, email=email, display_name=display, clock=clock,
                          password_hash=password_hash, user_id=USER_IDS[name])
        for role in roles:
            await add_membership(session, user_id=USER_IDS[name], organisation_id=org_id, role=role, clock=clock)
    for vehicle_id, org_id, plate, category, crit_air, energy in VEHICLES:
        await register_vehicle(session, organisation_id=org_id, plate=plate, category=category,
                               crit_air=crit_air, energy=energy, clock=clock, vehicle_id=vehicle_id)
    zones = json.loads(resources.files("cirqliz.demo").joinpath("zones.json").read_text(encoding="utf-8"))
    for item in zones:
        zone = await create_zone(session, authority_id=AUTHORITY_ID, code=item["code"], name=item["name"],
                                 kind=item["kind"], geometry=_zone_geojson(item), clock=clock,
                                 time_zone=item["tz"], zone_id=ZONE_IDS[item["code"]])
        if item.get("restriction"):  # when the restriction is in force (ADR 0007)
            zone.restriction_hours = "; ".join(item["restriction"])
            zone.restriction_windows = [window_to_json(parse_window(w)) for w in item["restriction"]]
            session.add(zone)
        await add_access_rule(session, zone_id=zone.id, clock=clock, name="Professionnels",
                              windows=[parse_window(w) for w in item["windows"]] or None,
                              purposes=[p for p in Purpose if p is not Purpose.OTHER],
                              max_crit_air=2 if item["kind"] == "low_emission" else None,
                              max_pass_days=366)
        await change_zone_status(session, zone_id=zone.id, status="active", clock=clock)


async def seed_demo(maker: async_sessionmaker[AsyncSession], *, keys_root: str | Path, clock: Clock) -> DemoWorld:
    """Create the demo world once (a second call only republishes the bundle)."""
    keys_dir = Path(keys_root) / AUTHORITY_CODE
    async with transaction(maker) as session:
        if await session.get(Organisation, AUTHORITY_ID) is None:
            await _create(session, keys_root=Path(keys_root), clock=clock)
    if not (keys_dir / "keyring.json").exists():
        KeyStore.init(keys_dir, issuer=AUTHORITY_CODE, clock=clock)
    keystore = KeyStore(keys_dir, clock=clock)
    async with transaction(maker) as session:
        _, content = await publish_bundle(session, authority_id=AUTHORITY_ID, keystore=keystore, clock=clock)
    return DemoWorld(AUTHORITY_ID, keys_dir, content.seq)


async def seed_demo_database(settings: Settings, *, clock: Clock) -> DemoWorld:
    """`seed_demo` on the (migrated) database of `settings`, keys under settings.keys_dir, with an
    engine of its own."""
    engine = create_engine(settings)
    try:
        return await seed_demo(create_session_factory(engine), keys_root=settings.keys_dir, clock=clock)
    finally:
        await engine.dispose()
