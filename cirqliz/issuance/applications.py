"""Application use cases: draft (and change it), submit, review, approve (issue passes), withdraw.

Every function works inside the caller's transaction and only flushes; the caller commits.
`approve_application` is safe when two reviewers approve at once: the status change is a
conditional UPDATE (… WHERE status = 'submitted'), so exactly one transaction wins and the
other gets a TransitionError; pass rows are unique per (application, vehicle) and per serial.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, literal, union_all, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased, defer, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.bulk_insert import COPY_MIN_ROWS, insert_rows
from cirqliz.db.models import (
    AccessPass,
    AccessRule,
    Application,
    ApplicationTransitionRecord,
    ApplicationVehicle,
    ApplicationZone,
    Organisation,
    PassZone,
    SupportingDocument,
    Vehicle,
    Zone,
    window_from_json,
    window_to_json,
)
from cirqliz.domain.applications import (
    ApplicationAction,
    ApplicationStatus,
    ApplicationTransition,
    next_status,
    transition,
)
from cirqliz.domain.documents import DocumentFacts, DocumentQuota, check_document
from cirqliz.domain.eligibility import (
    AccessRuleSpec,
    Decision,
    PassRequest,
    Refusal,
    check_zone_period,
    evaluate_rules,
)
from cirqliz.domain.errors import DomainError, EligibilityError, TransitionError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.passes import PassStatus, new_serial, pass_days, serial_hex
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ReviewMode, ZoneStatus
from cirqliz.issuance.audit import head_columns, note_head, record_change, record_changes
from cirqliz.issuance.documents import DocumentStore
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.mail import plate_display
from cirqliz.issuance.signer import ClaimsInput, PassSigner, batch_signer
from cirqliz.issuance.vehicles import profile_of
from cirqliz.issuance.zones import rule_spec, zone_rules
from cirqliz.labels import ZONE_STATUS_FR

SERIAL_ATTEMPTS = 5
# Statuses whose passes count against a yearly quota (a revoked pass gives its days back).
_QUOTA_STATUSES = (PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value, PassStatus.EXPIRED.value)


async def _checked_request(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    zone_ids: Sequence[uuid.UUID],
    vehicle_ids: Sequence[uuid.UUID],
    not_before: datetime,
    expires_at: datetime,
) -> tuple[list[Zone], list[Vehicle]]:
    """The zones and vehicles of a request, after the checks a draft must pass (DomainError)."""
    org = await get_or_raise(session, Organisation, organisation_id)
    if org.kind == OrganisationKind.AUTHORITY:
        raise DomainError("une autorité ne dépose pas de demande", code="authority_applicant")
    if not zone_ids:
        raise DomainError("choisir au moins une zone", code="no_zone")
    if not vehicle_ids:
        raise DomainError("choisir au moins un véhicule", code="no_vehicle")
    if not_before.tzinfo is None or expires_at.tzinfo is None:
        raise DomainError("dates sans fuseau horaire", code="naive_time")
    if expires_at <= not_before:
        raise DomainError("la fin de validité doit suivre le début", code="empty_period")
    zones = [await get_or_raise(session, Zone, z) for z in dict.fromkeys(zone_ids)]
    if len({z.authority_id for z in zones}) != 1:
        raise DomainError("toutes les zones d'une demande relèvent de la même autorité",
                          code="zones_of_several_authorities")
    vehicles = [await get_or_raise(session, Vehicle, v) for v in dict.fromkeys(vehicle_ids)]
    if any(v.organisation_id != organisation_id for v in vehicles):
        raise DomainError("un des véhicules n'appartient pas à l'organisation",
                          code="vehicle_not_owned")
    return zones, vehicles


async def _link(session: AsyncSession, app: Application, zones: Sequence[Zone], vehicles: Sequence[Vehicle]) -> None:
    for zone in zones:
        session.add(ApplicationZone(application_id=app.id, zone_id=zone.id))
    # In vehicle id order, the order approvals lock them FOR UPDATE (application_vehicles): each
    # insert takes a key-share lock on its vehicle, and two orders deadlock under load.
    for vehicle in sorted(vehicles, key=lambda v: v.id):
        session.add(ApplicationVehicle(application_id=app.id, vehicle_id=vehicle.id))
    await session.flush()


async def create_application(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    applicant_id: uuid.UUID,
    zone_ids: Sequence[uuid.UUID],
    vehicle_ids: Sequence[uuid.UUID],
    purpose: int,
    not_before: datetime,
    expires_at: datetime,
    clock: Clock,
    windows: Sequence[TimeWindow] = (),
    comment: str | None = None,
    application_id: uuid.UUID | None = None,
) -> Application:
    """A draft application for one vehicle or a fleet, in zones of a single authority."""
    zones, vehicles = await _checked_request(session, organisation_id=organisation_id, zone_ids=zone_ids,
                                             vehicle_ids=vehicle_ids, not_before=not_before, expires_at=expires_at)
    now = clock.now()
    app = Application(
        id=application_id or uuid.uuid4(),
        organisation_id=organisation_id,
        applicant_id=applicant_id,
        authority_id=zones[0].authority_id,
        purpose=int(Purpose(purpose)),
        not_before=not_before,
        expires_at=expires_at,
        windows=[window_to_json(w) for w in windows],
        comment=comment,
        status=ApplicationStatus.DRAFT.value,
        created_at=now,
        updated_at=now,
    )
    session.add(app)
    await session.flush()
    await _link(session, app, zones, vehicles)
    await record_change(session, actor_id=applicant_id, entity="application", entity_id=app.id,
                        action="create", at=now,
                        after={"status": app.status, "zones": [z.code for z in zones],
                               "vehicles": [v.plate for v in vehicles], "purpose": app.purpose})
    return app


async def update_draft(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    actor_id: uuid.UUID,
    zone_ids: Sequence[uuid.UUID],
    vehicle_ids: Sequence[uuid.UUID],
    purpose: int,
    not_before: datetime,
    expires_at: datetime,
    clock: Clock,
    windows: Sequence[TimeWindow] = (),
    comment: str | None = None,
) -> Application:
    """Change what a draft asks for (zones, vehicles, purpose, period, hours, comment), with the
    checks of a new draft. Only a draft can change: once submitted (even meanwhile, by another
    request) it is a TransitionError and nothing is written."""
    app = await get_or_raise(session, Application, application_id)
    zones, vehicles = await _checked_request(session, organisation_id=app.organisation_id, zone_ids=zone_ids,
                                             vehicle_ids=vehicle_ids, not_before=not_before, expires_at=expires_at)
    before = {"zones": [z.code for z in await application_zones(session, app.id)],
              "vehicles": [v.plate for v in await application_vehicles(session, app.id)],
              "purpose": app.purpose, "not_before": app.not_before, "expires_at": app.expires_at,
              "windows": app.windows, "comment": app.comment}
    now = clock.now()
    result = await session.exec(
        update(Application)
        .where(col(Application.id) == app.id, col(Application.status) == ApplicationStatus.DRAFT.value)
        .values(authority_id=zones[0].authority_id, purpose=int(Purpose(purpose)), not_before=not_before,
                expires_at=expires_at, windows=[window_to_json(w) for w in windows], comment=comment,
                updated_at=now)
        .returning(Application.id)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        await session.refresh(app)
        raise TransitionError(f"seul un brouillon peut être modifié : la demande est "
                              f"{ApplicationStatus(app.status).label_fr}", code="not_a_draft")
    await session.exec(delete(ApplicationZone).where(col(ApplicationZone.application_id) == app.id))
    await session.exec(delete(ApplicationVehicle).where(col(ApplicationVehicle.application_id) == app.id))
    await _link(session, app, zones, vehicles)
    await session.refresh(app)
    await record_change(session, actor_id=actor_id, entity="application", entity_id=app.id, action="update",
                        at=now, before=before,
                        after={"zones": [z.code for z in zones], "vehicles": [v.plate for v in vehicles],
                               "purpose": app.purpose, "not_before": app.not_before,
                               "expires_at": app.expires_at, "windows": app.windows, "comment": app.comment})
    return app


async def application_zones(session: AsyncSession, application_id: uuid.UUID) -> list[Zone]:
    """The zones of an application, by ref."""
    result = await session.exec(
        select(Zone).join(ApplicationZone, col(ApplicationZone.zone_id) == Zone.id)
        .where(col(ApplicationZone.application_id) == application_id).order_by(col(Zone.ref))
    )
    return list(result.all())


async def application_vehicles(
    session: AsyncSession, application_id: uuid.UUID, *, lock: bool = False
) -> list[Vehicle]:
    """The vehicles of an application, by id (FOR UPDATE when `lock`, in a stable order)."""
    statement = _VEHICLES_LOCKED if lock else _VEHICLES
    return list((await session.exec(statement, params={"application_id": application_id})).all())


# Built once (a bound parameter for the id): building and keying a statement per call costs more
# than running it on a small application.
_VEHICLES = (
    select(Vehicle).join(ApplicationVehicle, col(ApplicationVehicle.vehicle_id) == Vehicle.id)
    .where(col(ApplicationVehicle.application_id) == bindparam("application_id")).order_by(col(Vehicle.id))
)
_VEHICLES_LOCKED = _VEHICLES.with_for_update(of=Vehicle)


async def quota_days_used(
    session: AsyncSession, *, vehicle_id: uuid.UUID, zone: Zone, year: int
) -> int:
    """Local days of `year` already covered by the vehicle's passes for this zone."""
    result = await session.exec(
        select(AccessPass.not_before, AccessPass.expires_at)
        .join(PassZone, col(PassZone.pass_id) == AccessPass.id)
        .where(col(PassZone.zone_id) == zone.id, col(AccessPass.vehicle_id) == vehicle_id,
               col(AccessPass.status).in_(_QUOTA_STATUSES))
    )
    days: set = set()
    for not_before, expires_at in result.all():
        days |= pass_days(not_before, expires_at, zone.time_zone)
    return sum(1 for d in days if d.year == year)


async def assess_application(
    session: AsyncSession, application: Application, *,
    zones: Sequence[Zone] | None = None, vehicles: Sequence[Vehicle] | None = None,
    rules: Mapping[uuid.UUID, Sequence[AccessRuleSpec]] | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], Decision]:
    """The decision for every (vehicle, zone) pair of an application (its zones, vehicles and the
    zones' rules are read unless given; given vehicles must already be locked when that matters)."""
    windows = tuple(window_from_json(w) for w in application.windows)
    decisions: dict[tuple[uuid.UUID, uuid.UUID], Decision] = {}
    if zones is None:
        zones = await application_zones(session, application.id)
    if vehicles is None:
        vehicles = await application_vehicles(session, application.id)
    for zone in zones:
        specs = (list(rules[zone.id]) if rules is not None and zone.id in rules
                 else [rule_spec(r) for r in await zone_rules(session, zone.id)])
        for vehicle in vehicles:
            request = PassRequest(
                vehicle=profile_of(vehicle), purpose=Purpose(application.purpose),
                not_before=application.not_before, expires_at=application.expires_at,
                time_zone=zone.time_zone, windows=windows,
            )
            used = 0
            if any(s.quota_days_per_year is not None for s in specs):
                year = min(pass_days(request.not_before, request.expires_at, zone.time_zone)).year
                used = await quota_days_used(session, vehicle_id=vehicle.id, zone=zone, year=year)
            decision = evaluate_rules(request, specs, quota_used=used)
            if zone.status != ZoneStatus.ACTIVE:
                decision = Decision(None, decision.refusals + _zone_inactive(zone))
            elif decision.eligible and (zone.starts_on or zone.ends_on):
                decision = _within_zone_dates(decision, request, zone)
            decisions[(vehicle.id, zone.id)] = decision
    return decisions


def _zone_inactive(zone: Zone) -> tuple[Refusal, ...]:
    status = ZONE_STATUS_FR.get(zone.status, zone.status)
    return (Refusal("zone_not_active", f"la zone {zone.code} n'est pas ouverte aux demandes ({status})"),)


def _within_zone_dates(decision: Decision, request: PassRequest, zone: Zone) -> Decision:
    refusals = check_zone_period(not_before=request.not_before, expires_at=request.expires_at,
                                 time_zone=zone.time_zone, starts_on=zone.starts_on,
                                 ends_on=zone.ends_on)
    return Decision(None, tuple(refusals)) if refusals else decision


def _refusals(
    decisions: dict[tuple[uuid.UUID, uuid.UUID], Decision],
    plates: dict[uuid.UUID, str],
    codes: dict[uuid.UUID, str],
) -> list[Refusal]:
    """Every refusal, prefixed with the plate and zone it is about."""
    found = []
    for (vehicle_id, zone_id), decision in decisions.items():
        for r in decision.refusals if not decision.eligible else ():
            found.append(Refusal(r.code, f"{plates[vehicle_id]} / {codes[zone_id]} : {r.message}"))
    return found


def _latest_transition(application_id: Any) -> Any:
    """The time of an application's last recorded transition (a scalar subquery)."""
    return (select(func.max(ApplicationTransitionRecord.at))
            .where(col(ApplicationTransitionRecord.application_id) == application_id).scalar_subquery())


async def _record_transition(
    session: AsyncSession, app: Application, step: ApplicationTransition, latest: datetime | None
) -> None:
    # The history is read in time order: keep it strictly increasing even when two steps share
    # a clock reading (a fixed clock, or a coarse one), so it never shows them swapped. `latest`:
    # the last transition's time, read by the status UPDATE itself (one round trip less).
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)  # SQLite gives a naive UTC value for an expression
    at = step.at if latest is None or latest < step.at else latest + timedelta(microseconds=1)
    # A plain INSERT now rather than an ORM object flushed later (no unit-of-work pass at commit);
    # the audit record as a plain row too, so it shares the commit's single audit INSERT.
    connection = await session.connection()
    await connection.execute(_TRANSITION_INSERT, {
        "id": uuid.uuid4(), "application_id": app.id, "from_status": step.from_status.value,
        "to_status": step.to_status.value, "action": step.action.value, "actor_id": step.actor_id,
        "reason": step.reason, "at": at,
    })
    await _record_audit(session, app, step)


async def _record_audit(session: AsyncSession, app: Application, step: ApplicationTransition) -> None:
    await record_changes(session, [{
        "actor_id": step.actor_id, "entity": "application", "entity_id": app.id, "action": step.action.value,
        "at": step.at, "before": {"status": step.from_status.value},
        "after": {"status": step.to_status.value, "reason": step.reason}}])


_TRANSITION_INSERT = insert(ApplicationTransitionRecord.__table__)  # type: ignore[attr-defined]


async def _apply(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    action: ApplicationAction,
    actor_id: uuid.UUID | None,
    reason: str | None,
    clock: Clock,
    from_status: ApplicationStatus | None = None,
) -> tuple[Application, ApplicationTransition]:
    """Check the transition, then change the status only if nobody changed it meanwhile.

    `from_status`: the only status the action leaves; the row is then not read first, the UPDATE
    returns it (one round trip less)."""
    app = await get_or_raise(session, Application, application_id) if from_status is None else None
    now = clock.now()
    step = transition(app.status if app is not None else from_status, action, actor_id=actor_id, reason=reason,
                      at=now)
    values: dict = {"status": step.to_status.value, "updated_at": now}
    if action in (ApplicationAction.SUBMIT, ApplicationAction.PROVIDE_INFO):
        values["submitted_at"] = now
    if step.to_status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED):
        values |= {"decided_at": now, "decided_by_id": actor_id, "decision_reason": step.reason}
    if app is None and dialect_of(session) == "postgresql":
        # One round trip: the UPDATE returns the row and the transition is inserted from it.
        statement, params = _update_recording(application_id, step, values)
        updated = (await session.exec(statement, params=params)).first()
        changed = (updated,) if updated is not None else None
    elif app is None:
        changed = (await session.exec(_update_returning_statement(tuple(values)), params={
            f"v_{name}": value for name, value in values.items()} | {
            "app_id": application_id, "from_status": step.from_status.value})).first()
    else:
        statement = (update(Application)
                     .where(col(Application.id) == application_id, col(Application.status) == step.from_status.value)
                     .values(**values).execution_options(synchronize_session=False))
        changed = (await session.exec(statement.returning(Application.id, _latest_transition(application_id)))).first()
    if changed is None:
        # Someone else moved it first (or it is not in `from_status`): report the transition from
        # the state it is in.
        app = app or await get_or_raise(session, Application, application_id)
        await session.refresh(app)
        next_status(app.status, action)  # raises the precise TransitionError
        raise TransitionError(f"la demande a changé d'état pendant l'opération "
                              f"({ApplicationStatus(app.status).label_fr})",
                              code="concurrent_transition")
    if app is None:
        app = changed[0]
    for name, value in values.items():  # what the UPDATE wrote, without reading the row back
        set_committed_value(app, name, value)
    if len(changed) == 1:  # _update_recording: the transition is already written
        await _record_audit(session, app, step)
    else:
        await _record_transition(session, app, step, changed[1])
    return app, step


def _update_recording(application_id: uuid.UUID, step: ApplicationTransition,
                      values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """PostgreSQL: the status UPDATE (… WHERE status = from) and the transition INSERT in one
    statement (data-modifying CTEs); selects the updated row as an Application, none if unchanged.
    The statement and its bound values."""
    params = {f"v_{name}": value for name, value in values.items()} | {
        "app_id": application_id, "from_status": step.from_status.value, "t_id": uuid.uuid4(),
        "t_to": step.to_status.value, "t_action": step.action.value, "t_actor": step.actor_id,
        "t_reason": step.reason, "t_at": step.at}
    return _update_recording_statement(tuple(values)), params


@functools.cache
def _update_returning_statement(names: tuple[str, ...]) -> Any:
    # The status UPDATE returning the row and the last transition's time, built once per set of
    # changed columns (bound parameters: its compiled form is cached).
    table = Application.__table__  # type: ignore[attr-defined]
    return (update(Application)
            .where(col(Application.id) == bindparam("app_id"), col(Application.status) == bindparam("from_status"))
            .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names})
            .returning(Application, _latest_transition(bindparam("app_id")))
            .execution_options(synchronize_session=False))


@functools.cache
def _update_recording_statement(names: tuple[str, ...]) -> Any:
    # Built once per set of changed columns, with bound parameters: its compiled form is cached.
    table = Application.__table__  # type: ignore[attr-defined]
    history = ApplicationTransitionRecord.__table__  # type: ignore[attr-defined]
    changed = (update(table)
               .where(table.c.id == bindparam("app_id"), table.c.status == bindparam("from_status"))
               .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names})
               .returning(*table.c).cte("changed"))
    latest = (select(func.max(history.c.at)).where(history.c.application_id == changed.c.id)
              .scalar_subquery())
    # As _record_transition: strictly after the last transition (GREATEST ignores NULL).
    at = func.greatest(bindparam("t_at", type_=history.c.at.type), latest + literal(timedelta(microseconds=1)))
    recorded = insert(history).from_select(
        ["id", "application_id", "from_status", "to_status", "action", "actor_id", "reason", "at"],
        select(bindparam("t_id", type_=history.c.id.type), changed.c.id,
               bindparam("from_status", type_=history.c.from_status.type),
               bindparam("t_to", type_=history.c.to_status.type),
               bindparam("t_action", type_=history.c.action.type),
               bindparam("t_actor", type_=history.c.actor_id.type),
               bindparam("t_reason", type_=history.c.reason.type), at),
    ).cte("recorded")
    return select(aliased(Application, changed)).add_cte(recorded)


async def submit_application(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    actor_id: uuid.UUID,
    clock: Clock,
    signer: PassSigner | None = None,
    serial_source: Callable[[], bytes] = new_serial,
) -> Application:
    """Submit a draft after checking eligibility (EligibilityError lists every refusal).

    When every zone admits the request through an automatic rule and a signer is given, the
    application is approved at once by the system (actor None).
    """
    app = await get_or_raise(session, Application, application_id)
    next_status(app.status, ApplicationAction.SUBMIT)
    decisions = await _check_eligible(session, app)
    app, _ = await _apply(session, application_id=application_id, action=ApplicationAction.SUBMIT,
                          actor_id=actor_id, reason=None, clock=clock)
    automatic = all(d.rule is not None and d.rule.review_mode is ReviewMode.AUTOMATIC
                    for d in decisions.values())
    if automatic and signer is not None:
        await approve_application(session, application_id=application_id, reviewer_id=None,
                                  signer=signer, clock=clock, reason="examen automatique",
                                  serial_source=serial_source)
        await session.refresh(app)
    return app


async def _zones_rules_issuer(
    session: AsyncSession, app: Application
) -> tuple[list[Zone], dict[uuid.UUID, list[AccessRuleSpec]], str]:
    """An application's zones (by ref), their rules (in order) and its authority's code, in one query."""
    rows = (await session.exec(_ZONES_RULES_ISSUER, params={"application_id": app.id})).all()
    zones: dict[uuid.UUID, Zone] = {}
    rules: dict[uuid.UUID, list[AccessRuleSpec]] = {}
    issuer = ""
    for zone, rule, code in rows:
        zones.setdefault(zone.id, zone)
        found = rules.setdefault(zone.id, [])
        if rule is not None:
            found.append(rule_spec(rule))
        issuer = code
    if not issuer:
        issuer = (await get_or_raise(session, Organisation, app.authority_id)).code
    return list(zones.values()), rules, issuer


_ZONES_RULES_ISSUER = (
    select(Zone, AccessRule, Organisation.code)
    .join(ApplicationZone, col(ApplicationZone.zone_id) == Zone.id)
    .join(Organisation, col(Organisation.id) == Zone.authority_id)
    .outerjoin(AccessRule, col(AccessRule.zone_id) == Zone.id)
    .where(col(ApplicationZone.application_id) == bindparam("application_id"))
    .order_by(col(Zone.ref), col(AccessRule.position))
)


async def _check_eligible(
    session: AsyncSession, app: Application, *,
    zones: Sequence[Zone] | None = None, vehicles: Sequence[Vehicle] | None = None,
    rules: Mapping[uuid.UUID, Sequence[AccessRuleSpec]] | None = None,
) -> dict[tuple[uuid.UUID, uuid.UUID], Decision]:
    if zones is None:
        zones = await application_zones(session, app.id)
    if vehicles is None:
        vehicles = await application_vehicles(session, app.id)
    decisions = await assess_application(session, app, zones=zones, vehicles=vehicles, rules=rules)
    if not all(d.eligible for d in decisions.values()):
        plates = {v.id: plate_display(v.plate) for v in vehicles}  # as people write it: AB-123-CD
        raise EligibilityError(_refusals(decisions, plates, {z.id: z.code for z in zones}))
    return decisions


async def request_information(
    session: AsyncSession, *, application_id: uuid.UUID, reviewer_id: uuid.UUID, reason: str,
    clock: Clock,
) -> Application:
    """Ask the applicant for more information (reason required)."""
    app, _ = await _apply(session, application_id=application_id,
                          action=ApplicationAction.REQUEST_INFO, actor_id=reviewer_id,
                          reason=reason, clock=clock)
    return app


async def provide_information(
    session: AsyncSession, *, application_id: uuid.UUID, actor_id: uuid.UUID, clock: Clock,
    comment: str | None = None,
) -> Application:
    """Send the application back to review after completing it."""
    app, _ = await _apply(session, application_id=application_id,
                          action=ApplicationAction.PROVIDE_INFO, actor_id=actor_id,
                          reason=comment, clock=clock)
    return app


async def reject_application(
    session: AsyncSession, *, application_id: uuid.UUID, reviewer_id: uuid.UUID, reason: str,
    clock: Clock,
) -> Application:
    """Refuse the application (reason required, shown to the applicant)."""
    app, _ = await _apply(session, application_id=application_id, action=ApplicationAction.REJECT,
                          actor_id=reviewer_id, reason=reason, clock=clock)
    return app


async def withdraw_application(
    session: AsyncSession, *, application_id: uuid.UUID, actor_id: uuid.UUID, clock: Clock,
    reason: str | None = None,
) -> Application:
    """The applicant withdraws a draft or pending application."""
    app, _ = await _apply(session, application_id=application_id,
                          action=ApplicationAction.WITHDRAW, actor_id=actor_id, reason=reason,
                          clock=clock)
    return app


async def approve_application(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    reviewer_id: uuid.UUID | None,
    signer: PassSigner,
    clock: Clock,
    reason: str | None = None,
    serial_source: Callable[[], bytes] = new_serial,
) -> list[AccessPass]:
    """Approve a submitted application and issue one signed pass per vehicle.

    Eligibility is checked again (rules or quotas may have changed since submission) with the
    vehicles locked, so concurrent approvals for the same vehicle count quotas one at a time.
    """
    # No autoflush: the session holds nothing to write (the transition, passes and zones are plain
    # INSERTs, the audit records plain rows inserted in one statement at commit).
    with session.no_autoflush:
        read = await _approval_read(session, application_id) if dialect_of(session) == "sqlite" else None
        if read is not None:
            app, zones, rules, issuer, vehicles, latest = read
            step = await _approve_read(session, app, latest, actor_id=reviewer_id, reason=reason, clock=clock)
        else:
            # Only a submitted application is approved: the status UPDATE returns the row (not read first).
            app, step = await _apply(session, application_id=application_id,
                                     action=ApplicationAction.APPROVE, actor_id=reviewer_id,
                                     reason=reason, clock=clock, from_status=ApplicationStatus.SUBMITTED)
            # Zones with their rules and issuer, and locked vehicles, are read once, for the check and
            # for the passes.
            zones, rules, issuer, vehicles = await _locked_vehicles_zones(session, app)
        await _check_eligible(session, app, zones=zones, vehicles=vehicles, rules=rules)
        windows = tuple(window_from_json(w) for w in app.windows)
        return await _issue_passes(
            session, app=app, vehicles=vehicles, zones=zones, windows=windows, issuer=issuer,
            signer=signer, issued_by=reviewer_id, at=step.at, serial_source=serial_source,
        )


async def _approval_read(
    session: AsyncSession, application_id: uuid.UUID
) -> tuple[Application, list[Zone], dict[uuid.UUID, list[AccessRuleSpec]], str, list[Vehicle],
           datetime | None] | None:
    """SQLite: everything an approval reads, in one statement — the application, its last transition's
    time, its vehicles (by id), zones (by ref) with their rules (in order) and issuer, and the audit
    chain's head (noted for the commit, see `note_head`). Rows already in the session are refreshed
    from the database, so only when the session holds no change to write (none is lost). None when
    the general path must run: the session holds changes, the application is missing, not submitted,
    or without a vehicle or a zone (that path reports each case). Sound because a SQLite write
    transaction is the only writer from its first write on, and the status UPDATE that follows
    still requires 'submitted'."""
    sync = session.sync_session
    if sync.identity_map.check_modified() or sync.new or sync.deleted:
        return None
    rows = (await session.exec(_APPROVAL_READ, params={"application_id": application_id},
                               execution_options=_REFRESH)).all()
    if not rows or rows[0][0].status != ApplicationStatus.SUBMITTED.value:
        return None
    app, latest, head_seq, head_hash = rows[0][:4]
    vehicles: dict[uuid.UUID, Vehicle] = {}
    zones: dict[uuid.UUID, Zone] = {}
    rules: dict[uuid.UUID, list[AccessRuleSpec]] = {}
    issuer = ""
    for _app, _latest, _seq, _hash, vehicle, zone, rule, code in rows:
        vehicles.setdefault(vehicle.id, vehicle)
        if zone is None:
            continue
        zones.setdefault(zone.id, zone)
        found = rules.setdefault(zone.id, [])
        if rule is not None:
            found.append(rule_spec(rule))
        issuer = code
    if not zones or not issuer:
        return None
    note_head(session, head_seq, head_hash)
    return app, list(zones.values()), rules, issuer, list(vehicles.values()), latest


async def _approve_read(
    session: AsyncSession, app: Application, latest: datetime | None, *, actor_id: uuid.UUID | None,
    reason: str | None, clock: Clock,
) -> ApplicationTransition:
    """The approval's status change for an application read by `_approval_read` (UPDATE … WHERE
    status = 'submitted', its transition and audit record), as `_apply` does."""
    now = clock.now()
    step = transition(ApplicationStatus.SUBMITTED, ApplicationAction.APPROVE, actor_id=actor_id, reason=reason,
                      at=now)
    values = {"status": step.to_status.value, "updated_at": now, "decided_at": now, "decided_by_id": actor_id,
              "decision_reason": step.reason}
    connection = await session.connection()
    result = await connection.execute(_APPROVE_UPDATE, {"app_id": app.id, "from_status": step.from_status.value}
                                      | {f"v_{name}": value for name, value in values.items()})
    if result.rowcount != 1:
        await session.refresh(app)
        next_status(app.status, ApplicationAction.APPROVE)  # raises the precise TransitionError
        raise TransitionError(f"la demande a changé d'état pendant l'opération "
                              f"({ApplicationStatus(app.status).label_fr})",
                              code="concurrent_transition")
    for name, value in values.items():  # what the UPDATE wrote, without reading the row back
        set_committed_value(app, name, value)
    await _record_transition(session, app, step, latest)
    return step


async def _locked_vehicles_zones(
    session: AsyncSession, app: Application
) -> tuple[list[Zone], dict[uuid.UUID, list[AccessRuleSpec]], str, list[Vehicle]]:
    """An application's zones (by ref) with their rules and issuer, and its vehicles (by id) locked FOR
    UPDATE, in one statement (two when it has no zone or vehicle)."""
    rows = (await session.exec(_VEHICLES_ZONES_LOCKED, params={"application_id": app.id})).all()
    vehicles: dict[uuid.UUID, Vehicle] = {}
    zones: dict[uuid.UUID, Zone] = {}
    rules: dict[uuid.UUID, list[AccessRuleSpec]] = {}
    issuer = ""
    for vehicle, zone, rule, code in rows:
        vehicles.setdefault(vehicle.id, vehicle)
        if zone is not None:
            zones.setdefault(zone.id, zone)
            found = rules.setdefault(zone.id, [])
            if rule is not None:
                found.append(rule_spec(rule))
            issuer = code
    if not zones or not issuer:
        zone_list, rules, issuer = await _zones_rules_issuer(session, app)
        return zone_list, rules, issuer, list(vehicles.values())
    return list(zones.values()), rules, issuer, list(vehicles.values())


def _first_vehicle() -> Any:
    return (select(ApplicationVehicle.vehicle_id)
            .where(col(ApplicationVehicle.application_id) == bindparam("application_id"))
            .order_by(col(ApplicationVehicle.vehicle_id)).limit(1).scalar_subquery())


# One row per vehicle, and the zones × rules joined to the first vehicle's row only (rows: vehicles +
# zones × rules − 1 at most, never their product).
_HEAD_SEQ, _HEAD_HASH = head_columns()


def _with_vehicles_zones_rules(query: Any) -> Any:
    """`query` (from application_vehicle) joined to the vehicles, and the zones, their authority's
    code and their rules on the first vehicle's row, in the order the approval reads them."""
    return (
        query.join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
        .outerjoin(ApplicationZone, and_(col(ApplicationZone.application_id) == ApplicationVehicle.application_id,
                                         col(ApplicationVehicle.vehicle_id) == _first_vehicle()))
        .outerjoin(Zone, col(Zone.id) == ApplicationZone.zone_id)
        .outerjoin(Organisation, col(Organisation.id) == Zone.authority_id)
        .outerjoin(AccessRule, col(AccessRule.zone_id) == Zone.id)
        .where(col(ApplicationVehicle.application_id) == bindparam("application_id"))
        .order_by(col(Vehicle.id), col(Zone.ref), col(AccessRule.position))
        # An approval never reads a zone's outline: real ones weigh tens of kilobytes of JSON each.
        .options(defer(Zone.geometry))  # type: ignore[arg-type]
    )


_APPROVAL_READ = _with_vehicles_zones_rules(
    select(Application, _latest_transition(bindparam("application_id")), _HEAD_SEQ, _HEAD_HASH, Vehicle, Zone,
           AccessRule, Organisation.code)
    .select_from(Application)
    .join(ApplicationVehicle, col(ApplicationVehicle.application_id) == Application.id)
)
# As _APPROVAL_READ without the application (already returned by its status UPDATE), vehicles locked.
_VEHICLES_ZONES_LOCKED = _with_vehicles_zones_rules(
    select(Vehicle, Zone, AccessRule, Organisation.code).select_from(ApplicationVehicle)
).with_for_update(of=Vehicle)
_REFRESH = {"populate_existing": True}
_APPROVE_NAMES = ("status", "updated_at", "decided_at", "decided_by_id", "decision_reason")
_APPROVE_UPDATE = (
    update(Application.__table__)  # type: ignore[attr-defined]
    .where(Application.__table__.c.id == bindparam("app_id"),  # type: ignore[attr-defined]
           Application.__table__.c.status == bindparam("from_status"))  # type: ignore[attr-defined]
    .values({name: bindparam(f"v_{name}", type_=Application.__table__.c[name].type)  # type: ignore[attr-defined]
             for name in _APPROVE_NAMES})
)


def insert_ignoring_serial_conflict(dialect: str, table: Any) -> Any:
    """INSERT … ON CONFLICT (serial) DO NOTHING for access_pass (PostgreSQL or SQLite): a serial
    already taken inserts nothing (the caller draws another), any other conflict still raises."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=["serial"])


_PASS_INSERTS: dict[str, Any] = {}


def _pass_insert(dialect: str) -> Any:
    # Built once per dialect so its compiled form is cached (a statement per call compiles each time).
    # SQLite: no RETURNING, the row count tells whether every row went in (one fetch less).
    if dialect not in _PASS_INSERTS:
        table = AccessPass.__table__  # type: ignore[attr-defined]
        statement = insert_ignoring_serial_conflict(dialect, table)
        _PASS_INSERTS[dialect] = statement if dialect == "sqlite" else statement.returning(table.c.id)
    return _PASS_INSERTS[dialect]


async def _inserted_ids(connection: Any, statement: Any, rows: list[dict[str, Any]], dialect: str) -> set[uuid.UUID]:
    """The ids of `rows` the serial-conflict-ignoring INSERT stored."""
    result = await connection.execute(statement, rows)
    if dialect != "sqlite":
        return set(result.scalars())
    if result.rowcount == len(rows):
        return {values["id"] for values in rows}
    table = AccessPass.__table__  # type: ignore[attr-defined]
    ids = [values["id"] for values in rows]
    found = await connection.execute(select(table.c.id).where(table.c.id.in_(ids)))
    return set(found.scalars())


_LINK_IDS = ARRAY(PG_UUID(as_uuid=True))


@functools.cache
def _passes_with_zones_insert(count: int, names: tuple[str, ...]) -> Any:
    """PostgreSQL: INSERT … ON CONFLICT (serial) DO NOTHING of `count` passes (columns `names`) and, in the
    same statement, the zones of those that went in (data-modifying CTEs), returning the ids stored. Built
    once per count, with named parameters, so its compiled form is cached."""
    table = AccessPass.__table__  # type: ignore[attr-defined]
    # INSERT … SELECT, not a VALUES list: SQLAlchemy does not cache the compiled form of a multi-row VALUES.
    rows = [select(*(bindparam(f"{name}_{i}", type_=table.c[name].type) for name in names)) for i in range(count)]
    new_pass = (postgresql_insert(table).from_select(list(names), rows[0] if count == 1 else union_all(*rows))
                .on_conflict_do_nothing(index_elements=["serial"]).returning(table.c.id).cte("new_pass"))
    link = func.unnest(bindparam("link_pass", type_=_LINK_IDS), bindparam("link_zone", type_=_LINK_IDS)) \
        .table_valued("pass_id", "zone_id").render_derived(name="link")
    new_links = insert(PassZone.__table__).from_select(  # type: ignore[attr-defined]
        ["pass_id", "zone_id"],
        select(link.c.pass_id, link.c.zone_id).join(new_pass, new_pass.c.id == link.c.pass_id)).cte("new_pass_zone")
    return select(new_pass.c.id).add_cte(new_links)


async def _inserted_with_zones(connection: Any, passes: list[tuple[dict[str, Any], Sequence[Zone]]]) -> set[uuid.UUID]:
    """PostgreSQL: the passes and their zones stored in one statement (`_passes_with_zones_insert`); the ids of
    the passes that went in (a serial already taken inserts nothing, nor its zones)."""
    names = tuple(passes[0][0])
    params: dict[str, Any] = {f"{name}_{i}": values[name]
                              for i, (values, _zones) in enumerate(passes) for name in names}
    pairs = [(values["id"], zone.id) for values, zones in passes for zone in zones]
    params["link_pass"], params["link_zone"] = [p for p, _z in pairs], [z for _p, z in pairs]
    result = await connection.execute(_passes_with_zones_insert(len(passes), names), params)
    return set(result.scalars())


def dialect_of(session: AsyncSession) -> str:
    """The database dialect name of a session ('postgresql' or 'sqlite')."""
    return session.sync_session.get_bind().dialect.name


@dataclass(frozen=True)
class PassOrder:
    """One pass to issue: for this vehicle of this application, in these zones and hours."""

    app: Application
    vehicle: Vehicle
    zones: Sequence[Zone]
    windows: tuple[TimeWindow, ...]


async def _issue_passes(
    session: AsyncSession,
    *,
    app: Application,
    vehicles: Sequence[Vehicle],
    zones: Sequence[Zone],
    windows: tuple[TimeWindow, ...],
    issuer: str,
    signer: PassSigner,
    issued_by: uuid.UUID | None,
    at: datetime,
    serial_source: Callable[[], bytes],
) -> list[AccessPass]:
    """One signed pass per vehicle of `app` (see `issue_passes`), as rows of the session."""
    stored = await issue_passes(session, [PassOrder(app, v, zones, windows) for v in vehicles], issuer=issuer,
                                signer=signer, issued_by=issued_by, at=at, serial_source=serial_source)
    rows = []
    for values in stored:
        # The stored row, known to the session as such (adding a detached object emits no INSERT).
        row = AccessPass(**values)
        make_transient_to_detached(row)
        session.add(row)
        rows.append(row)
    return rows


async def issue_passes(
    session: AsyncSession,
    orders: Sequence[PassOrder],
    *,
    issuer: str,
    signer: PassSigner,
    issued_by: uuid.UUID | None,
    at: datetime,
    serial_source: Callable[[], bytes],
) -> list[dict[str, Any]]:
    """Sign every ordered pass and store them with one INSERT (a serial already taken is skipped by
    it, without a savepoint, then drawn and signed again), their zones with one more (on PostgreSQL,
    for a few passes, in the same statement); the audit records are added to the session (chained and
    written with the commit). The stored values, in order."""
    dialect = dialect_of(session)
    statement = _pass_insert(dialect)
    connection = await session.connection()
    signer = batch_signer(signer)
    # PostgreSQL, a few passes (an approval): each pass goes in with its zones, one statement a round.
    with_zones = dialect == "postgresql" and sum(len(order.zones) for order in orders) < COPY_MIN_ROWS
    waiting = list(enumerate(orders))
    stored: dict[int, dict[str, Any]] = {}
    for _attempt in range(SERIAL_ATTEMPTS):
        batch = [(position, _signed_values(order, issuer=issuer, signer=signer, issued_by=issued_by, at=at,
                                           serial=serial_source()))
                 for position, order in waiting]
        if with_zones:
            inserted = await _inserted_with_zones(connection, [(values, orders[position].zones)
                                                               for position, values in batch])
        else:
            inserted = await _inserted_ids(connection, statement, [values for _p, values in batch], dialect)
        stored |= {position: values for position, values in batch if values["id"] in inserted}
        waiting = [(position, orders[position]) for position, values in batch if values["id"] not in inserted]
        if not waiting:
            break
    if waiting:
        raise DomainError("impossible d'attribuer un numéro de laissez-passer unique",
                          code="serial_exhausted")
    result = [stored[position] for position in range(len(orders))]
    if not with_zones:
        links = [{"pass_id": values["id"], "zone_id": zone.id}
                 for order, values in zip(orders, result, strict=True) for zone in order.zones]
        await connection.run_sync(insert_rows, PassZone.__table__, links)  # type: ignore[attr-defined]
    await record_changes(session, [
        {"actor_id": issued_by, "entity": "pass", "entity_id": values["id"], "action": "issue", "at": at,
         "after": {"serial": values["serial"], "status": values["status"], "plate": values["plate"],
                   "zones": values["zone_refs"], "kid": values["kid"], "application_id": order.app.id}}
        for order, values in zip(orders, result, strict=True)])
    return result


def _signed_values(order: PassOrder, *, issuer: str, signer: PassSigner, issued_by: uuid.UUID | None, at: datetime,
                   serial: bytes) -> dict[str, Any]:
    app, vehicle, zones = order.app, order.vehicle, order.zones
    zone_refs = tuple(z.ref for z in zones)
    signed = signer.sign(claims_input=ClaimsInput(
        issuer=issuer, serial=serial, issued_at=at, not_before=app.not_before, expires_at=app.expires_at,
        plate=vehicle.plate, zone_refs=zone_refs, purpose=Purpose(app.purpose), windows=order.windows,
        zone_data_version=max(z.data_version for z in zones),
    ))
    if signed.serial != serial:
        raise DomainError("le signataire a signé un autre numéro que celui réservé", code="signer_serial_mismatch")
    return {
        "id": uuid.uuid4(), "serial": serial_hex(serial), "application_id": app.id, "vehicle_id": vehicle.id,
        "authority_id": app.authority_id, "plate": vehicle.plate, "purpose": app.purpose,
        "not_before": app.not_before, "expires_at": app.expires_at,
        "windows": [window_to_json(w) for w in order.windows], "zone_refs": list(zone_refs),
        "status": PassStatus.ACTIVE.value, "kid": signed.kid, "signed_text": signed.text, "issued_at": at,
        "issued_by_id": issued_by, "updated_at": at,
    }


async def attach_document(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    filename: str,
    content_type: str,
    content: bytes,
    store: DocumentStore,
    actor_id: uuid.UUID,
    clock: Clock,
    quota: DocumentQuota | None = None,
) -> SupportingDocument:
    """Check and store a supporting document for an application that is still open, within the
    caps of `quota` (default: DocumentQuota(), the settings' defaults)."""
    app = await get_or_raise(session, Application, application_id)
    if ApplicationStatus(app.status) not in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED,
                                             ApplicationStatus.NEEDS_INFO):
        raise TransitionError(
            f"impossible d'ajouter un justificatif : la demande est "
            f"{ApplicationStatus(app.status).label_fr}",
            code="document_on_closed_application",
        )
    facts = check_document(filename=filename, content_type=content_type, content=content)
    await _check_document_quota(session, app, facts, quota or DocumentQuota())
    key = store.put(sha256=facts.sha256, content=content)
    now = clock.now()
    document = SupportingDocument(
        application_id=app.id, filename=facts.filename, content_type=facts.content_type,
        size=facts.size, sha256=facts.sha256, storage_key=key, uploaded_by_id=actor_id,
        uploaded_at=now,
    )
    session.add(document)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="application", entity_id=app.id,
                        action="attach_document", at=now,
                        after={"filename": facts.filename, "sha256": facts.sha256,
                               "size": facts.size, "content_type": facts.content_type})
    return document


async def _check_document_quota(session: AsyncSession, app: Application, facts: DocumentFacts,
                                quota: DocumentQuota) -> None:
    # The organisation row is locked until the transaction ends, so parallel uploads of one
    # organisation count one after the other (NO KEY UPDATE: inserts referencing the organisation
    # are not blocked). SQLite: BEGIN IMMEDIATE already serialises writers.
    await session.exec(select(Organisation.id).where(col(Organisation.id) == app.organisation_id)
                       .with_for_update(key_share=True))
    on_application = (await session.exec(
        select(func.count()).select_from(SupportingDocument)
        .where(col(SupportingDocument.application_id) == app.id))).one()
    stored = (select(SupportingDocument.sha256, SupportingDocument.size).distinct()
              .join(Application, col(Application.id) == SupportingDocument.application_id)
              .where(col(Application.organisation_id) == app.organisation_id).subquery())
    used = (await session.exec(select(func.coalesce(func.sum(stored.c.size), 0)))).one()
    known = (await session.exec(select(stored.c.sha256).where(stored.c.sha256 == facts.sha256).limit(1))).first()
    quota.check(application_count=int(on_application), organisation_bytes=int(used),
                new_bytes=0 if known is not None else facts.size)


async def transitions_of(
    session: AsyncSession, application_id: uuid.UUID
) -> list[ApplicationTransitionRecord]:
    """The recorded transitions of an application, oldest first."""
    result = await session.exec(
        select(ApplicationTransitionRecord)
        .where(col(ApplicationTransitionRecord.application_id) == application_id)
        .order_by(col(ApplicationTransitionRecord.at), col(ApplicationTransitionRecord.id))
    )
    return list(result.all())
