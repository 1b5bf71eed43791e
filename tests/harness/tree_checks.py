"""Checks on a freshly rendered tree: names, Jinja leftovers, whitespace, ruff, answers file.

Each check returns a list of problems (empty = passed), one line per problem, `path:line: ...`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from .commands import CommandResult, run_command

SKIP_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
EMPTY_ALLOWED = {"__init__.py", "py.typed"}
JINJA_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")
# `}}` closes nested dicts/objects in these languages; the other markers still count there.
NESTING_SUFFIXES = {".py", ".pyi", ".json"}
# Legitimate non-Jinja uses of the markers, per file glob: (glob, regex removed before checking).
ALLOWED_SYNTAX: tuple[tuple[str, str], ...] = (
    (".github/*", r"\$\{\{.*?\}\}"),  # GitHub Actions expressions: ${{ matrix.python }}
)
BAD_NAME = re.compile(r"[{}\s\x00-\x1f]")
MAX_BLANK_RUN = 1  # outside Python files, at most one blank line in a row
DIFF_HEAD_LINES = 40


@dataclass(frozen=True)
class TextFile:
    relpath: str
    text: str

    @property
    def name(self) -> str:
        return Path(self.relpath).name

    @property
    def is_python(self) -> bool:
        return self.relpath.endswith((".py", ".pyi", ".py.mako"))  # .py.mako renders Python


def iter_paths(root: Path) -> Iterator[Path]:
    """Every file and folder below `root`, sorted, without descending into caches and venvs."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        here = Path(directory)
        yield from (here / name for name in sorted([*dirnames, *filenames]))


def iter_files(root: Path) -> Iterator[Path]:
    return (path for path in iter_paths(root) if path.is_file())


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write `files` (relative path -> text) below `root`, for a test's synthetic tree."""
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def text_files(root: Path) -> list[TextFile]:
    """Every UTF-8 text file of the tree (binary files are left out)."""
    files = []
    for path in iter_files(root):
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        files.append(TextFile(path.relative_to(root).as_posix(), text))
    return files


def file_name_problems(root: Path) -> list[str]:
    problems = []
    for path in iter_paths(root):
        relpath = path.relative_to(root).as_posix()
        if path.name.endswith(".jinja"):
            problems.append(f"{relpath}: file name still ends with .jinja")
        if BAD_NAME.search(path.name):
            problems.append(f"{relpath}: braces, whitespace or control characters in the name")
        if path.name.endswith((".rej", ".orig")):
            problems.append(f"{relpath}: merge leftover")
    return problems


def jinja_leftover_problems(files: list[TextFile]) -> list[str]:
    problems = []
    for file in files:
        markers = [
            m
            for m in JINJA_MARKERS
            if not (m == "}}" and Path(file.relpath).suffix in NESTING_SUFFIXES)
        ]
        patterns = [regex for glob, regex in ALLOWED_SYNTAX if fnmatch(file.relpath, glob)]
        for number, line in enumerate(file.text.splitlines(), start=1):
            cleaned = line
            for regex in patterns:
                cleaned = re.sub(regex, "", cleaned)
            found = [m for m in markers if m in cleaned]
            if found:
                problems.append(f"{file.relpath}:{number}: Jinja leftover {found}: {line.strip()}")
    return problems


def whitespace_problems(files: list[TextFile]) -> list[str]:
    problems = []
    for file in files:
        problems.extend(_file_whitespace_problems(file))
    return problems


def _file_whitespace_problems(file: TextFile) -> list[str]:
    if not file.text:
        return [] if file.name in EMPTY_ALLOWED else [f"{file.relpath}: empty file"]
    problems = []
    if "\r" in file.text:
        problems.append(f"{file.relpath}: carriage return (CRLF line endings?)")
    if not file.text.endswith("\n"):
        problems.append(f"{file.relpath}: does not end with a newline")
    elif file.text.endswith("\n\n") or not file.text.strip():
        problems.append(f"{file.relpath}: ends with more than one newline (blank lines at end)")
    blank_run = 0
    for number, line in enumerate(file.text.split("\n")[:-1], start=1):
        line = line.removesuffix("\r")  # reported once above
        if line != line.rstrip():
            problems.append(f"{file.relpath}:{number}: trailing whitespace")
        blank_run = blank_run + 1 if not line.strip() else 0
        if blank_run == MAX_BLANK_RUN + 1 and not file.is_python:
            problems.append(f"{file.relpath}:{number}: {blank_run} consecutive blank lines")
    return problems


def _ruff(root: Path, *args: str) -> CommandResult:
    """The harness's ruff, run inside the tree so that the variant's own ruff config applies."""
    return run_command([sys.executable, "-m", "ruff", *args, "--no-cache"], cwd=root, timeout=120)


def ruff_format_problems(root: Path) -> list[str]:
    result = _ruff(root, "format", "--diff")
    if result.ok:
        return []
    files = re.findall(r"(?m)^--- (\S+)$", result.output)
    head = "\n".join(result.output.splitlines()[:DIFF_HEAD_LINES])
    return [
        f"ruff format would change {len(files)} file(s): {', '.join(files)}",
        f"$ {result.command}  (in {result.cwd}); the diff starts:\n{head}",
    ]


def ruff_check_problems(root: Path) -> list[str]:
    result = _ruff(root, "check", "--output-format=concise")
    return [] if result.ok else [result.describe()]


def answers_file_problems(
    root: Path, answers_file: str, expected: Mapping[str, Any], src_path: Path
) -> list[str]:
    path = root / answers_file
    if not path.is_file():
        return [f"{answers_file}: missing"]
    recorded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems = [
        f"{answers_file}: {key} is {recorded.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if recorded.get(key) != value
    ]
    extra = sorted(k for k in recorded if not k.startswith("_") and k not in expected)
    if extra:
        problems.append(f"{answers_file}: records answers that should be hidden: {extra}")
    if recorded.get("_src_path") != str(src_path):
        problems.append(f"{answers_file}: _src_path is {recorded.get('_src_path')!r}")
    if not recorded.get("_commit"):
        problems.append(f"{answers_file}: no _commit (copier update needs it)")
    return problems


# A feature that is off (false, or the choice "none") leaves no word of itself: no import,
# setting, comment or README line. An entry per feature whose words nothing else uses.
OFF_FEATURE_WORDS: Mapping[str, str] = {
    "redis": r"\bredis\b",
    "celery": r"\bcelery\b",
    "websockets": r"websocket|realtime|real-time",
    "docker": r"\bdocker\b|\bDockerfile\b|\bcompose\.yaml\b|\.dockerignore\b",
    "ci": (
        r"\bGitHub Actions\b|\bGitLab\b|\.github/workflows\b|\.gitlab-ci\b"
        r"|\bContinuous integration\b"
    ),
}
OFF_ANSWERS = (False, "none")


def off_feature_problems(
    files: list[TextFile], answers: Mapping[str, Any], answers_file: str
) -> list[str]:
    problems = []
    for feature, word in OFF_FEATURE_WORDS.items():
        if answers.get(feature) not in OFF_ANSWERS:
            continue
        pattern = re.compile(word, re.IGNORECASE)
        for file in files:
            if file.relpath == answers_file:
                continue
            for number, line in enumerate(file.text.splitlines(), start=1):
                if pattern.search(line):
                    problems.append(f"{file.relpath}:{number}: {feature} is off: {line.strip()}")
    return problems
