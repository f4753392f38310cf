"""Statements run per request or per job run keep their compiled SQL in SQLAlchemy's cache: each is
logged "[generated in …]" the first time and "[cached since …]" after, never "[no key …]" (a statement
compiled again at every execution). SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import pairwise

import pytest
from factories import USER_REVIEWER_ID, VEHICLE_EV_ID, VEHICLE_VAN_ID, make_submitted_application

from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.mail import Mailer, send_expiry_reminders
from cirqliz.settings import Settings

pytestmark = pytest.mark.usefixtures("world")


class QuietMailer(Mailer):
    """Queues nothing: the reminders' statements are what is looked at."""

    def send_after_commit(self, session, message) -> None:
        pass


def _cache_notes(caplog: pytest.LogCaptureFixture, sql_start: str) -> list[str]:
    """The cache note SQLAlchemy logs after each statement starting with `sql_start` ("[generated in …]",
    "[cached since …]", "[no key …]")."""
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    return [after.split("]")[0] + "]" for sql, after in pairwise(messages)
            if sql.lstrip().startswith(sql_start)]


async def test_expiry_reminders_insert_is_compiled_once(session_factory, clock, signer, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    mailer = QuietMailer(Settings(outbox_dir=str(tmp_path / "outbox")))
    for i, vehicle_id in enumerate([VEHICLE_VAN_ID, VEHICLE_EV_ID, VEHICLE_VAN_ID]):
        async with session_factory() as session, session.begin():
            app = await make_submitted_application(
                session, clock, vehicle_ids=[vehicle_id], not_before=clock.now(),
                expires_at=clock.now() + timedelta(days=2, hours=i))
            await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, signer=signer,
                                      clock=clock)
    reminded = []
    # Two runs that each remember several passes: the second finds those of the first reminded already,
    # so two more passes are made due in between.
    for run in range(2):
        if run:
            async with session_factory() as session, session.begin():
                app = await make_submitted_application(
                    session, clock, vehicle_ids=[VEHICLE_EV_ID, VEHICLE_VAN_ID], not_before=clock.now(),
                    expires_at=clock.now() + timedelta(days=3))
                await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                          signer=signer, clock=clock)
        async with session_factory() as session, session.begin():
            reminded.append(await send_expiry_reminders(session, clock.now(), days=7, settings=mailer.settings,
                                                        mailer=mailer))
    assert reminded == [3, 2]
    notes = _cache_notes(caplog, "INSERT INTO sent_notification")
    assert len(notes) == 2, notes
    assert not [n for n in notes if n.startswith("[no key")], notes
    assert notes[1].startswith("[cached since"), notes
