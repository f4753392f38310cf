"""Many rows into one table in one round trip: COPY on PostgreSQL (asyncpg), executemany elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DatabaseError, IntegrityError

COPY_MIN_ROWS = 32
"""Fewer rows go through INSERT: COPY's gain is per row, and a connection's first COPY into a
table costs one more round trip (asyncpg reads the table's column types)."""

_PROCESSORS: dict[tuple[str, Table, tuple[str, ...]], list[Callable[[Any], Any] | None]] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (every row with the same keys, every key a column) into `table`, with the
    values SQLAlchemy's INSERT would store. Needs a transaction already begun by a statement (the
    driver's COPY does not begin one). A constraint violation raises IntegrityError either way."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg" or len(rows) < COPY_MIN_ROWS:
        connection.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    # Column by column: C loops (map, zip) rather than a Python loop per value.
    columns = [list(map(itemgetter(name), rows)) for name in names]
    for position, process in enumerate(_processors(dialect, table, names)):
        if process is not None:
            columns[position] = list(map(process, columns[position]))
    records = list(zip(*columns, strict=True))
    driver = connection.connection.dbapi_connection
    assert driver is not None
    import asyncpg  # only with the asyncpg driver

    try:
        driver.run_async(lambda raw: raw.copy_records_to_table(
            table.name, records=records, columns=list(names), schema_name=table.schema))
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"COPY {table.name}", None, exc) from exc


def _processors(dialect: Dialect, table: Table, names: tuple[str, ...]) -> list[Callable[[Any], Any] | None]:
    """The columns' bind processors (JSON serialisation, …), what an INSERT applies to each value."""
    key = (dialect.name, table, names)
    found = _PROCESSORS.get(key)
    if found is None:
        found = _PROCESSORS[key] = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                                    for name in names]
    return found
