"""Hash-chained audit log: seq, prev_hash and hash on audit_record; existing records chained in (at, id) order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:50:00.000000+00:00
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
BATCH = 1000

# Frozen copy of the rule in cirqliz.issuance.audit (a migration must not change when the code does);
# tests/integration/test_audit_chain.py checks that verify_chain accepts what this migration writes.
_audit = sa.table(
    "audit_record",
    sa.column("id", sa.Uuid()),
    sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("action", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _hash(prev: str, seq: int, row: sa.Row) -> str:
    data = {
        "seq": seq,
        "at": row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": str(row.actor_id) if row.actor_id is not None else None,
        "entity": row.entity,
        "entity_id": str(row.entity_id),
        "action": row.action,
        "before": row.before,
        "after": row.after,
    }
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass")
    return hashlib.sha256(prev.encode("ascii") + canonical).hexdigest()


def _chain_existing() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_audit.c.id, _audit.c.at, _audit.c.actor_id, _audit.c.entity, _audit.c.entity_id,
                                  _audit.c.action, _audit.c.before, _audit.c.after)
                        .order_by(_audit.c.at, _audit.c.id)).all()
    prev, updates = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        prev = _hash(prev, seq, row)
        updates.append({"rid": row.id, "seq": seq, "prev_hash": updates[-1]["hash"] if updates else GENESIS,
                        "hash": prev})
    statement = (sa.update(_audit).where(_audit.c.id == sa.bindparam("rid"))
                 .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash")))
    for start in range(0, len(updates), BATCH):
        bind.execute(statement, updates[start:start + BATCH])


def upgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _chain_existing()
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_record_seq"), ["seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_record_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
