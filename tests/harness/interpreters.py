"""Find uv and the CPython interpreter of each `python_version` choice (no downloads here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # full version, e.g. "3.12.1"


def _output(argv: list[str], env: dict[str, str] | None = None) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _resolve_shim(path: Path) -> Path | None:
    """A pyenv shim picks its target by the `.python-version` of the current directory, which
    breaks inside a rendered project: use the real executable behind it."""
    if "shims" not in path.parts:
        return path
    real = _output(["pyenv", "which", path.name])
    return Path(real) if real else None


@cache
def find_uv() -> Path | None:
    """The uv running us (`uv run` sets $UV), else the one on PATH."""
    for candidate in (os.environ.get("UV"), shutil.which("uv")):
        if not candidate:
            continue
        path = _resolve_shim(Path(candidate))
        if path and _output([str(path), "--version"]):
            return path
    return None


def _pyenv_root() -> Path:
    root = os.environ.get("PYENV_ROOT") or _output(["pyenv", "root"])
    return Path(root) if root else Path.home() / ".pyenv"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name))


def _candidates(minor: str) -> Iterator[Path]:
    uv = find_uv()
    if uv:
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        found = _output([str(uv), "python", "find", "--system", minor], env=env)
        if found:
            yield Path(found)
    versions = _pyenv_root() / "versions"
    if versions.is_dir():
        pattern = re.compile(rf"^{re.escape(minor)}\.\d+$")  # CPython only, newest patch first
        matches = [p for p in versions.iterdir() if pattern.match(p.name)]
        for home in sorted(matches, key=_version_key, reverse=True):
            yield home / "bin" / f"python{minor}"
    on_path = shutil.which(f"python{minor}")
    if on_path:
        yield Path(on_path)


@cache
def find_interpreter(minor: str) -> Interpreter | None:
    """A working CPython `minor` (e.g. "3.12"), or None."""
    for candidate in _candidates(minor):
        path = _resolve_shim(candidate)
        version = _output([str(path), "-c", _PROBE]) if path else None
        if path and version and version.startswith(f"{minor}."):
            return Interpreter(path, version)
    return None


def with_uv_on_path(env: dict[str, str], uv: Path, bin_dir: Path) -> dict[str, str]:
    """`env` with `uv` first on PATH, alone: the folder uv lives in may hold other tools (the
    harness's own `python3`). `bin_dir` holds a link to it."""
    if not (bin_dir / "uv").exists():
        bin_dir.mkdir(parents=True, exist_ok=True)
        (bin_dir / "uv").symlink_to(uv)
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
