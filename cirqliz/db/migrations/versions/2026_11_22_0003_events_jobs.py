"""Events, temporary zones and their schedules, incident closures, organisers' passes, job runs (issue 6).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:33:58.653417+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("tick", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.CheckConstraint("outcome IN ('running', 'ok', 'skipped', 'failed')", name=op.f("ck_job_run_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index("ix_job_run_name_tick", ["name", "tick"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_run_started_at"), ["started_at"], unique=False)

    op.create_table(
        "event_approval",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("pass_quota", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected')", name=op.f("ck_event_approval_status")
        ),
        sa.CheckConstraint("pass_quota >= 0", name=op.f("ck_event_approval_quota_not_negative")),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organisation.id"], name=op.f("fk_event_approval_authority_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user_account.id"], name=op.f("fk_event_approval_decided_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_event_approval_event_id_event")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_approval")),
    )
    with op.batch_alter_table("event_approval", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_approval_authority_id"), ["authority_id"], unique=False)

    op.create_table(
        "event_pass",
        sa.Column("pass_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("company", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_event_pass_event_id_event")),
        sa.ForeignKeyConstraint(["pass_id"], ["access_pass.id"], name=op.f("fk_event_pass_pass_id_access_pass")),
        sa.PrimaryKeyConstraint("pass_id", name=op.f("pk_event_pass")),
    )
    with op.batch_alter_table("event_pass", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_pass_event_id"), ["event_id"], unique=False)

    op.create_table(
        "temporary_zone",
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("auto_switch", sa.Boolean(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("source_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("level IS NULL OR level IN ('red', 'blue')", name=op.f("ck_temporary_zone_level")),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organisation.id"], name=op.f("fk_temporary_zone_authority_id_organisation")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_temporary_zone_event_id_event")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_temporary_zone_zone_id_zone")),
        sa.PrimaryKeyConstraint("zone_id", name=op.f("pk_temporary_zone")),
        sa.UniqueConstraint(
            "authority_id", "source", "source_id", name=op.f("uq_temporary_zone_authority_id_source_source_id")
        ),
    )
    with op.batch_alter_table("temporary_zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_temporary_zone_authority_id"), ["authority_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_temporary_zone_event_id"), ["event_id"], unique=False)

    op.create_table(
        "zone_closure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("lifted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_zone_closure_period_order")),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organisation.id"], name=op.f("fk_zone_closure_authority_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_zone_closure_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_closure_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_closure")),
    )
    with op.batch_alter_table("zone_closure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_closure_authority_id"), ["authority_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_zone_closure_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "zone_schedule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("source_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_zone_schedule_period_order")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_schedule_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_schedule")),
        sa.UniqueConstraint(
            "zone_id",
            "source",
            "source_ref",
            "starts_at",
            name=op.f("uq_zone_schedule_zone_id_source_source_ref_starts_at"),
        ),
    )
    with op.batch_alter_table("zone_schedule", schema=None) as batch_op:
        batch_op.create_index("ix_zone_schedule_bounds", ["starts_at", "ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_zone_schedule_zone_id"), ["zone_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("zone_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_schedule_zone_id"))
        batch_op.drop_index("ix_zone_schedule_bounds")

    op.drop_table("zone_schedule")
    with op.batch_alter_table("zone_closure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_closure_zone_id"))
        batch_op.drop_index(batch_op.f("ix_zone_closure_authority_id"))

    op.drop_table("zone_closure")
    with op.batch_alter_table("temporary_zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temporary_zone_event_id"))
        batch_op.drop_index(batch_op.f("ix_temporary_zone_authority_id"))

    op.drop_table("temporary_zone")
    with op.batch_alter_table("event_pass", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_pass_event_id"))

    op.drop_table("event_pass")
    with op.batch_alter_table("event_approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_approval_authority_id"))

    op.drop_table("event_approval")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_run_started_at"))
        batch_op.drop_index("ix_job_run_name_tick")

    op.drop_table("job_run")
