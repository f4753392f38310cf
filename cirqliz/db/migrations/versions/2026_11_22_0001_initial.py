"""Initial schema: organisations, users, vehicles, zones, rules, applications, passes, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:45:30.139174+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("siren", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=True),
        sa.Column("next_zone_ref", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind <> 'company' OR siren IS NOT NULL", name=op.f("ck_organisation_company_has_siren")),
        sa.CheckConstraint("kind IN ('authority', 'organiser', 'company')", name=op.f("ck_organisation_kind")),
        sa.CheckConstraint("next_zone_ref > 0", name=op.f("ck_organisation_next_zone_ref_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
        sa.UniqueConstraint("siret", name=op.f("uq_organisation_siret")),
    )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_siren"), ["siren"], unique=False)

    op.create_table(
        "user_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("applicant_id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.Integer(), nullable=False),
        sa.Column("not_before", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'needs_info', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_application_status"),
        ),
        sa.CheckConstraint("expires_at > not_before", name=op.f("ck_application_period_order")),
        sa.CheckConstraint("purpose IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 99)", name=op.f("ck_application_purpose")),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["user_account.id"], name=op.f("fk_application_applicant_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organisation.id"], name=op.f("fk_application_authority_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user_account.id"], name=op.f("fk_application_decided_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_application_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
    )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_application_authority_id"), ["authority_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_application_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_application_status"), ["status"], unique=False)

    op.create_table(
        "audit_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_audit_record_actor_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
    )
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_record_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_record_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organiser_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_event_ends_after_start")),
        sa.ForeignKeyConstraint(["organiser_id"], ["organisation.id"], name=op.f("fk_event_organiser_id_organisation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_organiser_id"), ["organiser_id"], unique=False)

    op.create_table(
        "membership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('authority_admin', 'reviewer', 'organiser', 'professional', 'agent')",
            name=op.f("ck_membership_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_membership_organisation_id_organisation")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_membership_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint(
            "user_id", "organisation_id", "role", name=op.f("uq_membership_user_id_organisation_id_role")
        ),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membership_user_id"), ["user_id"], unique=False)

    op.create_table(
        "vehicle",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("crit_air", sa.Integer(), nullable=True),
        sa.Column("energy", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("gross_weight_kg", sa.Integer(), nullable=True),
        sa.Column("length_cm", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "category IN ('L1e', 'L2e', 'L3e', 'L4e', 'L5e', 'L6e', 'L7e', 'M1', 'M2', 'M3', 'N1', 'N2', 'N3')",
            name=op.f("ck_vehicle_category"),
        ),
        sa.CheckConstraint(
            "energy IN ('petrol', 'diesel', 'electric', 'hydrogen', 'hybrid_petrol', "
            "'hybrid_diesel', 'plugin_hybrid', 'lpg', 'natural_gas', 'other')",
            name=op.f("ck_vehicle_energy"),
        ),
        sa.CheckConstraint("crit_air IS NULL OR (crit_air BETWEEN 0 AND 5)", name=op.f("ck_vehicle_crit_air_range")),
        sa.CheckConstraint("gross_weight_kg IS NULL OR gross_weight_kg > 0", name=op.f("ck_vehicle_weight_positive")),
        sa.CheckConstraint("length_cm IS NULL OR length_cm > 0", name=op.f("ck_vehicle_length_positive")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_vehicle_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle")),
        sa.UniqueConstraint("organisation_id", "plate", name=op.f("uq_vehicle_organisation_id_plate")),
    )
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vehicle_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vehicle_plate"), ["plate"], unique=False)

    op.create_table(
        "access_pass",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("purpose", sa.Integer(), nullable=False),
        sa.Column("not_before", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("zone_refs", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("signed_text", sa.Text(), nullable=True),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'revoked', 'expired')", name=op.f("ck_access_pass_status")
        ),
        sa.CheckConstraint("expires_at > not_before", name=op.f("ck_access_pass_period_order")),
        sa.CheckConstraint("purpose IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 99)", name=op.f("ck_access_pass_purpose")),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_access_pass_application_id_application")
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["organisation.id"], name=op.f("fk_access_pass_authority_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["user_account.id"], name=op.f("fk_access_pass_issued_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicle.id"], name=op.f("fk_access_pass_vehicle_id_vehicle")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_pass")),
        sa.UniqueConstraint("application_id", "vehicle_id", name=op.f("uq_access_pass_application_id_vehicle_id")),
        sa.UniqueConstraint("serial", name=op.f("uq_access_pass_serial")),
    )
    with op.batch_alter_table("access_pass", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_pass_authority_id"), ["authority_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_pass_plate"), ["plate"], unique=False)
        batch_op.create_index("ix_access_pass_status_expires_at", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_pass_vehicle_id"), ["vehicle_id"], unique=False)

    op.create_table(
        "application_transition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "action IN ('submit', 'request_info', 'provide_info', 'approve', 'reject', 'withdraw')",
            name=op.f("ck_application_transition_action"),
        ),
        sa.CheckConstraint(
            "from_status IN ('draft', 'submitted', 'needs_info', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_application_transition_from_status"),
        ),
        sa.CheckConstraint(
            "to_status IN ('draft', 'submitted', 'needs_info', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_application_transition_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_application_transition_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_application_transition_application_id_application")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_transition")),
    )
    with op.batch_alter_table("application_transition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_application_transition_application_id"), ["application_id"], unique=False)

    op.create_table(
        "application_vehicle",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("vehicle_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_application_vehicle_application_id_application")
        ),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicle.id"], name=op.f("fk_application_vehicle_vehicle_id_vehicle")),
        sa.PrimaryKeyConstraint("application_id", "vehicle_id", name=op.f("pk_application_vehicle")),
    )
    op.create_table(
        "supporting_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("uploaded_by_id", sa.Uuid(), nullable=True),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_supporting_document_content_type"),
        ),
        sa.CheckConstraint("size > 0 AND size <= 10485760", name=op.f("ck_supporting_document_size_range")),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_supporting_document_application_id_application")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user_account.id"], name=op.f("fk_supporting_document_uploaded_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporting_document")),
        sa.UniqueConstraint("application_id", "sha256", name=op.f("uq_supporting_document_application_id_sha256")),
    )
    with op.batch_alter_table("supporting_document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supporting_document_application_id"), ["application_id"], unique=False)

    op.create_table(
        "zone",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("delegated_to_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('limited_traffic', 'pedestrian', 'low_emission', 'event_perimeter')", name=op.f("ck_zone_kind")
        ),
        sa.CheckConstraint("status IN ('draft', 'active', 'suspended', 'archived')", name=op.f("ck_zone_status")),
        sa.CheckConstraint(
            "permanent OR (starts_on IS NOT NULL AND ends_on IS NOT NULL AND starts_on <= ends_on)",
            name=op.f("ck_zone_temporary_has_dates"),
        ),
        sa.CheckConstraint("ref > 0", name=op.f("ck_zone_ref_positive")),
        sa.ForeignKeyConstraint(["authority_id"], ["organisation.id"], name=op.f("fk_zone_authority_id_organisation")),
        sa.ForeignKeyConstraint(
            ["delegated_to_id"], ["organisation.id"], name=op.f("fk_zone_delegated_to_id_organisation")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_zone_event_id_event")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("authority_id", "code", name=op.f("uq_zone_authority_id_code")),
        sa.UniqueConstraint("authority_id", "ref", name=op.f("uq_zone_authority_id_ref")),
    )
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_authority_id"), ["authority_id"], unique=False)

    op.create_table(
        "access_rule",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("windows", sa.JSON(), nullable=True),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("max_crit_air", sa.Integer(), nullable=True),
        sa.Column("max_weight_kg", sa.Integer(), nullable=True),
        sa.Column("max_length_cm", sa.Integer(), nullable=True),
        sa.Column("quota_days_per_year", sa.Integer(), nullable=True),
        sa.Column("max_pass_days", sa.Integer(), nullable=True),
        sa.Column("review_mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("review_mode IN ('automatic', 'manual')", name=op.f("ck_access_rule_review_mode")),
        sa.CheckConstraint(
            "max_crit_air IS NULL OR (max_crit_air BETWEEN 0 AND 5)", name=op.f("ck_access_rule_max_crit_air_range")
        ),
        sa.CheckConstraint("max_pass_days IS NULL OR max_pass_days > 0", name=op.f("ck_access_rule_max_days_positive")),
        sa.CheckConstraint(
            "quota_days_per_year IS NULL OR quota_days_per_year >= 0", name=op.f("ck_access_rule_quota_not_negative")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_access_rule_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_rule")),
    )
    with op.batch_alter_table("access_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_rule_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "application_zone",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_application_zone_application_id_application")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_application_zone_zone_id_zone")),
        sa.PrimaryKeyConstraint("application_id", "zone_id", name=op.f("pk_application_zone")),
    )
    op.create_table(
        "exemption",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("pass_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('national', 'local', 'day_pass')", name=op.f("ck_exemption_kind")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_exemption_dates_order")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_exemption_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["pass_id"], ["access_pass.id"], name=op.f("fk_exemption_pass_id_access_pass")),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicle.id"], name=op.f("fk_exemption_vehicle_id_vehicle")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_exemption_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exemption")),
    )
    with op.batch_alter_table("exemption", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exemption_plate"), ["plate"], unique=False)
        batch_op.create_index(batch_op.f("ix_exemption_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "pass_check",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("pass_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=True),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("plate_seen", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["user_account.id"], name=op.f("fk_pass_check_agent_id_user_account")),
        sa.ForeignKeyConstraint(["pass_id"], ["access_pass.id"], name=op.f("fk_pass_check_pass_id_access_pass")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_pass_check_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_check")),
    )
    with op.batch_alter_table("pass_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pass_check_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pass_check_serial"), ["serial"], unique=False)

    op.create_table(
        "pass_zone",
        sa.Column("pass_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["pass_id"], ["access_pass.id"], name=op.f("fk_pass_zone_pass_id_access_pass")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_pass_zone_zone_id_zone")),
        sa.PrimaryKeyConstraint("pass_id", "zone_id", name=op.f("pk_pass_zone")),
    )
    with op.batch_alter_table("pass_zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pass_zone_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "revocation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pass_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["pass_id"], ["access_pass.id"], name=op.f("fk_revocation_pass_id_access_pass")),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["user_account.id"], name=op.f("fk_revocation_revoked_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation")),
        sa.UniqueConstraint("pass_id", name=op.f("uq_revocation_pass_id")),
    )


def downgrade() -> None:
    op.drop_table("revocation")
    with op.batch_alter_table("pass_zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pass_zone_zone_id"))

    op.drop_table("pass_zone")
    with op.batch_alter_table("pass_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pass_check_serial"))
        batch_op.drop_index(batch_op.f("ix_pass_check_agent_id"))

    op.drop_table("pass_check")
    with op.batch_alter_table("exemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exemption_zone_id"))
        batch_op.drop_index(batch_op.f("ix_exemption_plate"))

    op.drop_table("exemption")
    op.drop_table("application_zone")
    with op.batch_alter_table("access_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_rule_zone_id"))

    op.drop_table("access_rule")
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_authority_id"))

    op.drop_table("zone")
    with op.batch_alter_table("supporting_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supporting_document_application_id"))

    op.drop_table("supporting_document")
    op.drop_table("application_vehicle")
    with op.batch_alter_table("application_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_transition_application_id"))

    op.drop_table("application_transition")
    with op.batch_alter_table("access_pass", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_pass_vehicle_id"))
        batch_op.drop_index("ix_access_pass_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_access_pass_plate"))
        batch_op.drop_index(batch_op.f("ix_access_pass_authority_id"))

    op.drop_table("access_pass")
    with op.batch_alter_table("vehicle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vehicle_plate"))
        batch_op.drop_index(batch_op.f("ix_vehicle_organisation_id"))

    op.drop_table("vehicle")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_user_id"))
        batch_op.drop_index(batch_op.f("ix_membership_organisation_id"))

    op.drop_table("membership")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_organiser_id"))

    op.drop_table("event")
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_record_entity")
        batch_op.drop_index(batch_op.f("ix_audit_record_at"))

    op.drop_table("audit_record")
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_status"))
        batch_op.drop_index(batch_op.f("ix_application_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_application_authority_id"))

    op.drop_table("application")
    op.drop_table("user_account")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_siren"))

    op.drop_table("organisation")
