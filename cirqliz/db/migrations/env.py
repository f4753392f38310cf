"""Alembic environment: async engines, batch mode on SQLite, our metadata as the target."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from cirqliz.db import models  # noqa: F401  (registers the tables)
from cirqliz.db.base import metadata
from cirqliz.db.engine import create_engine
from cirqliz.settings import Settings

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_server_default=True,
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    # Migrating needs only the URL: do not demand the application's secrets here.
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("CIRQLIZ_DATABASE_URL")
        or Settings().database_url
    )


async def _run_async() -> None:
    engine = create_engine(Settings(database_url=_database_url()))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Emit SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=_database_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)  # a caller (e.g. a test) lent us its connection
else:
    asyncio.run(_run_async())
