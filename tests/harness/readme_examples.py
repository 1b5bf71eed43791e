"""The shell examples of a rendered README, run in order against the project it describes.

Every ```sh or ```bash block of the README runs, top to bottom, in one bash session (so a
variable set by one block serves the next), with `set -euo pipefail` and curl failing on any
HTTP error. A block that cannot run is marked on the line before its fence:

    <!-- not run: why -->

The project is served on a free loopback port with its own database; the README's
`localhost:8000` and `127.0.0.1:8000` point there.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .commands import CommandResult, run_command

FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>.*?)\s*-->\s*$")
SHELLS = {"sh", "bash"}
README_ADDRESSES = ("localhost:8000", "127.0.0.1:8000")
SERVER_START_SECONDS = 60.0
SCRIPT_TIMEOUT = 600.0

# Every curl of the README fails on an HTTP error status, and says so with the body.
PRELUDE = """\
curl() { command curl --fail-with-body --show-error --max-time 60 "$@"; }
"""


class ReadmeMarkupError(ValueError):
    """A `not run` marker that is not right before a shell block, or gives no reason."""


@dataclass(frozen=True)
class Example:
    line: int  # of the opening fence, 1-based
    code: str
    not_run: str | None  # the reason, for a block marked `not run`

    @property
    def runs(self) -> bool:
        return self.not_run is None


def extract_examples(markdown: str) -> list[Example]:
    """The shell blocks of `markdown`, in order, each with its `not run` reason if marked."""
    examples: list[Example] = []
    lines = markdown.splitlines()
    index = 0
    pending: tuple[int, str] | None = None  # a `not run` marker waiting for its block
    while index < len(lines):
        line = lines[index]
        marker = NOT_RUN.match(line)
        fence = FENCE.match(line)
        if marker:
            if not marker.group("why"):
                raise ReadmeMarkupError(f"line {index + 1}: `not run` needs a reason")
            pending = (index + 1, marker.group("why"))
        elif fence:
            end = next(
                (i for i in range(index + 1, len(lines)) if lines[i].startswith("```")), None
            )
            if end is None:
                raise ReadmeMarkupError(f"line {index + 1}: the block is never closed")
            if fence.group(1) in SHELLS:
                reason = pending[1] if pending and pending[0] == index else None
                examples.append(Example(index + 1, "\n".join(lines[index + 1 : end]), reason))
            elif pending and pending[0] == index:
                raise ReadmeMarkupError(f"line {pending[0]}: `not run` before a non-shell block")
            pending = None
            index = end
        elif pending and pending[0] == index:
            raise ReadmeMarkupError(f"line {pending[0]}: `not run` must be right before a block")
        index += 1
    return examples


def script(examples: list[Example], port: int) -> str:
    """One bash script of the runnable examples, pointed at the server on `port`."""
    parts = [PRELUDE]
    for example in examples:
        if not example.runs:
            continue
        code = example.code
        for address in README_ADDRESSES:
            code = code.replace(address, f"127.0.0.1:{port}")
        parts.append(f"echo {shlex.quote(f'>>> README line {example.line}')}\n{code}\n")
    return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(command: list[str], cwd: Path, env: Mapping[str, str], port: int) -> Iterator[None]:
    """Run `command` (a server on `port`) until the block ends; fail if it never answers."""
    log = cwd.parent / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        _wait_until_live(server, port, log)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_until_live(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    url = f"http://127.0.0.1:{port}/health/live"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}:\n{_tail(log)}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} in {SERVER_START_SECONDS:.0f}s")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_script(text: str, cwd: Path, env: Mapping[str, str]) -> CommandResult:
    path = cwd.parent / "readme-examples.sh"
    path.write_text(text, encoding="utf-8")
    return run_command(["bash", "-euo", "pipefail", str(path)], cwd, env, SCRIPT_TIMEOUT)
