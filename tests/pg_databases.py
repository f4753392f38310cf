"""PostgreSQL test databases: created from the server in CIRQLIZ_TEST_POSTGRES, dropped after.

A plain module (not a conftest) so that any test folder can import it without ambiguity.
"""

from __future__ import annotations

import os
import uuid

import psycopg
from sqlalchemy.engine import URL, make_url

POSTGRES_SERVER = os.environ.get("CIRQLIZ_TEST_POSTGRES",
                                 "postgresql://postgres@127.0.0.1:5432/postgres")


def server_url() -> URL:
    """The server the tests create their databases on."""
    return make_url(POSTGRES_SERVER)


def admin_connect() -> psycopg.Connection:
    """An autocommit connection to the server's maintenance database."""
    url = server_url()
    return psycopg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, dbname=url.database or "postgres", autocommit=True,
        connect_timeout=3,
    )


def pg_url(database: str) -> str:
    """The application URL (asyncpg) of one database on the server."""
    return server_url().set(drivername="postgresql+asyncpg", database=database).render_as_string(
        hide_password=False)


def create_pg_database(template: str | None = None) -> str:
    """Create a database with a unique name, optionally copied from a template; return its name."""
    name = f"cirqliz_test_{uuid.uuid4().hex[:12]}"
    with admin_connect() as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{suffix}")
    return name


def drop_pg_database(name: str) -> None:
    """Drop a database, closing its connections."""
    with admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
