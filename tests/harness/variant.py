"""Check one variant end to end: render, tree checks, then the (possibly shared) Python checks."""

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
from typing import Any, NoReturn

import pytest

from .interpreters import find_interpreter, find_uv
from .matrix import VariantRun
from .python_checks import PythonRun, Step, python_tree_digest, run_python_checks
from .questionnaire import REPO_ROOT, Questionnaire
from .render import render
from .services import isolated_services, isolation_owner, service_problem, services_for
from .sharing import SharedRuns
from .tree_checks import (
    answers_file_problems,
    file_name_problems,
    jinja_leftover_problems,
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
TREE_STEPS = ("names", "jinja", "whitespace", "ruff-format", "ruff-check", "answers")
PYTHON_STEPS = ("config", "uv-sync", "mypy", "pytest")
CHECKS = ("render", *TREE_STEPS, *PYTHON_STEPS)


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
    shared: SharedRuns
    session: str  # this harness session, shared by its xdist workers
    worker: str  # the xdist worker this process is

    def isolation_owner(self, variant: str) -> str:
        """The owner of `variant`'s corner of the services (see `services.isolation_owner`)."""
        return isolation_owner(self.session, self.worker, variant)


@dataclass
class VariantReport:
    """What happened to one variant; travels to the controller as a user property."""

    id: str
    name: str
    python: str
    roles: list[str]
    directory: str
    steps: list[Step] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    tests_passed: int | None = None
    coverage: float | None = None
    python_key: str | None = None
    python_owner: str | None = None
    python_files: int = 0
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

    def absorb(self, run: PythonRun, key: str, owner: str) -> None:
        self.steps += run.steps
        self.tests_passed, self.coverage = run.tests_passed, run.coverage
        self.python_key, self.python_owner, self.python_files = key, owner, run.files

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
        lines = [f"variant {self.id} failed: {names} (rendered in {self.directory})"]
        if self.python_owner and self.python_owner != self.id:
            lines.append(f"(Python checks reused from the identical tree of {self.python_owner})")
        lines += self.missing
        for step in self.failed_steps:
            lines += ["", f"---- {step.name} ----", step.detail]
        return "\n".join(lines)


def check_variant(run: VariantRun, base: Path, context: HarnessContext) -> VariantReport:
    """Render into `base/project` and check it; its commands get `base/tmp` as TMPDIR."""
    destination = base / "project"
    report = VariantReport(run.id, run.name, run.python, list(run.roles), str(destination))
    start = time.monotonic()
    try:
        if _render_step(run, destination, context, report):
            _tree_steps(run, destination, context.questionnaire, report)
            _python_steps(run, destination, context, report, base / "tmp")
    finally:
        report.seconds = time.monotonic() - start
        done = {step.name for step in report.steps}
        report.steps += [Step(name, "not run") for name in CHECKS if name not in done]
    return report


def _render_step(
    run: VariantRun, destination: Path, context: HarnessContext, report: VariantReport
) -> bool:
    start = time.monotonic()
    try:
        render(run.combination.data, destination, context.questionnaire)
    except Exception:  # any failure to render is this step's result
        report.add("render", [traceback.format_exc(limit=-3)], time.monotonic() - start)
        return False
    report.add("render", [], time.monotonic() - start)
    return True


def _tree_steps(
    run: VariantRun, root: Path, questionnaire: Questionnaire, report: VariantReport
) -> None:
    files = text_files(root)
    report.add("names", file_name_problems(root))
    report.add("jinja", jinja_leftover_problems(files))
    report.add("whitespace", whitespace_problems(files))
    for name, check in (("ruff-format", ruff_format_problems), ("ruff-check", ruff_check_problems)):
        start = time.monotonic()
        report.add(name, check(root), time.monotonic() - start)
    expected: Mapping[str, Any] = run.combination.recorded
    report.add(
        "answers", answers_file_problems(root, questionnaire.answers_file, expected, REPO_ROOT)
    )


def _python_steps(
    run: VariantRun, root: Path, context: HarnessContext, report: VariantReport, tmp: Path
) -> None:
    services = services_for(run.combination.answers)
    uv, interpreter = find_uv(), find_interpreter(run.python)
    if uv is None:
        report.missing.append("uv is not installed (or not runnable)")
    if interpreter is None:
        report.missing.append(f"no CPython {run.python} interpreter found (uv, pyenv, PATH)")
    report.missing += [p for p in (service_problem(s) for s in sorted(services)) if p]
    if report.missing or uv is None or interpreter is None:
        report.steps += [Step(name, "not run") for name in PYTHON_STEPS]
        return
    facts = {"python": interpreter.version, "services": ",".join(sorted(services))}
    key, files = python_tree_digest(root, facts)

    def execute() -> PythonRun:
        with isolated_services(services, context.isolation_owner(run.id)) as service_vars:
            env = {**service_vars, "TMPDIR": str(tmp)}
            python_run = run_python_checks(root, uv, interpreter, env)
        python_run.files = files
        return python_run

    shared = context.shared.get_or_run(key, run.id, execute)
    report.absorb(shared.run, shared.key, shared.owner)
