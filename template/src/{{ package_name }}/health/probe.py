"""The readiness probe: runs every registered check, each with a timeout."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

# A check returns when its dependency is usable and raises when it is not.
ReadinessCheck = Callable[[], Awaitable[None]]
CheckStatus = Literal["ok", "failed", "timeout"]

logger = logging.getLogger(__name__)


class ReadinessProbe:
    def __init__(self, checks: Mapping[str, ReadinessCheck], *, timeout: float) -> None:
        self.checks = dict(checks)
        self.timeout = timeout

    async def run(self) -> dict[str, CheckStatus]:
        """The status of every check; they run concurrently."""
        statuses = await asyncio.gather(
            *(self._run_check(name, check) for name, check in self.checks.items())
        )
        return dict(zip(self.checks, statuses, strict=True))

    async def _run_check(self, name: str, check: ReadinessCheck) -> CheckStatus:
        try:
            async with asyncio.timeout(self.timeout):
                await check()
        except TimeoutError:
            logger.warning("Readiness check %r timed out after %ss", name, self.timeout)
            return "timeout"
        except Exception:
            logger.warning("Readiness check %r failed", name, exc_info=True)
            return "failed"
        return "ok"
