"""The current time, as a dependency, so tests can move it instead of sleeping."""

from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


_SYSTEM_CLOCK = SystemClock()


async def get_clock() -> Clock:
    return _SYSTEM_CLOCK


ClockDep = Annotated[Clock, Depends(get_clock)]
