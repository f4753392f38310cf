"""Services for vehicles of a fleet."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import Organisation, Vehicle
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.vehicles import CritAir, Energy, VehicleCategory, VehicleProfile, vehicle_profile
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise

VEHICLE_FIELDS = ("plate", "category", "crit_air", "energy", "gross_weight_kg", "length_cm")


async def register_vehicle(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    plate: str,
    category: str,
    crit_air: str | int | None,
    clock: Clock,
    energy: str = Energy.OTHER.value,
    gross_weight_kg: int | None = None,
    length_cm: int | None = None,
    actor_id: uuid.UUID | None = None,
    vehicle_id: uuid.UUID | None = None,
) -> Vehicle:
    """Add a vehicle to a company's or organiser's fleet (plate normalised, fields checked)."""
    org = await get_or_raise(session, Organisation, organisation_id)
    if org.kind == OrganisationKind.AUTHORITY:
        raise DomainError("une autorité n'enregistre pas de flotte", code="authority_fleet")
    profile = vehicle_profile(plate=plate, category=category, crit_air=crit_air, energy=energy,
                              gross_weight_kg=gross_weight_kg, length_cm=length_cm)
    now = clock.now()
    vehicle = Vehicle(
        id=vehicle_id or uuid.uuid4(),
        organisation_id=organisation_id,
        plate=profile.plate,
        category=profile.category.value,
        crit_air=None if profile.crit_air is None else int(profile.crit_air),
        energy=profile.energy.value,
        gross_weight_kg=profile.gross_weight_kg,
        length_cm=profile.length_cm,
        created_at=now,
    )
    session.add(vehicle)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="vehicle", entity_id=vehicle.id,
                        action="create", at=now, after=snapshot(vehicle, *VEHICLE_FIELDS))
    return vehicle


def profile_of(vehicle: Vehicle) -> VehicleProfile:
    """The domain view of a stored vehicle."""
    return VehicleProfile(
        plate=vehicle.plate,
        category=VehicleCategory(vehicle.category),
        crit_air=None if vehicle.crit_air is None else CritAir(vehicle.crit_air),
        energy=Energy(vehicle.energy),
        gross_weight_kg=vehicle.gross_weight_kg,
        length_cm=vehicle.length_cm,
    )
