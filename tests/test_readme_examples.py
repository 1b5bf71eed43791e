"""Every shell example of each rendered README runs, as written, against the served project.

One test per distinct tree on the default Python (today: every distinct README). The
markup is described in `harness/readme_examples.py`; the unit tests of that markup come first.
On the way, the project's own `uv sync` must compile bytecode (`[tool.uv] compile-bytecode`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness.commands import run_command, tail
from harness.databases import throwaway_database
from harness.interpreters import find_interpreter, find_uv
from harness.plan import README_SECONDS, Planned, tree_item
from harness.python_checks import TIMEOUTS, variant_env
from harness.readme_examples import (
    Example,
    ReadmeMarkupError,
    extract_examples,
    free_port,
    run_script,
    script,
    serving,
)
from harness.services import isolated_services, service_problem, services_for
from harness.variant import HarnessContext, plan_of, unavailable

# The identity of the README's `git commit`, whatever the machine's git config says.
GIT_IDENTITY = {
    f"GIT_{role}_{part}": value
    for role in ("AUTHOR", "COMMITTER")
    for part, value in (("NAME", "README Test"), ("EMAIL", "readme@example.com"))
}


# ---- the markup -------------------------------------------------------------------------------

MARKDOWN = """\
# Title

```sh
echo one
```

<!-- not run: it serves forever -->
```bash
serve
```

```text
not a shell
```

```bash
curl -s localhost:8000/x
```
"""


def test_shell_blocks_are_extracted_in_order_with_their_markers() -> None:
    examples = extract_examples(MARKDOWN)

    assert examples == [
        Example(3, "echo one", None),
        Example(8, "serve", "it serves forever"),
        Example(16, "curl -s localhost:8000/x", None),
    ]


def test_the_script_runs_the_unmarked_blocks_against_the_port() -> None:
    text = script(extract_examples(MARKDOWN), port=4321)

    assert "echo one" in text
    assert "serve\n" not in text
    assert "curl -s 127.0.0.1:4321/x" in text
    assert "--fail-with-body" in text


@pytest.mark.parametrize(
    "markdown",
    [
        "<!-- not run: why -->\n\n```sh\nx\n```\n",  # not right before the block
        "<!-- not run: why -->\n```text\nx\n```\n",  # not a shell block
        "<!-- not run: -->\n```sh\nx\n```\n",  # no reason
        "```sh\nx\n",  # never closed
    ],
    ids=["detached", "not-shell", "no-reason", "unclosed"],
)
def test_bad_markup_is_an_error(markdown: str) -> None:
    with pytest.raises(ReadmeMarkupError):
        extract_examples(markdown)


def test_a_failing_request_fails_the_script(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    blocks = [Example(1, "curl -s localhost:8000/nothing-listens-here", None)]

    result = run_script(script(blocks, port=free_port()), project, os.environ)

    assert not result.ok


# ---- every rendered README ----------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per distinct (Python tree, README) of the default Python; the quick tier runs
    those of the default and all-features trees."""
    if "planned" not in metafunc.fixturenames:
        return
    plan = plan_of(metafunc.config)
    metafunc.parametrize(
        "planned",
        [
            pytest.param(
                planned,
                id=planned.id,
                marks=[
                    pytest.mark.variant(planned.id, estimate=README_SECONDS),
                    pytest.mark.plan_item(tree_item(str(planned.tree))),
                    pytest.mark.quick,
                ],
            )
            for planned in plan.readme_runs()
        ],
    )


def test_readme_examples_run(planned: Planned, harness: HarnessContext, tmp_path: Path) -> None:
    run = planned.combination
    services = services_for(run.answers)
    uv, interpreter = find_uv(), find_interpreter(run.python)
    problems = [p for p in (service_problem(s) for s in sorted(services)) if p]
    if uv is None or interpreter is None or problems:
        unavailable("; ".join(problems) or f"uv or CPython {run.python} is missing")
    project = harness.snapshot.render(run.data, tmp_path / "project")
    (tmp_path / "tmp").mkdir()
    env = variant_env(project, {"TMPDIR": str(tmp_path / "tmp"), **GIT_IDENTITY})
    env["PATH"] = os.pathsep.join([_bin_with_uv(uv, tmp_path / "bin"), env["PATH"]])
    env.pop("UV_COMPILE_BYTECODE", None)  # the project's own pyproject.toml must ask for it
    sync = run_command(
        [str(uv), "sync", "-p", str(interpreter.path)], project, env, TIMEOUTS["uv-sync"]
    )
    assert sync.ok, sync.describe()
    # Without bytecode, every start of the command compiles its modules again.
    assert "Bytecode compiled" in sync.output, "uv sync compiled no bytecode"

    examples = extract_examples((project / "README.md").read_text(encoding="utf-8"))
    assert any(example.runs for example in examples), "the README has no runnable example"
    owner = harness.isolation_owner(f"readme-{run.id}")
    with (
        isolated_services(services, owner) as service_vars,
        throwaway_database(project, env, services, tmp_path, "readme") as database_url,
    ):
        env.update({**service_vars, "DATABASE_URL": database_url})
        port = free_port()
        command = [str(project / ".venv" / "bin" / run.answers["project_slug"])]
        with serving([*command, "serve", "--port", str(port)], project, env, port):
            result = run_script(script(examples, port), project, env)

    why = "a README example failed (the last '>>> README line' says which)"
    assert result.ok, f"{why}:\n{tail(result.output, 80)}"


def _bin_with_uv(uv: Path, folder: Path) -> str:
    """A folder with uv and uvx only: the README's commands find them, and no other Python."""
    folder.mkdir()
    for name in ("uv", "uvx"):
        source = uv.with_name(name)
        if source.exists():
            (folder / name).symlink_to(source)
    return str(folder)
