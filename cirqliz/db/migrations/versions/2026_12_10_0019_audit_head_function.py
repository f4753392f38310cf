"""PostgreSQL: the audit chain's lock and head in one round trip (issue 18). A transaction that
wrote audit records takes the chain's advisory lock at commit, then reads the head: two statements
until now. One call of this VOLATILE function does both, and its head query takes a snapshot of its
own after the lock is granted (a single statement would read the head from a snapshot taken before
it waited for the lock, and miss a record committed meanwhile). SQLite: nothing (its write
transaction is the lock).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10 12:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """
CREATE OR REPLACE FUNCTION cirqliz_audit_head_locked(lock_key bigint)
RETURNS TABLE (head_seq bigint, head_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_record AS a
                 WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cirqliz_audit_head_locked(bigint)")
