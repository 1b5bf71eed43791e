"""Every valid combination of `copier.yml`, rendered and checked like a real project.

One test per variant and interpreter: render, tree checks (names, Jinja leftovers, whitespace,
ruff format, ruff check, answers file), then the Python checks in the variant's own uv
environment (config, uv sync, mypy, pytest with coverage), shared between identical trees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from harness.matrix import VariantRun, load_matrix
from harness.services import services_for
from harness.variant import REPORT_PROPERTY, HarnessContext, check_variant, workspace


def _estimate(run: VariantRun) -> float:
    """Seconds a first run may take (before .harness/durations.json knows better)."""
    features = 0 if run.name == "default" else run.name.count(",") + 1
    return 60 + 15 * features + 20 * len(services_for(run.combination.answers))


def _params() -> list[object]:
    return [
        pytest.param(
            run,
            id=run.id,
            marks=[
                pytest.mark.variant(run.id, estimate=_estimate(run)),
                *([pytest.mark.quick] if run.quick else []),
            ],
        )
        for run in load_matrix().runs()
    ]


@pytest.mark.parametrize("run", _params())
def test_variant(
    run: VariantRun,
    harness: HarnessContext,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    with workspace(run, fallback=tmp_path) as base:
        report = check_variant(run, base, harness)
    record_property(REPORT_PROPERTY, report.to_json())
    report.conclude()
