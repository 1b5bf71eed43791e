"""Run a command with a timeout, capture its output, and describe a failure helpfully."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 60


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    cwd: str
    returncode: int | None  # None: timed out
    output: str  # stdout and stderr, interleaved
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def describe(self, lines: int = TAIL_LINES) -> str:
        """The command, how it ended, and the tail of its output."""
        ending = (
            f"timed out after {self.seconds:.0f}s"
            if self.returncode is None
            else f"exited {self.returncode}"
        )
        return f"$ {self.command}  (in {self.cwd}) {ending}:\n{tail(self.output, lines)}"


def tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip().splitlines()
    cut = len(kept) - lines
    shown = "\n".join(kept[-lines:])
    return f"[... {cut} lines cut ...]\n{shown}" if cut > 0 else shown


def run_command(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> CommandResult:
    """Run `argv`; on timeout kill its whole process group (pytest workers, servers...)."""
    start = time.monotonic()
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
            returncode: int | None = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            output, _ = process.communicate()
            returncode = None
        _kill_group(process.pid)  # nothing it started may outlive it
    return CommandResult(tuple(argv), str(cwd), returncode, output, time.monotonic() - start)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
