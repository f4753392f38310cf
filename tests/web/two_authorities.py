"""A second authority next to the demo one, and one object of each kind on both sides.

The demo world (cirqliz.demo.seed) is authority A (demo75) with its admin, reviewer, agent and
organiser. `add_second_authority` adds authority B (bis69) with the same four people and an
organiser attached to B, then gives each side: a submitted application of the demo company
(which applies to both) with a supporting document, an approved application and its pass, a
draft, a submitted and an approved event of its organiser (each with a perimeter), a closure of
one of its zones and an agent's check of its pass. `Side` names every id, for URLs and markers.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import AccessRule, SupportingDocument, TrafficOrder
from cirqliz.demo.seed import (
    AUTHORITY_CODE,
    AUTHORITY_ID,
    COMPANY_ID,
    DEMO_PASSWORD,
    ORGANISER_ID,
    USER_IDS,
    USERS,
    VEHICLES,
    ZONE_IDS,
)
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import parse_window
from cirqliz.imports.records import TrafficOrderRecord, traffic_order_json
from cirqliz.issuance.applications import approve_application, create_application, submit_application
from cirqliz.issuance.bulk_approval import job_row
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.events import add_event_zone, approve_event, close_zone, create_organiser_event, submit_event
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.passes import record_check
from cirqliz.issuance.passwords import hash_password
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone

from .conftest import WebWorld, post_form

B_AUTHORITY_ID = uuid.UUID("00000000-0000-4000-a000-0000000000b1")
B_ORGANISER_ID = uuid.UUID("00000000-0000-4000-a000-0000000000b2")
B_CODE = "bis69"
B_ZONE_ID = uuid.UUID("00000000-0000-4000-d000-0000000000b1")
B_USERS = {
    "admin": ("admin@bis.cirqliz.test", "Bénédicte Admin-Bis", B_AUTHORITY_ID,
              (Role.AUTHORITY_ADMIN, Role.REVIEWER)),
    "reviewer": ("instructeur@bis.cirqliz.test", "Bruno Instructeur-Bis", B_AUTHORITY_ID, (Role.REVIEWER,)),
    "agent": ("agent@bis.cirqliz.test", "Berthe Agente-Bis", B_AUTHORITY_ID, (Role.AGENT,)),
    "organiser": ("organisateur@bis.cirqliz.test", "Basile Organisateur-Bis", B_ORGANISER_ID, (Role.ORGANISER,)),
}
B_USER_IDS = {name: uuid.UUID(f"00000000-0000-4000-b000-0000000000b{i}") for i, name in enumerate(B_USERS, 1)}
STAFF = ("admin", "reviewer", "agent", "organiser")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SQUARE_B = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.85, 45.76], [4.85, 45.77], [4.83, 45.77],
                                                [4.83, 45.76]]]}


@dataclass
class Side:
    """One authority and the ids of its objects."""

    name: str
    authority_id: uuid.UUID
    code: str
    authority_name: str
    organiser_id: uuid.UUID
    organiser_name: str
    zone_id: uuid.UUID
    zone_code: str
    zone_name: str
    emails: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)

    def markers(self) -> list[str]:
        """Texts that only pages about this side show (names, serials, e-mail addresses)."""
        return [self.organiser_name, self.zone_name, self.ids["serial"], self.ids["event_name"],
                self.ids["closure_reason"], f"Chemin des arrêtés {self.name}", *self.emails.values()]


@dataclass
class TwoAuthorities:
    """The demo authority (A) and the second one (B)."""

    world: WebWorld
    a: Side
    b: Side

    def other(self, side: Side) -> Side:
        """The other side."""
        return self.b if side is self.a else self.a


def run(world: WebWorld, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(session)` in one transaction on the world's database."""

    async def main() -> Any:
        engine = create_engine(world.settings)
        try:
            async with transaction(create_session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def _create_b(session: Any, world: WebWorld) -> None:
    clock = world.clock
    await create_organisation(session, kind=OrganisationKind.AUTHORITY, code=B_CODE, name="Ville Bis",
                              clock=clock, organisation_id=B_AUTHORITY_ID)
    await create_organisation(session, kind=OrganisationKind.ORGANISER, code="festival-bis", name="Festival Bis",
                              clock=clock, organisation_id=B_ORGANISER_ID, authority_id=B_AUTHORITY_ID)
    password_hash = hash_password(DEMO_PASSWORD)
    for name, (email, display, org_id, roles) in B_USERS.items():
        await create_user(session, email=email, display_name=display, clock=clock, password_hash=password_hash,
                          user_id=B_USER_IDS[name])
        for role in roles:
            await add_membership(session, user_id=B_USER_IDS[name], organisation_id=org_id, role=role, clock=clock)
    zone = await create_zone(session, authority_id=B_AUTHORITY_ID, code="BIS-CENTRE", name="Bis Centre",
                             kind="limited_traffic", geometry=SQUARE_B, clock=clock, zone_id=B_ZONE_ID)
    await add_access_rule(session, zone_id=zone.id, clock=clock, name="Professionnels",
                          windows=[parse_window("Mo-Sa 07:00-13:00")],
                          purposes=[p for p in Purpose if p is not Purpose.OTHER], max_pass_days=366)
    await change_zone_status(session, zone_id=zone.id, status="active", clock=clock)


async def _objects(session: Any, world: WebWorld, side: Side, admin_id: uuid.UUID, agent_id: uuid.UUID,
                   organiser_user_id: uuid.UUID) -> None:
    clock, now, signer = world.clock, world.clock.now(), world.app.state.signer
    pro = USER_IDS["pro"]

    async def application() -> Any:
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=pro, zone_ids=[side.zone_id],
            vehicle_ids=[VEHICLES[0][0]], purpose=Purpose.DELIVERY, not_before=now, expires_at=now + timedelta(days=10),
            clock=clock)
        return await submit_application(session, application_id=app.id, actor_id=pro, clock=clock)

    pending = await application()
    sha = hashlib.sha256(PDF).hexdigest()
    key = FileDocumentStore(world.settings.documents_dir).put(sha256=sha, content=PDF)
    document = SupportingDocument(application_id=pending.id, filename=f"kbis-{side.name}.pdf",
                                  content_type="application/pdf", size=len(PDF), sha256=sha, storage_key=key,
                                  uploaded_by_id=pro, uploaded_at=now)
    session.add(document)
    approved = await application()
    (row,) = await approve_application(session, application_id=approved.id, reviewer_id=admin_id, signer=signer,
                                       clock=clock)
    events = {}
    for stage in ("draft", "submitted", "approved"):
        event = await create_organiser_event(
            session, organiser_id=side.organiser_id, authority_id=side.authority_id,
            name=f"Fête {stage} {side.name}", starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=3),
            clock=clock, actor_id=organiser_user_id)
        await add_event_zone(session, event_id=event.id, name=f"Périmètre {side.name}", level="blue",
                             geometry=SQUARE_B, starts_at=event.starts_at, ends_at=event.ends_at, clock=clock,
                             actor_id=organiser_user_id)
        if stage != "draft":
            await submit_event(session, event_id=event.id, clock=clock, actor_id=organiser_user_id)
        if stage == "approved":
            await approve_event(session, event_id=event.id, pass_quota=5, clock=clock, actor_id=admin_id)
        events[stage] = event.id
    reason = f"Travaux urgents {side.name}"
    closure = await close_zone(session, zone_id=side.zone_id, authority_id=side.authority_id,
                               ends_at=now + timedelta(hours=4), reason=reason, clock=clock, actor_id=admin_id)
    check = await record_check(session, check_id=uuid.uuid4(), agent_id=agent_id, checked_at=now, verdict="VALID",
                               clock=clock, serial=row.serial)
    # A rule of its zone, and a goods-traffic order kept without geometry (ADR 0007).
    rule_id = (await session.exec(select(AccessRule.id).where(col(AccessRule.zone_id) == side.zone_id)
                                  .order_by(col(AccessRule.position)))).first()
    record = TrafficOrderRecord(
        source="cerema-marchandises", source_id=f"99999:{side.name}", code=f"ARR-99999-{side.name}",
        name=f"Chemin des arrêtés {side.name}", authority=side.authority_name, insee="99999", order_date=None,
        order_ref="NC", order_object="NC", modality="forbid", vehicle_types=("Poids lourds",), tonnage_mode="min",
        tonnage_t=19.0)
    order = TrafficOrder(authority_id=side.authority_id, source=record.source, source_id=record.source_id,
                         code=record.code, name=record.name, insee=record.insee, rules=traffic_order_json(record),
                         created_at=now, updated_at=now)
    session.add(order)
    bulk = job_row(authority_id=side.authority_id, reviewer_id=admin_id, raw_ids=[str(pending.id)], at=now)
    session.add(bulk)
    await session.flush()
    side.ids.update(bulk=bulk.id,
        pending=pending.id, document=document.id, approved=approved.id, pass_id=row.id, serial=row.serial,
        event_draft=events["draft"], event_submitted=events["submitted"], event_approved=events["approved"],
        event_name=f"Fête submitted {side.name}", closure=closure.id, closure_reason=reason, check=check.id,
        kid=row.kid, rule=rule_id, order=order.id,
    )


def add_second_authority(world: WebWorld) -> TwoAuthorities:
    """Authority B beside the demo authority A, and objects on both sides (see the module doc)."""
    a = Side("A", AUTHORITY_ID, AUTHORITY_CODE, "Ville de Démo", ORGANISER_ID, "Festival de Démo",
             ZONE_IDS["PARIS-CENTRE"], "PARIS-CENTRE", "Paris Centre — zone à trafic limité",
             {name: USERS[name][0] for name in STAFF})
    b = Side("B", B_AUTHORITY_ID, B_CODE, "Ville Bis", B_ORGANISER_ID, "Festival Bis", B_ZONE_ID, "BIS-CENTRE",
             "Bis Centre", {name: B_USERS[name][0] for name in STAFF})
    run(world, lambda session: _create_b(session, world))
    keys_dir = Path(world.settings.keys_dir) / B_CODE
    KeyStore.init(keys_dir, issuer=B_CODE, clock=world.clock)
    run(world, lambda session: publish_bundle(session, authority_id=B_AUTHORITY_ID,
                                              keystore=KeyStore(keys_dir, clock=world.clock), clock=world.clock))
    run(world, lambda session: _objects(session, world, a, USER_IDS["admin"], USER_IDS["agent"],
                                        USER_IDS["organiser"]))
    run(world, lambda session: _objects(session, world, b, B_USER_IDS["admin"], B_USER_IDS["agent"],
                                        B_USER_IDS["organiser"]))
    return TwoAuthorities(world, a, b)


def sign_in(client: TestClient, side: Side, who: str) -> TestClient:
    """Sign in as `who` (admin, reviewer, agent, organiser) of `side`."""
    response = post_form(client, "/connexion", {"email": side.emails[who], "password": DEMO_PASSWORD},
                         follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def database_state(world: WebWorld) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted), to show that requests changed nothing."""
    path = world.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: sorted(map(repr, connection.execute(f'SELECT * FROM "{table}"'))) for table in tables}


def keys_state(world: WebWorld) -> dict[str, bytes]:
    """Every file under the keys directory (keyrings, keys, bundles) with its content."""
    root = Path(world.settings.keys_dir)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
