"""Indexes for the lists at city scale (issue 18): each list page reads one page of rows along an
index instead of sorting or scanning a whole table.

- application (organisation_id, created_at): a company's applications, newest first;
- application (authority_id, status, submitted_at): the review queue of one status, in order;
- access_pass (authority_id, issued_at): the authority's passes, newest first;
- access_pass (authority_id, status): the pass list's counts by status, capped, read in the index;
  the single-column access_pass authority_id index is dropped (both new ones start with that
  column), so issuing a pass updates as many indexes as before;
- pass_check checked_at, zone_id, pass_id: the checks page walks checked_at newest first and
  probes each check's zone and pass (the authority scoping);
- pass_check clock_offset_s: the checks made with a phone clock far off are few; found by this
  index instead of walking every check.

Plain CREATE INDEX on both databases (no table rebuild).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_application_organisation_created", "application", ["organisation_id", "created_at"]),
    ("ix_application_authority_status_submitted", "application", ["authority_id", "status", "submitted_at"]),
    ("ix_access_pass_authority_issued", "access_pass", ["authority_id", "issued_at"]),
    ("ix_access_pass_authority_status", "access_pass", ["authority_id", "status"]),
    ("ix_pass_check_checked_at", "pass_check", ["checked_at"]),
    ("ix_pass_check_zone_id", "pass_check", ["zone_id"]),
    ("ix_pass_check_pass_id", "pass_check", ["pass_id"]),
    ("ix_pass_check_clock_offset_s", "pass_check", ["clock_offset_s"]),
)


# Made redundant by the two-column indexes above that start with the same column.
DROPPED = (("ix_access_pass_authority_id", "access_pass", ["authority_id"]),)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
