"""An authority's time zone (`organisation.time_zone`), given by `cirqliz authority create`;
existing authorities get Europe/Paris.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable column: ALTER TABLE ADD COLUMN on both databases (no batch "move and copy"
    # of `organisation` on SQLite, which every other table references).
    op.add_column("organisation", sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.execute("UPDATE organisation SET time_zone = 'Europe/Paris' WHERE kind = 'authority'")


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place, like PostgreSQL: no table rebuild.
    op.drop_column("organisation", "time_zone")
