"""Bulk approval: thousands of submitted applications approved by one reviewer's request.

Applications are taken a chunk at a time, each chunk in its own transaction, with batch statements:
one SELECT of the chunk's owners (and the issuer's code), one of the chunk with its zones' ids
(locked), one of the zones with their rules, one of the vehicles (locked), one UPDATE … RETURNING of
the statuses, then the transitions, the passes (a serial already taken is skipped by the INSERT and
drawn again) and the pass zones, each with one statement (COPY on PostgreSQL); the audit records go
through `record_changes` and are chained at commit (ADR 0006). Each application is either wholly
approved (status, transition, passes, audit) or untouched, so a crash loses nothing committed and a
rerun skips what is already approved. Eligibility is checked once per distinct request of a chunk:
an ineligible application is reported with its reasons, not approved. An application with a yearly
quota goes through `approve_application` (quota counted one approval at a time) in a savepoint.
"""

from __future__ import annotations

import gc
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.bulk_insert import insert_rows
from cirqliz.db.engine import transaction
from cirqliz.db.models import (
    AccessRule,
    Application,
    ApplicationTransitionRecord,
    ApplicationVehicle,
    ApplicationZone,
    JobRun,
    Organisation,
    Vehicle,
    Zone,
    window_from_json,
)
from cirqliz.domain.applications import ApplicationAction, ApplicationStatus, transition
from cirqliz.domain.errors import DomainError
from cirqliz.domain.passes import new_serial
from cirqliz.issuance.applications import (
    PassOrder,
    _latest_transition,
    _refusals,
    approve_application,
    assess_application,
    issue_passes,
)
from cirqliz.issuance.audit import record_changes
from cirqliz.issuance.mail import plate_display
from cirqliz.issuance.signer import PassSigner
from cirqliz.issuance.zones import rule_spec

log = logging.getLogger("cirqliz.bulk_approval")

CHUNK = 250
# SQLite has one writer: every other request (a sign-in check included) waits for a chunk's commit,
# so its chunks stay short.
SQLITE_CHUNK = 50
JOB_NAME = "acceptation_groupee"  # job_run.name of a bulk approval run in the background
STALLED_AFTER = timedelta(minutes=2)  # a chunk takes seconds: a run silent this long was cut short
CHUNK_ATTEMPTS = 3  # a chunk that meets a concurrent change (IntegrityError) is tried again
NOT_FOUND = "demande introuvable"


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one selected application: accepted (with its pass count) or why not."""

    raw: str  # the id as posted
    application_id: uuid.UUID | None
    ok: bool
    message: str | None = None
    passes: int = 0


ChunkHook = Callable[[AsyncSession, list[BulkOutcome], int], Awaitable[None]]
"""Called inside each chunk's transaction with its outcomes and how many applications are processed
once it commits (a chunk retried after a conflict calls it again with the same count)."""


def default_chunk(maker: async_sessionmaker[AsyncSession]) -> int:
    """Applications per transaction: CHUNK, or SQLITE_CHUNK on SQLite."""
    bind = maker.kw.get("bind")
    return SQLITE_CHUNK if bind is not None and bind.dialect.name == "sqlite" else CHUNK


def parse_ids(raw_ids: Sequence[str]) -> list[tuple[str, uuid.UUID | None]]:
    """The posted ids, without repeats, each with its UUID (None when it is not one)."""
    parsed: list[tuple[str, uuid.UUID | None]] = []
    for raw in dict.fromkeys(str(r).strip() for r in raw_ids):
        try:
            parsed.append((raw, uuid.UUID(raw)))
        except ValueError:
            parsed.append((raw, None))
    return parsed


_gc_pauses = 0  # chunks running with the cyclic garbage collector paused (several runs may overlap)


@contextmanager
def young_objects_kept() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one chunk. A chunk holds tens of thousands of
    short-lived objects (rows, values, audit records) until its commit; collections during the
    chunk move them to the oldest generation, whose growth then triggers full collections of the
    whole heap (measured: a third of the service's Python CPU for 10,000 applications). Freed by
    reference counting at the chunk's end; cycles (of any coroutine) wait for the chunk's end."""
    global _gc_pauses
    if _gc_pauses == 0 and not gc.isenabled():  # paused by someone else: leave it to them
        yield
        return
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


async def approve_many(
    maker: async_sessionmaker[AsyncSession],
    *,
    authority_id: uuid.UUID,
    raw_ids: Sequence[str],
    reviewer_id: uuid.UUID | None,
    signer: PassSigner,
    clock: Clock,
    chunk_size: int | None = None,
    on_chunk: ChunkHook | None = None,
    serial_source: Callable[[], bytes] = new_serial,
) -> list[BulkOutcome]:
    """Approve the applications of `raw_ids` that belong to `authority_id`, a chunk per transaction;
    `on_chunk(session, outcomes, processed)` runs inside each chunk's transaction (progress, e-mails)."""
    parsed = parse_ids(raw_ids)
    outcomes: list[BulkOutcome] = []
    chunk_size = chunk_size or default_chunk(maker)
    for start in range(0, len(parsed), chunk_size):
        part = parsed[start:start + chunk_size]
        for attempt in range(CHUNK_ATTEMPTS):
            try:
                with young_objects_kept():
                    async with transaction(maker) as session:
                        done = await approve_chunk(session, authority_id=authority_id, ids=part,
                                                   reviewer_id=reviewer_id, signer=signer, clock=clock,
                                                   serial_source=serial_source)
                        if on_chunk is not None:
                            await on_chunk(session, done, len(outcomes) + len(done))
                break
            except IntegrityError:
                if attempt + 1 == CHUNK_ATTEMPTS:
                    done = [BulkOutcome(raw, app_id, False, "conflit avec une opération simultanée : "
                                        "rien n'a été enregistré") for raw, app_id in part]
            except DomainError as exc:  # e.g. no key may sign: nothing of the chunk was stored
                done = [BulkOutcome(raw, app_id, False, exc.message) for raw, app_id in part]
                break
        outcomes += done
    return outcomes


# Only the columns the approval reads: full ORM rows (and their change tracking) cost more than
# the rest of the approval's Python per application.
_APP_COLUMNS = (col(Application.id), col(Application.status), col(Application.authority_id), col(Application.purpose),
                col(Application.not_before), col(Application.expires_at), col(Application.windows))
_VEHICLE_COLUMNS = (col(Vehicle.id), col(Vehicle.plate), col(Vehicle.category), col(Vehicle.crit_air),
                    col(Vehicle.energy), col(Vehicle.gross_weight_kg), col(Vehicle.length_cm))


async def approve_chunk(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    ids: Sequence[tuple[str, uuid.UUID | None]],
    reviewer_id: uuid.UUID | None,
    signer: PassSigner,
    clock: Clock,
    serial_source: Callable[[], bytes] = new_serial,
) -> list[BulkOutcome]:
    """Approve one chunk inside the caller's transaction; one outcome per id, in order."""
    wanted = [app_id for _raw, app_id in ids if app_id is not None]
    with session.no_autoflush:
        # Only the primary key in these WHERE clauses (and the UPDATE's): with an authority or
        # status condition too, PostgreSQL may pick that column's index when its statistics are
        # stale (right after an import of thousands of applications) and read every application
        # of the authority for each chunk. The authority is checked first, without locking, so
        # that another authority's applications are never locked.
        issuer_code = select(col(Organisation.code)).where(col(Organisation.id) == authority_id).scalar_subquery()
        found = (await session.exec(select(col(Application.id), col(Application.authority_id), issuer_code)
                                    .where(col(Application.id).in_(wanted)))).all()
        mine = [app_id for app_id, owner, _code in found if owner == authority_id]
        # Locked in id order (the order single approvals cannot contradict: they lock one row), with
        # their zones' ids.
        apps: dict[uuid.UUID, Any] = {}
        zone_pairs: list[tuple[uuid.UUID, uuid.UUID]] = []
        for row in (await session.exec(
                select(*_APP_COLUMNS, col(ApplicationZone.zone_id))
                .outerjoin(ApplicationZone, col(ApplicationZone.application_id) == Application.id)
                .where(col(Application.id).in_(mine)).order_by(col(Application.id))
                .with_for_update(of=Application))).all():
            if row.authority_id == authority_id:
                apps[row.id] = row
                if row.zone_id is not None:
                    zone_pairs.append((row.id, row.zone_id))
        verdicts: dict[uuid.UUID, BulkOutcome] = {}
        candidates = []
        for raw, app_id in ids:
            app = apps.get(app_id) if app_id is not None else None
            if app is None:
                continue
            if app.status != ApplicationStatus.SUBMITTED.value:
                label = ApplicationStatus(app.status).label_fr
                verdicts[app.id] = BulkOutcome(raw, app.id, False, f"non acceptée : la demande est {label}")
            else:
                candidates.append((raw, app))
        if candidates:
            await _approve_candidates(session, candidates, zone_pairs, verdicts, issuer=found[0][2],
                                      reviewer_id=reviewer_id, signer=signer, clock=clock,
                                      serial_source=serial_source)
    return [verdicts.get(app_id) or BulkOutcome(raw, app_id, False, f"{NOT_FOUND} : {raw}")
            if app_id is not None else BulkOutcome(raw, None, False, f"{NOT_FOUND} : {raw}")
            for raw, app_id in ids]


async def _approve_candidates(
    session: AsyncSession,
    candidates: list[tuple[str, Any]],
    zone_pairs: list[tuple[uuid.UUID, uuid.UUID]],
    verdicts: dict[uuid.UUID, BulkOutcome],
    *,
    issuer: str,
    reviewer_id: uuid.UUID | None,
    signer: PassSigner,
    clock: Clock,
    serial_source: Callable[[], bytes],
) -> None:
    app_ids = [app.id for _raw, app in candidates]
    # Each zone read once, with its rules: a zone row (its geometry) read per application would be
    # decoded thousands of times.
    by_id: dict[uuid.UUID, Zone] = {}
    rules: dict[uuid.UUID, list] = {}
    for zone, rule in (await session.exec(
            select(Zone, AccessRule).outerjoin(AccessRule, col(AccessRule.zone_id) == Zone.id)
            .where(col(Zone.id).in_({zone_id for _a, zone_id in zone_pairs}))
            .order_by(col(Zone.id), col(AccessRule.position)))).all():
        by_id[zone.id] = zone
        specs = rules.setdefault(zone.id, [])
        if rule is not None:
            specs.append(rule_spec(rule))
    zones: dict[uuid.UUID, list[Zone]] = {i: [] for i in app_ids}
    for app_id, zone_id in zone_pairs:
        if app_id in zones:
            zones[app_id].append(by_id[zone_id])
    for found in zones.values():
        found.sort(key=lambda z: z.ref)
    vehicles: dict[uuid.UUID, list[Any]] = {i: [] for i in app_ids}
    for row in (await session.exec(
            select(col(ApplicationVehicle.application_id), *_VEHICLE_COLUMNS)
            .join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
            .where(col(ApplicationVehicle.application_id).in_(app_ids)).order_by(col(Vehicle.id))
            .with_for_update(of=Vehicle))).all():
        vehicles[row.application_id].append(row)
    quota_zones = {z for z, specs in rules.items() if any(s.quota_days_per_year is not None for s in specs)}
    now = clock.now()
    eligible: list[tuple[str, Any]] = []
    # Applications asking the same thing (zones, vehicle profiles, purpose, period, hours) get the
    # same decision: the rules read neither the plate nor the ids (quota zones go one at a time).
    assessed: dict[tuple, bool] = {}
    for raw, app in candidates:
        if not zones[app.id] or not vehicles[app.id]:
            verdicts[app.id] = BulkOutcome(raw, app.id, False, "demande sans zone ou sans véhicule")
        elif any(z.id in quota_zones for z in zones[app.id]):
            verdicts[app.id] = await _approve_one(session, raw, app, reviewer_id, signer, clock, serial_source)
        else:
            # repr of the stored hours: equal reprs are equal hours (at worst a miss, never a false hit)
            asked = (app.purpose, app.not_before, app.expires_at, repr(app.windows),
                     tuple(z.id for z in zones[app.id]),
                     tuple((v.category, v.crit_air, v.energy, v.gross_weight_kg, v.length_cm)
                           for v in vehicles[app.id]))
            if assessed.get(asked):
                eligible.append((raw, app))
                continue
            decisions = await assess_application(session, app, zones=zones[app.id],  # type: ignore[arg-type]
                                                 vehicles=vehicles[app.id], rules=rules)
            assessed[asked] = all(d.eligible for d in decisions.values())
            if assessed[asked]:
                eligible.append((raw, app))
            else:
                plates = {v.id: plate_display(v.plate) for v in vehicles[app.id]}
                found = _refusals(decisions, plates, {z.id: z.code for z in zones[app.id]})
                verdicts[app.id] = BulkOutcome(raw, app.id, False, "non éligible : " + " ; ".join(
                    r.message for r in found))
    if not eligible:
        return
    ids = [app.id for _raw, app in eligible]
    # Still submitted: locked, and their status read, above (SQLite: this transaction is the only
    # writer since its BEGIN IMMEDIATE). RETURNING gives the time of each one's last transition.
    changed = dict((await session.exec(
        update(Application).where(col(Application.id).in_(ids))
        .values(status=ApplicationStatus.APPROVED.value, updated_at=now, decided_at=now,
                decided_by_id=reviewer_id, decision_reason=None)
        .returning(col(Application.id), _latest_transition(col(Application.id)))
        .execution_options(synchronize_session=False))).all())
    step = transition(ApplicationStatus.SUBMITTED.value, ApplicationAction.APPROVE, actor_id=reviewer_id,
                      reason=None, at=now)
    from_status, to_status, action = step.from_status.value, step.to_status.value, step.action.value
    transitions: list[dict] = []
    changes: list[dict] = []
    orders: list[PassOrder] = []
    approved: list[tuple[str, Any]] = []
    for raw, app in eligible:
        if app.id not in changed:
            verdicts[app.id] = BulkOutcome(raw, app.id, False, "la demande a changé d'état pendant l'opération")
            continue
        before = changed[app.id]
        if before is not None and before.tzinfo is None:
            before = before.replace(tzinfo=UTC)  # SQLite gives a naive UTC value for an expression
        at = now if before is None or before < now else before + timedelta(microseconds=1)
        transitions.append({"id": uuid.uuid4(), "application_id": app.id, "from_status": from_status,
                            "to_status": to_status, "action": action, "actor_id": reviewer_id, "reason": None,
                            "at": at})
        changes.append({"actor_id": reviewer_id, "entity": "application", "entity_id": app.id,
                        "action": action, "at": now, "before": {"status": from_status},
                        "after": {"status": to_status, "reason": None}})
        windows = tuple(window_from_json(w) for w in app.windows)
        orders += [PassOrder(app, vehicle, zones[app.id], windows) for vehicle in vehicles[app.id]]
        approved.append((raw, app))
    if not approved:
        return
    connection = await session.connection()
    await connection.run_sync(insert_rows, ApplicationTransitionRecord.__table__, transitions)  # type: ignore[attr-defined]
    await record_changes(session, changes)
    await issue_passes(session, orders, issuer=issuer, signer=signer, issued_by=reviewer_id, at=now,
                       serial_source=serial_source)
    for raw, app in approved:
        verdicts[app.id] = BulkOutcome(raw, app.id, True, None, len(vehicles[app.id]))


async def _approve_one(session: AsyncSession, raw: str, app: Any, reviewer_id: uuid.UUID | None,
                       signer: PassSigner, clock: Clock, serial_source: Callable[[], bytes]) -> BulkOutcome:
    try:
        async with session.begin_nested():
            passes = await approve_application(session, application_id=app.id, reviewer_id=reviewer_id,
                                               signer=signer, clock=clock, serial_source=serial_source)
            await session.flush()
    except DomainError as exc:
        return BulkOutcome(raw, app.id, False, exc.message)
    return BulkOutcome(raw, app.id, True, None, len(passes))



# ---- the background run, recorded in job_run (progress: `rows` = applications processed) ---------


@dataclass
class BulkJob:
    """A bulk approval run as its pages show it."""

    id: uuid.UUID
    authority_id: uuid.UUID
    total: int
    processed: int
    outcome: str  # running, ok or failed (job_run outcomes)
    raw_ids: list[str]
    failed: dict[str, str] = field(default_factory=dict)  # raw id → why not accepted
    passes: dict[str, int] = field(default_factory=dict)  # raw id → passes issued (once finished)
    error: str | None = None
    last_beat: datetime | None = None  # when the run last wrote its progress

    def stalled(self, now: datetime, after: timedelta = STALLED_AFTER) -> bool:
        """True for a run still marked running that wrote no progress for `after`: the process that
        ran it stopped (restart, crash). Posting the same selection again finishes it."""
        return not self.finished and self.last_beat is not None and now - self.last_beat > after

    @property
    def accepted(self) -> int:
        """Applications accepted so far."""
        return self.processed - len(self.failed)

    @property
    def finished(self) -> bool:
        """True once the run ended (successfully or not)."""
        return self.outcome != "running"

    def outcomes(self) -> list[BulkOutcome]:
        """One outcome per processed id, in the order posted."""
        found = []
        for raw, app_id in parse_ids(self.raw_ids)[:self.processed]:
            message = self.failed.get(raw)
            found.append(BulkOutcome(raw, app_id, message is None, message, self.passes.get(raw, 0)))
        return found


def _detail(job: BulkJob, reviewer_id: uuid.UUID | None) -> str:
    return json.dumps({"authority_id": str(job.authority_id), "reviewer_id": str(reviewer_id) if reviewer_id else None,
                       "ids": job.raw_ids, "failed": job.failed, "passes": job.passes, "error": job.error},
                      ensure_ascii=False)


async def create_job(
    maker: async_sessionmaker[AsyncSession], *, authority_id: uuid.UUID, reviewer_id: uuid.UUID | None,
    raw_ids: Sequence[str], clock: Clock, worker: str = "",
) -> uuid.UUID:
    """Record a bulk approval to run (outcome 'running', nothing processed); its id."""
    row = job_row(authority_id=authority_id, reviewer_id=reviewer_id, raw_ids=raw_ids, at=clock.now(), worker=worker)
    async with transaction(maker) as session:
        session.add(row)
    return row.id


def job_row(*, authority_id: uuid.UUID, reviewer_id: uuid.UUID | None, raw_ids: Sequence[str], at: datetime,
            worker: str = "") -> JobRun:
    """The job_run row of a bulk approval not yet started (for `create_job`, or a caller's own transaction)."""
    ids = [raw for raw, _app_id in parse_ids(raw_ids)]
    job = BulkJob(uuid.uuid4(), authority_id, len(ids), 0, "running", ids)
    return JobRun(id=job.id, name=JOB_NAME, tick=at, started_at=at, outcome="running", rows=0,
                  detail=_detail(job, reviewer_id), worker=worker, authority_id=authority_id)


async def load_job(session: AsyncSession, job_id: uuid.UUID, authority_id: uuid.UUID) -> BulkJob | None:
    """A bulk approval run of this authority (None for another authority's, or another job's)."""
    run = await session.get(JobRun, job_id)
    if run is None or run.name != JOB_NAME or not run.detail:
        return None
    data = json.loads(run.detail)
    if data.get("authority_id") != str(authority_id):
        return None
    beat = run.started_at + timedelta(milliseconds=run.duration_ms or 0)
    return BulkJob(run.id, authority_id, len(data["ids"]), run.rows, run.outcome, data["ids"],
                   data.get("failed") or {}, data.get("passes") or {}, data.get("error"), beat)


async def run_job(
    maker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, *, signer: PassSigner, clock: Clock,
    on_chunk: ChunkHook | None = None, chunk_size: int | None = None,
) -> BulkJob:
    """Run a recorded bulk approval to the end; progress is written with each chunk (same transaction)."""
    async with transaction(maker) as session:
        run = await session.get(JobRun, job_id)
        assert run is not None and run.detail is not None
        data = json.loads(run.detail)
    authority_id = uuid.UUID(data["authority_id"])
    reviewer_id = uuid.UUID(data["reviewer_id"]) if data.get("reviewer_id") else None
    job = BulkJob(job_id, authority_id, len(data["ids"]), 0, "running", data["ids"])
    started = clock.now()

    async def progress(session: AsyncSession, outcomes: list[BulkOutcome], processed: int) -> None:
        job.processed = processed
        new_failures = {o.raw: o.message or "" for o in outcomes if not o.ok}
        job.failed |= new_failures
        job.passes |= {o.raw: o.passes for o in outcomes if o.ok and o.passes != 1}
        # duration_ms doubles as a heartbeat while running: a run that stops beating was cut short.
        values: dict[str, Any] = {"rows": job.processed,
                                  "duration_ms": int((clock.now() - started).total_seconds() * 1000)}
        if new_failures:  # the (long) detail is rewritten only when there is something new to show
            values["detail"] = _detail(job, reviewer_id)
        await session.exec(update(JobRun).where(col(JobRun.id) == job_id).values(**values))  # type: ignore[call-overload]
        if on_chunk is not None:
            await on_chunk(session, outcomes, processed)

    try:
        await approve_many(maker, authority_id=authority_id, raw_ids=job.raw_ids, reviewer_id=reviewer_id,
                           signer=signer, clock=clock, chunk_size=chunk_size, on_chunk=progress)
        job.outcome = "ok"
    except Exception as exc:  # the page must end, with the reason, whatever went wrong
        log.exception("bulk approval %s failed", job_id)
        job.outcome, job.error = "failed", f"interrompue par une erreur ({type(exc).__name__})"
    finished = clock.now()
    async with transaction(maker) as session:
        await session.exec(update(JobRun).where(col(JobRun.id) == job_id).values(  # type: ignore[call-overload]
            outcome=job.outcome, rows=job.processed, finished_at=finished,
            duration_ms=int((finished - started).total_seconds() * 1000), detail=_detail(job, reviewer_id)))
    return job
