"""Every feature toggle, turned away from its default and back with `copier update`.

For each feature question of copier.yml and each of its non-default answers: render the default
answers (from a committed copy of the working tree), commit, migrate. Then, by the steps of the
rendered README's "Updating" section (downgrade the branch of a feature with tables before
turning it off, `migrate` after every update):

1. away: `copier update --defaults --data X=...`; the project equals a fresh render of those
   answers and passes its checks: ruff check and ruff format --check, then mypy --strict and
   pytest with its services isolated as the variant checks isolate them, unless the tier's plan
   already runs those two on the same Python tree (docker and ci change no Python file);
2. back: `copier update --defaults --data X=<default>`; every file the feature added is gone and
   the project is byte for byte the starting commit, but for the answers file's `_commit`.

Comparisons are over git-tracked files, so an ignored, generated file (`.env`) does not count.
"""

from __future__ import annotations

import subprocess
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
from copier.errors import DirtyLocalWarning
from harness.interpreters import find_interpreter
from harness.matrix import Combination, load_matrix
from harness.plan import tree_key
from harness.python_checks import run_python_checks
from harness.releases import git
from harness.render import TemplateSnapshot
from harness.services import isolated_services, services_for
from harness.tree_checks import iter_files, ruff_check_problems, ruff_format_problems
from harness.variant import HarnessContext, plan_of, unavailable
from test_answer_change import FEATURES_WITH_TABLES, Project, combination, committed_template

# Feature questions that are not toggled here, and why; any other feature question is.
NOT_TOGGLES = {
    "database": "an engine, not a feature: no documented step moves the data to another engine "
    "(test_answer_change runs each feature with tables on every engine)",
    "celery_broker": "asked only with celery on; celery's toggle takes its default (rabbitmq, "
    "as redis is off by default)",
}
# The owner's lock file (`uv lock` after the render, committed): no render has one.
LOCK_FILE = "uv.lock"
ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True)
class Toggle:
    question: str
    value: Any  # the answer away from the default
    default: Any

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            return self.question if self.value else f"no-{self.question}"
        return f"{self.question}={self.value}"


def toggles() -> list[Toggle]:
    """Each non-default answer of each feature question (python_version is no feature axis)."""
    matrix = load_matrix()
    found = []
    for question in matrix.axes:
        if question.name in NOT_TOGGLES:
            continue
        default, *others = matrix.axis_values(question)
        found += [Toggle(question.name, value, default) for value in others]
    return found


TOGGLES = toggles()


@pytest.mark.quick
def test_every_feature_question_is_toggled(snapshot: TemplateSnapshot, tmp_path: Path) -> None:
    """Every feature question is toggled or spared with a reason; every feature with tables is
    toggled; a choice is toggled only where its answers add or remove files (so "its files are
    gone" means something); a bool always is."""
    matrix = load_matrix()
    questions = {question.name: question for question in matrix.axes}
    toggled = {toggle.question for toggle in TOGGLES}
    assert set(NOT_TOGGLES) <= set(questions), "NOT_TOGGLES names a question copier.yml lacks"
    assert toggled == set(questions) - set(NOT_TOGGLES)
    assert set(FEATURES_WITH_TABLES) <= toggled
    start = set(rendered_files(snapshot, combination(matrix.defaults()).data, tmp_path / "start"))
    for toggle in TOGGLES:
        if questions[toggle.question].is_bool:
            continue
        away = combination({**matrix.defaults(), toggle.question: toggle.value})
        files = set(rendered_files(snapshot, away.data, tmp_path / str(toggle)))
        assert files != start, (
            f"{toggle} adds or removes no file: name {toggle.question} in NOT_TOGGLES with the "
            "reason, or make its answers own files"
        )


def rendered_files(snapshot: TemplateSnapshot, data: Mapping[str, Any], dst: Path) -> list[str]:
    snapshot.render(data, dst)
    return [path.relative_to(dst).as_posix() for path in iter_files(dst)]


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_template(tmp_path_factory.mktemp("template"))


def tracked(root: Path) -> dict[str, bytes]:
    """The bytes of every file git tracks (or has staged) in `root`; the answers file without
    `_commit`, which names the template's commit."""
    tree = {}
    for name in filter(None, git("ls-files", "-z", cwd=root).split("\0")):
        content = (root / name).read_bytes()
        tree[name] = without_commit(content) if name == ANSWERS_FILE else content
    return tree


def without_commit(answers: bytes) -> bytes:
    lines = answers.splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(b"_commit:"))


def differing(found: Mapping[str, bytes], expected: Mapping[str, bytes]) -> list[str]:
    return sorted(name for name in {*found, *expected} if found.get(name) != expected.get(name))


def fresh_render(template: Path, answers: Combination, dst: Path) -> dict[str, bytes]:
    """A new project of these answers, staged as an owner would commit it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(template), dst, data=dict(answers.data), defaults=True, vcs_ref="HEAD",
            quiet=True, unsafe=False,
        )  # fmt: skip
    git("init", "-q", "-b", "main", cwd=dst)
    git("add", "-A", cwd=dst)
    return tracked(dst)


def changed_since(root: Path, commit: str) -> list[str]:
    """Files that differ from `commit`, but the answers file if only its `_commit` does."""
    changed = []
    for name in git("diff", "--name-only", commit, cwd=root).splitlines():
        if name == ANSWERS_FILE and (root / name).exists():
            then = subprocess.run(
                ["git", "show", f"{commit}:{name}"], cwd=root, check=True, capture_output=True
            ).stdout
            if without_commit(then) == without_commit((root / name).read_bytes()):
                continue
        changed.append(name)
    return changed


def change_answer(
    project: Project, before: Combination, after: Combination, data: dict[str, Any]
) -> None:
    """The README's steps: downgrade the branch of each feature with tables that goes off, then
    update, then migrate."""
    for feature in sorted(FEATURES_WITH_TABLES):
        if before.answers.get(feature) and not after.answers.get(feature):
            project.command("downgrade", f"{feature}@base")
    project.update(data)
    project.command("migrate")


class Clock:
    """Seconds per phase, printed for the report (`pytest -rP` shows them)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase], self.last = now - self.last, now

    def __str__(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in self.seconds.items())
        return f"{total:.1f} s: {parts}"


@pytest.mark.parametrize("toggle", TOGGLES, ids=str)
def test_toggle_away_and_back_through_update(
    toggle: Toggle,
    template_repo: Path,
    harness: HarnessContext,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    matrix, plan = load_matrix(), plan_of(request.config)
    start = combination(matrix.defaults())
    away = combination({**matrix.defaults(), toggle.question: toggle.value})
    if start.answers["database"] != "sqlite":
        pytest.fail("the toggles start from an embedded database; the default is no longer one")
    interpreter = find_interpreter(start.python)
    if interpreter is None:
        unavailable(f"no CPython {start.python} interpreter found (uv, pyenv, PATH)")
    services = services_for(away.answers)
    with isolated_services(services, harness.isolation_owner(f"toggle-{toggle}")) as service_env:
        clock = Clock()
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'toggles.db'}"
        project = Project(tmp_path / "project", template_repo, database_url, start.answers)
        project.copy(matrix.defaults())
        project.command("migrate")
        started = git("rev-parse", "HEAD", cwd=project.root)
        clock.lap("render, sync, migrate")

        change_answer(project, start, away, {toggle.question: toggle.value})
        clock.lap("away: update, sync, migrate")
        expected = fresh_render(template_repo, away, tmp_path / "fresh")
        found = {name: data for name, data in tracked(project.root).items() if name != LOCK_FILE}
        unlike = differing(found, expected)
        assert not unlike, f"the update differs from a fresh render of its answers in: {unlike}"
        clock.lap("away: fresh render")
        problems = ruff_check_problems(project.root) + ruff_format_problems(project.root)
        assert not problems, "\n".join(problems)
        if tree_key(tmp_path / "fresh", away) in {tree.key for tree in plan.trees}:
            # The tier's plan runs mypy and pytest on this very Python tree (docker and ci
            # change no Python file: it is the default tree), and the update is that tree but
            # for the owner's uv.lock, which the plan's run resolves afresh.
            clock.lap("away: ruff (mypy, pytest: the plan's run of the same tree)")
        else:
            scratch = tmp_path / "tmp"
            scratch.mkdir()
            env = {**service_env, "TMPDIR": str(scratch)}
            run = run_python_checks(project.root, project.uv, interpreter, env)
            failed = [f"---- {step.name} ----\n{step.detail}" for step in run.steps if not step.ok]
            assert not failed, "\n".join(failed)
            steps = ", ".join(f"{step.name} {step.seconds:.1f}" for step in run.steps)
            clock.lap(f"away: ruff and checks ({steps}; {run.tests_passed} tests)")
        turned = git("rev-parse", "HEAD", cwd=project.root)

        change_answer(project, away, start, {toggle.question: toggle.default})
        clock.lap("back: update, sync, migrate")
        added = git("diff", "--name-only", "--diff-filter=A", started, turned, cwd=project.root)
        left = [name for name in added.splitlines() if (project.root / name).exists()]
        assert not left, f"turning {toggle} back left the files it added: {left}"
        assert not git("status", "--porcelain", cwd=project.root)
        back = changed_since(project.root, started)
        assert not back, f"back at the default answers, these files differ from the start: {back}"
        # The tree is now the starting commit's, byte for byte: the default render, whose checks
        # every tier runs (test_variants.py::test_tree), so they are not run again here.
        print(f"{toggle}: {clock}")
