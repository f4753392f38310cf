"""Expiry reminders, set-based (issue 18): a constant number of statements whatever the number of
passes, the same recipients as the per-pass rules, and each reminder sent once under reruns and
two concurrent runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import (
    COMPANY_ACME_ID,
    USER_ALICE_ID,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_VAN_ID,
    make_submitted_application,
    make_user,
)
from sqlalchemy import event, func
from sqlmodel import select

from cirqliz.db.models import AccessPass, SentNotification, UserAccount
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.mail import EXPIRY_REMINDER, Mailer, _pass_recipients, send_expiry_reminders
from cirqliz.issuance.organisations import add_membership
from cirqliz.settings import Settings

pytestmark = pytest.mark.usefixtures("world")


class RecordingMailer(Mailer):
    """Remembers (recipient, pass serial) of every reminder queued, instead of sending it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.queued: list[tuple[str, str]] = []

    def send_after_commit(self, session, message) -> None:
        self.queued.append((message["To"], message["Subject"].split()[1]))


async def _passes(session_factory, clock, signer, count: int) -> None:
    """`count` passes expiring in 2 to 3 days (Alice's applications for the company's vehicles)."""
    vehicles = [VEHICLE_VAN_ID, VEHICLE_EV_ID]
    for i in range(count):
        async with session_factory() as session, session.begin():
            app = await make_submitted_application(
                session, clock, vehicle_ids=[vehicles[i % len(vehicles)]], not_before=clock.now(),
                expires_at=clock.now() + timedelta(days=2, hours=i))
            await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, signer=signer,
                                      clock=clock)


async def _remind(session_factory, clock, mailer, statements: list[str] | None = None) -> int:
    async with session_factory() as session, session.begin():
        if statements is None:
            return await send_expiry_reminders(session, clock.now(), days=7, settings=mailer.settings, mailer=mailer)
        listener = lambda _c, _k, statement, *_rest: statements.append(statement)  # noqa: E731
        engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
        event.listen(engine, "before_cursor_execute", listener)
        try:
            return await send_expiry_reminders(session, clock.now(), days=7, settings=mailer.settings, mailer=mailer)
        finally:
            event.remove(engine, "before_cursor_execute", listener)


async def _sent(session_factory) -> int:
    async with session_factory() as session:
        return (await session.exec(select(func.count()).select_from(SentNotification)
                                   .where(SentNotification.kind == EXPIRY_REMINDER))).one()


async def test_the_statements_do_not_grow_with_the_passes(session_factory, engine, clock, signer, tmp_path):
    mailer = RecordingMailer(Settings(outbox_dir=str(tmp_path / "outbox")))
    await _passes(session_factory, clock, signer, 2)
    few: list[str] = []
    assert await _remind(session_factory, clock, mailer, few) == 2
    await _passes(session_factory, clock, signer, 8)
    many: list[str] = []
    assert await _remind(session_factory, clock, mailer, many) == 8
    assert len(many) == len(few), f"{len(few)} statements for 2 passes, {len(many)} for 8"
    assert not any("SAVEPOINT" in s.upper() for s in many)


async def test_recipients_follow_the_per_pass_rules(session_factory, clock, signer, tmp_path):
    await _passes(session_factory, clock, signer, 4)
    async with session_factory() as session, session.begin():
        for email in ("bob@acme.test", "carole@acme.test"):
            user = await make_user(session, clock, email=email)
            await add_membership(session, clock=clock, user_id=user.id, organisation_id=COMPANY_ACME_ID,
                                 role="professional")
        alice = await session.get(UserAccount, USER_ALICE_ID)
        alice.is_active = False  # the applicant left: the company's other professionals are told
        session.add(alice)
    expected: list[tuple[str, str]] = []
    async with session_factory() as session:
        for row in (await session.exec(select(AccessPass))).all():
            expected += [(address, row.serial) for address in await _pass_recipients(session, row)]
    mailer = RecordingMailer(Settings(outbox_dir=str(tmp_path / "outbox")))
    assert await _remind(session_factory, clock, mailer) == 4
    assert len(expected) == 8 and {to for to, _serial in expected} == {"bob@acme.test", "carole@acme.test"}
    assert sorted(mailer.queued) == sorted(expected)


async def test_each_reminder_is_sent_once_under_reruns_and_concurrency(session_factory, clock, signer, tmp_path):
    await _passes(session_factory, clock, signer, 5)
    mailers = [RecordingMailer(Settings(outbox_dir=str(tmp_path / "outbox"))) for _ in range(2)]
    counts = await asyncio.gather(*(_remind(session_factory, clock, m) for m in mailers))
    assert sum(counts) == 5
    assert sorted(x for m in mailers for x in m.queued) == sorted(set(x for m in mailers for x in m.queued))
    assert len({serial for m in mailers for _to, serial in m.queued}) == 5
    again = RecordingMailer(Settings(outbox_dir=str(tmp_path / "outbox")))
    assert await _remind(session_factory, clock, again) == 0 and again.queued == []
    clock.advance(timedelta(days=1))  # a day later, still inside the window: nothing again
    assert await _remind(session_factory, clock, again) == 0 and again.queued == []
    assert await _sent(session_factory) == 5


async def test_the_hourly_job_asks_one_query_before_loading_the_passes(session_factory, clock, signer, tmp_path,
                                                                      monkeypatch):
    """With every due pass reminded already (most hourly runs), the job does not load them (issue 18);
    a new due pass is still reminded on the next run, on both databases (ref = the pass id as text)."""
    from cirqliz.issuance import mail
    from cirqliz.jobs.jobs import REMINDERS, reminders_due, run_job

    settings = Settings(outbox_dir=str(tmp_path / "outbox"), expiry_reminder_days=7)
    calls = []
    send = mail.send_expiry_reminders

    async def counting(*args, **kwargs):
        calls.append(1)
        return await send(*args, **kwargs)

    monkeypatch.setattr(mail, "send_expiry_reminders", counting)

    async def job() -> int:
        clock.advance(timedelta(hours=1))
        run = await run_job(session_factory, REMINDERS, clock=clock, settings=settings)
        assert run.outcome == "ok", run.detail
        return run.rows

    async def due() -> bool:
        async with session_factory() as session:
            return await reminders_due(session, clock.now(), 7)

    await _passes(session_factory, clock, signer, 3)
    assert await due()
    assert (await job(), len(calls)) == (3, 1)
    assert not await due()
    assert (await job(), len(calls)) == (0, 1)  # nothing due: not called, no pass loaded
    await _passes(session_factory, clock, signer, 1)
    assert await due()
    assert (await job(), len(calls)) == (1, 2)
    assert not await due() and await _sent(session_factory) == 4
