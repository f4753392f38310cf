"""The audit trail: one record per state change (who, when, what, before and after)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import AuditRecord


def json_safe(value: Any) -> Any:
    """A JSON-storable copy of `value` (UUIDs, times, enums and bytes as strings)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named fields of a row, JSON-safe."""
    return json_safe({name: getattr(row, name) for name in fields})


async def record_change(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    entity: str,
    entity_id: uuid.UUID | str,
    action: str,
    at: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Add an audit record to the current transaction (actor None: the system)."""
    record = AuditRecord(
        at=at,
        actor_id=actor_id,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
    )
    session.add(record)
    return record
