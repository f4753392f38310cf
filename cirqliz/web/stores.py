"""Key-value stores of the application (rate limits): Redis when several processes serve, memory otherwise.

Counters are incremented atomically (INCR in Redis, one step of the event loop in memory): with a get-then-set two
processes reading the same value at once would both write count+1 and a limit would let more
requests through than it says.
"""

from __future__ import annotations

from litestar.stores.base import StorageObject
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
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


class CountingRedisStore(RedisStore):
    """A RedisStore with an atomic counter shared by every process using the same Redis.

    Redis errors are not caught here: the application answers any of them with a 503 (STORE_DOWN,
    cirqliz/web/errors.py), whichever store method or middleware met it."""

    async def increment(self, key: str, expires_in: int) -> int:
        """INCR `key`, giving it `expires_in` seconds when it is created; the new value."""
        name = self._make_key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(name, 0, ex=expires_in, nx=True)
            pipe.incr(name)
            _, count = await pipe.execute()
        return int(count)


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
        root = CountingRedisStore(client, namespace=settings.redis_namespace or "cirqliz", handle_client_shutdown=True)
        return StoreRegistry(default_factory=root.with_namespace)
    return StoreRegistry(default_factory=lambda name: CountingMemoryStore())


async def count_hit(store: CountingMemoryStore | CountingRedisStore, key: str, *, expires_in: int) -> int:
    """Count one hit on `key` atomically (every store made by create_stores can)."""
    return await store.increment(key, expires_in)
