"""Progress of a harness run: done / total per pass, and an estimate of the time left."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

PASSES = {"static": "renders", "tree": "trees"}
STATIC_EVERY_SECONDS = 10.0  # renders finish many a second: a line at most this often


class Progress:
    """`expected` holds each check's expected seconds, by pass and id. The time left is the
    expected seconds of what is left, scaled by how the finished checks compared with their
    expectation, spread over the workers."""

    def __init__(
        self,
        expected: Mapping[str, Mapping[str, float]],
        workers: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.expected = {kind: dict(checks) for kind, checks in expected.items()}
        self.workers = max(1, workers)
        self.clock = clock
        self.done: dict[str, dict[str, float]] = {kind: {} for kind in self.expected}
        self.last_line = clock()

    def record(self, kind: str, check_id: str, seconds: float) -> str | None:
        """Note a finished check; return a progress line when one is due."""
        if kind not in self.expected or check_id not in self.expected[kind]:
            return None
        self.done[kind][check_id] = seconds
        now = self.clock()
        finished_pass = len(self.done[kind]) == len(self.expected[kind])
        if kind == "static" and not finished_pass and now - self.last_line < STATIC_EVERY_SECONDS:
            return None
        self.last_line = now
        return self.line()

    def seconds_left(self) -> float:
        expected_done = sum(self.expected[k][i] for k, done in self.done.items() for i in done)
        actual_done = sum(seconds for done in self.done.values() for seconds in done.values())
        scale = actual_done / expected_done if expected_done > 0 else 1.0
        left = sum(
            seconds
            for kind, checks in self.expected.items()
            for check_id, seconds in checks.items()
            if check_id not in self.done[kind]
        )
        return left * scale / self.workers

    def line(self) -> str:
        parts = [
            f"{PASSES.get(kind, kind)} {len(self.done[kind])}/{len(checks)}"
            for kind, checks in self.expected.items()
            if checks
        ]
        return f"progress: {', '.join(parts)}; about {_duration(self.seconds_left())} left"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
