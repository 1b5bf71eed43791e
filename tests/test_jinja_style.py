"""One Jinja whitespace style in every template file: `trim_blocks` and `lstrip_blocks` are on,
so a block tag stands on its own line and needs no `-` to keep the render tidy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from harness.questionnaire import COPIER_YML, REPO_ROOT

pytestmark = pytest.mark.quick

# A block tag alone on its line, with a whitespace-control dash on either side.
DASHED_OWN_LINE_TAG = re.compile(r"^\s*(\{%-.*%\}|\{%.*-%\})\s*$")


def template_files() -> list[Path]:
    return sorted(
        path
        for folder in ("template", "includes")
        for path in (REPO_ROOT / folder).rglob("*.jinja")
        if path.is_file()
    )


def dashed_tags(text: str) -> list[int]:
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if DASHED_OWN_LINE_TAG.match(line)
    ]


def test_the_environment_trims_and_strips_blocks() -> None:
    envops = yaml.safe_load(COPIER_YML.read_text(encoding="utf-8"))["_envops"]
    assert envops["trim_blocks"] is True
    assert envops["lstrip_blocks"] is True


def test_block_tags_on_their_own_line_need_no_dash() -> None:
    offenders = {
        path.relative_to(REPO_ROOT).as_posix(): lines
        for path in template_files()
        if (lines := dashed_tags(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"drop the '-' of these block tags (file: line numbers): {offenders}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% if auth %}\nx\n{% endif %}\n", []),
        ("a\n{%- if auth %}\nb\n", [2]),
        ("  {% else -%}\n", [1]),
        ("x = 1{%- if auth %}, 2{% endif %}\n", []),  # inline tags keep their dashes
    ],
)
def test_dashed_tags_are_found(text: str, expected: list[int]) -> None:
    assert dashed_tags(text) == expected
