"""An index for the revocation list (issue 18: publishing at city scale).

The publisher reads the serials of an authority's listed passes (revoked or suspended, not yet
expired) at each publication. At Paris-2024 size that read fetched thousands of scattered table
pages; this partial index answers it by an index-only scan on PostgreSQL and a covering index scan
on SQLite: access_pass (authority_id, expires_at, serial) WHERE status IN ('revoked', 'suspended').

serial is the index's last key column on both databases rather than an INCLUDE column on
PostgreSQL: SQLite has no INCLUDE, and one definition keeps the models and both databases alike
(Alembic compares index columns). The query must state the predicate as is (literal statuses).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-09 10:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_access_pass_listed"
WHERE = "status IN ('revoked', 'suspended')"  # as models.LISTED_PASS_WHERE (migrations do not import models)


def upgrade() -> None:
    op.create_index(NAME, "access_pass", ["authority_id", "expires_at", "serial"],
                    postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(NAME, table_name="access_pass")
