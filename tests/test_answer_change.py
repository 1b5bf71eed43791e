"""Turning a feature with tables on, then off, with `copier update` keeps the data.

For each feature that owns tables and each database: render without the feature (from a
committed copy of the working tree), migrate, add items; update with the feature on, migrate,
and check that autogenerate finds no difference, the items are kept and the feature works. Then
turn it off without downgrading first: `migrate` must stop with the README's advice, never a
traceback. Follow that advice (on again, downgrade its branch, off again, migrate) and check the
items are kept and none of the feature's tables remain.

A new feature with tables joins by declaring itself in `FEATURES_WITH_TABLES`; its Alembic
branch is named after its question in copier.yml.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import copier
import pytest
from copier.errors import DirtyLocalWarning
from harness.commands import CommandResult, run_command
from harness.interpreters import find_interpreter, find_uv
from harness.matrix import Combination, load_matrix
from harness.python_checks import TIMEOUTS, variant_env
from harness.questionnaire import REPO_ROOT, Questionnaire
from harness.releases import git
from harness.services import POSTGRES_URL, service_problem
from harness.variant import unavailable
from test_update import TEMPLATE_PATHS, files


@dataclass(frozen=True)
class FeatureWithTables:
    tables: frozenset[str]
    # A project command that needs the tables, its standard input and its settings.
    proof: tuple[str, ...]
    proof_input: str = ""
    proof_env: Mapping[str, str] = field(default_factory=dict)


FEATURES_WITH_TABLES = {
    "auth": FeatureWithTables(
        tables=frozenset({"users", "token_families", "login_attempts"}),
        proof=("create-superuser", "--email", "admin@example.com", "--password-stdin"),
        proof_input="correct horse battery staple\n",
        proof_env={"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "8", "ARGON2_PARALLELISM": "1"},
    ),
    "celery": FeatureWithTables(tables=frozenset({"jobs"}), proof=("purge",)),
}
ITEMS = ["Cup", "Plate"]
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")

# Run by the project's own Python: `python -c PROBE ACTION [ARGS]`, with the project's settings
# (`PROBE.format(package=...)`).
PROBE = """
import asyncio, json, sys
from alembic import command
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from {package}.config import Settings
from {package}.migrations import alembic_config

action, *args = sys.argv[1:]
settings = Settings()

async def run():
    if action in ("create-database", "drop-database"):
        server, name = args
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        verb = "CREATE" if action == "create-database" else "DROP"
        async with engine.connect() as connection:
            await connection.execute(text(f'{{verb}} DATABASE "{{name}}"'))
        await engine.dispose()
        return None
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        if action == "add-items":
            for name in args:
                await connection.execute(text(
                    "INSERT INTO items (name, price, quantity, created_at, updated_at)"
                    " VALUES (:name, 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ), {{"name": name}})
            return None
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        items = (await connection.execute(text("SELECT name FROM items ORDER BY id"))).scalars()
        report = {{"tables": sorted(tables), "items": list(items)}}
    await engine.dispose()
    return report

report = asyncio.run(run())
if report is not None:
    try:
        command.check(alembic_config(settings))
        report["diff"] = None
    except CommandError as exc:
        report["diff"] = str(exc)
    print(json.dumps(report))
"""


VERSIONS_DIR = REPO_ROOT / "template" / "src" / "{{ package_name }}" / "migrations" / "versions"
BRANCH_LABELS = re.compile(r"^branch_labels\b.*= \(\"(\w+)\",\)", re.MULTILINE)
SHARED_BRANCH = "shared"


@pytest.mark.quick
def test_every_feature_branch_joins_this_test() -> None:
    """A revision that starts a feature's branch names a feature declared here, and only once."""
    labels = [
        label
        for revision in sorted(VERSIONS_DIR.iterdir())
        for label in BRANCH_LABELS.findall(revision.read_text())
    ]
    assert SHARED_BRANCH in labels
    features = sorted(label for label in labels if label != SHARED_BRANCH)
    assert features == sorted(FEATURES_WITH_TABLES)


def database_choices() -> list[str]:
    return [str(value) for value in Questionnaire().by_name["database"].choice_values]


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_template(tmp_path_factory.mktemp("template"))


def committed_template(repo: Path) -> Path:
    """The working tree's template, committed in `repo`: `copier update` replays the answers
    from a commit."""
    for name in TEMPLATE_PATHS:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, repo / name)
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, "The working tree of the template")
    return repo


def commit(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    if not git("status", "--porcelain", cwd=repo):
        return
    git("-c", "user.name=Owner", "-c", "user.email=owner@example.com", "commit", "-qm", message,
        cwd=repo)  # fmt: skip


def combination(answers: Mapping[str, Any]) -> Combination:
    matrix = load_matrix()
    found = matrix.closest(answers, matrix.default_python)
    if found is None or any(found.feature_answers.get(k) != v for k, v in answers.items()):
        pytest.fail(f"copier.yml has no valid combination with {dict(answers)}")
    return found


class Project:
    """A rendered project under `copier update`, run with its own uv environment."""

    def __init__(
        self, root: Path, template: Path, database_url: str, answers: Mapping[str, Any]
    ) -> None:
        uv, interpreter = find_uv(), find_interpreter(load_matrix().default_python)
        if uv is None or interpreter is None:
            unavailable("uv or the default Python interpreter is not available")
        self.root, self.template, self.uv, self.python = root, template, uv, interpreter.path
        self.database_url = database_url
        self.slug, self.package = str(answers["project_slug"]), str(answers["package_name"])

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return variant_env(self.root, {"DATABASE_URL": self.database_url, **(extra or {})})

    def copy(self, answers: Mapping[str, Any]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DirtyLocalWarning)
            copier.run_copy(
                str(self.template),
                self.root,
                data=dict(combination(answers).data),
                defaults=True,
                vcs_ref="HEAD",
                quiet=True,
                unsafe=False,
            )
        git("init", "-q", "-b", "main", cwd=self.root)
        commit(self.root, "Start from the template")
        self.sync()

    def update(self, answers: Mapping[str, Any]) -> None:
        """`copier update --defaults --data ...`, committed, and the environment synced."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DirtyLocalWarning)
            copier.run_update(
                self.root,
                data=dict(answers),
                defaults=True,
                overwrite=True,
                vcs_ref="HEAD",
                quiet=True,
                unsafe=False,
            )
        problems = [
            str(path)
            for path in files(self.root)
            if path.suffix == ".rej"
            or (
                path.parts[0] != ".venv"
                and any(
                    line.startswith(CONFLICT_MARKERS)
                    for line in (self.root / path).read_text(errors="replace").splitlines()
                )
            )
        ]
        assert not problems, f"copier update left conflicts in: {problems}"
        commit(self.root, f"Update with {dict(answers)}")
        self.sync()

    def sync(self) -> None:
        result = run_command(
            [str(self.uv), "sync", "-p", str(self.python)],
            self.root,
            self.env(),
            TIMEOUTS["uv-sync"],
        )
        assert result.ok, result.describe()
        commit(self.root, "uv sync")  # the lock file, as an owner would commit it

    def run(self, *argv: str) -> CommandResult:
        return run_command([str(self.uv), "run", "--no-sync", *argv], self.root, self.env())

    def command(self, *argv: str) -> None:
        result = self.run(self.slug, *argv)
        assert result.ok, result.describe()

    def probe(self, *argv: str) -> dict[str, Any]:
        result = self.run("python", "-c", PROBE.format(package=self.package), *argv)
        assert result.ok, result.describe()
        lines = result.output.strip().splitlines()
        return dict(json.loads(lines[-1])) if lines and lines[-1].startswith("{") else {}

    def prove(self, feature: FeatureWithTables) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.uv), "run", "--no-sync", self.slug, *feature.proof],
            cwd=self.root,
            env=self.env(feature.proof_env),
            input=feature.proof_input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def database_url(database: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database; on PostgreSQL a uniquely named one, dropped afterwards."""
    if database == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'answer-change.db'}"
        return
    problem = service_problem("postgres")
    if problem:
        unavailable(problem)
    name = f"answer_change_{uuid.uuid4().hex[:12]}"
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("database", database_choices())
@pytest.mark.parametrize("feature", sorted(FEATURES_WITH_TABLES))
def test_turning_a_feature_on_then_off_keeps_the_data(
    feature: str, database: str, database_url: str, template_repo: Path, tmp_path: Path
) -> None:
    spec = FEATURES_WITH_TABLES[feature]
    off, on = {"database": database, feature: False}, {"database": database, feature: True}
    answers = combination(off).answers
    project = Project(tmp_path / "project", template_repo, database_url, answers)
    project.copy(off)
    server, name = database_url.rsplit("/", 1)
    if database != "sqlite":
        project.probe("create-database", f"{server}/postgres", name)
    try:
        project.command("migrate")
        project.probe("add-items", *ITEMS)
        assert project.prove(spec).returncode != 0  # the feature is not there yet

        project.update(on)
        project.command("migrate")
        report = project.probe("report")
        assert spec.tables <= set(report["tables"])
        assert (report["items"], report["diff"]) == (ITEMS, None)
        proof = project.prove(spec)
        assert proof.returncode == 0, proof.stdout + proof.stderr

        # Turned off without downgrading first: the database records what is gone.
        project.update(off)
        refused = project.run(project.slug, "migrate")
        assert refused.returncode not in (0, None), refused.describe()
        assert "Traceback" not in refused.output, refused.describe()
        assert "records revision" in refused.output, refused.describe()
        assert '"Updating"' in refused.output, refused.describe()

        # The README's way back: on again, downgrade the feature's branch, off again.
        project.update(on)
        readme = (project.root / "README.md").read_text()
        steps = [f"downgrade {feature}@base", f"copier update --defaults --data {feature}=false"]
        assert all(step in readme for step in steps), "the README's Updating steps changed"
        project.command("downgrade", f"{feature}@base")
        project.update(off)
        project.command("migrate")
        report = project.probe("report")
        assert not spec.tables & set(report["tables"])
        assert (report["items"], report["diff"]) == (ITEMS, None)
    finally:
        if database != "sqlite":
            project.probe("drop-database", f"{server}/postgres", name)
