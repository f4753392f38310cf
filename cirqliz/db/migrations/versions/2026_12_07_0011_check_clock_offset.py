"""How far the agent's phone clock was off when a check was made (`pass_check.clock_offset_s`):
seconds ahead of the server's time at the phone's last sync (negative: behind), NULL when the
phone never synced. Checks made with a clock far ahead are flagged on the checks page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable column: ALTER TABLE ADD COLUMN on both databases, no table rebuild.
    op.add_column("pass_check", sa.Column("clock_offset_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("pass_check", "clock_offset_s")
