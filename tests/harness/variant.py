"""Check a combination (render, then the static checks) and a distinct tree (its Python checks).

Every combination of the plan gets `check_combination`: a render from the session's template
snapshot, the tree checks, ruff, the answers file, and its tree key against the plan's. Every
distinct tree gets `check_tree` once, for all the combinations it stands for.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pytest

from .container_checks import (
    compose_problems,
    feature_file_problems,
    hadolint_problems,
    schema_problems,
    workflow_command_problems,
    workflow_environment_problems,
)
from .contract import contract_step
from .interpreters import find_interpreter, find_uv
from .matrix import Combination, VariantRun
from .plan import Plan, Planned, Tree, load_plan, tree_key
from .python_checks import (
    PythonRun,
    Step,
    python_relevant_files,
    run_python_checks,
    variant_env,
)
from .questionnaire import REPO_ROOT, Questionnaire
from .render import TemplateSnapshot
from .security import audit_step, bandit_step
from .services import isolated_services, isolation_owner, service_problem, services_for
from .tree_checks import (
    answers_file_problems,
    file_name_problems,
    jinja_leftover_problems,
    off_feature_problems,
    ruff_check_problems,
    ruff_format_problems,
    text_files,
    whitespace_problems,
)

REPORT_PROPERTY = "harness_variant"
# A stable folder per variant (outside the repository, so no config of the repo leaks in): its
# .venv and mypy cache survive to the next session, which makes the edit loop much faster.
VARIANTS_DIR = Path(
    os.environ.get("HARNESS_VARIANTS_DIR")
    or Path(tempfile.gettempdir())
    / f"fastapi-roadmap-variants-{os.getuid()}"
    / hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]
)
KEPT_BETWEEN_SESSIONS = {".venv", ".mypy_cache"}
TREE_STEPS = (
    "names",
    "jinja",
    "whitespace",
    "off-features",
    "ruff-format",
    "ruff-check",
    "answers",
    "feature-files",
    "hadolint",
    "schemas",
    "compose",
    "ci-commands",
    "ci-environment",
    "tree-key",
)
STATIC_CHECKS = ("render", *TREE_STEPS)


class SyncedTreeStep(Protocol):
    """A check of a tree whose environment is synced: it gets the project, its environment,
    the services its answers use, and a folder of its own under the tree's TMPDIR."""

    def __call__(
        self, project: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path
    ) -> Step: ...


# After the project's own checks, once per distinct tree; a new per-tree check is one entry.
SYNCED_TREE_STEPS: dict[str, SyncedTreeStep] = {
    "bandit": bandit_step,
    "audit": audit_step,
    "contract": contract_step,
}
PYTHON_STEPS = ("config", "uv-sync", "mypy", "pytest", *SYNCED_TREE_STEPS)
TREE_CHECKS = ("render", "tree-key", *PYTHON_STEPS)


def tier_of(config: pytest.Config) -> str:
    """The tier the options ask for: quick, all, or full (the default)."""
    if config.getoption("--quick") and config.getoption("--all"):
        raise pytest.UsageError("--quick and --all are different tiers: give one")
    return (
        "quick" if config.getoption("--quick") else "all" if config.getoption("--all") else "full"
    )


def plan_of(config: pytest.Config) -> Plan:
    return load_plan(tier_of(config))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A missing prerequisite: a skip on a developer machine, a failure under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is a failure)", pytrace=False)
    pytest.skip(f"{reason} (outside CI this is a skip; under CI=true it fails)")


@contextlib.contextmanager
def workspace(run: VariantRun, fallback: Path, purpose: str = "") -> Iterator[Path]:
    """The variant's stable folder: `project/` (emptied but for its caches) and `tmp/` (its
    TMPDIR, emptied). `fallback` instead while another session holds the folder. A `purpose`
    (such as a README guide) gets a folder of its own."""
    key = f"{purpose}-{run.id}" if purpose else run.id
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]  # `a=b` and `a,b` stay apart
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", key) + f"-{digest}"
    VARIANTS_DIR.mkdir(parents=True, exist_ok=True)
    with (VARIANTS_DIR / f"{name}.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            base = VARIANTS_DIR / name
        except BlockingIOError:
            base = fallback
        _empty(base / "project", keep=KEPT_BETWEEN_SESSIONS)
        _empty(base / "tmp", keep=set())
        yield base


def _empty(directory: Path, keep: set[str]) -> None:
    """Remove everything in `directory` but the names in `keep`; create it if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        if child.name in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@dataclass(frozen=True)
class HarnessContext:
    questionnaire: Questionnaire
    snapshot: TemplateSnapshot  # this worker's clone of the template, rendered in-process
    session: str  # this harness session, shared by its xdist workers
    worker: str  # the xdist worker this process is

    def isolation_owner(self, variant: str) -> str:
        """The owner of `variant`'s corner of the services (see `services.isolation_owner`)."""
        return isolation_owner(self.session, self.worker, variant)


@dataclass
class Report:
    """Steps of one check, travelling to the controller as a user property."""

    kind: str  # "static" (a combination) or "tree" (a distinct tree's Python checks)
    id: str
    name: str
    python: str
    directory: str
    steps: list[Step] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed_steps(self) -> list[Step]:
        return [step for step in self.steps if step.status == "failed"]

    @property
    def outcome(self) -> str:
        if self.failed_steps:
            return "failed"
        return "skipped" if self.missing else "passed"

    def add(self, name: str, problems: list[str], seconds: float = 0.0) -> None:
        status = "failed" if problems else "ok"
        self.steps.append(Step(name, status, seconds, "\n".join(problems)))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome}

    def conclude(self) -> None:
        """Pass, fail with every failed check's detail, or skip for a missing prerequisite."""
        if self.failed_steps:
            pytest.fail(self.failure_message(), pytrace=False)
        if self.missing:
            unavailable(f"{self.id}: " + "; ".join(self.missing))

    def failure_message(self) -> str:
        names = ", ".join(step.name for step in self.failed_steps)
        lines = [f"{self.kind} checks of {self.id} failed: {names} (rendered in {self.directory})"]
        lines += self.missing
        for step in self.failed_steps:
            lines += ["", f"---- {step.name} ----", step.detail]
        return "\n".join(lines)


@dataclass
class StaticReport(Report):
    tree: str | None = None  # the tree that runs this combination's Python checks
    relation: str = ""


@dataclass
class TreeReport(Report):
    roles: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    key: str = ""
    tests_passed: int | None = None
    coverage: float | None = None
    python_files: int = 0

    def absorb(self, run: PythonRun) -> None:
        self.steps += run.steps
        self.tests_passed, self.coverage, self.python_files = (
            run.tests_passed,
            run.coverage,
            run.files,
        )


def _finish(report: Report, start: float, checks: tuple[str, ...]) -> None:
    report.seconds = time.monotonic() - start
    done = {step.name for step in report.steps}
    report.steps += [Step(name, "not run") for name in checks if name not in done]


def check_combination(
    planned: Planned, expected_key: str | None, destination: Path, context: HarnessContext
) -> StaticReport:
    """Render `planned` into `destination` and give it the static checks. `expected_key` is
    the tree key the plan recorded for it (None when the plan did not hash it)."""
    combination = planned.combination
    report = StaticReport(
        "static",
        planned.id,
        combination.name,
        combination.python,
        str(destination),
        tree=planned.tree,
        relation=planned.relation,
    )
    start = time.monotonic()
    try:
        if _render_step(combination.data, destination, context, report):
            _tree_steps(combination, destination, context.questionnaire, report)
            if expected_key is not None:
                report.add("tree-key", _key_problems(destination, planned, expected_key))
    except Exception:  # the harness itself broke: a failed check, kept in the summary
        report.add("harness", [traceback.format_exc()])
    finally:
        _finish(report, start, STATIC_CHECKS)
    return report


def check_tree(tree: Tree, base: Path, context: HarnessContext) -> TreeReport:
    """Render the tree's representative into `base/project` and run its Python checks; its
    commands get `base/tmp` as TMPDIR."""
    run = tree.run
    destination = base / "project"
    report = TreeReport(
        "tree",
        run.id,
        run.name,
        run.python,
        str(destination),
        roles=list(run.roles),
        members=list(tree.members),
        key=tree.key,
    )
    start = time.monotonic()
    try:
        if _render_step(run.combination.data, destination, context, report):
            planned = Planned(run.combination, tree.id, "ran it")
            report.add("tree-key", _key_problems(destination, planned, tree.key))
            _python_steps(run, destination, context, report, base / "tmp")
    except Exception:  # e.g. a service's corner could not be made: a failed check
        report.add("harness", [traceback.format_exc()])
    finally:
        _finish(report, start, TREE_CHECKS)
    return report


def _key_problems(root: Path, planned: Planned, expected: str) -> list[str]:
    found = tree_key(root, planned.combination)
    if found == expected:
        return []
    return [
        f"its Python tree hashes to {found}, but the plan recorded {expected}: the render is not "
        "deterministic, or the plan cache is stale (delete .harness/plans)"
    ]


def _render_step(
    data: Mapping[str, Any], destination: Path, context: HarnessContext, report: Report
) -> bool:
    start = time.monotonic()
    try:
        context.snapshot.render(data, destination)
    except Exception:  # any failure to render is this step's result
        report.add("render", [traceback.format_exc(limit=-3)], time.monotonic() - start)
        return False
    report.add("render", [], time.monotonic() - start)
    return True


def _tree_steps(
    combination: Combination, root: Path, questionnaire: Questionnaire, report: Report
) -> None:
    files = text_files(root)
    answers_file = questionnaire.answers_file
    report.add("names", file_name_problems(root))
    report.add("jinja", jinja_leftover_problems(files))
    report.add("whitespace", whitespace_problems(files))
    report.add("off-features", off_feature_problems(files, combination.answers, answers_file))
    for name, check in (("ruff-format", ruff_format_problems), ("ruff-check", ruff_check_problems)):
        start = time.monotonic()
        report.add(name, check(root), time.monotonic() - start)
    recorded = combination.recorded
    report.add("answers", answers_file_problems(root, answers_file, recorded, REPO_ROOT))
    report.add("feature-files", feature_file_problems(root, combination.answers))
    for name, check in (("hadolint", hadolint_problems), ("schemas", schema_problems)):
        start = time.monotonic()
        report.add(name, check(root), time.monotonic() - start)
    report.add("compose", compose_problems(root, combination.answers))
    report.add("ci-commands", workflow_command_problems(root))
    report.add("ci-environment", workflow_environment_problems(root, combination.answers))


def _python_steps(
    run: VariantRun, root: Path, context: HarnessContext, report: TreeReport, tmp: Path
) -> None:
    services = services_for(run.combination.answers)
    uv, interpreter = find_uv(), find_interpreter(run.python)
    if uv is None:
        report.missing.append("uv is not installed (or not runnable)")
    if interpreter is None:
        report.missing.append(f"no CPython {run.python} interpreter found (uv, pyenv, PATH)")
    report.missing += [p for p in (service_problem(s) for s in sorted(services)) if p]
    if report.missing or uv is None or interpreter is None:
        return
    with isolated_services(services, context.isolation_owner(run.id)) as service_vars:
        env = {**service_vars, "TMPDIR": str(tmp)}
        python_run = run_python_checks(root, uv, interpreter, env)
        python_run.steps += _synced_tree_steps(python_run, root, env, services, tmp)
    python_run.files = len(python_relevant_files(root))
    report.absorb(python_run)


def _synced_tree_steps(
    python_run: PythonRun, root: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path
) -> list[Step]:
    if not all(step.ok for step in python_run.steps if step.name == "uv-sync"):
        return [Step(name, "not run") for name in SYNCED_TREE_STEPS]
    steps = []
    for name, step in SYNCED_TREE_STEPS.items():
        work = tmp / name
        work.mkdir(parents=True, exist_ok=True)
        steps.append(step(root, variant_env(root, env), services, work))
    return steps
