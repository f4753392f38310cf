"""Load run: two `cirqliz serve` processes (two ports, the client spreads requests in turn, as a
reverse proxy would) on one fresh PostgreSQL database and one Redis, 64 concurrent clients for
60 seconds in CI (CI=true) or with CIRQLIZ_SLOW=1, 20 seconds in a local `./dev test` (thousands of
requests: every client kind creates, approves or verifies); CIRQLIZ_LOAD_SECONDS overrides both.

Asserted: no 5xx and no connection failure; every acknowledged application, submission and
approval is in the database; exactly one pass per vehicle of every approved application, no
duplicate serial, an audit record per pass; every pass serial the clients saw exists. Throughput
and latency percentiles are printed (run pytest with -s to see them), not asserted.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .conftest import RedisSpace
from .harness import add_vehicles, check_invariants, create_token, prepare_database, server_env, start_server
from .load import Company, Run

pytestmark = pytest.mark.slow  # a minute of load: handed out first to the parallel workers
FULL = bool(os.environ.get("CI") or os.environ.get("CIRQLIZ_SLOW"))
SECONDS = float(os.environ.get("CIRQLIZ_LOAD_SECONDS", "60" if FULL else "20"))
CLIENTS = int(os.environ.get("CIRQLIZ_LOAD_CLIENTS", "64"))
EXTRA_VEHICLES = 20


@pytest.mark.postgres
def test_two_processes_under_load(tmp_path: Path, pg_database_url: str, redis_space: RedisSpace) -> None:
    database_url = pg_database_url
    prepare_database(database_url, tmp_path / "keys")
    companies = [
        Company("pro", add_vehicles(database_url, who="pro", count=EXTRA_VEHICLES, first=100),
                create_token(database_url, who="pro", name="charge")),
        Company("other_pro", add_vehicles(database_url, who="other_pro", count=EXTRA_VEHICLES, first=200),
                create_token(database_url, who="other_pro", name="charge")),
    ]
    # Limits far above what 64 clients send: the run measures the service, not the limiter.
    env = server_env(tmp_path, database_url, redis_url=redis_space.url, redis_namespace=redis_space.namespace,
                     extra={"CIRQLIZ_API_RATE_LIMIT": "1000000"})
    servers = [start_server(env, tmp_path, name="a"), start_server(env, tmp_path, name="b")]
    professionals = CLIENTS * 9 // 16
    reviewers = CLIENTS // 4
    run = Run([s.base_url for s in servers], companies, seconds=SECONDS)
    try:
        asyncio.run(run.main(professionals=professionals, reviewers=reviewers,
                             verifiers=CLIENTS - professionals - reviewers))
    finally:
        for server in servers:
            server.stop()
    stats, ledger = run.stats, run.ledger
    print(f"\nload run: {CLIENTS} clients ({professionals} professionals, {reviewers} reviewers, "
          f"{CLIENTS - professionals - reviewers} verifiers), {stats.elapsed:.1f} s, 2 processes, PostgreSQL + Redis")
    print(stats.table())
    print(f"acknowledged: {len(ledger.created)} applications created, {len(ledger.submitted)} submitted, "
          f"{len(ledger.approved)} approved; {len(ledger.passes)} pass serials seen by clients")
    print(f"5xx: {stats.server_error_count}; 429: {sum(n for (_, c), n in stats.statuses.items() if c == 429)}; "
          f"typed refusals (422): {sum(n for (_, c), n in stats.statuses.items() if c == 422)}")
    for line in stats.unexpected:
        print("unexpected:", line)

    assert stats.server_error_count == 0, "\n\n".join(stats.server_errors)
    assert not stats.transport_errors, stats.transport_errors[:5]
    assert not stats.unexpected, stats.unexpected[:5]
    assert not any(code == 429 for _, code in stats.statuses), "rate limited although the limits are high"
    assert ledger.approved, "no approval acknowledged: the run did not exercise the approval path"
    assert ledger.passes, "no pass seen by the clients"
    assert stats.latencies.get("api_verify"), "no online verification"

    found = asyncio.run(check_invariants(database_url))
    print(f"database: applications {found.applications}, {found.passes} passes")
    assert not found.problems, found.problems[:10]
    statuses = found.statuses
    lost = [a for a in ledger.created if a not in statuses]
    assert not lost, f"acknowledged applications missing: {lost[:5]}"
    unsubmitted = [a for a in ledger.submitted if statuses[a] not in ("submitted", "approved")]
    assert not unsubmitted, f"acknowledged submissions not submitted: {unsubmitted[:5]}"
    unapproved = [a for a in ledger.approved if statuses[a] != "approved"]
    assert not unapproved, f"acknowledged approvals not approved: {unapproved[:5]}"
    assert set(ledger.passes) <= found.serials, "a serial shown to a client is not in the database"
