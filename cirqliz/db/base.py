"""Metadata conventions shared by every table (imported before any table is defined)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from sqlalchemy import CheckConstraint
from sqlmodel import SQLModel

# Same constraint names on SQLite and PostgreSQL: Alembic batch mode drops unnamed CHECKs.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

metadata = SQLModel.metadata


def check_in(column: str, values: Iterable[str | Enum], *, nullable: bool = False) -> CheckConstraint:
    """CHECK that a string column holds one of `values` (instead of a PostgreSQL enum type)."""
    items = ", ".join(f"'{v.value if isinstance(v, Enum) else v}'" for v in values)
    condition = f"{column} IN ({items})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


def check_between(column: str, low: int, high: int) -> CheckConstraint:
    """CHECK that a nullable integer column lies in [low, high]."""
    return CheckConstraint(f"{column} IS NULL OR ({column} BETWEEN {low} AND {high})",
                           name=f"{column}_range")
