"""The plan's checks: every combination rendered and statically checked, every distinct tree's
Python checks run once.

`test_combination`: a render from the session's template snapshot, then names, Jinja leftovers,
whitespace, ruff format, ruff check, the answers file and the tree key. `test_tree`: the Python
checks (config, uv sync, mypy, pytest with coverage) in the tree's own uv environment, for every
combination the tree stands for. Which combinations and trees a tier holds is `harness/plan.py`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from harness.plan import (
    STATIC_SECONDS,
    Planned,
    Tree,
    static_item,
    tree_item,
)
from harness.variant import (
    REPORT_PROPERTY,
    HarnessContext,
    check_combination,
    check_tree,
    plan_of,
    workspace,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    plan = plan_of(metafunc.config)
    if "planned" in metafunc.fixturenames:
        metafunc.parametrize(
            "planned",
            [
                pytest.param(
                    planned,
                    id=planned.id,
                    marks=[
                        pytest.mark.variant(
                            planned.id, estimate=STATIC_SECONDS, duration_key="static"
                        ),
                        pytest.mark.plan_item(static_item(planned.id)),
                        pytest.mark.quick,
                    ],
                )
                for planned in plan.combinations
            ],
        )
    if "tree" in metafunc.fixturenames:
        metafunc.parametrize(
            "tree",
            [
                pytest.param(
                    tree,
                    id=tree.id,
                    marks=[
                        pytest.mark.variant(
                            tree.id, estimate=plan.tree_seconds(tree, {}), duration_key=tree.id
                        ),
                        pytest.mark.plan_item(tree_item(tree.id)),
                        pytest.mark.quick,
                    ],
                )
                for tree in plan.trees
            ],
        )


def test_combination(
    planned: Planned,
    request: pytest.FixtureRequest,
    harness: HarnessContext,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    plan = plan_of(request.config)
    tree = plan.tree(planned.tree) if planned.tree else None
    expected = tree.key if tree is not None and planned.id in tree.members else None
    destination = tmp_path / "project"
    report = check_combination(planned, expected, destination, harness)
    record_property(REPORT_PROPERTY, report.to_json())
    if report.outcome == "passed":
        shutil.rmtree(destination)  # hundreds of renders: keep only the failed ones
    report.conclude()


def test_tree(
    tree: Tree,
    harness: HarnessContext,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    with workspace(tree.run, fallback=tmp_path) as base:
        report = check_tree(tree, base, harness)
    record_property(REPORT_PROPERTY, report.to_json())
    report.conclude()
