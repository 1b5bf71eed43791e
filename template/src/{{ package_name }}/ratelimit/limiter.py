"""Counting requests against rate limits, in a `limits` storage.

The windows are fixed and aligned to the clock (a one-minute limit resets at every full
minute), so that one storage call, an increment, tells all a response says about its limit:
what is left, and when the window resets. limits' `FixedWindowRateLimiter.hit` makes the same
call but keeps only whether it passed; its `get_window_stats` would cost two more calls (a
round trip each, with a networked storage). The price of fixed windows: around a reset, a
client may get up to twice its limit within one window's length.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem
from limits.aio.storage import Storage


class RateLimit:
    """One limit of one scope (a route's own, or the API's default), its counters apart from
    every other scope's and limit's."""

    __slots__ = ("amount", "key_prefix", "seconds")

    def __init__(self, scope: str, item: RateLimitItem) -> None:
        self.amount = item.amount
        self.seconds = item.get_expiry()
        # limits' own key layout (namespace, scope, amount, multiples, granularity): a changed
        # limit starts from fresh counters.
        self.key_prefix = item.key_for(scope)


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a key stands after a request was counted."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window ends, at least 1


class RateLimiter:
    """Counts requests per key and limit. `clock` gives the time in seconds: tests replace it
    (and `storage`) to move time, or to make the storage fail."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock

    async def hit(self, limit: RateLimit, key: str) -> Hit:
        """Count a request of `key` against `limit`. A storage made with `wrap_exceptions=True`
        raises `limits.errors.StorageError` when it fails."""
        now = self.clock()
        window = int(now // limit.seconds)
        # The window's number is in the key, so a new window starts from zero; the storage's
        # expiry, a whole window from the first request, only clears the old counters.
        count = await self.storage.incr(f"{limit.key_prefix}/{window}/{key}", limit.seconds)
        return Hit(
            allowed=count <= limit.amount,
            limit=limit.amount,
            remaining=max(0, limit.amount - count),
            reset_after=math.ceil((window + 1) * limit.seconds - now),
        )
