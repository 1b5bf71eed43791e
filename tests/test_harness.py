"""The harness's own parts, on small trees made here: checks, parsing, the environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from harness.commands import run_command, tail
from harness.matrix import load_matrix
from harness.plan import Planned
from harness.python_checks import (
    config_problems,
    parse_pytest_output,
    pytest_headline,
    python_relevant_files,
    python_tree_digest,
    variant_env,
)
from harness.questionnaire import REPO_ROOT
from harness.tree_checks import (
    TextFile,
    file_name_problems,
    jinja_leftover_problems,
    off_feature_problems,
    text_files,
    whitespace_problems,
    write_tree,
)
from harness.variant import HarnessContext, check_combination, unavailable

pytestmark = pytest.mark.quick


def test_jinja_leftovers_found_but_legitimate_syntax_allowed(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "README.md": "# {{ project_name }}\n",
            "app.py": 'X = {"a": {"b": 1}}\nY = "{% if x %}"\n',
            ".github/workflows/ci.yml": "run: echo ${{ matrix.python }}\n",
            "data.json": '{"a": {"b": 1}}\n',
            "notes.txt": "closing }} alone\n",
        },
    )
    problems = jinja_leftover_problems(text_files(root))
    assert [p.split(":")[0] for p in problems] == ["README.md", "app.py", "notes.txt"]
    assert "app.py:2:" in problems[1]


def test_whitespace_rules(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "a.md": "x \n",
            "b.md": "x",
            "c.md": "x\n\n",
            "d.md": "x\n\n\ny\n",
            "e.py": "x = 1\n\n\ndef f() -> None: ...\n",
            "empty.txt": "",
            "pkg/__init__.py": "",
            "pkg/py.typed": "",
            "f.txt": "x\r\n",
        },
    )
    problems = whitespace_problems(text_files(root))
    assert problems == [
        "a.md:1: trailing whitespace",
        "b.md: does not end with a newline",
        "c.md: ends with more than one newline (blank lines at end)",
        "d.md:3: 2 consecutive blank lines",
        "empty.txt: empty file",
        "f.txt: carriage return (CRLF line endings?)",
    ]


def test_file_names(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {"ok.py": "x\n", "a.py.jinja": "x\n", "{{x}}.txt": "x\n", ".venv/lib/{odd}.txt": "x\n"},
    )
    assert file_name_problems(root) == [
        "a.py.jinja: file name still ends with .jinja",
        "{{x}}.txt: braces, whitespace or control characters in the name",
    ]


def test_python_relevant_files(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "pyproject.toml": 'readme = "README.md"\n',
            "README.md": "docs\n",
            "Dockerfile": "FROM python\n",
            "compose.yaml": "services: {}\n",
            ".gitlab-ci.yml": "x: 1\n",
            ".python-version": "3.12\n",
            ".env.example": "A=1\n",
            "src/pkg/main.py": "x = 1\n",
            "tests/test_compose.py": 'PATH = "compose.yaml"\n',
            "tests/data/sample.txt": "x\n",
            "migrations/script.py.mako": "x\n",
        },
    )
    assert python_relevant_files(root) == [
        ".env.example",
        ".python-version",
        "compose.yaml",  # a test names it
        "migrations/script.py.mako",
        "pyproject.toml",
        "src/pkg/main.py",
        "tests/data/sample.txt",
        "tests/test_compose.py",
    ]
    before = python_tree_digest(root, {"python": "3.12.1"})
    (root / "Dockerfile").write_text("FROM python:3.12\n")
    (root / "README.md").write_text("other docs\n")
    assert python_tree_digest(root, {"python": "3.12.1"}) == before
    assert python_tree_digest(root, {"python": "3.13.0"}) != before
    (root / "compose.yaml").write_text("services: {db: {}}\n")
    assert python_tree_digest(root, {"python": "3.12.1"}) != before


def test_the_generated_dotenv_is_no_part_of_a_tree(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"src/pkg/config.py": 'ENV_FILE = ".env"\n', ".env.test": "A=1\n"})
    before = python_tree_digest(root, {})

    (root / ".env").write_text("SECRET_KEY=9f2c\n")
    assert python_tree_digest(root, {}) == before
    (root / ".env.test").write_text("A=2\n")
    assert python_tree_digest(root, {}) != before


def test_parse_pytest_output() -> None:
    output = (
        "TOTAL   10  0  2  0  100%\nRequired test coverage of 90% reached. Total coverage: 97.50%\n"
    )
    assert parse_pytest_output(output + "===== 12 passed, 1 skipped in 3s =====") == (12, 97.5)
    assert parse_pytest_output("TOTAL  10  1  91%\n3 passed in 1s") == (3, 91.0)
    assert parse_pytest_output("no tests ran") == (None, None)


def test_pytest_headline_says_why() -> None:
    output = (
        "noise\nFAIL Required test coverage of 90.0% not reached. Total coverage: 89.01%\n"
        "=== short test summary info ===\nFAILED tests/test_a.py::test_x - boom\n"
        "===== 1 failed, 115 passed in 17.43s =====\n"
    )
    assert pytest_headline(output).strip().splitlines() == [
        "why:",
        "FAIL Required test coverage of 90.0% not reached. Total coverage: 89.01%",
        "FAILED tests/test_a.py::test_x - boom",
        "===== 1 failed, 115 passed in 17.43s =====",
    ]


def test_config_problems(tmp_path: Path) -> None:
    assert config_problems(tmp_path) == [
        "no pyproject.toml: the rendered project cannot be installed or tested"
    ]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.mypy]\nstrict = true\n[tool.pytest.ini_options]\n"
        'addopts = "--cov=pkg --cov-branch --cov-fail-under=90"\n'
    )
    assert config_problems(tmp_path) == []
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--cov=pkg"\n'
        "[tool.coverage.report]\nfail_under = 80\n"
    )
    assert len(config_problems(tmp_path)) == 3
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mypy]\nstrict = true\n[tool.pytest]\naddopts = ["--cov"]\n'
        "[tool.coverage.run]\nbranch = true\n[tool.coverage.report]\nfail_under = 90\n"
    )
    assert config_problems(tmp_path) == []


def test_variant_env_leaks_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("APP_SECRET", "outer")
    (tmp_path / ".env.example").write_text("APP_SECRET=change-me\n# LOG_LEVEL=info\n")
    env = variant_env(tmp_path, {"DATABASE_URL": "postgresql://x"})
    assert "VIRTUAL_ENV" not in env
    assert "PYTEST_XDIST_WORKER" not in env
    assert "APP_SECRET" not in env
    assert env["DATABASE_URL"] == "postgresql://x"
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert "/somewhere/.venv/bin" not in env["PATH"].split(":")


def test_run_command_reports_timeout_and_tail(tmp_path: Path) -> None:
    slow = run_command(["sleep", "5"], tmp_path, timeout=0.2)
    assert slow.returncode is None
    assert "timed out" in slow.describe()
    assert tail("\n".join(str(i) for i in range(100)), 3) == "[... 97 lines cut ...]\n97\n98\n99"


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_prerequisite_skips_outside_ci_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"no CPython 3\.99"):
        unavailable("no CPython 3.99 interpreter found")


HARNESS_MYPY = ["-m", "mypy", "--strict", "--explicit-package-bases", "tests"]


@pytest.mark.parametrize(
    "argv",
    [["-m", "ruff", "check", "tests"], ["-m", "ruff", "format", "--check", "tests"], HARNESS_MYPY],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_harness_code_is_clean(argv: list[str]) -> None:
    """The harness holds itself to the repository's ruff config and to mypy --strict."""
    env = {**os.environ, "MYPYPATH": "tests"}
    result = run_command([sys.executable, *argv], REPO_ROOT, env, timeout=300)
    assert result.ok, result.describe()


class _BrokenQuestionnaire:
    """Stands in for the questionnaire: its answers file cannot be named."""

    @property
    def answers_file(self) -> str:
        raise RuntimeError("the harness broke here")


class _OneFileSnapshot:
    def render(self, data: object, dst: Path) -> Path:
        write_tree(dst, {"README.md": "# x\n"})
        return dst


def test_a_harness_error_is_a_failed_check_in_the_report(tmp_path: Path) -> None:
    """An exception in the harness's own code must not lose the combination's report."""
    matrix = load_matrix()
    combination = matrix.valid[0]
    context = HarnessContext(_BrokenQuestionnaire(), _OneFileSnapshot(), "s", "gw0")  # type: ignore[arg-type]
    planned = Planned(combination, None, "no Python checks")

    report = check_combination(planned, None, tmp_path / "project", context)

    assert report.outcome == "failed"
    harness_step = next(step for step in report.steps if step.name == "harness")
    assert "the harness broke here" in harness_step.detail


def test_a_feature_that_is_off_leaves_no_word_of_itself() -> None:
    files = [
        TextFile("src/app/limits.py", "# counts in memory\n# or in Redis, when shared\n"),
        TextFile(".copier-answers.yml", "redis: false\n"),
    ]
    problems = off_feature_problems(files, {"redis": False}, ".copier-answers.yml")
    assert problems == ["src/app/limits.py:2: redis is off: # or in Redis, when shared"]
    assert off_feature_problems(files, {"redis": True}, ".copier-answers.yml") == []
    assert off_feature_problems(files, {}, ".copier-answers.yml") == []  # no such question
