"""Loading rows by id for services, with a typed NotFound."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.domain.errors import NotFound

T = TypeVar("T", bound=SQLModel)

_LABELS_FR = {
    "Organisation": "organisation",
    "UserAccount": "utilisateur",
    "Vehicle": "véhicule",
    "Zone": "zone",
    "Application": "demande",
    "AccessPass": "laissez-passer",
    "AccessRule": "règle d'accès",
    "Event": "événement",
}


async def get_or_raise(session: AsyncSession, model: type[T], row_id: uuid.UUID) -> T:
    """The row with this id, or NotFound (French message)."""
    row = await session.get(model, row_id)
    if row is None:
        label = _LABELS_FR.get(model.__name__, model.__name__)
        raise NotFound(f"{label} introuvable : {row_id}", code=f"{model.__tablename__}_not_found")
    return row
