"""Harness plumbing: tiers, shards, ordering (slowest first), progress, and the summary."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from harness.conditionals import (
    CONDITIONALS_PROPERTY,
    count_template_conditionals,
    format_conditionals,
    load_budget,
)
from harness.plan import (
    DURATIONS_FILE,
    FINGERPRINT_VARIABLE,
    STATIC_SECONDS,
    read_durations,
    template_fingerprint,
)
from harness.progress import Progress
from harness.python_checks import HARNESS_DIR, UV_CACHE_DIR
from harness.questionnaire import Questionnaire
from harness.render import TemplateSnapshot
from harness.summary import SUMMARY_DIR, write_summary
from harness.variant import REPORT_PROPERTY, VARIANTS_DIR, HarnessContext, plan_of, tier_of

CONDITIONALS_FILE = HARNESS_DIR / "conditionals.json"
SESSION_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "fastapi-roadmap template harness")
    group.addoption(
        "--quick",
        action="store_true",
        help="quick tier: default, all-features, minimal and each feature alone (default "
        "Python), plus the fast harness tests",
    )
    group.addoption(
        "--all",
        action="store_true",
        help="all tier: every distinct tree on every Python runs its Python checks",
    )
    group.addoption(
        "--variant",
        action="append",
        default=[],
        metavar="ID",
        help="only these variants, e.g. --variant default@py3.12 (repeatable; prefix match)",
    )
    group.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="only shard K of N of the plan (CI's matrix); tests outside the plan go to shard 1",
    )


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    value = config.getoption("--shard")
    if value is None:
        return None
    try:
        index, count = (int(part) for part in str(value).split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {value}: expected K/N, like 2/4") from None
    if not 1 <= index <= count:
        raise pytest.UsageError(f"--shard {value}: K must be between 1 and N")
    return index, count


def pytest_configure(config: pytest.Config) -> None:
    tier_of(config)  # a usage error before anything is rendered
    _shard(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.stash[SESSION_KEY] = workerinput["harness_session"]
    else:
        config.stash[SESSION_KEY] = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        # Workers and child processes inherit it: they plan from this moment's template.
        os.environ.setdefault(FINGERPRINT_VARIABLE, template_fingerprint())
        plan_of(config)  # the controller plans once; xdist workers read the cached digests
        config.pluginmanager.register(ProgressPlugin(config), "harness-progress")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's session (it names the services' corners)."""
    node.workerinput["harness_session"] = node.config.stash[SESSION_KEY]


# ---- selection and order ----------------------------------------------------------------------


def _marker_arg(item: pytest.Item, name: str) -> str | None:
    marker = item.get_closest_marker(name)
    return str(marker.args[0]) if marker else None


def _expected_seconds(item: pytest.Item, durations: dict[str, float]) -> float:
    """Measured seconds of the item's check where the harness records them (its marker's
    `duration_key`), else its marker's estimate."""
    marker = item.get_closest_marker("variant")
    if marker is None:
        return -1.0  # harness tests are fast: after every variant
    estimate = float(marker.kwargs.get("estimate", 0))
    key = marker.kwargs.get("duration_key")
    return durations.get(str(key), estimate) if key else estimate


def _selected(item: pytest.Item, config: pytest.Config, shard_keys: set[str] | None) -> bool:
    wanted: list[str] = config.getoption("--variant")
    variant = _marker_arg(item, "variant")
    if wanted and (variant is None or not any(variant.startswith(w) for w in wanted)):
        return False
    if shard_keys is not None:
        key = _marker_arg(item, "plan_item")
        shard = _shard(config)
        if key is None and shard is not None and shard[0] != 1:
            return False
        if key is not None and key not in shard_keys:
            return False
    # The tiers' variant tests are chosen by the plan; the other tests by their mark.
    return not config.getoption("--quick") or item.get_closest_marker("quick") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = _shard(config)
    shard_keys = plan_of(config).shard(*shard) if shard else None
    kept = [item for item in items if _selected(item, config, shard_keys)]
    dropped = [item for item in items if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    durations = read_durations()
    kept.sort(key=lambda item: _expected_seconds(item, durations), reverse=True)
    items[:] = kept


# ---- the context a variant test gets --------------------------------------------------------


def _worker(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput.get("workerid", "gw0")) if workerinput else "main"


@pytest.fixture(scope="session")
def questionnaire() -> Questionnaire:
    return Questionnaire()


@pytest.fixture(scope="session")
def snapshot(questionnaire: Questionnaire) -> Iterator[TemplateSnapshot]:
    with TemplateSnapshot(questionnaire=questionnaire) as template:
        yield template


@pytest.fixture(scope="session")
def harness(
    request: pytest.FixtureRequest, questionnaire: Questionnaire, snapshot: TemplateSnapshot
) -> HarnessContext:
    config = request.config
    return HarnessContext(questionnaire, snapshot, config.stash[SESSION_KEY], _worker(config))


# ---- progress, collecting results and the summary (controller side) --------------------------


_REPORTS: dict[str, dict[str, Any]] = {}  # "kind:id" -> report (xdist ships them here)
_COUNTED_CONDITIONALS: list[bool] = []  # the budget test ran in this session


class ProgressPlugin:
    """Controller side: a progress line per finished check, done / total and time left."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.progress: Progress | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:  # without xdist; with it, the workers report what they collected
            self._expect([item.nodeid for item in session.items])

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.progress is None:
            self._expect(ids)

    def _expect(self, nodeids: list[str]) -> None:
        durations = read_durations()
        plan = plan_of(self.config)
        trees = {tree.id: tree for tree in plan.trees}
        expected: dict[str, dict[str, float]] = {"static": {}, "tree": {}}
        for nodeid in nodeids:
            test, _, check_id = nodeid.removesuffix("]").rpartition("::")[2].partition("[")
            if test == "test_combination":
                expected["static"][check_id] = durations.get("static", STATIC_SECONDS)
            elif test == "test_tree" and check_id in trees:
                expected["tree"][check_id] = plan.tree_seconds(trees[check_id], durations)
        workers = int(getattr(self.config.option, "numprocesses", 0) or 1)
        self.progress = Progress(expected, workers)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" or self.progress is None:
            return
        for name, value in report.user_properties:
            if name == REPORT_PROPERTY and isinstance(value, dict):
                line = self.progress.record(value["kind"], value["id"], value["seconds"])
                reporter = self.config.pluginmanager.get_plugin("terminalreporter")
                if line and reporter is not None:
                    reporter.write_line(line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == REPORT_PROPERTY and isinstance(value, dict):
            _REPORTS[f"{value['kind']}:{value['id']}"] = value
        if name == CONDITIONALS_PROPERTY:
            _COUNTED_CONDITIONALS.append(True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        return
    if _COUNTED_CONDITIONALS:
        _conditionals_summary(terminalreporter)
    if _REPORTS:
        _variants_summary(terminalreporter, config)


def _conditionals_summary(terminalreporter: Any) -> None:
    report, budget = count_template_conditionals(), load_budget()
    terminalreporter.section("conditionals outside their feature's files (budget)")
    for line in format_conditionals(report, budget):
        terminalreporter.write_line(line)
    HARNESS_DIR.mkdir(parents=True, exist_ok=True)
    data = {**report.to_json(), "budget": budget}
    CONDITIONALS_FILE.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _variants_summary(terminalreporter: Any, config: pytest.Config) -> None:
    plan = plan_of(config)
    terminalreporter.section(f"template variants ({plan.tier} tier, {plan.strategy})")
    lines = write_summary(plan, list(_REPORTS.values()), SUMMARY_DIR)
    for line in lines:
        terminalreporter.write_line(line)
    _save_durations(list(_REPORTS.values()))


def _save_durations(reports: list[dict[str, Any]]) -> None:
    HARNESS_DIR.mkdir(parents=True, exist_ok=True)
    durations = read_durations()
    static = [r["seconds"] for r in reports if r["kind"] == "static"]
    if static:
        durations["static"] = sum(static) / len(static)
    durations.update(
        {r["id"]: r["seconds"] for r in reports if r["kind"] == "tree" and r["outcome"] == "passed"}
    )
    DURATIONS_FILE.write_text(json.dumps(durations, indent=2, sort_keys=True), encoding="utf-8")


def pytest_report_header(config: pytest.Config) -> list[str]:
    plan = plan_of(config)
    matrix_size = len({p.id for p in plan.combinations})
    estimate = plan.estimated_seconds(read_durations()) / 60
    return [
        f"{plan.tier} tier ({plan.strategy}): {matrix_size} combinations rendered and checked, "
        f"{len(plan.trees)} distinct trees run Python; about {estimate:.0f} min on 2 workers",
        f"variant folders (render, .venv, mypy cache): {VARIANTS_DIR}; uv cache: {UV_CACHE_DIR}",
        f"summary files: {SUMMARY_DIR}; session pid {os.getpid()} at {time.strftime('%H:%M:%S')}",
    ]
