"""Goods-traffic orders kept without a geometry (ADR 0007), and placing them on the map.

A Cerema row whose street is only named is kept as a TrafficOrder of the authority, "à
localiser". The authority draws or uploads the place's geometry in the back office;
`locate_order` then turns the order into a zone with its rules, exactly as an import of the same
row with that geometry would (cirqliz.issuance.zone_imports.apply_zone_records), and marks the
order located. The caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import TrafficOrder, Zone
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.zones import TrafficOrderStatus, validate_geometry
from cirqliz.imports.records import traffic_order_record
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.zone_imports import apply_zone_records
from cirqliz.issuance.zones import geometry_summary
from cirqliz.labels import TRAFFIC_ORDER_STATUS_FR

STATUS_FR = TRAFFIC_ORDER_STATUS_FR


async def authority_orders(session: AsyncSession, authority_id: uuid.UUID, *, status: str | None = None
                           ) -> list[TrafficOrder]:
    """The authority's orders (of one status when given), by commune, place and source id."""
    query = select(TrafficOrder).where(col(TrafficOrder.authority_id) == authority_id)
    if status is not None:
        query = query.where(col(TrafficOrder.status) == status)
    query = query.order_by(col(TrafficOrder.insee), col(TrafficOrder.name), col(TrafficOrder.source_id))
    return list((await session.exec(query)).all())


async def orders_to_locate(session: AsyncSession, authority_id: uuid.UUID) -> int:
    """How many of the authority's orders still wait for a geometry."""
    return int((await session.exec(
        select(func.count()).select_from(TrafficOrder).where(
            col(TrafficOrder.authority_id) == authority_id,
            col(TrafficOrder.status) == TrafficOrderStatus.TO_LOCATE.value))).one())


async def scoped_order(session: AsyncSession, order_id: uuid.UUID, authority_id: uuid.UUID) -> TrafficOrder:
    """An order of this authority; NotFound otherwise (another authority's reads as missing)."""
    order = await session.get(TrafficOrder, order_id)
    if order is None or order.authority_id != authority_id:
        raise NotFound(f"arrêté introuvable : {order_id}", code="traffic_order_not_found")
    return order


async def locate_order(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    order_id: uuid.UUID,
    geometry: Mapping[str, Any] | str,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Zone:
    """Give an order its geometry: the zone and its rules are created (or the zone of the same
    code updated) through apply_zone_records, the order is marked located and audited.

    French DomainErrors: unknown order (NotFound), already located, geometry refused, zone
    refused by the import (e.g. an archived zone with the same code).
    """
    order = await scoped_order(session, order_id, authority_id)
    if order.status != TrafficOrderStatus.TO_LOCATE.value:
        raise DomainError("cet arrêté est déjà localisé : modifiez le périmètre depuis la page de sa zone",
                          code="traffic_order_located")
    shape = validate_geometry(geometry)
    located = traffic_order_record(dict(order.rules), geometry=shape)
    record = located.as_zone()
    if record is None:  # as_zone() only gives None without a geometry
        raise DomainError("géométrie manquante", code="geometry_missing")
    # The order itself (with its geometry) rather than record: the import adds what it reads from
    # the row besides (the order's URL), exactly as for a row that came with a geometry.
    report = await apply_zone_records(session, authority_id=authority_id, records=[located], clock=clock,
                                      actor_id=actor_id, source=record.source)
    skipped = [o for o in report.outcomes if o.action == "skipped"]
    if skipped:
        reasons = ", ".join(r for o in skipped for r in o.reasons) or "zone refusée"
        raise DomainError(f"zone {record.code} non créée : {reasons}", code="traffic_order_refused")
    zone = (await session.exec(select(Zone).where(col(Zone.authority_id) == authority_id,
                                                  col(Zone.code) == record.code))).one_or_none()
    if zone is None:
        raise DomainError(f"zone {record.code} non créée", code="traffic_order_refused")
    now = clock.now()
    order.status = TrafficOrderStatus.LOCATED.value
    order.zone_id = zone.id
    order.updated_at = now
    session.add(order)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="traffic_order", entity_id=order.id, action="locate",
                        at=now, before={"status": TrafficOrderStatus.TO_LOCATE.value},
                        after={"status": order.status, "zone_id": zone.id, "zone_code": zone.code,
                               "geometry": geometry_summary(shape)})
    return zone
