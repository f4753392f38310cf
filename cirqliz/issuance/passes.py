"""Pass use cases after issuance: suspend, reinstate, revoke, expire, exemptions, agents' checks.

Suspend, reinstate and revoke take the application's `settings`: when given, the people of the
holder company are mailed the change and its reason once the caller's transaction commits.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessPass, Exemption, PassCheck, Revocation, Zone
from cirqliz.domain.errors import DomainError, ReasonRequired
from cirqliz.domain.passes import ExemptionKind, PassStatus, check_pass_transition, parse_serial
from cirqliz.domain.plates import normalise_plate
from cirqliz.domain.zones import ZoneKind
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.mail import notify_pass_status
from cirqliz.settings import Settings


async def _change_status(
    session: AsyncSession,
    *,
    pass_id: uuid.UUID,
    target: PassStatus,
    actor_id: uuid.UUID | None,
    reason: str | None,
    clock: Clock,
) -> AccessPass:
    row = await get_or_raise(session, AccessPass, pass_id)
    before = row.status
    check_pass_transition(before, target)
    now = clock.now()
    result = await session.exec(
        update(AccessPass)
        .where(col(AccessPass.id) == pass_id, col(AccessPass.status) == before)
        .values(status=target.value, updated_at=now)
        .returning(AccessPass.id)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        await session.refresh(row)
        check_pass_transition(row.status, target)  # raises with the state someone else left
    await session.refresh(row)
    await record_change(session, actor_id=actor_id, entity="pass", entity_id=row.id,
                        action=target.value, at=now, before={"status": before},
                        after={"status": row.status, "reason": reason})
    return row


async def suspend_pass(
    session: AsyncSession, *, pass_id: uuid.UUID, actor_id: uuid.UUID, reason: str, clock: Clock,
    settings: Settings | None = None,
) -> AccessPass:
    """Suspend an active pass (reason required); the holder is mailed when `settings` is given."""
    if not (reason or "").strip():
        raise ReasonRequired("un motif est obligatoire pour suspendre un laissez-passer")
    row = await _change_status(session, pass_id=pass_id, target=PassStatus.SUSPENDED,
                               actor_id=actor_id, reason=reason.strip(), clock=clock)
    if settings is not None:
        await notify_pass_status(session, row, reason=reason.strip(), settings=settings)
    return row


async def reinstate_pass(
    session: AsyncSession, *, pass_id: uuid.UUID, actor_id: uuid.UUID, clock: Clock,
    reason: str | None = None, settings: Settings | None = None,
) -> AccessPass:
    """Lift a suspension; the holder is mailed when `settings` is given."""
    row = await _change_status(session, pass_id=pass_id, target=PassStatus.ACTIVE,
                               actor_id=actor_id, reason=reason, clock=clock)
    if settings is not None:
        await notify_pass_status(session, row, reason=reason, settings=settings)
    return row


async def revoke_pass(
    session: AsyncSession, *, pass_id: uuid.UUID, actor_id: uuid.UUID, reason: str, clock: Clock,
    settings: Settings | None = None,
) -> Revocation:
    """Revoke a pass for good (reason required); the next trust bundle lists it. The holder is
    mailed when `settings` is given."""
    if not (reason or "").strip():
        raise ReasonRequired("un motif est obligatoire pour révoquer un laissez-passer")
    row = await _change_status(session, pass_id=pass_id, target=PassStatus.REVOKED,
                               actor_id=actor_id, reason=reason.strip(), clock=clock)
    revocation = Revocation(pass_id=row.id, reason=reason.strip(), revoked_by_id=actor_id,
                            revoked_at=clock.now())
    session.add(revocation)
    await session.flush()
    if settings is not None:
        await notify_pass_status(session, row, reason=reason.strip(), settings=settings)
    return revocation


async def expire_passes(session: AsyncSession, *, clock: Clock) -> int:
    """Mark every pass past its end as expired in one statement; one audit record per run."""
    now = clock.now()
    result = await session.exec(
        update(AccessPass)
        .where(col(AccessPass.expires_at) <= now,
               col(AccessPass.status).in_((PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value)))
        .values(status=PassStatus.EXPIRED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    if count:
        await record_change(session, actor_id=None, entity="pass", entity_id="*", action="expire",
                            at=now, after={"status": PassStatus.EXPIRED.value, "count": count})
    return count


async def grant_exemption(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    plate: str,
    kind: str,
    starts_on: date,
    ends_on: date,
    actor_id: uuid.UUID,
    clock: Clock,
    vehicle_id: uuid.UUID | None = None,
    pass_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> Exemption:
    """Record a low-emission-zone exemption for a plate."""
    zone = await get_or_raise(session, Zone, zone_id)
    if zone.kind != ZoneKind.LOW_EMISSION:
        raise DomainError("une dérogation ne concerne qu'une zone à faibles émissions",
                          code="exemption_not_lez")
    if ends_on < starts_on:
        raise DomainError("la fin de la dérogation précède son début", code="exemption_dates")
    now = clock.now()
    exemption = Exemption(
        zone_id=zone.id, vehicle_id=vehicle_id, plate=normalise_plate(plate),
        kind=ExemptionKind(kind).value, starts_on=starts_on, ends_on=ends_on, pass_id=pass_id,
        reason=reason, created_by_id=actor_id, created_at=now,
    )
    session.add(exemption)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="exemption", entity_id=exemption.id,
                        action="create", at=now,
                        after={"zone": zone.code, "plate": exemption.plate, "kind": exemption.kind,
                               "starts_on": starts_on, "ends_on": ends_on})
    return exemption


async def record_check(
    session: AsyncSession,
    *,
    check_id: uuid.UUID,
    agent_id: uuid.UUID,
    checked_at: datetime,
    verdict: str,
    clock: Clock,
    serial: str | None = None,
    zone_id: uuid.UUID | None = None,
    reason_code: str | None = None,
    plate_seen: str | None = None,
    device_id: str | None = None,
    authority_id: uuid.UUID | None = None,
    clock_offset_s: int | None = None,
    issuer: str | None = None,
    zone_code: str | None = None,
) -> PassCheck:
    """Store an agent's check uploaded from a device; uploading the same check twice is a no-op.
    With `authority_id` (the agent's authority), the check is tied to a pass of that authority only:
    another authority's serial is kept as seen, never linked to that authority's pass.
    `issuer` (the pass's issuer, e.g. a partner authority) and `zone_code` (`CODE` or `ISS/CODE`)
    are kept as the phone sent them, cut to their column sizes (32 and 65)."""
    existing = await session.get(PassCheck, check_id)
    if existing is not None:
        return existing
    serial_value = parse_serial(serial) if serial else None
    pass_id = None
    if serial_value:
        lookup = select(AccessPass.id).where(col(AccessPass.serial) == serial_value)
        if authority_id is not None:
            lookup = lookup.where(col(AccessPass.authority_id) == authority_id)
        pass_id = (await session.exec(lookup)).first()
    check = PassCheck(
        id=check_id, serial=serial_value, pass_id=pass_id, agent_id=agent_id, zone_id=zone_id,
        checked_at=checked_at, verdict=verdict, reason_code=reason_code, plate_seen=plate_seen,
        device_id=device_id, uploaded_at=clock.now(), clock_offset_s=clock_offset_s,
        issuer=issuer[:32] if issuer else None, zone_code=zone_code[:65] if zone_code else None,
    )
    session.add(check)
    await session.flush()
    return check
