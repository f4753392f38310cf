"""APScheduler 3.x wiring: an AsyncIOScheduler built and started inside a running event loop (the
web application's lifespan, or `cirqliz worker`), stopped with shutdown(wait=False).

Every process that runs a scheduler runs every job; the runner (cirqliz.jobs.jobs.run_job) makes
that safe with advisory locks, so N web workers plus a `cirqliz worker` still give one execution
per job and tick. Jobs coalesce missed runs, never overlap themselves (max_instances=1), and run
late by at most `MISFIRE_GRACE_S`. The zone switch job also wakes up exactly at the next boundary
of a temporary zone (a one-off date trigger), not only once a minute.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.jobs.jobs import SWITCH, Job, jobs_for, run_job_with_outcome
from cirqliz.settings import Settings

log = logging.getLogger("cirqliz.jobs")

MISFIRE_GRACE_S = 30
FIRST_RUN_DELAY = timedelta(seconds=5)
BOUNDARY_JOB_ID = "switch_zones_at_boundary"


class JobScheduler:
    """The jobs of one process, on an AsyncIOScheduler (UTC)."""

    def __init__(self, *, maker: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock,
                 signer: Any = None) -> None:
        self.maker = maker
        self.settings = settings
        self.clock = clock
        self.signer = signer
        self.jobs = jobs_for(settings)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
        )

    async def run(self, job: Job) -> None:
        """One run of `job` (what the scheduler calls); schedules the next zone boundary."""
        run, outcome = await run_job_with_outcome(self.maker, job, clock=self.clock, settings=self.settings,
                                                  signer=self.signer)
        if run.outcome == "failed":
            log.warning("job %s failed: %s", job.name, run.detail)
        if job.name == SWITCH.name and outcome is not None and outcome.next_run is not None:
            self._wake_at(outcome.next_run)

    def _wake_at(self, when: datetime) -> None:
        if not self.scheduler.running:
            return
        # The boundary run has its own tick (the boundary itself), so it is not taken for the
        # minute's run; a second wake-up for the same boundary is skipped by the runner.
        self.scheduler.add_job(self._boundary, DateTrigger(run_date=when, timezone=UTC), args=[when],
                               id=BOUNDARY_JOB_ID, replace_existing=True)

    async def _boundary(self, when: datetime) -> None:
        run, outcome = await run_job_with_outcome(self.maker, SWITCH, clock=self.clock, settings=self.settings,
                                                  signer=self.signer, tick=when)
        if outcome is not None and outcome.next_run is not None:
            self._wake_at(outcome.next_run)
        log.info("zone boundary %s: %s %s", when.isoformat(), run.outcome, run.detail or "")

    def start(self) -> None:
        """Add the jobs and start (call it with an event loop running)."""
        first = datetime.now(UTC) + FIRST_RUN_DELAY
        for job in self.jobs:
            self.scheduler.add_job(self.run, IntervalTrigger(seconds=int(job.interval.total_seconds()), timezone=UTC),
                                   args=[job], id=job.name, name=job.label_fr, replace_existing=True,
                                   next_run_time=first)
        self.scheduler.start()
        log.info("scheduler started: %s", ", ".join(j.name for j in self.jobs))

    def shutdown(self) -> None:
        """Stop without waiting for running jobs (their transactions roll back if cut short)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            log.info("scheduler stopped")
