"""Harness plumbing: options, ordering (slowest first), xdist session sharing, the summary."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from harness.conditionals import (
    CONDITIONALS_PROPERTY,
    count_template_conditionals,
    format_conditionals,
    load_budget,
)
from harness.python_checks import HARNESS_DIR, UV_CACHE_DIR
from harness.questionnaire import Questionnaire
from harness.sharing import SharedRuns, prune_sessions
from harness.summary import format_footer, format_table, missing_lines
from harness.variant import REPORT_PROPERTY, VARIANTS_DIR, HarnessContext

DURATIONS_FILE = HARNESS_DIR / "durations.json"
SUMMARY_FILE = HARNESS_DIR / "last-summary.json"
CONDITIONALS_FILE = HARNESS_DIR / "conditionals.json"
SESSION_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "fastapi-roadmap template harness")
    group.addoption(
        "--quick",
        action="store_true",
        help="edit loop: default and all-features variants (default Python) + questionnaire",
    )
    group.addoption(
        "--variant",
        action="append",
        default=[],
        metavar="ID",
        help="only these variants, e.g. --variant default@py3.12 (repeatable; prefix match)",
    )


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        session = workerinput["harness_session"]
    else:
        session = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        prune_sessions(session)
    config.stash[SESSION_KEY] = session


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's session (for shared Python runs)."""
    node.workerinput["harness_session"] = node.config.stash[SESSION_KEY]


# ---- selection and order ----------------------------------------------------------------------


def _variant_id(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("variant")
    return str(marker.args[0]) if marker else None


def _expected_seconds(item: pytest.Item, durations: dict[str, float]) -> float:
    variant = _variant_id(item)
    if variant is None:
        return -1.0  # questionnaire tests are fast: after every variant
    marker = item.get_closest_marker("variant")
    estimate = float(marker.kwargs.get("estimate", 0)) if marker else 0.0
    return durations.get(variant, estimate)


def _selected(item: pytest.Item, wanted: list[str], quick: bool) -> bool:
    variant = _variant_id(item)
    if wanted and (variant is None or not any(variant.startswith(w) for w in wanted)):
        return False
    return not quick or item.get_closest_marker("quick") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("--variant")
    quick = config.getoption("--quick")
    kept = [item for item in items if _selected(item, wanted, quick)]
    dropped = [item for item in items if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    durations = _read_durations()
    kept.sort(key=lambda item: _expected_seconds(item, durations), reverse=True)
    items[:] = kept


def _read_durations() -> dict[str, float]:
    try:
        data = json.loads(DURATIONS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()}


# ---- the context a variant test gets --------------------------------------------------------


def _worker(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput.get("workerid", "gw0")) if workerinput else "main"


@pytest.fixture(scope="session")
def questionnaire() -> Questionnaire:
    return Questionnaire()


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest, questionnaire: Questionnaire) -> HarnessContext:
    config = request.config
    session = config.stash[SESSION_KEY]
    return HarnessContext(questionnaire, SharedRuns(session), session, _worker(config))


# ---- collecting results and the summary (controller side) -----------------------------------


_REPORTS: dict[str, dict[str, Any]] = {}  # variant id -> report (xdist ships them here)
_COUNTED_CONDITIONALS: list[bool] = []  # the budget test ran in this session


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == REPORT_PROPERTY and isinstance(value, dict):
            _REPORTS[value["id"]] = value
        if name == CONDITIONALS_PROPERTY:
            _COUNTED_CONDITIONALS.append(True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        return
    if _COUNTED_CONDITIONALS:
        _conditionals_summary(terminalreporter)
    if _REPORTS:
        _variants_summary(terminalreporter)


def _conditionals_summary(terminalreporter: Any) -> None:
    report, budget = count_template_conditionals(), load_budget()
    terminalreporter.section("conditionals outside their feature's files (budget)")
    for line in format_conditionals(report, budget):
        terminalreporter.write_line(line)
    HARNESS_DIR.mkdir(parents=True, exist_ok=True)
    data = {**report.to_json(), "budget": budget}
    CONDITIONALS_FILE.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _variants_summary(terminalreporter: Any) -> None:
    default = _default_python()
    reports = sorted(
        _REPORTS.values(), key=lambda r: (r["python"] != default, r["python"], r["name"])
    )
    terminalreporter.section("template variants")
    for line in format_table(reports):
        terminalreporter.write_line(line)
    terminalreporter.write_line("")
    terminalreporter.write_line(format_footer(reports))
    for line in missing_lines(reports):
        terminalreporter.write_line(f"missing: {line}")
    _save(reports)


def _default_python() -> str:
    from harness.matrix import load_matrix

    return load_matrix().default_python


def _save(reports: list[dict[str, Any]]) -> None:
    HARNESS_DIR.mkdir(parents=True, exist_ok=True)
    SUMMARY_FILE.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    durations = _read_durations()
    durations.update({r["id"]: r["seconds"] for r in reports if r["outcome"] != "skipped"})
    DURATIONS_FILE.write_text(json.dumps(durations, indent=2, sort_keys=True), encoding="utf-8")


def pytest_report_header(config: pytest.Config) -> list[str]:
    from harness.matrix import load_matrix

    matrix = load_matrix()
    return [
        f"template matrix: {len(matrix.valid)} valid combinations, {len(matrix.invalid)} "
        f"invalid; {len(matrix.runs())} variant runs; session {config.stash[SESSION_KEY]}",
        f"variant folders (render, .venv, mypy cache): {VARIANTS_DIR}; uv cache: {UV_CACHE_DIR}",
    ]
