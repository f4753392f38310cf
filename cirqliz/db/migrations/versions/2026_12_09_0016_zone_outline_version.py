"""A version of each zone's outline (issue 18: publishing right after a change).

- zone.geometry_version: set by the database, never by the application, to a new value whenever a
  zone is inserted or its geometry changes (any writer: ORM, bulk UPDATE, import, SQL by hand); a
  value written by hand into the column is replaced by a new one too. The publisher keeps each
  zone's simplified outline per (zone id, geometry_version) in its process and reads the outline
  (kilobytes per zone) only for the zones whose pair it does not hold.
- A value is a random 63-bit number, so none is given twice (a repeat is as unlikely as a hash
  collision), even after a rollback, to a zone deleted and inserted again with the same id, or in
  two copies of one database (test templates, a restored backup): a kept outline is never taken
  for another. A counter would repeat in each of these cases.

PostgreSQL: row-level BEFORE triggers (INSERT; UPDATE OF geometry, geometry_version when either
differs: JSON has no equality, the text is compared). SQLite: row-level AFTER triggers that
update the row again (recursive triggers are off: the inner update does not fire them again).
A later migration that rebuilds the zone table on SQLite (batch mode "recreate") drops its
triggers: it must create them again, these (create_triggers below) and migration 0014's;
tests/integration/test_zone_outline_version.py fails on both databases when one is missing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSERT_TRIGGER = "zone_geometry_version_insert"
UPDATE_TRIGGER = "zone_geometry_version_update"
FUNCTION = "zone_geometry_version_next"
NEW_VALUE = {  # 63 random bits, non-negative
    "postgresql": "(('x' || substr(md5(gen_random_uuid()::text), 1, 16))::bit(64)::bigint & 9223372036854775807)",
    "sqlite": "(random() & 9223372036854775807)",
}


def create_triggers() -> None:
    """The triggers that give zone.geometry_version a new value (both databases)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN NEW.geometry_version := {NEW_VALUE['postgresql']}; RETURN NEW; END $$")
        op.execute(f"CREATE TRIGGER {INSERT_TRIGGER} BEFORE INSERT ON zone FOR EACH ROW "
                   f"EXECUTE FUNCTION {FUNCTION}()")
        op.execute(f"CREATE TRIGGER {UPDATE_TRIGGER} BEFORE UPDATE OF geometry, geometry_version ON zone "
                   "FOR EACH ROW WHEN (NEW.geometry::text IS DISTINCT FROM OLD.geometry::text "
                   "OR NEW.geometry_version IS DISTINCT FROM OLD.geometry_version) "
                   f"EXECUTE FUNCTION {FUNCTION}()")
        return
    again = f"UPDATE zone SET geometry_version = {NEW_VALUE['sqlite']} WHERE rowid = NEW.rowid"  # noqa: S608 (constants)
    op.execute(f"CREATE TRIGGER {INSERT_TRIGGER} AFTER INSERT ON zone FOR EACH ROW BEGIN {again}; END")
    op.execute(f"CREATE TRIGGER {UPDATE_TRIGGER} AFTER UPDATE OF geometry, geometry_version ON zone FOR EACH ROW "
               "WHEN NEW.geometry IS NOT OLD.geometry OR NEW.geometry_version IS NOT OLD.geometry_version "
               f"BEGIN {again}; END")


def drop_triggers() -> None:
    """Drop the triggers (both databases)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in (INSERT_TRIGGER, UPDATE_TRIGGER):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON zone" if postgres else f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


def upgrade() -> None:
    # ADD COLUMN: no rebuild of the zone table on SQLite, migration 0014's triggers stay.
    op.add_column("zone", sa.Column("geometry_version", sa.BigInteger(), server_default="0", nullable=False))
    op.execute(f"UPDATE zone SET geometry_version = {NEW_VALUE[op.get_bind().dialect.name]}")  # noqa: S608 (constants)
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    # ALTER TABLE … DROP COLUMN, not batch mode: no rebuild on SQLite, migration 0014's triggers stay.
    op.drop_column("zone", "geometry_version")
