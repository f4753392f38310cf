"""Key-value stores of the application (rate limits): Redis when several processes serve, memory otherwise.

Counters are incremented atomically (INCR in Redis, one step of the event loop in memory): with a get-then-set two
processes reading the same value at once would both write count+1 and a limit would let more
requests through than it says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from litestar.exceptions import ServiceUnavailableException
from litestar.stores.base import StorageObject, Store
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry

from cirqliz.settings import Settings

REDIS_CONNECTIONS = 32
"""Redis connections per process at most (more concurrent commands wait their turn)."""
REDIS_TIMEOUT = 5.0
"""Seconds to wait for a Redis connection or answer before the request fails."""


STORE_DOWN = "Service momentanément indisponible (stockage partagé injoignable) : réessayez dans un instant."


class CountingMemoryStore(MemoryStore):
    """A MemoryStore with an atomic counter (one process)."""

    async def increment(self, key: str, expires_in: int) -> int:
        """Add one to `key` (created with this expiry when missing); the new value.

        Atomic without a lock: nothing in here awaits, so no other request runs in between (the
        counter is on the hot path of every API request)."""
        held = self._store.get(key)
        if held is None or held.expired:
            count = 1
            self._store[key] = StorageObject.new(b"1", expires_in)
        else:
            count = int(held.data) + 1
            self._store[key] = StorageObject(expires_at=held.expires_at, data=str(count).encode())
        return count


def _redis_store_class() -> type[Store]:
    from litestar.stores.redis import RedisStore
    from redis.exceptions import RedisError

    @asynccontextmanager
    async def reachable() -> AsyncIterator[None]:
        # Redis down or saturated: a clear 503 for the request, not a 500 (and no unlimited access).
        try:
            yield
        except RedisError as exc:
            raise ServiceUnavailableException(STORE_DOWN) from exc

    class CountingRedisStore(RedisStore):
        """A RedisStore with an atomic counter shared by every process using the same Redis."""

        async def increment(self, key: str, expires_in: int) -> int:
            """INCR `key`, giving it `expires_in` seconds when it is created; the new value."""
            name = self._make_key(key)
            async with reachable(), self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=expires_in, nx=True)
                pipe.incr(name)
                _, count = await pipe.execute()
            return int(count)

        async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
            async with reachable():
                return await super().get(key, renew_for)

        async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
            async with reachable():
                await super().set(key, value, expires_in)

        async def delete(self, key: str) -> None:
            async with reachable():
                await super().delete(key)

        def with_namespace(self, namespace: str) -> CountingRedisStore:
            return CountingRedisStore(
                self._redis, namespace=f"{self.namespace}_{namespace}" if self.namespace else namespace,
                handle_client_shutdown=self.handle_client_shutdown,
            )

    return CountingRedisStore


def create_stores(settings: Settings) -> StoreRegistry:
    """One store per name, in the Redis of CIRQLIZ_REDIS_URL (under CIRQLIZ_REDIS_NAMESPACE) or in memory."""
    if settings.redis_url:
        from redis.asyncio import BlockingConnectionPool, Redis

        # A bounded pool that waits for a free connection: the default pool raises "Too many
        # connections" past 100 concurrent commands (a burst of API requests would get 500s).
        pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=REDIS_CONNECTIONS,
                                               timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                                               socket_timeout=REDIS_TIMEOUT)
        client = Redis(connection_pool=pool)
        root = _redis_store_class()(client, namespace=settings.redis_namespace or "cirqliz",
                                    handle_client_shutdown=True)
        return StoreRegistry(default_factory=root.with_namespace)  # type: ignore[attr-defined]
    return StoreRegistry(default_factory=lambda name: CountingMemoryStore())


async def count_hit(store: Store, key: str, *, expires_in: int | timedelta) -> int:
    """Count one hit on `key` atomically when the store can (every store made by create_stores)."""
    seconds = int(expires_in.total_seconds()) if isinstance(expires_in, timedelta) else int(expires_in)
    increment = getattr(store, "increment", None)
    if increment is not None:
        return await increment(key, seconds)
    raw = await store.get(key)  # a store set by hand (tests): not atomic
    count = int(raw or 0) + 1
    await store.set(key, str(count), expires_in=seconds)
    return count
