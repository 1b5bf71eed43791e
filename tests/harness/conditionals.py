"""Count the `{% if %}` blocks each feature (question) sprinkles over files it does not own.

A file is owned by the features whose conditions are in its path: everything below
`{% if auth %}auth{% endif %}/`, or `{% if auth %}conftest.py{% endif %}.jinja`, is auth's. A
block in a file counts for every question its tests (`if` and `elif`) name, except the file's
owners: auth's own files may test auth freely, but a `database` test there is a sprinkle. Only
templated files (the `.jinja` suffix) have blocks; other files are copied as they are.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes

from .questionnaire import REPO_ROOT, Questionnaire

BUDGET_FILE = REPO_ROOT / "tests" / "conditionals-budget.toml"
CONDITIONALS_PROPERTY = "harness_conditionals"  # set by the budget test: print the table
TEMPLATES_SUFFIX = ".jinja"  # Copier's default `_templates_suffix`
_NAME_CONDITION = re.compile(r"\{%-?\s*if\s+(.+?)\s*-?%\}(.*?)\{%-?\s*endif\s*-?%\}")


@dataclass(frozen=True)
class FileConditionals:
    path: str  # relative to the template folder, as written there (conditions included)
    owners: frozenset[str]  # questions tested in the path
    blocks: Mapping[str, int]  # question -> blocks testing it (owners left out)


@dataclass
class ConditionalsReport:
    files: list[FileConditionals] = field(default_factory=list)

    def by_feature(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for file in self.files:
            totals.update(file.blocks)
        return dict(sorted(totals.items()))

    def owned_paths(self) -> dict[str, int]:
        """Files each feature owns by name (the way a feature should land)."""
        owned: Counter[str] = Counter()
        for file in self.files:
            owned.update(file.owners)
        return dict(sorted(owned.items()))

    def shared_files(self) -> list[FileConditionals]:
        return [file for file in self.files if not file.owners]

    def sprinkled(self) -> list[FileConditionals]:
        """Files with at least one counted block, the most first."""
        hit = [file for file in self.files if file.blocks]
        return sorted(hit, key=lambda f: (-sum(f.blocks.values()), f.path))

    def to_json(self) -> dict[str, Any]:
        return {
            "by_feature": self.by_feature(),
            "owned_by_name": self.owned_paths(),
            "files": [
                {"path": f.path, "owners": sorted(f.owners), "blocks": dict(f.blocks)}
                for f in self.sprinkled()
            ],
        }


def _questions_tested(test: nodes.Node, questions: frozenset[str]) -> set[str]:
    names = [test, *test.find_all(nodes.Name)]  # find_all yields only the descendants
    return {n.name for n in names if isinstance(n, nodes.Name) and n.name in questions}


def _block_questions(
    source: str, env: jinja2.Environment, questions: frozenset[str]
) -> list[set[str]]:
    """For each `{% if %}` block (its `elif`s included), the questions its tests name."""
    tree = env.parse(source)
    branches = {id(elif_) for node in tree.find_all(nodes.If) for elif_ in node.elif_}
    blocks = []
    for node in tree.find_all(nodes.If):
        if id(node) in branches:
            continue
        tested = _questions_tested(node.test, questions)
        for elif_ in node.elif_:
            tested |= _questions_tested(elif_.test, questions)
        blocks.append(tested)
    return blocks


def count_conditionals(template_dir: Path, questions: Iterable[str]) -> ConditionalsReport:
    env = jinja2.Environment()
    known = frozenset(questions)
    report = ConditionalsReport()
    for path in sorted(p for p in template_dir.rglob("*") if p.is_file()):
        relpath = path.relative_to(template_dir).as_posix()
        if "__pycache__" in relpath:
            continue
        owners = frozenset().union(*_block_questions(relpath, env, known))
        blocks: Counter[str] = Counter()
        if path.name.endswith(TEMPLATES_SUFFIX):
            for tested in _block_questions(path.read_text(encoding="utf-8"), env, known):
                blocks.update(tested - owners)
        report.files.append(FileConditionals(relpath, owners, dict(sorted(blocks.items()))))
    return report


def questions_by_file(template_dir: Path, questions: Iterable[str]) -> dict[str, frozenset[str]]:
    """Every template file (its path as written) -> the questions its path or text uses, in a
    test or in an expression."""
    env = jinja2.Environment()
    known = frozenset(questions)
    found = {}
    for path in sorted(p for p in template_dir.rglob("*") if p.is_file()):
        relpath = path.relative_to(template_dir).as_posix()
        if "__pycache__" in relpath:
            continue
        sources = [relpath]
        if path.name.endswith(TEMPLATES_SUFFIX):
            sources.append(path.read_text(encoding="utf-8"))
        names = (n.name for source in sources for n in env.parse(source).find_all(nodes.Name))
        found[relpath] = frozenset(name for name in names if name in known)
    return found


def rendered_name(template_path: str) -> str:
    """A template path with its `{% if %}` name parts resolved as if true, `.jinja` dropped."""
    return _NAME_CONDITION.sub(r"\2", template_path).removesuffix(TEMPLATES_SUFFIX)


def count_template_conditionals() -> ConditionalsReport:
    """The counts for this repository's template folder and questions."""
    questionnaire = Questionnaire()
    subdirectory = str(questionnaire.settings.get("_subdirectory", ""))
    return count_conditionals(REPO_ROOT / subdirectory, questionnaire.names)


def load_budget(path: Path = BUDGET_FILE) -> dict[str, int]:
    """question -> the most blocks it may have outside its own files (absent: none)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(name): int(limit) for name, limit in data.get("features", {}).items()}


def budget_problems(report: ConditionalsReport, budget: Mapping[str, int]) -> list[str]:
    problems = []
    for feature, count in report.by_feature().items():
        limit = budget.get(feature, 0)
        if count > limit:
            where = ", ".join(
                f"{f.path} ({f.blocks[feature]})" for f in report.sprinkled() if feature in f.blocks
            )
            problems.append(
                f"{feature}: {count} {{% if %}} blocks outside its own files, budget {limit}; "
                f"move the difference into the feature's module (in: {where})"
            )
    return problems


def format_conditionals(report: ConditionalsReport, budget: Mapping[str, int]) -> list[str]:
    """A short table: one row per file with counted blocks, then the totals against budget."""
    totals = report.by_feature()
    features = sorted(set(totals) | set(budget))
    shared = {f.path for f in report.shared_files()}
    rows = [("file", "shared", *features, "total")]
    for file in report.sprinkled():
        counts = [str(file.blocks.get(feature, "")) for feature in features]
        short = _NAME_CONDITION.sub(r"\2[\1]", file.path.replace("{{ package_name }}", "<pkg>"))
        short = short.removesuffix(TEMPLATES_SUFFIX)
        shared_mark = "yes" if file.path in shared else "-"
        rows.append((short, shared_mark, *counts, str(sum(file.blocks.values()))))
    rows.append(
        (
            "total (budget)",
            "",
            *(f"{totals.get(f, 0)} ({budget.get(f, 0)})" for f in features),
            str(sum(totals.values())),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    owned = ", ".join(f"{name} {count}" for name, count in report.owned_paths().items())
    lines.append(f"files a feature owns by its path (not counted above): {owned or 'none'}")
    slack = [f"{f} {totals.get(f, 0)}" for f in features if totals.get(f, 0) < budget.get(f, 0)]
    if slack:
        lines.append(f"under budget, tighten it to: {', '.join(slack)}")
    return [line.rstrip() for line in lines]
