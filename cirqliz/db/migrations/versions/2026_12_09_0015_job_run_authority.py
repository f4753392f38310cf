"""The authority a job run worked for (`job_run.authority_id`, null for a platform-wide run): an
authority's jobs page lists its own runs and the platform's, never another authority's.

Existing bulk approval runs ("acceptation_groupee") are attached to the authority their detail
names (JSON `authority_id`); every other existing run stays platform-wide.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_job_run_authority_id_organisation"
INDEX_NAME = "ix_job_run_authority_id"
BULK = "acceptation_groupee"  # cirqliz.issuance.bulk_approval.JOB_NAME (a migration never imports the app)

# Only ids of existing authorities are taken (a detail naming anything else leaves the run unattached).
BACKFILL = {
    "sqlite": """
        UPDATE job_run SET authority_id = (
            SELECT o.id FROM organisation o
            WHERE o.id = replace(json_extract(job_run.detail, '$.authority_id'), '-', '') AND o.kind = 'authority')
        WHERE name = :bulk AND authority_id IS NULL AND json_valid(detail)""",
    # CASE: a detail that is not a JSON object is never cast (the cast would fail the migration).
    "postgresql": """
        UPDATE job_run SET authority_id = o.id FROM organisation o
        WHERE job_run.name = :bulk AND job_run.authority_id IS NULL AND o.kind = 'authority'
          AND o.id::text = CASE WHEN job_run.detail LIKE '{%}' THEN job_run.detail::json ->> 'authority_id' END""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place (no table rebuild).
        op.execute(f"ALTER TABLE job_run ADD COLUMN authority_id CHAR(32) "
                   f"CONSTRAINT {FK_NAME} REFERENCES organisation (id)")
    else:
        op.add_column("job_run", sa.Column("authority_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f(FK_NAME), "job_run", "organisation", ["authority_id"], ["id"])
    op.create_index(op.f(INDEX_NAME), "job_run", ["authority_id"], unique=False)
    if dialect in BACKFILL:
        op.execute(sa.text(BACKFILL[dialect]).bindparams(bulk=BULK))


def downgrade() -> None:
    op.drop_index(op.f(INDEX_NAME), table_name="job_run")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot DROP COLUMN a column with a foreign key: rebuild the table without it.
        with op.batch_alter_table("job_run", schema=None, recreate="always") as batch_op:
            batch_op.drop_column("authority_id")
    else:
        op.drop_constraint(op.f(FK_NAME), "job_run", type_="foreignkey")
        op.drop_column("job_run", "authority_id")
