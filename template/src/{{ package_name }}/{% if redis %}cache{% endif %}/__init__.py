"""Redis, and cache-aside for reads, with invalidation that stays correct.

What is cached: the serialized bytes of a successful read (`GET` answering 200), so a hit is
sent as it is, never serialized again. A domain says which routes read and which write (see
`items/caching.py`); `routes.CachingRoute` looks the answer up after the route's other
dependencies (authentication, scopes, validation) have passed, so a hit skips none of them.

Generations, never sweeps. Each entry's key holds the tokens of the generations it depends on:
the cache's epoch, and either its item's generation (one item) or its collection's (a list
page). A write replaces those tokens with fresh random ones once its transaction has
committed, so the old entries can no longer be reached and expire with their TTL; nothing is
ever flushed, scanned or listed. A read takes the tokens *before* it reads the database and
stores its answer under them, so a fill that raced a write lands under the superseded tokens,
where nobody looks.

A missing generation (a Redis restart, FLUSHALL, its TTL) is created with a fresh random
token: it cannot equal one an older entry was stored under, so the cache starts cold, never
stale.

Outages. Any Redis error (refused, timed out) makes the reads go to the database for
`REDIS_RETRY_SECONDS`, with one warning in the log; readiness answers 503 naming Redis. A write
whose invalidation could not reach Redis leaves this process owing a new epoch: until Redis
takes it, the process neither reads nor fills the cache, and the first successful call (a
request or the readiness probe) replaces the epoch, which retires every entry at once.
Another process that saw no error in the meantime can serve such an entry until then, or at
the latest until its TTL (`CACHE_TTL_SECONDS`) ends: that bound is the price of not asking the
database on every read.
"""
