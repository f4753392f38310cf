"""Bulk approval: thousands of submitted applications approved by one reviewer's request.

Applications are taken a chunk at a time, each chunk in its own transaction, with batch statements:
one SELECT of the chunk (locked), one of its zones, one of its vehicles (locked), one of the zones'
rules, one UPDATE … RETURNING of the statuses, one INSERT of the transitions, one of the passes (a
serial already taken is skipped by the INSERT and drawn again), one of the pass zones; the audit
records go through `record_change` and are chained at commit (ADR 0006). Each application is
either wholly approved (status, transition, passes, audit) or untouched, so a crash loses nothing
committed and a rerun skips what is already approved. Eligibility is still checked per application:
an ineligible one is reported with its reasons, not approved. An application with a yearly quota
goes through `approve_application` (quota counted one approval at a time) in a savepoint.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
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
        # Locked in id order (the order single approvals cannot contradict: they lock one row).
        apps = {a.id: a for a in (await session.exec(
            select(Application).where(col(Application.id).in_(wanted), col(Application.authority_id) == authority_id)
            .order_by(col(Application.id)).with_for_update())).all()}
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
            await _approve_candidates(session, candidates, verdicts, authority_id=authority_id,
                                      reviewer_id=reviewer_id, signer=signer, clock=clock,
                                      serial_source=serial_source)
    return [verdicts.get(app_id) or BulkOutcome(raw, app_id, False, f"{NOT_FOUND} : {raw}")
            if app_id is not None else BulkOutcome(raw, None, False, f"{NOT_FOUND} : {raw}")
            for raw, app_id in ids]


async def _approve_candidates(
    session: AsyncSession,
    candidates: list[tuple[str, Application]],
    verdicts: dict[uuid.UUID, BulkOutcome],
    *,
    authority_id: uuid.UUID,
    reviewer_id: uuid.UUID | None,
    signer: PassSigner,
    clock: Clock,
    serial_source: Callable[[], bytes],
) -> None:
    app_ids = [app.id for _raw, app in candidates]
    # Pairs first, then each zone once: a zone row (its geometry) read per application would be
    # decoded thousands of times.
    pairs = (await session.exec(select(ApplicationZone.application_id, ApplicationZone.zone_id)
                                .where(col(ApplicationZone.application_id).in_(app_ids)))).all()
    by_id = {z.id: z for z in (await session.exec(
        select(Zone).where(col(Zone.id).in_({zone_id for _a, zone_id in pairs})))).all()}
    zones: dict[uuid.UUID, list[Zone]] = {i: [] for i in app_ids}
    for app_id, zone_id in pairs:
        zones[app_id].append(by_id[zone_id])
    for found in zones.values():
        found.sort(key=lambda z: z.ref)
    vehicles: dict[uuid.UUID, list[Vehicle]] = {i: [] for i in app_ids}
    for app_id, vehicle in (await session.exec(
            select(ApplicationVehicle.application_id, Vehicle)
            .join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
            .where(col(ApplicationVehicle.application_id).in_(app_ids)).order_by(col(Vehicle.id))
            .with_for_update(of=Vehicle))).all():
        vehicles[app_id].append(vehicle)
    zone_ids = {z.id for found in zones.values() for z in found}
    rules: dict[uuid.UUID, list] = {z: [] for z in zone_ids}
    for rule in (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(zone_ids))
                                    .order_by(col(AccessRule.position)))).all():
        rules[rule.zone_id].append(rule_spec(rule))
    quota_zones = {z for z, specs in rules.items() if any(s.quota_days_per_year is not None for s in specs)}
    issuer = (await session.get(Organisation, authority_id))
    assert issuer is not None  # the applications were selected by this authority
    now = clock.now()
    eligible: list[tuple[str, Application]] = []
    for raw, app in candidates:
        if not zones[app.id] or not vehicles[app.id]:
            verdicts[app.id] = BulkOutcome(raw, app.id, False, "demande sans zone ou sans véhicule")
        elif any(z.id in quota_zones for z in zones[app.id]):
            verdicts[app.id] = await _approve_one(session, raw, app, reviewer_id, signer, clock, serial_source)
        else:
            decisions = await assess_application(session, app, zones=zones[app.id], vehicles=vehicles[app.id],
                                                 rules=rules)
            if all(d.eligible for d in decisions.values()):
                eligible.append((raw, app))
            else:
                plates = {v.id: plate_display(v.plate) for v in vehicles[app.id]}
                found = _refusals(decisions, plates, {z.id: z.code for z in zones[app.id]})
                verdicts[app.id] = BulkOutcome(raw, app.id, False, "non éligible : " + " ; ".join(
                    r.message for r in found))
    if not eligible:
        return
    ids = [app.id for _raw, app in eligible]
    # Still submitted (locked above; SQLite serialises writers): RETURNING says which changed.
    changed = set((await session.exec(
        update(Application).where(col(Application.id).in_(ids),
                                  col(Application.status) == ApplicationStatus.SUBMITTED.value)
        .values(status=ApplicationStatus.APPROVED.value, updated_at=now, decided_at=now,
                decided_by_id=reviewer_id, decision_reason=None)
        .returning(Application.id).execution_options(synchronize_session=False))).scalars())
    latest = dict((await session.exec(
        select(ApplicationTransitionRecord.application_id, func.max(ApplicationTransitionRecord.at))
        .where(col(ApplicationTransitionRecord.application_id).in_(ids))
        .group_by(col(ApplicationTransitionRecord.application_id)))).all())
    transitions: list[dict] = []
    changes: list[dict] = []
    orders: list[PassOrder] = []
    approved: list[tuple[str, Application]] = []
    for raw, app in eligible:
        if app.id not in changed:
            verdicts[app.id] = BulkOutcome(raw, app.id, False, "la demande a changé d'état pendant l'opération")
            continue
        step = transition(app.status, ApplicationAction.APPROVE, actor_id=reviewer_id, reason=None, at=now)
        before = latest.get(app.id)
        at = now if before is None or before < now else before + timedelta(microseconds=1)
        transitions.append({"id": uuid.uuid4(), "application_id": app.id, "from_status": step.from_status.value,
                            "to_status": step.to_status.value, "action": step.action.value,
                            "actor_id": reviewer_id, "reason": None, "at": at})
        changes.append({"actor_id": reviewer_id, "entity": "application", "entity_id": app.id,
                        "action": step.action.value, "at": now, "before": {"status": step.from_status.value},
                        "after": {"status": step.to_status.value, "reason": None}})
        windows = tuple(window_from_json(w) for w in app.windows)
        orders += [PassOrder(app, vehicle, zones[app.id], windows) for vehicle in vehicles[app.id]]
        approved.append((raw, app))
    if not approved:
        return
    connection = await session.connection()
    await connection.execute(insert(ApplicationTransitionRecord.__table__), transitions)  # type: ignore[attr-defined]
    await record_changes(session, changes)
    await issue_passes(session, orders, issuer=issuer.code, signer=signer, issued_by=reviewer_id, at=now,
                       serial_source=serial_source)
    for raw, app in approved:
        verdicts[app.id] = BulkOutcome(raw, app.id, True, None, len(vehicles[app.id]))


async def _approve_one(session: AsyncSession, raw: str, app: Application, reviewer_id: uuid.UUID | None,
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
