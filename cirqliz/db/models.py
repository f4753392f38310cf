"""SQLModel tables. Times are aware UTC (sqlmodel's UTCDateTime: timestamptz on PostgreSQL);
enumerations are strings guarded by named CHECK constraints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from cirqliz.db.base import check_between, check_in
from cirqliz.domain.applications import ApplicationAction, ApplicationStatus
from cirqliz.domain.documents import ACCEPTED_TYPES, MAX_DOCUMENT_BYTES
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import ExemptionKind, PassStatus
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import Energy, VehicleCategory
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ReviewMode, TrafficOrderStatus, ZoneKind, ZoneStatus

_PURPOSES = ", ".join(str(int(p)) for p in Purpose)


def _json(nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_column=Column(JSON, nullable=nullable))


class Organisation(SQLModel, table=True):
    """An authority, an event organiser or a company."""

    __table_args__ = (
        check_in("kind", OrganisationKind),
        CheckConstraint("kind <> 'company' OR siren IS NOT NULL", name="company_has_siren"),
        CheckConstraint("next_zone_ref > 0", name="next_zone_ref_positive"),
        UniqueConstraint("code"),
        UniqueConstraint("siret"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=16)
    code: str = Field(max_length=32)  # short stable identifier; the pass issuer (`iss`)
    name: str = Field(max_length=200)
    siren: str | None = Field(default=None, max_length=9, index=True)
    siret: str | None = Field(default=None, max_length=14)
    # An organiser belongs to one authority: it submits events to it only, and only that
    # authority's admins see and invite its members (null for authorities and companies).
    authority_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id", index=True)
    contact_email: str | None = Field(default=None, max_length=254)  # an organiser's, given by its authority
    # Zone refs are never reused: allocated from this counter, not from max(ref) + 1.
    next_zone_ref: int = Field(default=1)
    # The seq of the authority's last published trust bundle. keys/ holds it too, but a keys/
    # restored from an older copy would go back, and phones refuse a bundle whose seq goes back.
    last_bundle_seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # An authority's IANA time zone (given by `cirqliz authority create`); null for the others.
    time_zone: str | None = Field(default=None, max_length=64)
    created_at: datetime


class UserAccount(SQLModel, table=True):
    """A person who signs in."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("email"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254)
    display_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    # Sessions carry the version they were opened at; raising it ends every earlier session,
    # in every process and across restarts (sign-out everywhere, password reset, disabling).
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime


class SignedOutSession(SQLModel, table=True):
    """A session signed out before its cookie expired (SHA-256 of its id): a copy of that cookie no
    longer signs anyone in, in any process, after a restart too. Kept until the session's end of life."""

    __tablename__ = "signed_out_session"

    sid_hash: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    expires_at: datetime = Field(index=True)


class Membership(SQLModel, table=True):
    """A role a user holds in an organisation."""

    __table_args__ = (
        check_in("role", Role),
        UniqueConstraint("user_id", "organisation_id", "role"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    role: str = Field(max_length=32)
    created_at: datetime


class Vehicle(SQLModel, table=True):
    """A vehicle of an organisation's fleet."""

    __table_args__ = (
        check_in("category", VehicleCategory),
        check_in("energy", Energy),
        check_between("crit_air", 0, 5),
        CheckConstraint("gross_weight_kg IS NULL OR gross_weight_kg > 0", name="weight_positive"),
        CheckConstraint("length_cm IS NULL OR length_cm > 0", name="length_positive"),
        UniqueConstraint("organisation_id", "plate"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    plate: str = Field(max_length=16, index=True)  # normalised (cirqliz.domain.plates)
    category: str = Field(max_length=8)
    crit_air: int | None = None  # None: not classified
    energy: str = Field(max_length=16)
    gross_weight_kg: int | None = None
    length_cm: int | None = None
    created_at: datetime


class Event(SQLModel, table=True):
    """An event (festival, race, summit) for which temporary zones are set up."""

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organiser_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


class Zone(SQLModel, table=True):
    """A restricted zone owned by an authority."""

    __table_args__ = (
        check_in("kind", ZoneKind),
        check_in("status", ZoneStatus),
        CheckConstraint("ref > 0", name="ref_positive"),
        CheckConstraint(
            "permanent OR (starts_on IS NOT NULL AND ends_on IS NOT NULL AND starts_on <= ends_on)",
            name="temporary_has_dates",
        ),
        UniqueConstraint("authority_id", "ref"),
        UniqueConstraint("authority_id", "code"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    ref: int  # small integer carried in signed passes, unique per authority, never reused
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=24)
    geometry: dict[str, Any] = _json()
    time_zone: str = Field(max_length=64)
    status: str = Field(max_length=16)
    permanent: bool = Field(default=True)
    starts_on: date | None = None
    ends_on: date | None = None
    delegated_to_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    event_id: uuid.UUID | None = Field(default=None, foreign_key="event.id")
    data_version: int = Field(default=1)
    # A new value whenever the outline changes, set by the database only (migration 0016: any
    # writer; the value on an object in memory may be stale): the publisher keeps outlines by it.
    geometry_version: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    # The restriction schedule (ADR 0007): when the restriction is in force; null = at all times
    # within the zone's dates. `restriction_hours` is the OSM opening_hours text as given, and
    # `restriction_windows` its windows (null when the text cannot be expressed as windows).
    restriction_hours: str | None = Field(default=None, sa_type=Text)
    restriction_windows: list[dict[str, Any]] | None = _json(nullable=True)
    # Provenance of an imported zone ("" for a zone drawn by hand).
    source: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": text("''")})
    source_id: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": text("''")})
    url_order: str | None = Field(default=None, sa_type=Text)
    url_site: str | None = Field(default=None, sa_type=Text)
    source_properties: dict[str, Any] | None = _json(nullable=True)
    created_at: datetime
    updated_at: datetime


class AccessRule(SQLModel, table=True):
    """Who may enter a zone, when, and how applications are reviewed."""

    __tablename__ = "access_rule"
    __table_args__ = (
        check_in("review_mode", ReviewMode),
        check_between("max_crit_air", 0, 5),
        CheckConstraint("quota_days_per_year IS NULL OR quota_days_per_year >= 0",
                        name="quota_not_negative"),
        CheckConstraint("max_pass_days IS NULL OR max_pass_days > 0", name="max_days_positive"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", index=True)
    position: int = Field(default=0)
    name: str = Field(default="", max_length=200)
    # The authority's opening_hours string, kept verbatim; `windows` is its TimeWindow form
    # (or the windows typed directly), null when opening_hours cannot be expressed as windows.
    opening_hours: str | None = Field(default=None, sa_type=Text)
    windows: list[dict[str, Any]] | None = _json(nullable=True)
    purposes: list[int] = _json()
    categories: list[str] = _json()
    max_crit_air: int | None = None
    max_weight_kg: int | None = None
    max_length_cm: int | None = None
    quota_days_per_year: int | None = None
    max_pass_days: int | None = None
    review_mode: str = Field(default=ReviewMode.MANUAL.value, max_length=16)
    # Provenance and limits of an imported rule, in fields (ADR 0007); "" for a rule typed by hand.
    source: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": text("''")})
    source_id: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": text("''")})
    # ZFE schema class (ZfeVehicleClass: vp, vul, pl, autobus_autocars, deux_rm)
    vehicle_class: str = Field(default="", max_length=24, sa_column_kwargs={"server_default": text("''")})
    critair_from: str | None = Field(default=None, max_length=4)  # first Crit'Air class restricted (ZFE schema)
    min_weight_kg: int | None = None
    max_width_cm: int | None = None
    max_height_cm: int | None = None
    created_at: datetime


class Application(SQLModel, table=True):
    """A request for passes: one or several zones, one vehicle or a fleet."""

    __table_args__ = (
        check_in("status", ApplicationStatus),
        CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),
        CheckConstraint("expires_at > not_before", name="period_order"),
        Index("ix_application_organisation_created", "organisation_id", "created_at"),
        Index("ix_application_authority_status_submitted", "authority_id", "status", "submitted_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    applicant_id: uuid.UUID = Field(foreign_key="user_account.id")
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    purpose: int
    not_before: datetime
    expires_at: datetime
    windows: list[dict[str, Any]] = _json()
    comment: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=ApplicationStatus.DRAFT.value, max_length=16, index=True)
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    decision_reason: str | None = Field(default=None, sa_type=Text)


class ApplicationZone(SQLModel, table=True):
    """A zone an application asks for."""

    __tablename__ = "application_zone"

    application_id: uuid.UUID = Field(foreign_key="application.id", primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", primary_key=True)


class ApplicationVehicle(SQLModel, table=True):
    """A vehicle an application asks for (several for a fleet application)."""

    __tablename__ = "application_vehicle"

    application_id: uuid.UUID = Field(foreign_key="application.id", primary_key=True)
    vehicle_id: uuid.UUID = Field(foreign_key="vehicle.id", primary_key=True)


class ApplicationTransitionRecord(SQLModel, table=True):
    """One state change of an application: who, when, why."""

    __tablename__ = "application_transition"
    __table_args__ = (
        check_in("from_status", ApplicationStatus),
        check_in("to_status", ApplicationStatus),
        check_in("action", ApplicationAction),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    application_id: uuid.UUID = Field(foreign_key="application.id", index=True)
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    action: str = Field(max_length=16)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    reason: str | None = Field(default=None, sa_type=Text)
    at: datetime


class SupportingDocument(SQLModel, table=True):
    """A file attached to an application, stored by content hash."""

    __tablename__ = "supporting_document"
    __table_args__ = (
        check_in("content_type", ACCEPTED_TYPES),
        CheckConstraint(f"size > 0 AND size <= {MAX_DOCUMENT_BYTES}", name="size_range"),
        UniqueConstraint("application_id", "sha256"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    application_id: uuid.UUID = Field(foreign_key="application.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=255)
    uploaded_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    uploaded_at: datetime


LISTED_PASS_STATUSES = (PassStatus.REVOKED.value, PassStatus.SUSPENDED.value)
"""The statuses of the passes a revocation list names (with their expiry not yet passed)."""
LISTED_PASS_WHERE = f"status IN ('{LISTED_PASS_STATUSES[0]}', '{LISTED_PASS_STATUSES[1]}')"
"""The predicate of ix_access_pass_listed; a query must state it as is for the planner to use it."""


class AccessPass(SQLModel, table=True):
    """An issued, signed pass."""

    __tablename__ = "access_pass"
    __table_args__ = (
        check_in("status", PassStatus),
        CheckConstraint(f"purpose IN ({_PURPOSES})", name="purpose"),
        CheckConstraint("expires_at > not_before", name="period_order"),
        UniqueConstraint("serial"),
        # One pass per vehicle per application, whatever races happen between reviewers.
        UniqueConstraint("application_id", "vehicle_id"),
        Index("ix_access_pass_status_expires_at", "status", "expires_at"),
        Index("ix_access_pass_authority_issued", "authority_id", "issued_at"),
        # Capped counts by status; with the index above it replaces a single-column authority_id
        # index, so issuing maintains as many indexes as before.
        Index("ix_access_pass_authority_status", "authority_id", "status"),
        # The revocation list read at each publication (issue 18): an index-only scan of the listed
        # passes. serial is a key column, not INCLUDE, so both databases hold the same index.
        Index("ix_access_pass_listed", "authority_id", "expires_at", "serial",
              postgresql_where=text(LISTED_PASS_WHERE), sqlite_where=text(LISTED_PASS_WHERE)),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    serial: str = Field(max_length=16)  # 8 random bytes, upper-case hex (as printed)
    application_id: uuid.UUID | None = Field(default=None, foreign_key="application.id")
    vehicle_id: uuid.UUID | None = Field(default=None, foreign_key="vehicle.id", index=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id")
    plate: str = Field(max_length=16, index=True)
    purpose: int
    not_before: datetime
    expires_at: datetime
    windows: list[dict[str, Any]] = _json()
    zone_refs: list[int] = _json()
    status: str = Field(default=PassStatus.ACTIVE.value, max_length=16)
    kid: str | None = Field(default=None, max_length=64)
    signed_text: str | None = Field(default=None, sa_type=Text)
    issued_at: datetime
    issued_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime


class PassZone(SQLModel, table=True):
    """A zone a pass opens."""

    __tablename__ = "pass_zone"

    pass_id: uuid.UUID = Field(foreign_key="access_pass.id", primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", primary_key=True, index=True)


class Revocation(SQLModel, table=True):
    """Why and by whom a pass was revoked (at most once)."""

    __table_args__ = (UniqueConstraint("pass_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pass_id: uuid.UUID = Field(foreign_key="access_pass.id")
    reason: str = Field(sa_type=Text)
    revoked_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    revoked_at: datetime


class Exemption(SQLModel, table=True):
    """A low-emission-zone exemption ("dérogation") for a plate."""

    __table_args__ = (
        check_in("kind", ExemptionKind),
        CheckConstraint("ends_on >= starts_on", name="dates_order"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", index=True)
    vehicle_id: uuid.UUID | None = Field(default=None, foreign_key="vehicle.id")
    plate: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=16)
    starts_on: date
    ends_on: date
    pass_id: uuid.UUID | None = Field(default=None, foreign_key="access_pass.id")
    reason: str | None = Field(default=None, sa_type=Text)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime


class PassCheck(SQLModel, table=True):
    """A field agent's check of a pass; `id` comes from the device so uploads are idempotent."""

    __tablename__ = "pass_check"
    __table_args__ = (Index("ix_pass_check_clock_offset_s", "clock_offset_s"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    serial: str | None = Field(default=None, max_length=16, index=True)
    pass_id: uuid.UUID | None = Field(default=None, foreign_key="access_pass.id", index=True)
    agent_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    zone_id: uuid.UUID | None = Field(default=None, foreign_key="zone.id", index=True)
    checked_at: datetime = Field(index=True)
    verdict: str = Field(max_length=32)
    reason_code: str | None = Field(default=None, max_length=64)
    plate_seen: str | None = Field(default=None, max_length=16)
    device_id: str | None = Field(default=None, max_length=64)
    uploaded_at: datetime | None = None
    # Seconds the phone's clock was ahead of the server's at its last sync (negative: behind).
    clock_offset_s: int | None = None
    # Federation (issue 19): the pass's issuer as the phone read it, and the checkpoint zone as
    # `ISS/CODE` (a partner authority's zone) or `CODE` (the agent's own authority's).
    issuer: str | None = Field(default=None, max_length=32)
    zone_code: str | None = Field(default=None, max_length=65)


class AuditRecord(SQLModel, table=True):
    """A state change: who, when, what, before and after; hash-chained in `seq` order (ADR 0006)."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_entity", "entity", "entity_id"), UniqueConstraint("seq"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = Field(index=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    before: dict[str, Any] | None = _json(nullable=True)
    after: dict[str, Any] | None = _json(nullable=True)
    # Set when the transaction commits (cirqliz.issuance.audit): NULL only inside that transaction.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


def window_to_json(window: TimeWindow) -> dict[str, Any]:
    """The JSON form of a window stored in `windows` columns."""
    data: dict[str, Any] = {"weekdays": window.weekdays, "start": window.start, "end": window.end}
    if window.first_day:
        data["first_day"] = window.first_day.isoformat()
    if window.last_day:
        data["last_day"] = window.last_day.isoformat()
    if window.skip_public_holidays:
        data["skip_public_holidays"] = True
    return data


def window_from_json(data: dict[str, Any]) -> TimeWindow:
    """Inverse of window_to_json."""
    first, last = data.get("first_day"), data.get("last_day")
    return TimeWindow(
        int(data["weekdays"]), int(data["start"]), int(data["end"]),
        date.fromisoformat(first) if first else None,
        date.fromisoformat(last) if last else None,
        bool(data.get("skip_public_holidays", False)),
    )


# ---- accounts and API (issue 4) ------------------------------------------------------------


class Invitation(SQLModel, table=True):
    """An invitation to join an organisation with a role; only the token's hash is stored."""

    __table_args__ = (
        check_in("role", Role),
        CheckConstraint("expires_at > created_at", name="period_order"),
        UniqueConstraint("token_hash"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=254)
    role: str = Field(max_length=32)
    token_hash: str = Field(max_length=64)  # SHA-256 hex of the token sent by e-mail
    invited_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    cancelled_at: datetime | None = None  # cancelled by a manager, or replaced by a newer invitation


class PasswordReset(SQLModel, table=True):
    """A one-time password reset link; only the token's hash is stored."""

    __tablename__ = "password_reset"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="period_order"),
        UniqueConstraint("token_hash"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A bearer token of an organisation for the /api/v1 endpoints; only its hash is stored."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)  # first characters of the token, shown to tell tokens apart
    token_hash: str = Field(max_length=64)
    scopes: list[str] = _json()
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class SentNotification(SQLModel, table=True):
    """A notification that must go out once only (e.g. the expiry reminder of a pass)."""

    __tablename__ = "sent_notification"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32)
    ref: str = Field(max_length=64)
    recipients: int = Field(default=0)
    sent_at: datetime


# ---- events, temporary zones, closures and jobs (issue 6) -----------------------------------

EVENT_STATUSES = ("draft", "submitted", "approved", "rejected")
PERIMETER_LEVELS = ("red", "blue")
JOB_OUTCOMES = ("running", "ok", "skipped", "failed")


class EventApproval(SQLModel, table=True):
    """Where an organiser's event stands with the authority it is submitted to, and the number
    of passes the authority delegates to the organiser for it."""

    __tablename__ = "event_approval"
    __table_args__ = (
        check_in("status", EVENT_STATUSES),
        CheckConstraint("pass_quota >= 0", name="quota_not_negative"),
    )

    event_id: uuid.UUID = Field(foreign_key="event.id", primary_key=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    status: str = Field(default="draft", max_length=16)
    pass_quota: int = Field(default=0)
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    decision_reason: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime


class TemporaryZone(SQLModel, table=True):
    """A zone switched on and off by the scheduler at the boundaries of its `zone_schedule` rows
    (only once `auto_switch` is set: approved events, the authority's own imports). `source` and
    `source_id` identify the imported record, so a re-import updates instead of duplicating."""

    __tablename__ = "temporary_zone"
    __table_args__ = (
        check_in("level", PERIMETER_LEVELS, nullable=True),
        UniqueConstraint("authority_id", "source", "source_id"),
    )

    zone_id: uuid.UUID = Field(foreign_key="zone.id", primary_key=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    event_id: uuid.UUID | None = Field(default=None, foreign_key="event.id", index=True)
    level: str | None = Field(default=None, max_length=8)  # red: no motor traffic; blue: pass needed
    auto_switch: bool = Field(default=False)
    source: str | None = Field(default=None, max_length=32)
    source_id: str | None = Field(default=None, max_length=200)
    source_hash: str | None = Field(default=None, max_length=64)  # of the imported content
    created_at: datetime
    updated_at: datetime


class ZoneSchedule(SQLModel, table=True):
    """One period during which a temporary zone is in force: [starts_at, ends_at), UTC."""

    __tablename__ = "zone_schedule"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="period_order"),
        UniqueConstraint("zone_id", "source", "source_ref", "starts_at"),
        Index("ix_zone_schedule_bounds", "starts_at", "ends_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", index=True)
    starts_at: datetime
    ends_at: datetime | None = Field(default=None, index=True)  # the publish job asks what ended
    source: str = Field(max_length=32)  # event, pp-perimetres, datex2, ical
    source_ref: str = Field(default="", max_length=200)  # e.g. the iCalendar UID
    created_at: datetime


class TrafficOrder(SQLModel, table=True):
    """A goods-traffic order (Cerema file row) whose place has no geometry yet: kept for the
    authority to draw or attach one; it then becomes a zone with its rules (ADR 0007)."""

    __tablename__ = "traffic_order"
    __table_args__ = (
        check_in("status", TrafficOrderStatus),
        UniqueConstraint("authority_id", "source", "source_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    source: str = Field(max_length=32)
    source_id: str = Field(max_length=200)
    code: str = Field(max_length=32)  # the zone code it will get
    name: str = Field(max_length=200)  # the place, as the order names it
    insee: str = Field(default="", max_length=5)
    order_ref: str = Field(default="", max_length=200)
    order_date: date | None = None
    order_object: str = Field(default="", sa_type=Text)
    restriction_hours: str | None = Field(default=None, sa_type=Text)
    rules: dict[str, Any] = _json()  # the order's vehicle limits as read (TrafficOrderRecord fields)
    status: str = Field(default=TrafficOrderStatus.TO_LOCATE.value, max_length=16)
    zone_id: uuid.UUID | None = Field(default=None, foreign_key="zone.id")
    created_at: datetime
    updated_at: datetime


class ZoneClosure(SQLModel, table=True):
    """An incident message: a zone closed at short notice until a time, with a reason."""

    __tablename__ = "zone_closure"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="period_order"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zone_id: uuid.UUID = Field(foreign_key="zone.id", index=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(max_length=200)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime
    lifted_at: datetime | None = None
    notified: int = Field(default=0)


class EventPass(SQLModel, table=True):
    """A pass an organiser issued to a supplier of its event, counted against the quota."""

    __tablename__ = "event_pass"

    pass_id: uuid.UUID = Field(foreign_key="access_pass.id", primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="event.id", index=True)
    company: str = Field(max_length=200)
    line: int = Field(default=0)


class JobRun(SQLModel, table=True):
    """One run (or skip) of a scheduled job by one process, or one authority's share of it, for the
    admin page."""

    __tablename__ = "job_run"
    __table_args__ = (
        check_in("outcome", JOB_OUTCOMES),
        Index("ix_job_run_name_tick", "name", "tick"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=64)
    tick: datetime  # the scheduled slot this run is for
    started_at: datetime = Field(index=True)
    finished_at: datetime | None = None
    duration_ms: int = Field(default=0)
    outcome: str = Field(max_length=16)
    rows: int = Field(default=0)
    detail: str | None = Field(default=None, sa_type=Text)
    worker: str = Field(default="", max_length=100)
    # The authority a run worked for (a bulk approval, its share of a publication or a feed import);
    # null for a platform-wide run. An authority's jobs page lists its own runs and the platform's.
    authority_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id", index=True)


# ---- federation of trust across authorities (issue 19) -------------------------------------


class AuthorityPartner(SQLModel, table=True):
    """An authority whose passes the agents of `authority_id` check: its root public key is listed
    in the signed bundle of `authority_id`. Removing a partner deletes the row (the audit keeps it)."""

    __tablename__ = "authority_partner"
    __table_args__ = (UniqueConstraint("authority_id", "iss"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    authority_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)  # the one who trusts
    iss: str = Field(max_length=32)  # the partner's issuer code, read from its bundle
    name: str = Field(max_length=200)
    bundle_url: str = Field(sa_type=Text)  # as the administrator gave it
    root_spki: bytes  # SubjectPublicKeyInfo DER of the partner's root key
    fingerprint: str = Field(max_length=64)  # SHA-256 of root_spki, upper-case hex
    added_at: datetime
    added_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class PartnerBundle(SQLModel, table=True):
    """The last accepted bundle of a remote partner (iss, root), shared by every local authority that
    trusts it; `last_error` (French) says why the last fetch was not taken."""

    __tablename__ = "partner_bundle"

    iss: str = Field(max_length=32, primary_key=True)
    fingerprint: str = Field(max_length=64, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    data: bytes
    fetched_at: datetime
    last_attempt_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_type=Text)


class BundleChange(SQLModel, table=True):
    """The change counter of the trust bundles' inputs: one row (id 1) that database triggers bump
    whenever a zone, access rule, dated period, closure, partner or revoked/suspended pass is written
    (migration 0014); the publish job compares it instead of reading everything."""

    __tablename__ = "bundle_change"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    changes: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
