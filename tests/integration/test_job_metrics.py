"""Prometheus metrics of scheduled jobs and audit records (cirqliz/ops/metrics.py), read from the
default registry that /metrics serves: outcome counters, last success time, passes issued."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from factories import T0, USER_REVIEWER_ID, make_submitted_application
from prometheus_client import REGISTRY

from cirqliz.issuance.applications import approve_application
from cirqliz.jobs.jobs import EXPIRE, Job, JobOutcome, run_job
from cirqliz.settings import Settings

pytestmark = pytest.mark.usefixtures("world")
SETTINGS = Settings()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_successful_run_counts_as_success_and_sets_the_last_success_time(session_factory, clock):
    before = _value("cirqliz_job_runs_total", job=EXPIRE.name, outcome="success")
    durations = _value("cirqliz_job_duration_seconds_count", job=EXPIRE.name)
    clock.set(T0 + timedelta(hours=3))
    run = await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)
    assert run.outcome == "ok"
    assert _value("cirqliz_job_runs_total", job=EXPIRE.name, outcome="success") == before + 1
    assert _value("cirqliz_job_duration_seconds_count", job=EXPIRE.name) == durations + 1
    assert _value("cirqliz_job_last_success_timestamp_seconds", job=EXPIRE.name) == clock.now().timestamp()
    skipped = _value("cirqliz_job_runs_total", job=EXPIRE.name, outcome="skipped")
    assert (await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)).outcome == "skipped"
    assert _value("cirqliz_job_runs_total", job=EXPIRE.name, outcome="skipped") == skipped + 1


async def test_a_failing_run_counts_as_failure(session_factory, clock):
    name = f"broken_{uuid.uuid4().hex[:8]}"

    async def broken(_ctx) -> JobOutcome:
        raise RuntimeError("en panne")

    job = Job(name, 0x4351_00FD, timedelta(minutes=1), broken, "Cassée (test)")
    run = await run_job(session_factory, job, clock=clock, settings=SETTINGS)
    assert run.outcome == "failed"
    assert _value("cirqliz_job_runs_total", job=name, outcome="failure") == 1
    assert _value("cirqliz_job_runs_total", job=name, outcome="success") == 0
    assert _value("cirqliz_job_last_success_timestamp_seconds", job=name) == 0


async def test_issued_passes_and_audit_records_are_counted_once_committed(session_factory, clock, signer):
    issued = _value("cirqliz_passes_issued_total")
    approvals = _value("cirqliz_audit_records_total", entity="application", action="approve")
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, signer=signer,
                                      clock=clock)
            raise RuntimeError("rolled back: nothing issued")
    assert _value("cirqliz_passes_issued_total") == issued
    async with session_factory() as session, session.begin():
        passes = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=signer, clock=clock)
    assert _value("cirqliz_passes_issued_total") == issued + len(passes) >= issued + 1
    assert _value("cirqliz_audit_records_total", entity="application", action="approve") == approvals + 1
