"""A session version per user: raised at sign-out everywhere, password reset and disabling, so
that every session opened before ends, whichever process serves it and after a restart; and the
signed-out sessions (one sign-out ends that session only, in every process).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "signed_out_session",
        sa.Column("sid_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_signed_out_session_user_id_user_account")),
        sa.PrimaryKeyConstraint("sid_hash", name=op.f("pk_signed_out_session")),
    )
    with op.batch_alter_table("signed_out_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signed_out_session_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signed_out_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_out_session_expires_at"))
    op.drop_table("signed_out_session")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")
