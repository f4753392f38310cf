"""API tokens of organisations, and what the /api/v1 endpoints read, scoped to one organisation.

A token is shown once when it is created; the database keeps its SHA-256 (the token is 256 random
bits, so a plain hash is enough) and its first characters to tell tokens apart. A row of another
organisation is reported exactly like a row that does not exist.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessPass, ApiToken, Application, PassZone, Vehicle, Zone
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.issuance.audit import record_change
from cirqliz.labels import SCOPE_FR

TOKEN_PREFIX = "cqz_"  # noqa: S105 (a marker, not a secret)
SHOWN_PREFIX = 12


class Scope(StrEnum):
    """What a token may do."""

    APPLICATIONS_WRITE = "applications:write"
    PASSES_READ = "passes:read"
    VERIFY = "verify"
    EXPORTS_READ = "exports:read"

    @property
    def label_fr(self) -> str:
        """French description shown on the token page (cirqliz.labels)."""
        return SCOPE_FR[self]


def hash_api_token(token: str) -> str:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Known scopes, deduplicated, in the canonical order; DomainError for unknown ones or none."""
    wanted = {v.strip() for v in values if v and v.strip()}
    unknown = wanted - {s.value for s in Scope}
    if unknown:
        raise DomainError(f"droit inconnu : {', '.join(sorted(unknown))}", code="invalid_scope")
    if not wanted:
        raise DomainError("cochez au moins un droit pour ce jeton", code="no_scope")
    return [s.value for s in Scope if s.value in wanted]


async def create_api_token(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    name: str,
    scopes: Iterable[str],
    created_by: uuid.UUID | None,
    clock: Clock,
) -> tuple[ApiToken, str]:
    """A new token: the row (hash only) and the token text, to show once."""
    label = (name or "").strip()
    if not label or len(label) > 100:
        raise DomainError("donnez un nom au jeton (100 caractères au plus), p. ex. « logiciel de flotte »",
                          code="invalid_token_name")
    chosen = parse_scopes(scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(organisation_id=organisation_id, name=label, prefix=token[:SHOWN_PREFIX],
                   token_hash=hash_api_token(token), scopes=chosen, created_by_id=created_by, created_at=now)
    session.add(row)
    await session.flush()
    await record_change(session, actor_id=created_by, entity="api_token", entity_id=row.id, action="create",
                        at=now, after={"organisation_id": organisation_id, "name": label, "scopes": chosen,
                                       "prefix": row.prefix})
    return row, token


async def organisation_tokens(session: AsyncSession, organisation_id: uuid.UUID) -> list[ApiToken]:
    """The organisation's tokens, newest first (revoked ones included)."""
    return list((await session.exec(
        select(ApiToken).where(col(ApiToken.organisation_id) == organisation_id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))
    )).all())


async def revoke_api_token(
    session: AsyncSession, *, organisation_id: uuid.UUID, token_id: uuid.UUID, actor_id: uuid.UUID | None,
    clock: Clock,
) -> ApiToken:
    """Revoke one of the organisation's tokens (idempotent)."""
    row = await session.get(ApiToken, token_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFound(f"jeton introuvable : {token_id}", code="not_found")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.add(row)
        await session.flush()
        await record_change(session, actor_id=actor_id, entity="api_token", entity_id=row.id, action="revoke",
                            at=row.revoked_at)
    return row


async def revoke_tokens_created_by(session: AsyncSession, *, user_id: uuid.UUID, actor_id: uuid.UUID | None,
                                   clock: Clock, organisation_ids: Iterable[uuid.UUID] | None = None
                                   ) -> list[uuid.UUID]:
    """Revoke every active token this person created (in `organisation_ids` when given): the person
    leaves or is disabled, the secrets they knew stop working. The ids of the tokens revoked (for
    the web process to forget them at once, see forget_token)."""
    statement = select(ApiToken).where(col(ApiToken.created_by_id) == user_id, col(ApiToken.revoked_at).is_(None))
    if organisation_ids is not None:
        statement = statement.where(col(ApiToken.organisation_id).in_(list(organisation_ids)))
    rows = (await session.exec(statement)).all()
    now = clock.now()
    for row in rows:
        row.revoked_at = now
        session.add(row)
        await record_change(session, actor_id=actor_id, entity="api_token", entity_id=row.id, action="revoke", at=now)
    await session.flush()
    return [row.id for row in rows]


async def authenticate_token(session: AsyncSession, token: str) -> ApiToken | None:
    """The active token with this text, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (await session.exec(select(ApiToken).where(col(ApiToken.token_hash) == hash_api_token(token)))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


# ---- reads for the API -----------------------------------------------------------------------


def _pass_of_organisation(organisation_id: uuid.UUID) -> Any:
    return or_(
        col(AccessPass.application_id).in_(
            select(Application.id).where(col(Application.organisation_id) == organisation_id)),
        col(AccessPass.vehicle_id).in_(
            select(Vehicle.id).where(col(Vehicle.organisation_id) == organisation_id)),
    )


async def api_application(session: AsyncSession, organisation_id: uuid.UUID, application_id: uuid.UUID
                          ) -> Application:
    """The organisation's application, or NotFound."""
    row = await session.get(Application, application_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFound(f"demande introuvable : {application_id}", code="not_found")
    return row


async def api_pass(session: AsyncSession, organisation_id: uuid.UUID, serial: str) -> AccessPass:
    """The organisation's pass with this serial, or NotFound."""
    row = (await session.exec(
        select(AccessPass).where(col(AccessPass.serial) == serial.upper(), _pass_of_organisation(organisation_id))
    )).first()
    if row is None:
        raise NotFound(f"laissez-passer introuvable : {serial}", code="not_found")
    return row


@dataclass(frozen=True, slots=True)
class PassFilter:
    """Filters of GET /api/v1/passes (all optional)."""

    status: str | None = None
    plate: str | None = None
    zone: str | None = None
    valid_at: datetime | None = None
    limit: int = 100
    offset: int = 0


async def api_passes(session: AsyncSession, organisation_id: uuid.UUID, filters: PassFilter) -> list[AccessPass]:
    """The organisation's passes matching the filters, newest first."""
    statement = select(AccessPass).where(_pass_of_organisation(organisation_id))
    if filters.status:
        statement = statement.where(col(AccessPass.status) == filters.status)
    if filters.plate:
        statement = statement.where(col(AccessPass.plate) == filters.plate)
    if filters.zone:
        statement = statement.where(col(AccessPass.id).in_(
            select(PassZone.pass_id).join(Zone, col(Zone.id) == PassZone.zone_id)
            .where(col(Zone.code) == filters.zone)))
    if filters.valid_at:
        statement = statement.where(col(AccessPass.not_before) <= filters.valid_at,
                                    col(AccessPass.expires_at) > filters.valid_at)
    statement = (statement.order_by(col(AccessPass.issued_at).desc(), col(AccessPass.serial))
                 .offset(filters.offset).limit(filters.limit))
    return list((await session.exec(statement)).all())


async def zone_codes_of_passes(session: AsyncSession, pass_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Zone codes of each pass."""
    found: dict[uuid.UUID, list[str]] = {p: [] for p in pass_ids}
    if not pass_ids:
        return found
    rows = (await session.exec(
        select(PassZone.pass_id, Zone.code).join(Zone, col(Zone.id) == PassZone.zone_id)
        .where(col(PassZone.pass_id).in_(list(pass_ids))).order_by(col(Zone.ref))
    )).all()
    for pass_id, code in rows:
        found[pass_id].append(code)
    return found
