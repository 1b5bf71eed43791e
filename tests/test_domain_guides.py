"""The rendered README's domain guides, followed on a fresh render, then every check run.

"Removing the example domain" and "Adding a domain" are step lists a machine can follow (see
`harness/guides.py`). Each guide is followed on the default variant (SQLite, auth), on no-auth
and on database=postgresql,redis (every feature), then: ruff format and check, the Python checks
(config, uv sync, mypy, pytest) and `migrate` on a fresh database. The first tests check the
follower itself on a small README.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from harness.commands import CommandResult, run_command
from harness.guides import (
    Edit,
    GuideError,
    Shell,
    apply_edit,
    follow_guide,
    guide_steps,
    readme_section,
)
from harness.interpreters import Interpreter, find_interpreter, find_uv, with_uv_on_path
from harness.matrix import VariantRun, load_matrix
from harness.plan import load_plan, tree_item
from harness.python_checks import Step, run_python_checks, variant_env
from harness.services import POSTGRES_URL, isolated_services, service_problem, services_for
from harness.tree_checks import ruff_check_problems, ruff_format_problems
from harness.variant import HarnessContext, unavailable, workspace

GUIDES = {
    "remove-items": "Removing the example domain",
    "add-products": "Adding a domain",
}
VARIANTS = ("default", "no-auth", "database=postgresql,redis")  # on the default Python
GUIDE_ESTIMATE = 90.0  # seconds, for the slowest-first order (`--variant` selects them too)

# ---- the follower, on a README made here ------------------------------------------------------

README = """\
# Demo

## Guide

Intro text; `not an edit`.

```sh
mkdir -p pkg
printf 'import a\\nimport b\\n\\nNAMES = ["a", "b"]\\n    x = 1\\n' > pkg/mod.py
```

- `pkg/mod.py`: delete `import b`
- `pkg/mod.py`: replace `["a", "b"]` with `["a"]`
- `pkg/mod.py`: after `x = 1`, add `y = 2`
- `pkg/mod.py`: delete `, "c"`

```text
not run
```

### Sub-step

```bash
echo done >> pkg/log.txt
```

## Next

```sh
exit 1
```
"""


def test_section_ends_at_the_next_heading_of_its_level() -> None:
    section = readme_section(README, "Guide")
    assert section.startswith("\nIntro text")
    assert "### Sub-step" in section
    assert "## Next" not in section
    assert readme_section(README, "Sub-step").strip().endswith("```")
    with pytest.raises(GuideError, match="no section 'Missing'"):
        readme_section(README, "Missing")


def test_steps_in_order_only_shell_blocks_and_edit_bullets() -> None:
    steps = guide_steps(readme_section(README, "Guide"))
    assert [type(step).__name__ for step in steps] == ["Shell", *["Edit"] * 4, "Shell"]
    assert steps[1:5] == [
        Edit("pkg/mod.py", "delete", "import b"),
        Edit("pkg/mod.py", "replace", '["a", "b"]', '["a"]'),
        Edit("pkg/mod.py", "add-after", "x = 1", "y = 2"),
        Edit("pkg/mod.py", "delete", ', "c"'),
    ]
    assert steps[5] == Shell("echo done >> pkg/log.txt\n")


def test_follow_applies_every_step_and_stops_at_the_first_that_does_not_apply(
    tmp_path: Path,
) -> None:
    steps = guide_steps(readme_section(README, "Guide"))
    with pytest.raises(GuideError, match=r"delete `, \"c\"`: the text occurs 0 times, not once"):
        follow_guide(tmp_path, steps, os.environ)
    assert (tmp_path / "pkg" / "mod.py").read_text() == (
        'import a\n\nNAMES = ["a"]\n    x = 1\n    y = 2\n'
    )
    assert not (tmp_path / "pkg" / "log.txt").exists()
    follow_guide(tmp_path, steps[-1:], os.environ)
    assert (tmp_path / "pkg" / "log.txt").read_text() == "done\n"


def test_edits_refuse_ambiguous_or_missing_text(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nx = 1\ny = 2\n")
    with pytest.raises(GuideError, match="occurs 2 times as a whole line"):
        apply_edit(tmp_path, Edit("a.py", "delete", "x = 1"))
    with pytest.raises(GuideError, match="occurs 0 times as a whole line"):
        apply_edit(tmp_path, Edit("a.py", "add-after", "y =", "z = 3"))
    with pytest.raises(GuideError, match="no such file"):
        apply_edit(tmp_path, Edit("b.py", "delete", "x"))
    apply_edit(tmp_path, Edit("a.py", "delete", " = 2"))
    assert (tmp_path / "a.py").read_text() == "x = 1\nx = 1\ny\n"


def test_a_bullet_that_names_a_file_but_is_no_edit_is_refused() -> None:
    with pytest.raises(GuideError, match="not an edit step"):
        guide_steps("- `a.py`: remove `x`\n")
    assert guide_steps("- `a.py` is the module\n- see `b.py`: it has `x`\n") == []


def test_a_failing_shell_step_is_named(tmp_path: Path) -> None:
    steps = guide_steps(readme_section(README, "Next"))
    with pytest.raises(GuideError, match=r"(?s)```sh\nexit 1\n```.*exited 1"):
        follow_guide(tmp_path, steps, os.environ)
    with pytest.raises(GuideError, match="no steps"):
        follow_guide(tmp_path, [], os.environ)


# ---- the guides of the rendered README --------------------------------------------------------


def _runs() -> list[object]:
    matrix = load_matrix()
    on_default = {c.name: c for c in matrix.valid if c.python == matrix.default_python}
    runs = {name: VariantRun(on_default[name], ()) for name in VARIANTS}
    # A guide goes with the shard of the tree that checks its combination's Python.
    tree_of = {planned.id: planned.tree for planned in load_plan("full").combinations}
    return [
        pytest.param(
            runs[name],
            guide,
            id=f"{guide}-{name}",
            marks=[
                pytest.mark.variant(runs[name].id, estimate=GUIDE_ESTIMATE),
                *_shard_mark(tree_of[runs[name].id]),
            ],
        )
        for guide in GUIDES
        for name in VARIANTS
    ]


def _shard_mark(tree: str | None) -> list[pytest.MarkDecorator]:
    return [pytest.mark.plan_item(tree_item(tree))] if tree else []


@dataclass(frozen=True)
class GuideRun:
    """One guide on one variant: where, and with what."""

    run: VariantRun
    project: Path
    tmp: Path
    uv: Path
    interpreter: Interpreter
    owner: str  # of its corner of the services

    @property
    def services(self) -> frozenset[str]:
        return services_for(self.run.combination.answers)

    def env(self, database_url: str) -> dict[str, str]:
        """The variant's environment with `database_url`, and `uv` on PATH (alone: the folder
        uv lives in may hold other tools)."""
        extra = {"TMPDIR": str(self.tmp), "DATABASE_URL": database_url}
        return with_uv_on_path(variant_env(self.project, extra), self.uv, self.tmp / "bin")

    def uv_run(self, argv: list[str], database_url: str) -> CommandResult:
        command = [str(self.uv), "run", "--no-sync", *argv]
        return run_command(command, self.project, self.env(database_url))

    @contextlib.contextmanager
    def database(self, name: str) -> Iterator[str]:
        """The URL of a new, empty database, dropped afterwards."""
        if "postgres" not in self.services:
            yield f"sqlite+aiosqlite:///{self.tmp}/{name}.db"
            return
        unique = f"guide_{name}_{uuid.uuid4().hex[:12]}"
        self._postgres(f'CREATE DATABASE "{unique}"')
        try:
            yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{unique}"))
        finally:
            self._postgres(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')

    def _postgres(self, statement: str) -> None:
        """Run one statement on the server's maintenance database, with the project's driver."""
        url = POSTGRES_URL.replace("+asyncpg", "")
        result = self.uv_run(["python", "-c", _POSTGRES_STATEMENT, url, statement], url)
        assert result.ok, result.describe()


_POSTGRES_STATEMENT = """\
import asyncio, sys
import asyncpg
async def main():
    connection = await asyncpg.connect(sys.argv[1])
    try:
        await connection.execute(sys.argv[2])
    finally:
        await connection.close()
asyncio.run(main())
"""


@pytest.mark.parametrize(("run", "guide"), _runs())
def test_guide_leaves_a_project_whose_checks_pass(
    run: VariantRun, guide: str, harness: HarnessContext, tmp_path: Path
) -> None:
    uv, interpreter = find_uv(), find_interpreter(run.python)
    if uv is None or interpreter is None:
        unavailable(f"uv or CPython {run.python} is missing")
    problems = [
        p for p in (service_problem(s) for s in sorted(services_for(run.combination.answers))) if p
    ]
    if problems:
        unavailable("; ".join(problems))
    with workspace(run, fallback=tmp_path, purpose=guide) as base:
        project = base / "project"
        harness.snapshot.render(run.combination.data, project)
        owner = harness.isolation_owner(f"{guide}-{run.id}")
        follower = GuideRun(run, project, base / "tmp", uv, interpreter, owner)
        sync_argv = [str(uv), "sync", "-p", str(interpreter.path)]
        sync = run_command(sync_argv, project, follower.env(""))
        assert sync.ok, sync.describe()
        with follower.database("guide") as database_url:
            env = follower.env(database_url)
            section = readme_section((project / "README.md").read_text(), GUIDES[guide])
            follow_guide(project, guide_steps(section), env)
        failed = _failed_checks(follower)
    assert not failed, f"after the guide, in {project}:\n" + "\n\n".join(
        f"---- {name} ----\n{detail}" for name, detail in failed.items()
    )


def _failed_checks(follower: GuideRun) -> dict[str, str]:
    """Every check, run to the end: check name -> why it failed."""
    project = follower.project
    failed = {}
    for name, problems in (
        ("ruff-format", ruff_format_problems(project)),
        ("ruff-check", ruff_check_problems(project)),
    ):
        if problems:
            failed[name] = "\n".join(problems)
    with isolated_services(follower.services, follower.owner) as service_vars:
        extra = {"TMPDIR": str(follower.tmp), **service_vars}
        python_run = run_python_checks(project, follower.uv, follower.interpreter, extra)
    checks: list[Step] = python_run.steps
    failed.update({step.name: step.detail for step in checks if step.status != "ok"})
    slug = str(follower.run.combination.answers["project_slug"])
    with follower.database("fresh") as database_url:
        migrate = follower.uv_run([slug, "migrate"], database_url)
    if not migrate.ok:
        failed["migrate"] = migrate.describe()
    return failed
