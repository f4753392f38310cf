"""The scheduled jobs and the runner that makes each run safe with several processes.

`run_job(maker, job, ...)` runs one job for one tick (the scheduled slot: now floored to the job's
interval) in its own transaction:

- on PostgreSQL it first takes `pg_try_advisory_xact_lock(job.lock_id)`; when another process
  holds it, the run is skipped (released at commit or rollback, never leaked);
- a job already run successfully for the same tick is skipped too, so two processes whose runs
  do not even overlap still run it once per tick;
- the job's SQL is idempotent (set-based UPDATEs, unique "sent" records), so a run that fails
  half-way and is retried changes nothing twice;
- every run, skip and failure is recorded in `job_run` (tick, duration, outcome, rows), shown on
  /autorite/taches.

SQLite is the single-process setup: no lock is needed there (and writers queue anyway).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, event, or_, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationTransitionRecord,
    ApplicationVehicle,
    ApplicationZone,
    AuthorityPartner,
    JobRun,
    Organisation,
    PassCheck,
    SentNotification,
    SupportingDocument,
    Zone,
    ZoneClosure,
    ZoneSchedule,
)
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.passes import PassStatus
from cirqliz.imports.records import ImportFileError
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.event_imports import guess_format, import_file
from cirqliz.issuance.events import switch_temporary_zones
from cirqliz.issuance.partners import SYNC_INTERVAL as PARTNER_SYNC_INTERVAL
from cirqliz.issuance.partners import bundle_partners, fetcher, sync_in_session
from cirqliz.issuance.passes import expire_passes
from cirqliz.issuance.publication import bundle_stamp, bundle_zones, publish_bundle, revoked_serials
from cirqliz.labels import JOB_OUTCOME_FR
from cirqliz.ops.metrics import observe_job_run
from cirqliz.passcode.bundle import BundleContent, BundleZone, revocation_hash, sorted_revocations
from cirqliz.settings import Settings

log = logging.getLogger("cirqliz.jobs")

LOCK_BASE = 0x4351_0000  # "CQ": advisory lock keys of CirQliz jobs (one per job, below)
FEED_TIMEOUT_S = 30
MAX_FEED_BYTES = 20 * 1024 * 1024
# A bundle is republished when older than this share of its max age, even with no change, so
# agents who sync never hold a stale one.
REFRESH_SHARE = 3


@dataclass
class JobContext:
    """What a job may use: its session (inside the run's transaction), time and settings."""

    session: AsyncSession
    clock: Clock
    settings: Settings
    tick: datetime
    signer: Any = None  # KeyStoreSigner (publishing)


@dataclass
class JobOutcome:
    """What a run did: rows changed, a short detail, and an optional exact next wake-up; `shares`:
    what it did for each authority it worked for (rows, detail), each recorded as that authority's
    own run next to the platform-wide one (job_run.authority_id)."""

    rows: int = 0
    detail: str = ""
    next_run: datetime | None = None
    shares: dict[uuid.UUID, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A scheduled job: its name, advisory lock key, interval and body."""

    name: str
    lock_id: int
    interval: timedelta
    run: Callable[[JobContext], Awaitable[JobOutcome]]
    label_fr: str
    enabled: Callable[[Settings], bool] = field(default=lambda _settings: True)


def worker_name() -> str:
    """host:pid of this process (shown on the admin page)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def tick_of(now: datetime, interval: timedelta) -> datetime:
    """The slot `now` falls in: epoch seconds floored to the interval."""
    step = max(1, int(interval.total_seconds()))
    seconds = int(now.timestamp()) // step * step
    return datetime.fromtimestamp(seconds, UTC)


async def _try_lock(session: AsyncSession, lock_id: int) -> bool:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    result = await session.exec(text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=lock_id))  # type: ignore[call-overload]
    return bool(result.scalar())


async def _record(maker: async_sessionmaker[AsyncSession], run: JobRun) -> JobRun:
    async with maker() as session, session.begin():
        session.add(run)
    return run


async def run_job(
    maker: async_sessionmaker[AsyncSession],
    job: Job,
    *,
    clock: Clock,
    settings: Settings,
    signer: Any = None,
    tick: datetime | None = None,
    worker: str | None = None,
) -> JobRun:
    """Run `job` once for `tick` (default: the current slot) unless another process has it or
    it already ran for that tick; return the JobRun recorded (outcome ok, skipped or failed)."""
    run, _outcome = await run_job_with_outcome(maker, job, clock=clock, settings=settings, signer=signer, tick=tick,
                                               worker=worker)
    return run


async def run_job_with_outcome(
    maker: async_sessionmaker[AsyncSession],
    job: Job,
    *,
    clock: Clock,
    settings: Settings,
    signer: Any = None,
    tick: datetime | None = None,
    worker: str | None = None,
) -> tuple[JobRun, JobOutcome | None]:
    """run_job, also giving the job's outcome when it ran (its `next_run` wakes the scheduler)."""
    run, outcome = await _run_once(maker, job, clock=clock, settings=settings, signer=signer, tick=tick,
                                   worker=worker)
    observe_job_run(run)  # Prometheus: cirqliz_job_runs_total{job,outcome} and friends
    return run, outcome


async def _run_once(
    maker: async_sessionmaker[AsyncSession],
    job: Job,
    *,
    clock: Clock,
    settings: Settings,
    signer: Any,
    tick: datetime | None,
    worker: str | None,
) -> tuple[JobRun, JobOutcome | None]:
    started_at = clock.now()
    tick = tick or tick_of(started_at, job.interval)
    worker = worker or worker_name()
    began = time.perf_counter()

    def finished(outcome: str, rows: int = 0, detail: str = "", authority_id: uuid.UUID | None = None) -> JobRun:
        return JobRun(name=job.name, tick=tick, started_at=started_at, finished_at=clock.now(),
                      duration_ms=int((time.perf_counter() - began) * 1000), outcome=outcome, rows=rows,
                      detail=detail[:2000] or None, worker=worker, authority_id=authority_id)

    skip: str | None = None
    try:
        async with maker() as session, session.begin():
            if not await _try_lock(session, job.lock_id):
                skip = "verrou pris : un autre processus exécute cette tâche"
            elif (await session.exec(select(JobRun.id).where(
                    col(JobRun.name) == job.name, col(JobRun.tick) == tick, col(JobRun.outcome) == "ok"))).first():
                skip = "déjà exécutée pour ce créneau"
            else:
                outcome = await job.run(JobContext(session, clock, settings, tick, signer))
                run = finished("ok", outcome.rows, outcome.detail)
                session.add(run)  # committed with the job's own changes, under the lock
                for authority_id, (rows, detail) in sorted(outcome.shares.items(), key=lambda i: str(i[0])):
                    session.add(finished("ok", rows, detail, authority_id))
    except Exception as exc:  # a failed run is recorded, and the scheduler tries again next tick
        log.exception("job %s failed", job.name)
        return await _record(maker, finished("failed", 0, f"{type(exc).__name__}: {exc}")), None
    if skip is not None:
        return await _record(maker, finished("skipped", 0, skip)), None
    return run, outcome


# ---- the jobs ---------------------------------------------------------------------------------


async def _expire(ctx: JobContext) -> JobOutcome:
    count = await expire_passes(ctx.session, clock=ctx.clock)
    return JobOutcome(count, f"{count} laissez-passer expiré(s)")


async def _switch(ctx: JobContext) -> JobOutcome:
    result = await switch_temporary_zones(ctx.session, clock=ctx.clock)
    parts = []
    if result.switched_on:
        parts.append("ouvertes : " + ", ".join(result.switched_on))
    if result.switched_off:
        parts.append("fermées : " + ", ".join(result.switched_off))
    return JobOutcome(result.rows, "; ".join(parts) or "aucun changement", result.next_boundary)


# The last bundle of each keys folder, opened (root signature checked, decoded) once per stored
# file rather than on every run of the publish job: (seq, mtime_ns, size) -> content.
_latest_contents: dict[str, tuple[tuple[int, int, int], BundleContent]] = {}


def _latest_content(keystore: Any) -> BundleContent | None:
    """The content of the keystore's last bundle, opened once per stored file in this process."""
    stamp = _stamp(keystore)
    if stamp is None:
        return None
    folder = str(keystore.path)
    cached = _latest_contents.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    latest = keystore.latest_bundle()
    if latest is None:
        return None
    _latest_contents[folder] = (stamp, latest.content)
    return latest.content


async def _current_inputs(
    session: AsyncSession, authority: Organisation, keystore: Any, now: datetime
) -> tuple[bool, list[BundleZone] | None, list[bytes] | None]:
    """Whether the last bundle is current, with the zones and serials read to decide (None when the
    decision came before reading them)."""
    content = _latest_content(keystore)
    if content is None or not _keys_current(keystore, content, now):
        return False, None, None
    if content.name != authority.name or content.partners != await bundle_partners(session, authority.id):
        return False, None, None
    zones = await bundle_zones(session, authority.id, now=now)
    if tuple(sorted(zones, key=lambda z: z.ref)) != tuple(sorted(content.zones, key=lambda z: z.ref)):
        return False, zones, None
    serials = await revoked_serials(session, authority.id, now=now)
    same = sorted_revocations(revocation_hash(authority.code, s) for s in serials) == content.revoked
    return same, zones, serials


def _keys_current(keystore: Any, content: BundleContent, now: datetime) -> bool:
    """Whether the bundle is young enough and lists the keyring as it is (no database read)."""
    if int(now.timestamp()) - content.issued_at > content.max_age // REFRESH_SHARE:
        return False
    if any(k.status == "pending" for k in keystore.keys):
        return False
    withdrawn = {bytes.fromhex(k.kid) for k in keystore.keys if k.withdrawn_at is not None}
    return withdrawn == set(content.withdrawn)


async def bundle_is_current(session: AsyncSession, authority: Organisation, keystore: Any, now: datetime) -> bool:
    """Whether the authority's last bundle still says what the database and keyring say."""
    current, _zones, _serials = await _current_inputs(session, authority, keystore, now)
    return current


# ---- the idle publish job (issue 18) ------------------------------------------------------------
# Deciding "nothing changed" must not read every zone and revoked serial. Two things change what a
# bundle carries:
# - a write to a zone, an access rule, a dated period, a closure, a partner, or a pass that is or
#   was revoked or suspended: database triggers (migration 0014) bump bundle_change.changes in
#   that very transaction, whatever wrote it (ORM, bulk UPDATE, import, SQL by hand);
# - time alone: a revoked or suspended pass that expires, a closure or a dated period that ends
#   leave the bundle: one indexed query asks whether one of them ended since the last look.
# After a full comparison (or a publication) this process remembers, per authority, the counter
# read at the start of that run (before reading the data: a change not yet committed then bumps it
# past that value when it commits), the stored bundle it compared with, the authority's code and
# name, and when it looked. The next run with the same counter, the same stored bundle and nothing
# ended in between is "nothing changed": two statements per authority, whatever the data size.
# Anything else (another process published, a restart, the clock going back) compares in full.

BUNDLE_CHANGE = sa.table("bundle_change", sa.column("id", sa.Integer), sa.column("changes", sa.BigInteger))
"""The change counter of the bundles' inputs (one row, id 1; bumped by triggers, migration 0014)."""


@dataclass(frozen=True)
class _Seen:
    """What a full comparison found current: the bundle file, the counter, who, and when."""

    stamp: tuple[int, int, int]
    changes: int
    code: str
    name: str
    at: datetime


_seen: dict[tuple[str, uuid.UUID], _Seen] = {}
"""Per (keys folder, authority id): the last state this process found current (see above)."""


async def bundle_changes(session: AsyncSession) -> int | None:
    """The change counter of the bundles' inputs (bumped by the database, migration 0014); None if
    its row is missing (then every run compares in full)."""
    found = (await session.exec(select(BUNDLE_CHANGE.c.changes).where(BUNDLE_CHANGE.c.id == 1))).first()  # type: ignore[call-overload]
    return None if found is None else int(found)


def _stamp(keystore: Any) -> tuple[int, int, int] | None:
    """(seq, mtime_ns, size) of the keystore's last stored bundle, or None."""
    seq = keystore.last_seq
    return bundle_stamp(keystore.path, seq) if seq else None


async def _ended_since(session: AsyncSession, authority_id: uuid.UUID, since: datetime, now: datetime) -> bool:
    """Whether a listed pass expired, or a closure or dated period of the authority ended, in (since, now]."""
    passes = select(AccessPass.id).where(
        col(AccessPass.status).in_((PassStatus.REVOKED.value, PassStatus.SUSPENDED.value)),
        col(AccessPass.expires_at) > since, col(AccessPass.expires_at) <= now,
        col(AccessPass.authority_id) == authority_id)
    closures = select(ZoneClosure.id).where(
        col(ZoneClosure.ends_at) > since, col(ZoneClosure.ends_at) <= now,
        col(ZoneClosure.authority_id) == authority_id)
    periods = select(ZoneSchedule.id).join(Zone, col(Zone.id) == ZoneSchedule.zone_id).where(
        col(ZoneSchedule.ends_at) > since, col(ZoneSchedule.ends_at) <= now, col(Zone.authority_id) == authority_id)
    query = select(or_(passes.exists(), closures.exists(), periods.exists()))
    return bool((await session.exec(query)).one())  # type: ignore[call-overload]


async def _unchanged_since_seen(session: AsyncSession, authority: Organisation, keystore: Any,
                                changes: int | None, now: datetime) -> bool:
    """Whether this process already found the stored bundle current with the same inputs."""
    seen = _seen.get((str(keystore.path), authority.id))
    if seen is None or changes is None or (seen.changes, seen.code, seen.name) != (changes, authority.code,
                                                                                   authority.name):
        return False
    if seen.at > now or seen.stamp != _stamp(keystore):
        return False
    content = _latest_content(keystore)
    if content is None or not _keys_current(keystore, content, now):
        return False
    return not await _ended_since(session, authority.id, seen.at, now)


def _remember_after_commit(session: AsyncSession, key: tuple[str, uuid.UUID], seen: _Seen | None) -> None:
    """Remember (or forget) what a run found, once its transaction has committed."""
    def remember(_session: Any) -> None:
        if seen is None:
            _seen.pop(key, None)
        else:
            _seen[key] = seen
    event.listen(session.sync_session, "after_commit", remember, once=True)


async def _publish(ctx: JobContext) -> JobOutcome:
    """Publish the bundles that changed. With nothing changed: two statements per authority (the
    counter and the ended-since query, see above), no zone read, no signature, no new seq."""
    if ctx.signer is None:
        return JobOutcome(0, "pas de signataire configuré")
    now = ctx.clock.now()
    changes = await bundle_changes(ctx.session)  # first: see the comment above
    authorities = (await ctx.session.exec(
        select(Organisation).where(col(Organisation.kind) == OrganisationKind.AUTHORITY.value)
        .order_by(col(Organisation.code)))).all()
    published = []
    shares: dict[uuid.UUID, tuple[int, str]] = {}
    for authority in authorities:
        try:
            keystore = ctx.signer.keystore(authority.code)
        except DomainError:
            continue  # no keys yet: nothing to publish
        key = (str(keystore.path), authority.id)
        if await _unchanged_since_seen(ctx.session, authority, keystore, changes, now):
            _seen[key] = _Seen(_seen[key].stamp, _seen[key].changes, authority.code, authority.name, now)
            continue
        current, zones, serials = await _current_inputs(ctx.session, authority, keystore, now)
        if not current:
            _data, content = await publish_bundle(ctx.session, authority_id=authority.id, keystore=keystore,
                                                  clock=ctx.clock, zones=zones, serials=serials)
            published.append(f"{authority.code} n° {content.seq}")
            shares[authority.id] = (1, f"paquet n° {content.seq} publié")
            written = _stamp(keystore)
            if written is not None:  # the file just written: its content is known, no need to decode it again
                _latest_contents[str(keystore.path)] = (written, content)
        stamp = _stamp(keystore)
        _remember_after_commit(ctx.session, key, None if stamp is None or changes is None else
                               _Seen(stamp, changes, authority.code, authority.name, now))
    return JobOutcome(len(published), ("publiés : " + ", ".join(published)) if published else "à jour",
                      shares=shares)


def _feed_sources(settings: Settings) -> list[tuple[str, str, str]]:
    """(authority code, name, location) of the configured feeds: files of the folder, then URLs."""
    found: list[tuple[str, str, str]] = []
    if settings.feeds_dir:
        root = Path(settings.feeds_dir)
        if root.is_dir():
            for folder in sorted(p for p in root.iterdir() if p.is_dir()):
                for path in sorted(p for p in folder.iterdir() if p.is_file() and guess_format(p.name)):
                    found.append((folder.name, path.name, str(path)))
    for entry in settings.feed_urls.split():
        code, sep, url = entry.partition("=")
        if sep and url.startswith(("http://", "https://")):
            found.append((code, url.rsplit("/", 1)[-1] or url, url))
    return found


def _read_feed(location: str) -> bytes:
    if location.startswith(("http://", "https://")):
        with urllib.request.urlopen(location, timeout=FEED_TIMEOUT_S) as response:  # noqa: S310 (configured URLs only)
            return response.read(MAX_FEED_BYTES + 1)[:MAX_FEED_BYTES]
    return Path(location).read_bytes()


async def _feeds(ctx: JobContext) -> JobOutcome:
    sources = _feed_sources(ctx.settings)
    if not sources:
        return JobOutcome(0, "aucun flux configuré")
    changed = 0
    lines = []
    own: dict[uuid.UUID, tuple[int, list[str]]] = {}  # per authority: rows changed, its feeds' lines
    for code, name, location in sources:
        authority = (await ctx.session.exec(select(Organisation).where(col(Organisation.code) == code))).first()
        fmt = guess_format(name) or "perimeters"
        if authority is None:
            lines.append(f"{name} : autorité {code} inconnue")
            continue
        try:
            data = await asyncio.to_thread(_read_feed, location)  # a slow server must not block the loop
            report = await import_file(ctx.session, fmt=fmt, data=data, authority_id=authority.id, clock=ctx.clock)
        except (ImportFileError, DomainError) as exc:
            line, rows = f"{name} : {exc.message}", 0
        except OSError as exc:
            line, rows = f"{name} : lecture impossible ({exc})", 0
        else:
            line, rows = f"{name} : {report.summary()}", report.changed
        changed += rows
        lines.append(line)
        done, said = own.get(authority.id, (0, []))
        own[authority.id] = (done + rows, [*said, line])
    return JobOutcome(changed, "\n".join(lines), shares={a: (rows, "\n".join(said)) for a, (rows, said) in own.items()})


async def _purge(ctx: JobContext) -> JobOutcome:
    now = ctx.clock.now()
    s = ctx.session
    settings = ctx.settings
    checks = await s.exec(delete(PassCheck).where(  # type: ignore[call-overload]
        col(PassCheck.checked_at) < now - timedelta(days=settings.retention_checks_days)))
    old = select(Application.id).where(
        col(Application.status) == ApplicationStatus.REJECTED.value,
        col(Application.decided_at) < now - timedelta(days=settings.retention_rejected_applications_days),
        ~select(AccessPass.id).where(col(AccessPass.application_id) == Application.id).exists(),
    )
    ids = list((await s.exec(old)).all())
    documents = list((await s.exec(select(SupportingDocument.sha256, SupportingDocument.storage_key).where(
        col(SupportingDocument.application_id).in_(ids)))).all()) if ids else []
    for table, column in ((ApplicationZone, ApplicationZone.application_id),
                          (ApplicationVehicle, ApplicationVehicle.application_id),
                          (ApplicationTransitionRecord, ApplicationTransitionRecord.application_id),
                          (SupportingDocument, SupportingDocument.application_id)):
        if ids:
            await s.exec(delete(table).where(col(column).in_(ids)))  # type: ignore[call-overload]
    if ids:
        await s.exec(delete(Application).where(col(Application.id).in_(ids)))  # type: ignore[call-overload]
    runs = await s.exec(delete(JobRun).where(  # type: ignore[call-overload]
        col(JobRun.started_at) < now - timedelta(days=settings.retention_job_runs_days)))
    files = await _unreferenced_files(s, documents, Path(settings.documents_dir))
    # Files go only once the rows are gone for good: a run that rolls back keeps them all.
    event.listen(s.sync_session, "after_commit", lambda _session: _remove_files(files), once=True)
    rows = (checks.rowcount or 0) + len(ids) + (runs.rowcount or 0)
    return JobOutcome(rows, f"{checks.rowcount or 0} contrôle(s), {len(ids)} demande(s) refusée(s), "
                            f"{len(files)} fichier(s) justificatif(s), "
                            f"{runs.rowcount or 0} exécution(s) de tâches supprimés")


async def _unreferenced_files(session: AsyncSession, documents: list[Any], root: Path) -> list[Path]:
    """Files of the deleted documents that no remaining row references (storage is by content hash)."""
    hashes = {sha for sha, _key in documents}
    if not hashes:
        return []
    still = set((await session.exec(select(SupportingDocument.sha256).where(
        col(SupportingDocument.sha256).in_(hashes)))).all())
    files = {}
    for sha, key in documents:
        # Only keys of the store's own form: never a path taken blindly from a row.
        if sha not in still and len(sha) == 64 and key == FileDocumentStore.key_for(sha):
            files[key] = root / key
    return list(files.values())


def _remove_files(files: list[Path]) -> None:
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # the rows are gone already; a leftover file is logged, not fatal
            log.warning("purge: cannot remove %s: %s", path, exc)


def _uuid_text(column: Any, dialect: str) -> Any:
    """SQL for str(uuid) of a UUID column (how sent_notification.ref names a pass): PostgreSQL casts
    it; SQLite stores 32 lower-case hex digits, given their hyphens back here."""
    if dialect == "postgresql":
        return sa.cast(column, sa.Text)
    parts = [sa.func.substr(column, start, length) for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    out = parts[0]
    for part in parts[1:]:
        out = out + "-" + part
    return sa.func.lower(out)


async def reminders_due(session: AsyncSession, now: datetime, days: int) -> bool:
    """Whether an active pass expiring within `days` has not been reminded yet: one indexed query
    (the due passes along (status, expires_at), each probed in sent_notification's unique (kind, ref))."""
    from cirqliz.issuance.mail import EXPIRY_REMINDER

    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    reminded = select(SentNotification.id).where(
        col(SentNotification.kind) == EXPIRY_REMINDER,
        col(SentNotification.ref) == _uuid_text(AccessPass.id, dialect))
    due = select(AccessPass.id).where(
        col(AccessPass.status) == PassStatus.ACTIVE.value, col(AccessPass.expires_at) > now,
        col(AccessPass.expires_at) <= now + timedelta(days=days), ~reminded.exists())
    # Ordered along the index: inside EXISTS, PostgreSQL would rather scan the whole table, expecting
    # to stop early (it does not when every due pass was reminded).
    first = due.order_by(col(AccessPass.status), col(AccessPass.expires_at)).limit(1)
    return (await session.exec(first)).first() is not None


async def _reminders(ctx: JobContext) -> JobOutcome:
    try:
        from cirqliz.issuance.mail import send_expiry_reminders
    except ImportError:  # the mailer is optional
        return JobOutcome(0, "pas de messagerie")
    now, days = ctx.clock.now(), ctx.settings.expiry_reminder_days
    # Hourly, and most runs find every due pass reminded already: asked first in one query, instead
    # of loading every due pass to skip them one by one (issue 18: 5.6x from 1/10 to full size).
    if not await reminders_due(ctx.session, now, days):
        return JobOutcome(0, "0 rappel(s) d'expiration")
    count = await send_expiry_reminders(ctx.session, now, days, settings=ctx.settings)
    return JobOutcome(count, f"{count} rappel(s) d'expiration")


async def _partner_bundles(ctx: JobContext) -> JobOutcome:
    """The partners' bundles fetched (every SYNC_INTERVAL, cirqliz.issuance.partners.sync_in_session,
    inside the job's transaction), and for each local authority what was fetched of its own partners."""
    if ctx.signer is None:
        return JobOutcome(0, "pas de signataire configuré")
    report = await sync_in_session(ctx.session, ctx.clock, signer=ctx.signer, fetch=fetcher(ctx.settings))
    said = [(iss, f"{iss} n° {seq}", 1) for iss, seq in report.updated] + [
        (iss, f"{iss} : {error}", 0) for iss, error in report.errors]
    shares: dict[uuid.UUID, tuple[int, str]] = {}
    if said:
        trusting = (await ctx.session.exec(select(AuthorityPartner.authority_id, AuthorityPartner.iss).where(
            col(AuthorityPartner.iss).in_({iss for iss, _line, _rows in said})))).all()
        for authority_id in sorted({a for a, _iss in trusting}, key=str):
            mine = {iss for a, iss in trusting if a == authority_id}
            lines = [(line, rows) for iss, line, rows in said if iss in mine]
            shares[authority_id] = (sum(rows for _line, rows in lines), "; ".join(line for line, _rows in lines))
    return JobOutcome(len(report.updated), report.detail, shares=shares)


EXPIRE = Job("expire_passes", LOCK_BASE + 1, timedelta(minutes=1), _expire, "Expiration des laissez-passer")
SWITCH = Job("switch_zones", LOCK_BASE + 2, timedelta(minutes=1), _switch,
             "Ouverture et fermeture des zones temporaires")
PUBLISH = Job("publish_bundles", LOCK_BASE + 3, timedelta(minutes=1), _publish,
              "Publication des données de confiance (si changement)")
FEEDS = Job("import_feeds", LOCK_BASE + 4, timedelta(minutes=15), _feeds, "Import des flux programmés",
            enabled=lambda s: bool(s.feeds_dir or s.feed_urls))
PURGE = Job("purge", LOCK_BASE + 5, timedelta(days=1), _purge, "Purge des données échues")
REMINDERS = Job("expiry_reminders", LOCK_BASE + 6, timedelta(hours=1), _reminders, "Rappels d'expiration")
PARTNER_BUNDLES = Job("partner_bundles", LOCK_BASE + 7, PARTNER_SYNC_INTERVAL, _partner_bundles,
                      "Paquets des autorités partenaires")
JOBS: tuple[Job, ...] = (EXPIRE, SWITCH, PUBLISH, FEEDS, PURGE, REMINDERS, PARTNER_BUNDLES)
JOBS_BY_NAME = {job.name: job for job in JOBS}


def jobs_for(settings: Settings) -> list[Job]:
    """The jobs this configuration runs (feed imports only when feeds are configured), with the
    feed interval taken from the settings."""
    out = []
    for job in JOBS:
        if not job.enabled(settings):
            continue
        if job is FEEDS:
            job = Job(job.name, job.lock_id, timedelta(minutes=max(1, settings.feeds_interval_minutes)), job.run,
                      job.label_fr, job.enabled)
        out.append(job)
    return out


async def last_runs(session: AsyncSession, *, limit: int = 50, authority_id: uuid.UUID | None = None,
                    ) -> tuple[dict[str, JobRun], list[JobRun]]:
    """The last run (not skip) of each job, and the most recent records of all kinds: the
    platform-wide runs, and with `authority_id` that authority's own shares of them too (never
    another authority's); at the same time, the authority's own share comes first."""
    mine = col(JobRun.authority_id).is_(None)
    if authority_id is not None:
        mine = or_(mine, col(JobRun.authority_id) == authority_id)
    newest = (col(JobRun.started_at).desc(), col(JobRun.authority_id).is_(None), col(JobRun.id))
    # Scheduled jobs only: job_run also records bulk approvals (their own page shows them).
    recent = list((await session.exec(select(JobRun).where(col(JobRun.name).in_(list(JOBS_BY_NAME)), mine)
                                      .order_by(*newest).limit(limit))).all())
    last: dict[str, JobRun] = {}
    for job in JOBS:
        row = (await session.exec(select(JobRun).where(col(JobRun.name) == job.name, col(JobRun.outcome) != "skipped",
                                                       mine)
                                  .order_by(*newest).limit(1))).first()
        if row is not None:
            last[job.name] = row
    return last, recent


def outcome_fr(outcome: str) -> str:
    """The French word for a run's outcome (job_run.outcome), as pages and the CLI say it."""
    return JOB_OUTCOME_FR.get(outcome, outcome)


def job_label_fr(name: str) -> str:
    """The French label of a job by its name (the name itself when unknown)."""
    job = JOBS_BY_NAME.get(name)
    return job.label_fr if job else name
