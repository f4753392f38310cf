"""Invitations can be cancelled (a wrong address, someone who left) and are replaced when the same
address is invited again: the row stays, with the moment it was cancelled, so its link answers
« cette invitation a été annulée » rather than « inconnue ».

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-09 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_column("cancelled_at")
