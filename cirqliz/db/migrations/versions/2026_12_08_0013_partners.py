"""Federation of trust across authorities (issue 19).

- authority_partner: the authorities whose passes an authority's agents check (their root key is
  listed in its signed bundle); unique (authority_id, iss);
- partner_bundle: the last accepted bundle of a remote partner, per (iss, root fingerprint);
- pass_check.issuer and pass_check.zone_code: the pass's issuer and the checkpoint zone as
  `ISS/CODE`, as the phone uploads them (plain nullable columns: no table rebuild).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "authority_partner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("iss", _text(32), nullable=False),
        sa.Column("name", _text(200), nullable=False),
        sa.Column("bundle_url", sa.Text(), nullable=False),
        sa.Column("root_spki", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", _text(64), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["authority_id"], ["organisation.id"],
                                name=op.f("fk_authority_partner_authority_id_organisation")),
        sa.ForeignKeyConstraint(["added_by"], ["user_account.id"],
                                name=op.f("fk_authority_partner_added_by_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_partner")),
        sa.UniqueConstraint("authority_id", "iss", name=op.f("uq_authority_partner_authority_id_iss")),
    )
    op.create_index(op.f("ix_authority_partner_authority_id"), "authority_partner", ["authority_id"], unique=False)
    op.create_table(
        "partner_bundle",
        sa.Column("iss", _text(32), nullable=False),
        sa.Column("fingerprint", _text(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("iss", "fingerprint", name=op.f("pk_partner_bundle")),
    )
    op.add_column("pass_check", sa.Column("issuer", _text(32), nullable=True))
    op.add_column("pass_check", sa.Column("zone_code", _text(65), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place, like PostgreSQL: no table rebuild.
    op.drop_column("pass_check", "zone_code")
    op.drop_column("pass_check", "issuer")
    op.drop_table("partner_bundle")
    op.drop_index(op.f("ix_authority_partner_authority_id"), table_name="authority_partner")
    op.drop_table("authority_partner")
