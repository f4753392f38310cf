"""A change counter for the trust bundle's inputs (issue 18: the idle publish job).

- bundle_change: one row (id 1) whose `changes` the database bumps, by triggers, in the very
  transaction that inserts, updates or deletes a zone, an access rule, a dated period
  (zone_schedule), a closure or a partner, or a pass that is, or was, revoked or suspended. The
  publish job compares it with the value it last saw instead of reading every zone and revoked
  serial (cirqliz.jobs.jobs): the database bumps it, so no code path (ORM, bulk UPDATE, import,
  raw SQL) can change a bundle input without it.
- zone_schedule (ends_at): the job also asks whether a period ended since its last look.

PostgreSQL: one function; statement-level triggers (before the statement) on the zone tables,
row-level triggers with a WHEN on access_pass (issuing active passes calls nothing). SQLite: row-level triggers.
A later migration that rebuilds one of these tables on SQLite (batch mode "recreate") drops its
triggers: it must create them again (create_triggers below); tests/integration/test_publish_job_idle.py
fails on both databases when one is missing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 06:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every change of these tables may change a bundle.
ZONE_TABLES = ("zone", "access_rule", "zone_schedule", "zone_closure", "authority_partner")
LISTED = "('revoked', 'suspended')"  # the pass statuses the bundle lists
PASS_WHEN = {
    "INSERT": f"NEW.status IN {LISTED}",
    "UPDATE": f"OLD.status IN {LISTED} OR NEW.status IN {LISTED}",
    "DELETE": f"OLD.status IN {LISTED}",
}
BUMP = "UPDATE bundle_change SET changes = changes + 1"


def _names() -> list[tuple[str, str, str]]:
    """(trigger name, table, operation) of every trigger."""
    out = [(f"bundle_change_{table}_{op_name.lower()}", table, op_name)
           for table in ZONE_TABLES for op_name in ("INSERT", "UPDATE", "DELETE")]
    out += [(f"bundle_change_access_pass_{op_name.lower()}", "access_pass", op_name) for op_name in PASS_WHEN]
    return out


def create_triggers() -> None:
    """The triggers that bump bundle_change (both databases)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION bundle_change_bump() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
        for name, table, op_name in _names():
            if table == "access_pass":
                op.execute(f"CREATE TRIGGER {name} AFTER {op_name} ON {table} FOR EACH ROW "
                           f"WHEN ({PASS_WHEN[op_name]}) EXECUTE FUNCTION bundle_change_bump()")
            else:
                # BEFORE the statement: the counter row is locked before the statement's own row
                # locks, so two transactions editing the same zones queue instead of deadlocking.
                op.execute(f"CREATE TRIGGER {name} BEFORE {op_name} ON {table} FOR EACH STATEMENT "
                           "EXECUTE FUNCTION bundle_change_bump()")
        return
    for name, table, op_name in _names():
        when = f" WHEN {PASS_WHEN[op_name]}" if table == "access_pass" else ""
        op.execute(f"CREATE TRIGGER {name} AFTER {op_name} ON {table} FOR EACH ROW{when} BEGIN {BUMP}; END")


def drop_triggers() -> None:
    """Drop the triggers (both databases)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _op_name in _names():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgres else f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS bundle_change_bump()")


def upgrade() -> None:
    table = op.create_table(
        "bundle_change",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_change")),
    )
    op.bulk_insert(table, [{"id": 1, "changes": 0}])
    op.create_index(op.f("ix_zone_schedule_ends_at"), "zone_schedule", ["ends_at"], unique=False)
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_index(op.f("ix_zone_schedule_ends_at"), table_name="zone_schedule")
    op.drop_table("bundle_change")
