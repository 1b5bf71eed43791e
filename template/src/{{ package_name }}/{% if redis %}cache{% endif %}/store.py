"""The response cache: entries under generation tokens, and what happens when Redis is down
(the design is in this package's docstring)."""

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

EPOCH = "epoch"
# A generation outlives the entries made under it; one that expires only makes its entries
# cold. The epoch, whose expiry makes all of them cold at once, lives a week: rare enough, and
# a prefix no longer used still leaves nothing behind.
GENERATION_TTL_FACTOR = 4
EPOCH_TTL_SECONDS = 7 * 24 * 3600


# KEYS: the generations an entry depends on. ARGV: the entry keys' prefix, the variant, then a
# fresh token and a lifetime (seconds) per generation. Each generation's token is read, or set
# to the fresh one if it has none; the entry's key is made of those tokens, and its bytes read.
# That key is built here, not passed in KEYS: fine on one Redis, which is what the cache is
# for (Redis Cluster would refuse it).
_LOOK_UP = """
local count = #KEYS
local tokens = {}
for index, generation in ipairs(KEYS) do
    local fresh = ARGV[2 + index]
    local ttl = ARGV[2 + count + index]
    tokens[index] = redis.call('SET', generation, fresh, 'NX', 'GET', 'EX', ttl) or fresh
end
local entry_key = ARGV[1] .. table.concat(tokens, '.') .. ':' .. ARGV[2]
return {entry_key, redis.call('GET', entry_key)}
"""


def new_token() -> str:
    """A generation token no earlier one can equal, even after Redis lost its data."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What a read's answer depends on: its generations, and everything in the request that
    changes the answer (`variant`, a normalized text)."""

    namespace: str
    generations: tuple[str, ...]
    variant: str


@dataclass(frozen=True, slots=True)
class Invalidation:
    """The generations a write retires."""

    generations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A lookup's outcome: the entry's key (under the generations read before the database
    was), and its bytes if there was an entry."""

    entry_key: str
    body: bytes | None


class CachedCollection:
    """The keys of one domain's collection: each member has its generation, the collection
    (its list pages) has one, and a write to a member retires both."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._collection = f"{namespace}:collection"

    def member(self, member_id: object) -> CacheKey:
        return CacheKey(self.namespace, (f"{self.namespace}:{member_id}",), f"one:{member_id}")

    def page(self, query: Sequence[tuple[str, object]]) -> CacheKey:
        """A list page; `query` holds every parameter that changes it, each already parsed
        (so `9.9` and `9.90` are one price), in a fixed order."""
        variant = "&".join(f"{name}={value}" for name, value in query)
        return CacheKey(self.namespace, (self._collection,), f"page:{variant}")

    def created(self) -> Invalidation:
        return Invalidation((self._collection,))

    def changed(self, member_id: object) -> Invalidation:
        return Invalidation((f"{self.namespace}:{member_id}", self._collection))


class ResponseCache:
    """Serialized answers in Redis, under `prefix`, for `ttl` seconds at most."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        ttl: int,
        retry_after: float,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.retry_after = retry_after
        # Off: no lookups and no fills; invalidations still run, for the processes that cache.
        self.enabled = enabled
        self.clock = clock
        self._look_up = redis.register_script(_LOOK_UP)
        # Until then, Redis is not asked (it failed last time).
        self._unavailable_until: float | None = None
        # An invalidation was lost: the epoch must change before the cache serves again.
        self._epoch_owed = False

    async def lookup(self, key: CacheKey) -> Lookup | None:
        """The entry for `key`, or None if the cache cannot be used now (read the database,
        and fill nothing)."""
        if not self.enabled or not await self._usable():
            return None
        names = (EPOCH, *key.generations)
        try:
            # The tokens and the entry in one round trip (docs/architecture.md, "Speed tricks").
            reply = await self._look_up(
                keys=[self._generation_key(name) for name in names],
                args=[
                    self._entry_prefix(key),
                    self._variant(key),
                    *(new_token() for _ in names),
                    *(self._ttl_of(name) for name in names),
                ],
            )
        except (RedisError, OSError):
            self._failed("read")
            return None
        self._succeeded()
        # The client does not decode answers: they are bytes.
        entry_key, body = cast("tuple[bytes, bytes | None]", reply)
        return Lookup(entry_key.decode(), body)

    async def store(self, lookup: Lookup, body: bytes) -> None:
        """Keep `body` under the generations `lookup` read, unless an invalidation was lost
        since (the generations it read may be the stale ones)."""
        if self._epoch_owed or self._unavailable():
            return
        try:
            await self.redis.set(lookup.entry_key, body, ex=self.ttl)
        except (RedisError, OSError):
            self._failed("fill")

    async def invalidate(self, invalidation: Invalidation) -> None:
        """Retire `invalidation`'s generations; call it once the write is committed. If Redis
        cannot take it, the epoch is owed instead (see the package docstring)."""
        if not await self._usable():
            self._epoch_owed = True
            return
        try:
            await self._retire(invalidation.generations)
        except (RedisError, OSError):
            self._epoch_owed = True
            self._failed("invalidation")

    async def invalidate_everything(self) -> None:
        """Retire every entry at once, e.g. after rows were changed behind the app's back."""
        await self.invalidate(Invalidation((EPOCH,)))

    async def ping(self) -> None:
        """Readiness check: Redis answers. It also pays an owed epoch, so a process that lost
        an invalidation serves from the cache again as soon as its probe finds Redis back."""
        try:
            await self.redis.ping()
            if self._epoch_owed:
                await self._retire((EPOCH,))
                self._epoch_owed = False
        except (RedisError, OSError):
            self._failed("readiness check")
            raise
        self._succeeded()

    async def _usable(self) -> bool:
        if self._unavailable():
            return False
        if self._epoch_owed:
            try:
                await self._retire((EPOCH,))
            except (RedisError, OSError):
                self._failed("epoch change")
                return False
            self._epoch_owed = False
        return True

    async def _retire(self, names: Sequence[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipeline:
            for name in names:
                pipeline.set(self._generation_key(name), new_token(), ex=self._ttl_of(name))
            await pipeline.execute()

    def _unavailable(self) -> bool:
        return self._unavailable_until is not None and self.clock() < self._unavailable_until

    def _failed(self, operation: str) -> None:
        # One warning per outage: the first failure, not each request during it.
        if self._unavailable_until is None:
            logger.warning(
                "Redis failed (%s); reading from the database for %ss",
                operation,
                self.retry_after,
                exc_info=True,
            )
        self._unavailable_until = self.clock() + self.retry_after

    def _succeeded(self) -> None:
        if self._unavailable_until is not None:
            logger.info("Redis answers again; the cache is back")
            self._unavailable_until = None

    def _generation_key(self, name: str) -> str:
        return f"{self.prefix}gen:{name}"

    def _ttl_of(self, generation: str) -> int:
        return EPOCH_TTL_SECONDS if generation == EPOCH else self.ttl * GENERATION_TTL_FACTOR

    def _entry_prefix(self, key: CacheKey) -> str:
        return f"{self.prefix}entry:{key.namespace}:"

    @staticmethod
    def _variant(key: CacheKey) -> str:
        # Hashed: a variant may be long (filters), and keys should stay short.
        return hashlib.sha256(key.variant.encode()).hexdigest()[:32]
