"""The documentation site builds without warnings (broken links, missing pages)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from harness.commands import run_command
from harness.questionnaire import REPO_ROOT

pytestmark = pytest.mark.quick


def test_docs_build_strict(tmp_path: Path) -> None:
    result = run_command(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.ok, result.describe()
    assert (tmp_path / "index.html").exists()
