"""The conditionals budget: `{% if %}` blocks a feature puts into files it does not own.

The counting is checked on a small template made here (known counts), then the real template is
held to `tests/conditionals-budget.toml`. The session summary prints the table and
`.harness/conditionals.json` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from harness.conditionals import (
    CONDITIONALS_PROPERTY,
    budget_problems,
    count_conditionals,
    count_template_conditionals,
    format_conditionals,
    load_budget,
)
from harness.tree_checks import write_tree

pytestmark = pytest.mark.quick

QUESTIONS = ("project_name", "auth", "database", "redis")
SYNTHETIC_TEMPLATE = {
    # shared: an if/elif block naming two features counts once for each; a plain `else` nothing
    "main.py.jinja": (
        "{% if auth %}a{% elif database == 'postgresql' %}p{% else %}n{% endif %}\n"
        "{%- if auth and redis %}both{% endif %}\n"
        "{% if project_name %}{{ project_name }}{% endif %}\n"
        "{% for x in [1] %}{% if auth %}nested{% endif %}{% endfor %}\n"
    ),
    # copied as it is (no .jinja): its text is not a template
    "static.txt": "{% if auth %}not a block{% endif %}\n",
    # auth's own folder: auth blocks are free, a database block is a sprinkle
    "{% if auth %}auth{% endif %}/service.py.jinja": (
        "{% if auth %}own{% endif %}{% if database == 'sqlite' %}s{% endif %}\n"
    ),
    "{% if auth %}auth{% endif %}/__init__.py": "",
    # a feature's own file by name, in a shared folder
    "tests/{% if redis %}test_cache.py{% endif %}.jinja": "{% if redis %}x{% endif %}\n",
}


def test_counts_blocks_per_feature_outside_its_own_files(tmp_path: Path) -> None:
    report = count_conditionals(write_tree(tmp_path, SYNTHETIC_TEMPLATE), QUESTIONS)
    assert report.by_feature() == {"auth": 3, "database": 2, "project_name": 1, "redis": 1}
    blocks = {f.path: dict(f.blocks) for f in report.files}
    assert blocks["main.py.jinja"] == {"auth": 3, "database": 1, "project_name": 1, "redis": 1}
    assert blocks["{% if auth %}auth{% endif %}/service.py.jinja"] == {"database": 1}
    assert blocks["static.txt"] == {}
    assert blocks["tests/{% if redis %}test_cache.py{% endif %}.jinja"] == {}
    assert report.owned_paths() == {"auth": 2, "redis": 1}
    assert [f.path for f in report.shared_files()] == ["main.py.jinja", "static.txt"]


def test_budget_names_the_feature_over_it_and_where(tmp_path: Path) -> None:
    report = count_conditionals(write_tree(tmp_path, SYNTHETIC_TEMPLATE), QUESTIONS)
    budget = {"auth": 3, "database": 1, "project_name": 1}
    problems = budget_problems(report, budget)
    assert [problem.split(":")[0] for problem in problems] == ["database", "redis"]
    assert "database: 2 {% if %} blocks outside its own files, budget 1" in problems[0]
    assert "main.py.jinja (1), {% if auth %}auth{% endif %}/service.py.jinja (1)" in problems[0]
    assert "budget 0" in problems[1]  # a feature without an entry may sprinkle nothing
    assert budget_problems(report, {**budget, "database": 2, "redis": 1}) == []


def test_table_shows_files_totals_and_slack(tmp_path: Path) -> None:
    report = count_conditionals(write_tree(tmp_path, SYNTHETIC_TEMPLATE), QUESTIONS)
    lines = format_conditionals(report, {"auth": 5, "database": 2, "redis": 1})
    header = ["file", "shared", "auth", "database", "project_name", "redis", "total"]
    assert lines[0].split() == header
    assert lines[2].split() == ["main.py", "yes", "3", "1", "1", "1", "6"]
    assert lines[3].split() == ["auth[auth]/service.py", "-", "1", "1"]
    assert lines[5].split()[:6] == ["total", "(budget)", "3", "(5)", "2", "(2)"]
    assert lines[-2] == "files a feature owns by its path (not counted above): auth 2, redis 1"
    assert lines[-1] == "under budget, tighten it to: auth 3"


def test_template_conditionals_within_budget(
    record_property: Callable[[str, object], None],
) -> None:
    report = count_template_conditionals()
    budget = load_budget()
    record_property(CONDITIONALS_PROPERTY, True)  # the session summary prints the table
    problems = budget_problems(report, budget)
    assert not problems, "\n".join(problems)
