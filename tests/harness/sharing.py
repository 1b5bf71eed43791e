"""Share one run of the Python checks between variants whose Python trees are byte-identical.

Works across xdist workers: the first variant to take a key's file lock runs the checks and
writes the result next to the lock; the others wait for the lock and reuse the result. Results
live under `.harness/runs/<session>/`, so nothing is reused from an earlier session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .python_checks import HARNESS_DIR, PythonRun

RUNS_DIR = HARNESS_DIR / "runs"
KEEP_SESSIONS = 3


@dataclass(frozen=True)
class Shared:
    run: PythonRun
    owner: str  # the variant that ran the checks
    key: str

    def reused_by(self, variant: str) -> bool:
        return self.owner != variant


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SharedRuns:
    def __init__(self, session: str) -> None:
        self.directory = RUNS_DIR / session

    def get_or_run(self, key: str, variant: str, execute: Callable[[], PythonRun]) -> Shared:
        result_file = self.directory / f"{key}.json"
        with _locked(self.directory / f"{key}.lock"):
            if result_file.is_file():
                data = json.loads(result_file.read_text(encoding="utf-8"))
                return Shared(PythonRun.from_json(data["run"]), data["owner"], key)
            run = execute()
            payload = {"owner": variant, "run": run.to_json()}
            partial = result_file.with_suffix(".tmp")
            partial.write_text(json.dumps(payload), encoding="utf-8")
            partial.replace(result_file)
            return Shared(run, variant, key)


def prune_sessions(current: str) -> None:
    """Keep the last few sessions' results (for inspection); drop older ones."""
    if not RUNS_DIR.is_dir():
        return
    sessions = sorted(
        (p for p in RUNS_DIR.iterdir() if p.is_dir() and p.name != current),
        key=os.path.getmtime,
    )
    for old in sessions[: max(0, len(sessions) - (KEEP_SESSIONS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
