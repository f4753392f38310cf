"""Organisers belong to an authority (`organisation.authority_id`): they submit events to it only,
and only its admins see and invite their members.

Existing organisers are attached to the authority their events were submitted to (the one with
the most events if several), or else to the only authority when there is exactly one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_organisation_authority_id_organisation"

ASSIGN_FROM_EVENTS = sa.text("""
    UPDATE organisation SET authority_id = (
        SELECT ea.authority_id FROM event_approval ea JOIN event e ON e.id = ea.event_id
        WHERE e.organiser_id = organisation.id
        GROUP BY ea.authority_id ORDER BY count(*) DESC, ea.authority_id LIMIT 1)
    WHERE kind = 'organiser' AND authority_id IS NULL
""")
ASSIGN_ONLY_AUTHORITY = sa.text("""
    UPDATE organisation SET authority_id = (SELECT a.id FROM organisation a WHERE a.kind = 'authority')
    WHERE kind = 'organiser' AND authority_id IS NULL
      AND (SELECT count(*) FROM organisation a WHERE a.kind = 'authority') = 1
""")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place; batch mode's "move and copy"
        # would drop `organisation`, which every other table references (foreign keys are on).
        op.execute(f"ALTER TABLE organisation ADD COLUMN authority_id CHAR(32) "
                   f"CONSTRAINT {FK_NAME} REFERENCES organisation (id)")
    else:
        op.add_column("organisation", sa.Column("authority_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f(FK_NAME), "organisation", "organisation", ["authority_id"], ["id"])
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_authority_id"), ["authority_id"], unique=False)
    op.execute(ASSIGN_FROM_EVENTS)
    op.execute(ASSIGN_ONLY_AUTHORITY)


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_authority_id"))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot DROP COLUMN a column with a foreign key: rebuild the table without it.
        with op.batch_alter_table("organisation", schema=None, recreate="always") as batch_op:
            batch_op.drop_column("authority_id")
    else:
        op.drop_constraint(op.f(FK_NAME), "organisation", type_="foreignkey")
        op.drop_column("organisation", "authority_id")
