"""The rendered README's domain guides, followed on a fresh render, then every check run.

"Removing the example domain" and "Adding a domain" are step lists a machine can follow (see
`harness/guides.py`). Each guide is followed on the default variant (SQLite, auth) and on
no-auth, then: ruff format and check, the Python checks (config, uv sync, mypy, pytest) and
`migrate` on a fresh database. The first tests check the follower itself on a small README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.commands import run_command
from harness.guides import (
    Edit,
    GuideError,
    Shell,
    apply_edit,
    follow_guide,
    guide_steps,
    readme_section,
)
from harness.interpreters import Interpreter, find_interpreter, find_uv
from harness.matrix import VariantRun, load_matrix
from harness.python_checks import Step, run_python_checks, variant_env
from harness.render import render
from harness.tree_checks import ruff_check_problems, ruff_format_problems
from harness.variant import unavailable, workspace

GUIDES = {
    "remove-items": "Removing the example domain",
    "add-products": "Adding a domain",
}
VARIANTS = ("default", "no-auth")  # on the default Python
GUIDE_ESTIMATE = 90.0  # seconds, for the slowest-first order (`--variant` selects them too)

# Checks that fail today after a guide, by (guide, auth), and why: the template's own tests and
# migrations are still tied to the example domain. A listed check that passes fails the test,
# so that its entry is removed; any other failing check fails it too.
KNOWN_FAILURES: Mapping[tuple[str, bool], Mapping[str, str]] = {
    ("remove-items", True): {
        "pytest": "shared and auth tests use items (tests/integration/test_app.py, "
        "tests/e2e/test_cli.py, tests/e2e/test_migrations.py, tests/integration/auth/"
        "test_router.py)",
        "migrate": "the auth revision's down_revision is the items revision",
    },
    ("remove-items", False): {
        "pytest": "shared tests use items (tests/integration/test_app.py, tests/e2e/test_cli.py, "
        "tests/e2e/test_migrations.py), and only items' tests cover pagination.py (89% < 90%)",
    },
    ("add-products", True): {
        "pytest": "auth's tests list every scope by hand (tests/integration/auth/test_router.py)",
    },
}

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


def test_a_failing_shell_step_is_named(tmp_path: Path) -> None:
    steps = guide_steps(readme_section(README, "Next"))
    with pytest.raises(GuideError, match=r"(?s)```sh\nexit 1\n```.*exited 1"):
        follow_guide(tmp_path, steps, os.environ)
    with pytest.raises(GuideError, match="no steps"):
        follow_guide(tmp_path, [], os.environ)


# ---- the guides of the rendered README --------------------------------------------------------


def _runs() -> list[object]:
    matrix = load_matrix()
    runs = {run.name: run for run in matrix.runs() if run.python == matrix.default_python}
    return [
        pytest.param(
            runs[name],
            guide,
            id=f"{guide}-{name}",
            marks=pytest.mark.variant(runs[name].id, estimate=GUIDE_ESTIMATE),
        )
        for guide in GUIDES
        for name in VARIANTS
    ]


@pytest.mark.parametrize(("run", "guide"), _runs())
def test_guide_leaves_a_project_whose_checks_pass(
    run: VariantRun, guide: str, tmp_path: Path
) -> None:
    uv, interpreter = find_uv(), find_interpreter(run.python)
    if uv is None or interpreter is None:
        unavailable(f"uv or CPython {run.python} is missing")
    with workspace(run, fallback=tmp_path, purpose=guide) as base:
        project, tmp = base / "project", base / "tmp"
        render(run.combination.data, project)
        env = _guide_env(project, tmp, uv)
        sync = run_command([str(uv), "sync", "-p", str(interpreter.path)], project, env)
        assert sync.ok, sync.describe()
        steps = guide_steps(readme_section((project / "README.md").read_text(), GUIDES[guide]))
        follow_guide(project, steps, env)
        known = KNOWN_FAILURES.get((guide, bool(run.combination.answers.get("auth"))), {})
        failed = _failed_checks(run, project, env, Tools(uv, interpreter, tmp, known))
    now_passing = sorted(set(known) - set(failed))
    assert not now_passing, f"{now_passing} pass now: remove them from KNOWN_FAILURES"
    unexpected = {name: detail for name, detail in failed.items() if name not in known}
    assert not unexpected, f"after the guide, in {project}:\n" + "\n\n".join(
        f"---- {name} ----\n{detail}" for name, detail in unexpected.items()
    )


def _guide_env(project: Path, tmp: Path, uv: Path) -> dict[str, str]:
    """The variant's environment, a database of the guide's own, and `uv` on PATH (alone: the
    folder uv lives in may hold other tools)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "uv").symlink_to(uv)
    env = variant_env(
        project, {"TMPDIR": str(tmp), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/guide.db"}
    )
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


@dataclass(frozen=True)
class Tools:
    uv: Path
    interpreter: Interpreter
    tmp: Path
    known_failures: Mapping[str, str]


def _failed_checks(
    run: VariantRun, project: Path, env: Mapping[str, str], tools: Tools
) -> dict[str, str]:
    """Every check, run to the end: check name -> why it failed."""
    failed = {}
    for name, problems in (
        ("ruff-format", ruff_format_problems(project)),
        ("ruff-check", ruff_check_problems(project)),
    ):
        if problems:
            failed[name] = "\n".join(problems)
    extra = {"TMPDIR": str(tools.tmp)}
    stop_early = ["-x"] if "pytest" in tools.known_failures else []  # that it fails is enough
    python_run = run_python_checks(project, tools.uv, tools.interpreter, extra, stop_early)
    checks: list[Step] = python_run.steps
    failed.update({step.name: step.detail for step in checks if step.status != "ok"})
    fresh = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tools.tmp}/fresh.db"}
    slug = str(run.combination.answers["project_slug"])
    migrate = run_command([str(tools.uv), "run", "--no-sync", slug, "migrate"], project, fresh)
    if not migrate.ok:
        failed["migrate"] = migrate.describe()
    return failed
