"""Follow a step-by-step guide of a rendered README, the way its reader would.

A guide is a README section (a heading and everything up to the next heading of the same or a
higher level). Its steps, in the order they appear:

- a fenced `sh` block: run with `bash -euo pipefail` in the project's folder;
- an edit bullet, one per line, naming a file and an exact piece of text:
  - ``- `path`: delete `text` `` removes the line that is exactly `text` (stripped), or else
    the text itself from its line;
  - ``- `path`: replace `old` with `new` ``;
  - ``- `path`: after `line`, add `new` `` inserts `new` after that line, indented like it.

The text of each edit must occur exactly once in the file: a guide that no longer matches the
code fails, naming the step, instead of silently doing nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .commands import run_command

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_FENCE = re.compile(r"^```\s*(\S*)\s*$")
_SHELLS = {"sh", "bash", "shell"}
_EDIT_LIKE = re.compile(r"^\s*[-*]\s+`[^`]+`:")  # a bullet that names a file: must be an edit
_EDIT = re.compile(
    r"^\s*[-*]\s+`(?P<path>[^`]+)`:\s+(?:"
    r"delete `(?P<delete>[^`]+)`"
    r"|replace `(?P<old>[^`]+)` with `(?P<new>[^`]+)`"
    r"|after `(?P<anchor>[^`]+)`, add `(?P<line>[^`]+)`"
    r")\s*$"
)
SHELL_TIMEOUT = 600.0


class GuideError(Exception):
    """The guide cannot be followed: a missing section, or a step that does not apply."""


@dataclass(frozen=True)
class Shell:
    script: str

    def describe(self) -> str:
        return "```sh\n" + self.script + "```"


@dataclass(frozen=True)
class Edit:
    path: str
    action: str  # "delete" | "replace" | "add-after"
    text: str
    new: str = ""

    def describe(self) -> str:
        if self.action == "delete":
            return f"`{self.path}`: delete `{self.text}`"
        if self.action == "replace":
            return f"`{self.path}`: replace `{self.text}` with `{self.new}`"
        return f"`{self.path}`: after `{self.text}`, add `{self.new}`"


Step = Shell | Edit


def readme_section(markdown: str, heading: str) -> str:
    """The section under `heading` (its text, without the heading line)."""
    lines = markdown.splitlines(keepends=True)
    start = level = None
    fenced = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is None:
            continue
        if start is None:
            if match.group(2) == heading:
                start, level = number + 1, len(match.group(1))
        elif level is not None and len(match.group(1)) <= level:
            return "".join(lines[start:number])
    if start is None:
        raise GuideError(f"the README has no section {heading!r}")
    return "".join(lines[start:])


def guide_steps(section: str) -> list[Step]:
    """The shell blocks and edit bullets of a section, in order."""
    steps: list[Step] = []
    block: list[str] | None = None
    run_block = False
    for line in section.splitlines(keepends=True):
        fence = _FENCE.match(line)
        if fence and block is None:
            block, run_block = [], fence.group(1) in _SHELLS
        elif fence and block is not None:
            if run_block:
                steps.append(Shell("".join(block)))
            block = None
        elif block is not None:
            block.append(line)
        elif edit := _EDIT.match(line):
            steps.append(_edit(edit))
        elif _EDIT_LIKE.match(line):
            raise GuideError(f"not an edit step (delete, replace ... with, after ..., add): {line}")
    if block is not None:
        raise GuideError("a fenced block is not closed")
    return steps


def _edit(match: re.Match[str]) -> Edit:
    path = match["path"]
    if match["delete"] is not None:
        return Edit(path, "delete", match["delete"])
    if match["old"] is not None:
        return Edit(path, "replace", match["old"], match["new"])
    return Edit(path, "add-after", match["anchor"], match["line"])


def apply_edit(root: Path, edit: Edit) -> None:
    path = root / edit.path
    if not path.is_file():
        raise GuideError(f"{edit.describe()}: no such file")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if edit.action == "replace":
        _once(text.count(edit.text), edit)
        path.write_text(text.replace(edit.text, edit.new), encoding="utf-8")
        return
    whole = [i for i, line in enumerate(lines) if line.strip() == edit.text]
    if edit.action == "add-after":
        _once(len(whole), edit, "as a whole line")
        anchor = lines[whole[0]]
        indent = anchor[: len(anchor) - len(anchor.lstrip())]
        lines.insert(whole[0] + 1, f"{indent}{edit.new}\n")
    elif whole:
        _once(len(whole), edit, "as a whole line")
        del lines[whole[0]]
    else:
        _once(text.count(edit.text), edit)
        lines = text.replace(edit.text, "").splitlines(keepends=True)
    path.write_text("".join(lines), encoding="utf-8")


def _once(count: int, edit: Edit, how: str = "") -> None:
    if count != 1:
        where = f" {how}" if how else ""
        raise GuideError(f"{edit.describe()}: the text occurs {count} times{where}, not once")


def follow_guide(root: Path, steps: list[Step], env: Mapping[str, str]) -> None:
    """Apply every step in order; the first that fails raises, naming itself."""
    if not steps:
        raise GuideError("the section has no steps (no sh block, no edit bullet)")
    for step in steps:
        if isinstance(step, Edit):
            apply_edit(root, step)
            continue
        argv = ["bash", "-euo", "pipefail", "-c", step.script]
        result = run_command(argv, root, env, SHELL_TIMEOUT)
        if not result.ok:
            raise GuideError(f"{step.describe()}\n{result.describe()}")
