"""Two application processes on one Redis share their rate limits (CIRQLIZ_REDIS_URL).

The requests alternate between the two processes: with in-process stores each would count only
half of them and let the request over the limit through.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from cirqliz.demo.seed import DEMO_PASSWORD, USERS
from cirqliz.web.controllers.public import LOGIN_ATTEMPTS

from .conftest import RedisSpace
from .harness import create_token, post_form, prepare_database, server_env, start_server

API_LIMIT = 6


def test_rate_limits_are_shared_by_two_processes(tmp_path: Path, redis_space: RedisSpace) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
    prepare_database(database_url, tmp_path / "keys")
    token = create_token(database_url, scopes=("verify",))
    env = server_env(tmp_path, database_url, redis_url=redis_space.url, redis_namespace=redis_space.namespace,
                     extra={"CIRQLIZ_API_RATE_LIMIT": str(API_LIMIT)})
    servers = [start_server(env, tmp_path, name="a"), start_server(env, tmp_path, name="b")]
    try:
        # The API counts in fixed one-minute windows of the wall clock: a burst that crossed into the
        # next window would start counting again. Start it early in a window (it takes a few seconds).
        into_window = time.time() % 60
        if into_window > 40:
            time.sleep(60 - into_window + 0.5)
        api, login = asyncio.run(_exercise([s.base_url for s in servers], token))
    finally:
        for server in servers:
            server.stop()
    # API: one token, limit 6 per minute over both processes -> the 7th is refused, wherever it lands.
    assert api[:API_LIMIT] == [200] * API_LIMIT, api
    assert api[API_LIMIT:] == [429, 429], api
    # Sign-in: 5 failures spread over both processes -> the next attempt is refused, even with the right password.
    assert login[:LOGIN_ATTEMPTS] == [400] * LOGIN_ATTEMPTS, login
    assert login[LOGIN_ATTEMPTS:] == [429, 429], login


async def _exercise(urls: list[str], token: str) -> tuple[list[int], list[int]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in urls]
    try:
        api = []
        for i in range(API_LIMIT + 2):
            response = await clients[i % 2].post("/api/v1/verify", headers={"Authorization": f"Bearer {token}"},
                                                 json={"text": "CQ1:nonsense", "zone": "PARIS-CENTRE"})
            api.append(response.status_code)
        email = USERS["reviewer"][0]
        login = []
        for i in range(LOGIN_ATTEMPTS + 2):
            password = "wrong-password" if i < LOGIN_ATTEMPTS else DEMO_PASSWORD
            response = await post_form(clients[i % 2], "/connexion", {"email": email, "password": password})
            login.append(response.status_code)
        return api, login
    finally:
        for client in clients:
            await client.aclose()


def test_counters_are_atomic(redis_space: RedisSpace) -> None:
    """Concurrent hits are all counted (a get-then-set would lose some), in Redis and in memory."""
    from cirqliz.settings import Settings
    from cirqliz.web.stores import count_hit, create_stores

    async def hammer(redis_url: str) -> tuple[int, int | None]:
        stores = create_stores(Settings(redis_url=redis_url, redis_namespace=redis_space.namespace))
        store = stores.get("api_rate")
        counts = await asyncio.gather(*(count_hit(store, "token:1", expires_in=60) for _ in range(200)))
        left = await store.expires_in("token:1")
        if redis_url:
            await store._redis.aclose()  # type: ignore[attr-defined]
        return max(counts), left

    for url in (redis_space.url, ""):
        top, left = asyncio.run(hammer(url))
        assert top == 200, url
        assert left is not None and 0 < left <= 60, url


def test_redis_down_gives_a_clear_503(tmp_path: Path) -> None:
    """Rate limits cannot be counted without Redis: the sign-in and the API answer 503 with a message."""
    from litestar.testing import TestClient

    from cirqliz.settings import Settings
    from cirqliz.web.app import create_app

    from .harness import free_port

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
    prepare_database(database_url, tmp_path / "keys")
    settings = Settings(database_url=database_url, env="test", secret_key="x" * 40, keys_dir=str(tmp_path / "keys"),
                        scheduler_enabled=False, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/verify", headers={"Authorization": "Bearer cq_nope"}, json={})
        assert response.status_code in (401, 503), response.text  # unknown token: refused before counting
        client.get("/connexion")
        response = client.post("/connexion", data={"email": USERS["pro"][0], "password": "faux",
                                                   "_csrf_token": client.cookies.get("cirqliz_csrf")})
        assert response.status_code == 503, response.text[:500]
        assert "momentanément indisponible" in response.text
        assert client.get("/readyz").status_code == 503


def test_memory_counter_keeps_its_window_and_starts_again_after_it() -> None:
    """The in-memory counter is readable like any stored value, keeps the expiry of its first hit,
    and starts from 1 once that window has passed."""
    from cirqliz.web.stores import CountingMemoryStore

    async def run() -> tuple[list[int], bytes | None, int, int]:
        store = CountingMemoryStore()
        counts = [await store.increment("k", 1) for _ in range(3)]
        value = await store.get("k")
        await asyncio.sleep(1.1)
        return counts, value, await store.increment("k", 60), await store.expires_in("k") or 0

    counts, value, after, left = asyncio.run(run())
    assert counts == [1, 2, 3] and value == b"3"
    assert after == 1 and 50 < left <= 60


def test_when_redis_stops_sessions_live_on_and_counted_routes_answer_503(tmp_path: Path) -> None:
    """Sessions are checked in the database (their version and sign-outs), so a signed-in page keeps
    working when Redis stops; a route whose rate limit Redis counts answers a clear 503, not a 500."""
    import shutil
    import subprocess
    import time

    from litestar.testing import TestClient

    from cirqliz.demo.seed import DEMO_PASSWORD
    from cirqliz.settings import Settings
    from cirqliz.web.app import create_app

    from .harness import free_port

    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server is needed (Debian package redis-server)"
    port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                with httpx.Client() as probe:  # any TCP answer means it listens
                    probe.get(f"http://127.0.0.1:{port}", timeout=0.2)
            except httpx.RemoteProtocolError:
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
        prepare_database(database_url, tmp_path / "keys")
        settings = Settings(database_url=database_url, env="test", secret_key="x" * 40,
                            keys_dir=str(tmp_path / "keys"), scheduler_enabled=False,
                            redis_url=f"redis://127.0.0.1:{port}/0")
        with TestClient(create_app(settings)) as client:
            client.get("/connexion")
            signed_in = client.post("/connexion", data={"email": USERS["pro"][0], "password": DEMO_PASSWORD,
                                                        "_csrf_token": client.cookies.get("cirqliz_csrf")},
                                    follow_redirects=False)
            assert signed_in.status_code == 303, signed_in.text[:500]
            assert client.get("/pro").status_code == 200
            redis.kill()
            redis.wait(timeout=10)
            assert client.get("/pro").status_code == 200
            response = client.post("/connexion", data={"email": USERS["pro"][0], "password": "wrong",
                                                       "_csrf_token": client.cookies.get("cirqliz_csrf")},
                                   follow_redirects=False)
            assert response.status_code == 503, response.text[:500]
            assert "momentanément indisponible" in response.text
            assert response.headers.get("retry-after")
    finally:
        redis.kill()
        redis.wait(timeout=10)
