"""An organiser's contact e-mail (`organisation.contact_email`), given by the authority that
registers it on its back office (/autorite/organisateurs).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable column: ALTER TABLE ADD COLUMN on both databases (no batch "move and copy"
    # of `organisation` on SQLite, which every other table references).
    op.add_column("organisation", sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254),
                                            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("contact_email")
