"""`cirqliz serve` keeps idle connections longer than clients and proxies do.

With uvicorn's default (5 s, the same as httpx's keep-alive expiry) a client that reuses a
connection just as the server closes it loses its request: the load run saw it as a dropped POST.
"""

from __future__ import annotations

import http.client
import time
from pathlib import Path

from .harness import prepare_database, server_env, start_server

IDLE = 6.5  # longer than uvicorn's default keep-alive (5 s)


def test_an_idle_keep_alive_connection_stays_open(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
    prepare_database(database_url, tmp_path / "keys")
    server = start_server(server_env(tmp_path, database_url), tmp_path)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            first = connection.getresponse()
            assert first.status == 200 and first.read() == b'{"status":"ok"}'
            time.sleep(IDLE)
            try:  # same connection (http.client reconnects only after an explicit close)
                connection.request("GET", "/healthz")
                again = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError) as exc:
                raise AssertionError(f"the server closed the idle connection: {exc!r}") from exc
            assert again.status == 200 and again.read() == b'{"status":"ok"}'
        finally:
            connection.close()
    finally:
        server.stop()
