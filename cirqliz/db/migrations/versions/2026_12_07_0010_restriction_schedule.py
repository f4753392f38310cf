"""Restriction schedule and provenance in fields (ADR 0007); goods-traffic orders without geometry.

- zone: restriction_hours, restriction_windows (when the restriction is in force), source, source_id,
  url_order, url_site, source_properties;
- access_rule: source, source_id, vehicle_class, critair_from, min_weight_kg, max_width_cm, max_height_cm;
- traffic_order: Cerema orders whose place has no geometry yet.

Data: the `[source:id] label` markers of imported rules move into the new fields; the hours an
import had put on its rules (the source's restriction hours) move to the zone's restriction
schedule, and those rules then admit holders at any time while it is in force.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:30:00.000000+00:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK = re.compile(r"^\[(?P<source>[a-z0-9_-]+):(?P<source_id>[^\]]+)\]\s?(?P<label>.*)$", re.S)
_ZFE_CLASSES = ("vp", "vul", "pl", "autobus_autocars", "deux_rm")
_CRITAIR = ("EL", "V1", "V2", "V3", "V4", "V5", "NC")
_ALWAYS = ("", "24/7")


def _text(length: int | None = None) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length) if length else sa.Text()


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no batch copy of `zone`, which other tables reference).
    op.add_column("zone", sa.Column("restriction_hours", sa.Text(), nullable=True))
    op.add_column("zone", sa.Column("restriction_windows", sa.JSON(), nullable=True))
    op.add_column("zone", sa.Column("source", _text(32), nullable=False, server_default=sa.text("''")))
    op.add_column("zone", sa.Column("source_id", _text(200), nullable=False, server_default=sa.text("''")))
    op.add_column("zone", sa.Column("url_order", sa.Text(), nullable=True))
    op.add_column("zone", sa.Column("url_site", sa.Text(), nullable=True))
    op.add_column("zone", sa.Column("source_properties", sa.JSON(), nullable=True))
    op.add_column("access_rule", sa.Column("source", _text(32), nullable=False, server_default=sa.text("''")))
    op.add_column("access_rule", sa.Column("source_id", _text(200), nullable=False, server_default=sa.text("''")))
    op.add_column("access_rule", sa.Column("vehicle_class", _text(24), nullable=False, server_default=sa.text("''")))
    op.add_column("access_rule", sa.Column("critair_from", _text(4), nullable=True))
    op.add_column("access_rule", sa.Column("min_weight_kg", sa.Integer(), nullable=True))
    op.add_column("access_rule", sa.Column("max_width_cm", sa.Integer(), nullable=True))
    op.add_column("access_rule", sa.Column("max_height_cm", sa.Integer(), nullable=True))
    op.create_table(
        "traffic_order",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=False),
        sa.Column("source", _text(32), nullable=False),
        sa.Column("source_id", _text(200), nullable=False),
        sa.Column("code", _text(32), nullable=False),
        sa.Column("name", _text(200), nullable=False),
        sa.Column("insee", _text(5), nullable=False),
        sa.Column("order_ref", _text(200), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=True),
        sa.Column("order_object", sa.Text(), nullable=False),
        sa.Column("restriction_hours", sa.Text(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('to_locate', 'located')", name=op.f("ck_traffic_order_status")),
        sa.ForeignKeyConstraint(["authority_id"], ["organisation.id"],
                                name=op.f("fk_traffic_order_authority_id_organisation")),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_traffic_order_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traffic_order")),
        sa.UniqueConstraint("authority_id", "source", "source_id",
                            name=op.f("uq_traffic_order_authority_id_source_source_id")),
    )
    with op.batch_alter_table("traffic_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_traffic_order_authority_id"), ["authority_id"], unique=False)
    _move_markers_into_fields()


def _move_markers_into_fields() -> None:
    bind = op.get_bind()
    zone = sa.table("zone", sa.column("id", sa.Uuid()), sa.column("source", sa.String()),
                    sa.column("source_id", sa.String()), sa.column("restriction_hours", sa.Text()),
                    sa.column("restriction_windows", sa.JSON()), sa.column("source_properties", sa.JSON()))
    rule = sa.table("access_rule", sa.column("id", sa.Uuid()), sa.column("zone_id", sa.Uuid()),
                    sa.column("name", sa.String()), sa.column("opening_hours", sa.Text()),
                    sa.column("windows", sa.JSON()), sa.column("source", sa.String()),
                    sa.column("source_id", sa.String()), sa.column("vehicle_class", sa.String()),
                    sa.column("critair_from", sa.String()))
    imported: dict[object, list[tuple[str, str, str, str | None, object]]] = {}
    for rule_id, zone_id, name, hours, windows in bind.execute(
            sa.select(rule.c.id, rule.c.zone_id, rule.c.name, rule.c.opening_hours, rule.c.windows)).all():
        match = _MARK.match(name or "")
        if not match:
            continue
        source, source_id, label = match["source"], match["source_id"], match["label"].strip()
        values = {"source": source, "source_id": source_id, "name": label or source_id,
                  "opening_hours": None, "windows": None}
        parts = label.split()
        if source == "zfe" and len(parts) >= 2 and parts[0] in _ZFE_CLASSES and parts[1] in _CRITAIR:
            values.update(vehicle_class=parts[0], critair_from=parts[1])
        bind.execute(sa.update(rule).where(rule.c.id == rule_id).values(**values))
        imported.setdefault(zone_id, []).append((source, source_id, parts[0] if parts else "", hours, windows))
    for zone_id, rules in imported.items():
        source, source_id = rules[0][0], rules[0][1]
        hours = {h or "" for *_, h, _w in rules}
        values: dict[str, object] = {"source": source, "source_id": source_id}
        if len(hours) == 1:
            text = hours.pop()
            if text not in _ALWAYS:
                values["restriction_hours"] = text
                values["restriction_windows"] = rules[0][4]
        else:
            # Hours that differ per vehicle class: the zone is restricted when any class is; each
            # class's own hours stay as the source gave them (ZFE `<class>_horaires`).
            windows = [w for *_, w in rules for w in (w or [])]
            if all(w for *_, w in rules) and windows:
                values["restriction_windows"] = windows
            values["source_properties"] = {f"{cls}_horaires": h for _s, _i, cls, h, _w in rules if cls}
        bind.execute(sa.update(zone).where(zone.c.id == zone_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("traffic_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traffic_order_authority_id"))
    op.drop_table("traffic_order")
    for column in ("max_height_cm", "max_width_cm", "min_weight_kg", "critair_from", "vehicle_class",
                   "source_id", "source"):
        op.drop_column("access_rule", column)
    for column in ("source_properties", "url_site", "url_order", "source_id", "source", "restriction_windows",
                   "restriction_hours"):
        op.drop_column("zone", column)
