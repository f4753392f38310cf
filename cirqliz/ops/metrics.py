"""Application metrics for Prometheus (served by cirqliz/web/metrics.py at /metrics).

Only counts, durations and timestamps, labelled by job name, outcome, audit entity and action:
never a person, a plate, an e-mail or an id. The metrics live in prometheus_client's default
registry; with several worker processes set PROMETHEUS_MULTIPROC_DIR (`cirqliz serve --workers N`
does it) so /metrics adds up every process (docs/sauvegardes.md, "Supervision").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

# JobRun.outcome → the outcome label (Prometheus conventions: success / failure / skipped).
OUTCOMES = {"ok": "success", "failed": "failure", "skipped": "skipped"}

JOB_RUNS = Counter("cirqliz_job_runs", "Scheduled job runs, by job and outcome", ["job", "outcome"])
JOB_LAST_SUCCESS = Gauge("cirqliz_job_last_success_timestamp_seconds",
                         "End of the last successful run of each job (Unix time)", ["job"],
                         multiprocess_mode="max")
JOB_DURATION = Histogram("cirqliz_job_duration_seconds", "Duration of job runs that did work", ["job"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, float("inf")))
AUDIT_RECORDS = Counter("cirqliz_audit_records", "Audit records committed, by entity and action",
                        ["entity", "action"])
PASSES_ISSUED = Counter("cirqliz_passes_issued", "Passes issued (committed)")
EXPORT_REFUSALS = Counter("cirqliz_export_refusals", "Refused exemption-list exports, by channel (web, api) "
                          "and status (401 without valid credentials: not in the audit log)", ["channel", "status"])


def observe_job_run(run: Any) -> None:
    """Count a JobRun (ok, failed or skipped); its duration and success time for runs that ran."""
    outcome = OUTCOMES.get(run.outcome, run.outcome)
    JOB_RUNS.labels(run.name, outcome).inc()
    if run.outcome != "skipped":
        JOB_DURATION.labels(run.name).observe(run.duration_ms / 1000)
    if run.outcome == "ok" and run.finished_at is not None:
        JOB_LAST_SUCCESS.labels(run.name).set(run.finished_at.timestamp())


def observe_audit(counts: Mapping[tuple[str, str], int]) -> None:
    """Count the audit records of a committed transaction; passes issued among them."""
    for (entity, action), n in counts.items():
        AUDIT_RECORDS.labels(entity, action).inc(n)
        if entity == "pass" and action == "issue":
            PASSES_ISSUED.inc(n)
