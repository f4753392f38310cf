"""PostgreSQL test databases: created from the server in CIRQLIZ_TEST_POSTGRES, dropped after.

A plain module (not a conftest) so that any test folder can import it without ambiguity.
"""

from __future__ import annotations

import os
import queue
import threading
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


class DatabasePool:
    """Takes the server's slow work off the tests' path, for one test process: the next copy of a
    template is made while the current test runs, and used databases are dropped in the background
    (CREATE and DROP DATABASE each cost a few hundred milliseconds, more on a busy machine).

    One thread makes copies, another drops; `close()` waits for both and drops the copies nobody took.
    """

    def __init__(self) -> None:
        self._creates: queue.Queue[tuple[str, queue.Queue[str | BaseException]] | None] = queue.Queue()
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._ready: dict[str, queue.Queue[str | BaseException]] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._create_loop, name="cirqliz-test-db-create", daemon=True),
            threading.Thread(target=self._drop_loop, name="cirqliz-test-db-drop", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _create_loop(self) -> None:
        while (job := self._creates.get()) is not None:
            template, ready = job
            try:
                ready.put(create_pg_database(template=template))
            except Exception as exc:  # handed to the test that takes this copy
                ready.put(exc)

    def _drop_loop(self) -> None:
        while (name := self._drops.get()) is not None:
            try:
                drop_pg_database(name)
            except Exception:  # a database left behind is harmless: never fail a test for it
                pass

    def _prepare(self, template: str) -> None:
        with self._lock:
            ready = self._ready.setdefault(template, queue.Queue())
            self._pending[template] = self._pending.get(template, 0) + 1
        self._creates.put((template, ready))

    def take(self, template: str | None = None) -> str:
        """A new database (a copy of `template` when given, made ahead of time); prepares the next copy."""
        if template is None:
            return create_pg_database()
        with self._lock:
            waiting = self._pending.get(template, 0)
            if waiting:
                self._pending[template] = waiting - 1
            ready = self._ready.get(template)
        if waiting and ready is not None:
            made = ready.get(timeout=300)
            if isinstance(made, BaseException):
                raise made
        else:
            made = create_pg_database(template=template)
        self._prepare(template)
        return made

    def release(self, name: str) -> None:
        """Drop `name` in the background (its connections are closed by force)."""
        self._drops.put(name)

    def forget(self, template: str) -> None:
        """Wait for the copies of `template` being made and drop them (call before dropping the template)."""
        with self._lock:
            waiting = self._pending.pop(template, 0)
            ready = self._ready.pop(template, None)
        for _ in range(waiting if ready is not None else 0):
            made = ready.get(timeout=300)
            if isinstance(made, str):
                self.release(made)

    def close(self) -> None:
        """Drop the copies nobody took, finish every drop, stop the threads."""
        for template in list(self._ready):
            self.forget(template)
        self._creates.put(None)
        self._drops.put(None)
        for thread in self._threads:
            thread.join(timeout=300)
