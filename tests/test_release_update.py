"""`copier update` from real older releases to the newest, on a project its owner has worked on.

A clone of this repository is tagged with the releases of `CHANGELOG.md` (older ones on the
commits their entries name, the newest on the working tree's template). A project rendered from
an older tag is committed, migrated, given rows, and edited the way owners do; then
`copier update --defaults` (no `--vcs-ref`: the newest tag) must bring every template change
without a conflict, keep every edit, and leave a project whose own checks pass and whose old
database `migrate` brings along with its rows.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
from copier.errors import DirtyLocalWarning
from harness.commands import CommandResult, run_command
from harness.guides import follow_guide, guide_steps, readme_section
from harness.interpreters import Interpreter, find_interpreter, find_uv, with_uv_on_path
from harness.matrix import SAMPLE_ANSWERS, load_matrix
from harness.python_checks import run_python_checks, variant_env
from harness.questionnaire import REPO_ROOT
from harness.releases import (
    CHANGELOG,
    Release,
    changelog_releases,
    git,
    has_commit,
    project_version,
    tagged_clone,
)
from harness.tree_checks import ruff_check_problems, ruff_format_problems
from harness.variant import unavailable
from packaging.version import Version
from test_answer_change import FEATURES_WITH_TABLES, commit

RELEASES = changelog_releases(CHANGELOG.read_text(encoding="utf-8"))
# Older releases a project is updated from: the one before the redis feature, and the previous.
UPDATED_FROM = ("0.2.0", "0.4.0")
SLUG, PACKAGE = "order-service", "order_service"
ITEMS = [("Cup", "9.90", 3), ("Plate", "5.00", 0)]
OWNER_DEPENDENCY = "humanize"
# The row auth's proof in the answer-change test makes: a superuser, signed in with fast hashing.
SUPERUSER = FEATURES_WITH_TABLES["auth"]
CONFLICT_START, CONFLICT_MIDDLE, CONFLICT_END = "<<<<<<< ", "=======", ">>>>>>> "
# The conflicts docs/update.md names ("Conflicts you can expect"): the owner added lines where
# the release changed the template's own. From 0.2.0, 0.3.0's rate limits add an import where
# a new domain's go, and its If-Match changes the last route, which an added route follows.
EXPECTED_CONFLICTS = {
    ("0.2.0", "extended"): {f"src/{PACKAGE}/api.py", f"src/{PACKAGE}/items/router.py"},
    ("0.2.0", "example-removed"): {f"src/{PACKAGE}/api.py"},
}
# docs/update.md: files a release adds to the example domain come back after you deleted it;
# delete them again with the guide's own command.
DELETE_THE_EXAMPLE_AGAIN = f"rm -rf src/{PACKAGE}/items tests/*/items"


# ---- the releases themselves ------------------------------------------------------------------


@pytest.mark.quick
def test_the_newest_changelog_entry_is_the_version_being_released() -> None:
    newest, *older = RELEASES
    assert newest.version == project_version(), (
        f"CHANGELOG.md's newest entry is {newest.version}, pyproject.toml says "
        f"{project_version()}: add the entry, or bump the version"
    )
    assert newest.commit is None, "the newest entry is tagged on its own commit: name none"
    assert newest.notes, "the newest entry says nothing"
    versions = [release.version for release in RELEASES]
    assert versions == sorted(versions, reverse=True), "entries must go newest first"
    for release in older:
        assert release.commit, f"{release.version} names no commit"
        assert release.notes, f"{release.version} says nothing"
    # A tag on HEAD is the release being made: it must be the newest entry.
    tags = git("tag", "--points-at", "HEAD", cwd=REPO_ROOT).split()
    assert all(tag == str(newest.version) for tag in tags), f"HEAD is tagged {tags}"


@pytest.mark.quick
def test_changelog_headings_are_parsed_or_refused() -> None:
    text = "# Changelog\n\n## 1.1.0\n\nNew.\n\n## 1.0.0 (commit 1d2f32a)\n\nOld.\n"
    assert changelog_releases(text) == [
        Release(Version("1.1.0"), None, "New."),
        Release(Version("1.0.0"), "1d2f32a", "Old."),
    ]
    with pytest.raises(ValueError, match="release heading"):
        changelog_releases("## Unreleased\n")


@pytest.fixture(scope="module")
def template_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [r for r in RELEASES[1:] if r.commit and not has_commit(REPO_ROOT, r.commit)]
    if missing:
        unavailable(f"this clone lacks the commits of {[str(r.version) for r in missing]}")
    return tagged_clone(tmp_path_factory.mktemp("template") / "fastapi-roadmap", RELEASES)


def render_release(template: Path, project: Path, version: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(template), project, data=dict(SAMPLE_ANSWERS), defaults=True, vcs_ref=version,
            quiet=True,
        )  # fmt: skip
    git("init", "--quiet", "--initial-branch", "main", cwd=project)
    commit(project, f"Start from fastapi-roadmap {version}")


@pytest.mark.quick
def test_check_update_reports_the_newest_tag(template_clone: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    render_release(template_clone, project, str(RELEASES[1].version))
    check = [sys.executable, "-m", "copier", "check-update", "--output-format", "json"]
    result = run_command(check, project, timeout=120)
    assert result.ok, result.describe()
    report = json.loads(result.output)
    assert report["update_available"] is True, report
    assert report["latest_version"] == str(RELEASES[0].version), report


# ---- an owner's project, updated --------------------------------------------------------------


@dataclass
class OwnerProject:
    root: Path
    uv: Path
    interpreter: Interpreter

    def env(self) -> dict[str, str]:
        env = variant_env(self.root, self.extra())
        return with_uv_on_path(env, self.uv, self.root.parent / "tmp" / "bin")

    def extra(self) -> dict[str, str]:
        return {"TMPDIR": str(self.root.parent / "tmp")}

    def run(self, *argv: str) -> CommandResult:
        return run_command([str(self.uv), *argv], self.root, self.env())

    def must(self, *argv: str) -> str:
        result = self.run(*argv)
        assert result.ok, result.describe()
        return result.output

    def create_superuser(self) -> None:
        done = subprocess.run(
            [str(self.uv), "run", "--no-sync", SLUG, *SUPERUSER.proof],
            cwd=self.root, env={**self.env(), **SUPERUSER.proof_env}, input=SUPERUSER.proof_input,
            text=True, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def sync(self) -> None:
        self.must("sync", "--quiet", "-p", str(self.interpreter.path))

    def database(self) -> Path:
        # The database the settings' default names: the one the owner has been using.
        return self.root / "var" / f"{PACKAGE}.db"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database()) as connection:
            return connection.execute(sql).fetchall()


def add_rows(project: OwnerProject) -> None:
    with sqlite3.connect(project.database()) as connection:
        connection.executemany(
            "INSERT INTO items (name, price, quantity, created_at, updated_at)"
            " VALUES (?, ?, ?, '2026-11-30 09:00:00+00:00', '2026-11-30 09:00:00+00:00')",
            ITEMS,
        )


def replace_once(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r} occurs {text.count(old)} times, not once"
    (root / path).write_text(text.replace(old, new), encoding="utf-8")


def append(project: Path, path: str, text: str) -> None:
    with (project / path).open("a", encoding="utf-8") as file:
        file.write(text)


AVAILABILITY_SCHEMA = '''

class ItemAvailability(BaseModel):
    """Whether an item can be ordered now."""

    id: int
    in_stock: bool
'''
AVAILABILITY_ROUTE = '''

@router.get(
    "/{item_id}/availability",
    summary="Whether an item is in stock",
    responses=problem_responses(404),
)
async def get_item_availability(item_id: ItemId, session: ReadSessionDep) -> ItemAvailability:
    """In stock while its quantity is above zero."""
    item = await service.get_item(session, item_id=item_id)
    return ItemAvailability(id=item.id, in_stock=item.quantity > 0)
'''
AVAILABILITY_TEST = """from httpx import AsyncClient

ITEMS = "/api/v1/items"


async def test_availability_and_the_in_stock_filter_follow_the_quantity(
    client: AsyncClient,
) -> None:
    cup = await client.post(ITEMS, json={"name": "Cup", "price": "9.90", "quantity": 2})
    plate = await client.post(ITEMS, json={"name": "Plate", "price": "5.00"})

    for item, in_stock in ((cup.json(), True), (plate.json(), False)):
        response = await client.get(f"{ITEMS}/{item['id']}/availability")
        assert response.json() == {"id": item["id"], "in_stock": in_stock}
    listed = await client.get(ITEMS, params={"in_stock": "false"})
    assert [item["name"] for item in listed.json()["items"]] == ["Plate"]
    assert (await client.get(f"{ITEMS}/999/availability")).status_code == 404
"""


MAX_PRICE_FIELD = (
    '    max_price: Price | None = Field(default=None, description="Highest price, inclusive.")\n'
)
IN_STOCK_FIELD = (
    '    in_stock: bool | None = Field(default=None, description="In stock, or sold out.")\n'
)
IN_STOCK_CONDITION = (
    "    if filters.in_stock is not None:\n"
    "        conditions.append((_items.c.quantity > 0) == filters.in_stock)\n"
)
SCHEMAS_IMPORT = "from order_service.items.schemas import "
GZIP_DEFAULT = "gzip_minimum_size: int = Field(default={}, ge=0)"


def extend_the_example_domain(project: OwnerProject) -> list[str]:
    """A route, a response schema and a filter field in `items`; a setting's default changed;
    a dependency added; a domain of the owner's own, with its migration. Returns what must
    survive, as `path: text` probes."""
    root, package = project.root, f"src/{PACKAGE}"
    follow_readme(project, "Adding a domain")  # first: it copies items/ as it was rendered
    schemas, service, router = (
        f"{package}/items/{name}.py" for name in ("schemas", "service", "router")
    )
    replace_once(root, schemas, MAX_PRICE_FIELD, MAX_PRICE_FIELD + IN_STOCK_FIELD)
    append(root, schemas, AVAILABILITY_SCHEMA)
    replace_once(
        root, service, "    return conditions\n", IN_STOCK_CONDITION + "    return conditions\n"
    )
    replace_once(root, router, SCHEMAS_IMPORT, SCHEMAS_IMPORT + "ItemAvailability, ")
    append(root, router, AVAILABILITY_ROUTE)
    (root / "tests/integration/items/test_availability.py").write_text(AVAILABILITY_TEST)
    replace_once(root, f"{package}/config.py", GZIP_DEFAULT.format(1000), GZIP_DEFAULT.format(2000))
    # A changed default is documented where the project's own tests look for every setting.
    replace_once(root, ".env.example", "GZIP_MINIMUM_SIZE=1000", "GZIP_MINIMUM_SIZE=2000")
    replace_once(
        root, "README.md", "| `GZIP_MINIMUM_SIZE` | `1000` |", "| `GZIP_MINIMUM_SIZE` | `2000` |"
    )
    project.must("add", "--quiet", OWNER_DEPENDENCY)
    return [
        f"{router}: async def get_item_availability(",
        f"{schemas}: class ItemAvailability(BaseModel):",
        f"{schemas}: {IN_STOCK_FIELD.strip()}",
        f"{service}: {IN_STOCK_CONDITION.splitlines()[-1].strip()}",
        f"{package}/config.py: {GZIP_DEFAULT.format(2000)}",
        f"pyproject.toml: {OWNER_DEPENDENCY}",
        f'uv.lock: name = "{OWNER_DEPENDENCY}"',
        f"{package}/api.py: products_router",
        f"{package}/products/router.py: /products",
    ]


OPENAPI_TEST = "tests/integration/products/test_openapi.py"


def follow_the_changelog(project: OwnerProject, old: str) -> None:
    """What CHANGELOG.md tells the owner of a domain copied from items to do after updating
    from `old`: their copy of items' OpenAPI test lists each operation's exact problems."""
    # The guide's formatter put each status of the copy's longer lines on a line of its own.
    if Version(old) < Version("0.3.0"):  # rate limits (429), a database that cannot serve (503)
        replace_once(
            project.root, OPENAPI_TEST, status_lines("500"), status_lines("429", "500", "503")
        )
    if Version(old) < Version("0.4.0"):  # a body that arrives too slowly (408)
        replace_once(project.root, OPENAPI_TEST, status_lines("409"), status_lines("408", "409"))


def status_lines(*statuses: str) -> str:
    return "".join(f'        "{status}",\n' for status in statuses)


def remove_the_example_domain(project: OwnerProject) -> list[str]:
    follow_readme(project, "Removing the example domain")
    return []


def follow_readme(project: OwnerProject, heading: str) -> None:
    section = readme_section((project.root / "README.md").read_text(), heading)
    follow_guide(project.root, guide_steps(section), project.env())


@dataclass(frozen=True)
class Scenario:
    edits: Callable[[OwnerProject], list[str]]
    keeps_items: bool
    after_update: Callable[[OwnerProject, str], None] = lambda project, old: None

    def reappeared(self, root: Path) -> list[str]:
        """Files of the deleted example domain that the update brought back."""
        if self.keeps_items:
            return []
        status = git("status", "--porcelain", "--untracked-files=all", cwd=root).splitlines()
        return [line[3:] for line in status if line.startswith("??") and "/items/" in line]


SCENARIOS = {
    "extended": Scenario(
        extend_the_example_domain, keeps_items=True, after_update=follow_the_changelog
    ),
    "example-removed": Scenario(remove_the_example_domain, keeps_items=False),
}


def tracked_files(root: Path) -> Iterator[Path]:
    for line in sorted(set(git("ls-files", cwd=root).splitlines())):  # a conflict lists 3 stages
        yield root / line


def changed_lines(older: list[str], yours: list[str]) -> tuple[set[str], set[int]]:
    """What you changed in a file: the lines of the older version you removed (blank ones
    aside), and the indices of the lines of yours that it does not have."""
    matcher = difflib.SequenceMatcher(None, older, yours, autojunk=False)
    removed: set[str] = set()
    added: set[int] = set()
    for tag, old_start, old_end, start, end in matcher.get_opcodes():
        if tag != "equal":
            removed.update(line for line in older[old_start:old_end] if line.strip())
            added.update(range(start, end))
    return removed, added


def resolve_as_documented(root: Path, path: str, older_text: str, yours_text: str) -> None:
    """docs/update.md's rule: keep the release's side without the lines you had removed, then
    add back the lines you had added there; the formatter then fixes blank lines and imports.
    `older_text` is the file as the older release rendered it, `yours_text` as you committed it."""
    yours_lines = yours_text.splitlines(keepends=True)
    removed, added = changed_lines(older_text.splitlines(keepends=True), yours_lines)
    resolved: list[str] = []
    sides: dict[str, list[str]] = {}
    side = ""  # "", or the side of a conflict being read: "yours", then "release"
    for line in (root / path).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith(CONFLICT_START):
            side, sides = "yours", {"yours": [], "release": []}
        elif side == "yours" and line.rstrip("\n") == CONFLICT_MIDDLE:
            side = "release"
        elif side == "release" and line.startswith(CONFLICT_END):
            at = find_slice(yours_lines, sides["yours"])
            kept = [line for index, line in enumerate(sides["yours"], at) if index in added]
            resolved += [line for line in sides["release"] if line not in removed]
            resolved += ["\n", "\n", *kept]
            side = ""
        elif side:
            sides[side].append(line)
        else:
            resolved.append(line)
    (root / path).write_text("".join(resolved), encoding="utf-8")


def committed_text(root: Path, commit: str, path: str) -> str:
    """The file as `commit` holds it, to the last byte (`git` strips its output)."""
    shown = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True, check=True
    )
    return shown.stdout


def find_slice(lines: list[str], part: list[str]) -> int:
    """Where `part` starts in `lines`, which must hold it exactly once (or it is empty)."""
    if not part:
        return 0
    starts = [i for i in range(len(lines) - len(part) + 1) if lines[i : i + len(part)] == part]
    assert len(starts) == 1, f"your side of a conflict is {len(starts)} times in your file"
    return starts[0]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("old", UPDATED_FROM)
def test_update_from_an_older_release_keeps_the_owners_work(
    old: str, scenario: str, template_clone: Path, tmp_path: Path
) -> None:
    uv, interpreter = find_uv(), find_interpreter(load_matrix().default_python)
    if uv is None or interpreter is None:
        unavailable("uv or the default Python is missing")
    chosen = SCENARIOS[scenario]
    root = tmp_path / "project"
    (tmp_path / "tmp").mkdir()
    render_release(template_clone, root, old)
    start = git("rev-parse", "HEAD", cwd=root)
    # The default answers need no service: SQLite, and no Redis or broker.
    project = OwnerProject(root, uv, interpreter)
    project.sync()
    if chosen.keeps_items:  # the guide removes the items of a project not yet migrated
        project.must("run", "--no-sync", SLUG, "migrate")
        add_rows(project)
    survivors = chosen.edits(project)
    project.must("run", "--no-sync", SLUG, "migrate")
    project.create_superuser()
    commit(project.root, "The owner's work")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_update(root, defaults=True, overwrite=True, quiet=True)

    answers = (root / ".copier-answers.yml").read_text()
    assert f"_commit: {RELEASES[0].version}\n" in answers, answers
    rejects = [str(p) for p in root.rglob("*.rej")]
    assert not rejects, f"copier update left rejected hunks: {rejects}"
    conflicted = {
        str(path.relative_to(root))
        for path in tracked_files(root)
        if path.is_file()
        and any(line.startswith(CONFLICT_START) for line in path.read_text().splitlines())
    }
    expected = EXPECTED_CONFLICTS.get((old, scenario), set())
    assert conflicted == expected, (
        f"conflicts in {sorted(conflicted)}, where docs/update.md names {sorted(expected)}"
    )
    for path in conflicted:
        older, yours = (committed_text(root, commit, path) for commit in (start, "HEAD"))
        resolve_as_documented(root, path, older, yours)
    reappeared = chosen.reappeared(root)
    assert all(path.startswith((f"src/{PACKAGE}/items/", "tests/")) for path in reappeared), (
        reappeared
    )
    if reappeared:
        project.must("run", "--no-sync", "bash", "-c", DELETE_THE_EXAMPLE_AGAIN)
    chosen.after_update(project, old)
    project.must("run", "--no-sync", "ruff", "format", "--quiet", ".")
    project.must("run", "--no-sync", "ruff", "check", "--fix", "--quiet", ".")
    for probe in survivors:
        path, text = probe.split(": ", 1)
        assert text in (root / path).read_text(), f"the owner's {probe!r} was lost"

    # The documented steps after an update: lock, check, migrate.
    project.must("lock", "--quiet")
    failed = {
        name: "\n".join(problems)
        for name, problems in (
            ("ruff-format", ruff_format_problems(root)),
            ("ruff-check", ruff_check_problems(root)),
        )
        if problems
    }
    checks = run_python_checks(root, uv, interpreter, project.extra())
    failed.update({s.name: s.detail for s in checks.steps if s.status != "ok"})
    migrate = project.run("run", "--no-sync", SLUG, "migrate")
    if not migrate.ok:
        failed["migrate"] = migrate.describe()
    assert not failed, f"after the update, in {root}:\n" + "\n\n".join(
        f"---- {name} ----\n{detail}" for name, detail in failed.items()
    )
    assert project.query("SELECT email FROM users") == [(SUPERUSER.proof[2],)]
    if chosen.keeps_items:
        rows = project.query("SELECT name, price, quantity FROM items ORDER BY name")
        assert [(name, f"{price:.2f}", quantity) for name, price, quantity in rows] == ITEMS
