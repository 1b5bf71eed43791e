"""The Python checks of a rendered variant, in its own uv environment: sync, mypy, pytest.

Nothing of the harness's own environment leaks in: the variant's `.venv` is created by
`uv sync` from its own `pyproject.toml` (through a shared cache, so it is fast), and the
tools run from that environment only, so a dependency missing from the variant fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .commands import CommandResult, run_command
from .interpreters import Interpreter
from .questionnaire import REPO_ROOT
from .tree_checks import iter_files

HARNESS_DIR = REPO_ROOT / ".harness"
# uv's normal cache, shared with every other project of the user (docs/harness.md says why).
UV_CACHE_DIR = Path(
    os.environ.get("UV_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uv"
)
MIN_COVERAGE = 90.0
TIMEOUTS = {"uv-sync": 900.0, "mypy": 900.0, "pytest": 1800.0}

# Outer variables that would change what the variant's tools see.
LEAKY_VARIABLES = {
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "MYPYPATH",
    "FORCE_COLOR",
    "PY_COLORS",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_NO_SYNC",
    "UV_FROZEN",
    "UV_LOCKED",
    "UV_RUN_RECURSION_DEPTH",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "RABBITMQ_URL",
}
LEAKY_PREFIXES = ("PYTEST_", "COV_CORE_", "COVERAGE_")

# ---- which files decide the outcome of the Python checks ---------------------------------------

PY_DIRS = {"src", "tests", "migrations"}  # everything below them counts
PY_SUFFIXES = {".py", ".pyi", ".pth", ".toml", ".ini", ".cfg", ".mako", ".lock", ".typed"}
PY_NAMES = {".python-version", "MANIFEST.in", "Makefile"}
PY_PREFIXES = (".env",)  # .env.example, .env.test: settings may read or check them
# Copier writes `.env` once, with secrets drawn at random (template/.env.jinja): different in
# every render, and no rendered test's outcome depends on it (tests build their settings from
# arguments), so it is no part of a tree.
GENERATED_DOTENV = ".env"


def python_relevant_files(root: Path) -> list[str]:
    """Files whose content may change what uv sync, mypy or pytest do (conservatively).

    On top of the Python files and their configuration, any file named in them (a test that
    reads `compose.yaml`, say) counts too. Only the `readme =` of pyproject.toml is not read:
    it is package metadata, and the README is shared by features that do not touch Python.
    """
    files = [p.relative_to(root).as_posix() for p in iter_files(root)]
    files = [f for f in files if f != GENERATED_DOTENV]
    core = [f for f in files if is_python_relevant(f)]
    mentions = "\n".join(_referencing_text(root / f) for f in core)
    named = [f for f in files if f not in core and (f in mentions or Path(f).name in mentions)]
    return sorted({*core, *named})


def is_python_relevant(relpath: str) -> bool:
    path = Path(relpath)
    return relpath != GENERATED_DOTENV and (
        path.parts[0] in PY_DIRS
        or path.suffix in PY_SUFFIXES
        or path.name in PY_NAMES
        or path.name.startswith(PY_PREFIXES)
    )


def _referencing_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ""
    if path.name == "pyproject.toml":
        text = re.sub(r"(?m)^readme\s*=.*$", "", text)
    return text


# A Markdown heading that Python code quotes, such as "\n## Configure\n" in a test that reads
# the README's settings table.
QUOTED_HEADING = re.compile(r"(?m)(?:^|\\n)(#{1,6} [A-Z][^\n\\\"']*?)(?:\\n|[\"'])")


def markdown_sections(text: str, headings: set[str]) -> str:
    """The sections of `text` under `headings` (each up to the next heading of its level or
    above), in order."""
    kept, level, keeping, fenced = [], 0, False, False
    for line in text.splitlines(keepends=True):
        fenced ^= line.startswith("```")
        marks = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < marks <= 6 and line[marks : marks + 1] == " ":
            if line.rstrip("\n") in headings:
                level, keeping = marks, True
            elif keeping and marks <= level:
                keeping = False
        if keeping:
            kept.append(line)
    return "".join(kept)


def python_tree_digest(root: Path, extra: Mapping[str, str]) -> tuple[str, int]:
    """A hash of the Python-relevant files plus `extra` (interpreter, services); and the count.

    A Markdown file that counts only because Python code names it counts by the sections whose
    headings that code quotes, when it quotes any: a test of the README's settings table does
    not make its Docker or CI sections part of the tree."""
    digest = hashlib.sha256()
    files = python_relevant_files(root)
    core_text = "\n".join(_referencing_text(root / f) for f in files if is_python_relevant(f))
    headings = set(QUOTED_HEADING.findall(core_text))
    for relpath in files:
        data = (root / relpath).read_bytes()
        if relpath.endswith(".md") and not is_python_relevant(relpath) and headings:
            data = markdown_sections(data.decode("utf-8"), headings).encode()
        digest.update(relpath.encode() + b"\0" + data + b"\0")
    for key, value in sorted(extra.items()):
        digest.update(f"{key}={value}\0".encode())
    return digest.hexdigest()[:16], len(files)


def dotenv_settings(text: str) -> dict[str, str]:
    """What a dotenv file sets, name -> value, in order (plain `NAME=value` lines; comments and
    blank lines skipped)."""
    return dict(re.findall(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$", text))


# ---- results ----------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    status: str  # "ok" | "failed" | "not run"
    seconds: float = 0.0
    detail: str = ""  # why it failed: the command and its output tail

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class PythonRun:
    steps: list[Step] = field(default_factory=list)
    tests_passed: int | None = None
    coverage: float | None = None
    files: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PythonRun:
        steps = [Step(**step) for step in data["steps"]]
        return cls(steps, data["tests_passed"], data["coverage"], data["files"])


def step_from(name: str, result: CommandResult) -> Step:
    status = "ok" if result.ok else "failed"
    return Step(name, status, result.seconds, "" if result.ok else result.describe())


# ---- running ----------------------------------------------------------------------------------


def variant_env(project: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The outer environment minus what leaks, plus `extra`."""
    names_from_example = _settings_names(project / ".env.example")
    harness_bins = {str(Path(sys.prefix) / "bin"), f"{os.environ.get('VIRTUAL_ENV')}/bin"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in LEAKY_VARIABLES
        and key not in names_from_example
        and not key.startswith(LEAKY_PREFIXES)
    }
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p not in harness_bins]
    env["PATH"] = os.pathsep.join(path)
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
    )
    env.update(extra)
    return env


def _settings_names(env_example: Path) -> set[str]:
    """Variables the project documents as settings: an outer value must not leak into tests."""
    if not env_example.is_file():
        return set()
    pattern = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(env_example.read_text(encoding="utf-8")))


def config_problems(project: Path) -> list[str]:
    """The variant's pyproject must keep mypy strict and branch coverage >= MIN_COVERAGE."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return ["no pyproject.toml: the rendered project cannot be installed or tested"]
    tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    problems = []
    if tool.get("mypy", {}).get("strict") is not True:
        problems.append("[tool.mypy] must set strict = true")
    addopts = _pytest_addopts(tool.get("pytest", {}))
    coverage = tool.get("coverage", {})
    branch = coverage.get("run", {}).get("branch") is True or "--cov-branch" in addopts
    under = re.search(r"--cov-fail-under[= ](\d+(?:\.\d+)?)", addopts)
    fail_under = float(under.group(1)) if under else coverage.get("report", {}).get("fail_under")
    if not branch:
        problems.append("coverage must measure branches ([tool.coverage.run] branch = true)")
    if fail_under is None or float(fail_under) < MIN_COVERAGE:
        problems.append(f"coverage must fail under {MIN_COVERAGE:.0f}% (found {fail_under})")
    if "--cov" not in addopts:
        problems.append("pytest must measure coverage (--cov in the pytest addopts)")
    return problems


def _pytest_addopts(pytest_config: Mapping[str, Any]) -> str:
    """addopts of `[tool.pytest]` (pytest 9's TOML config) or `[tool.pytest.ini_options]`."""
    parts = []
    for table in (pytest_config, pytest_config.get("ini_options", {})):
        addopts = table.get("addopts", "")
        parts.append(" ".join(addopts) if isinstance(addopts, list) else str(addopts))
    return " ".join(parts)


def run_python_checks(
    project: Path,
    uv: Path,
    interpreter: Interpreter,
    extra_env: Mapping[str, str],
    pytest_args: Sequence[str] = (),
) -> PythonRun:
    """config, uv sync, mypy, pytest: each a step; later steps don't run after a failed sync.
    `pytest_args` go to pytest (`-x` where only failing or not matters)."""
    env = variant_env(project, extra_env)
    problems = config_problems(project)
    run = PythonRun(steps=[Step("config", "failed" if problems else "ok", 0, "\n".join(problems))])
    if not (project / "pyproject.toml").is_file():
        run.steps += [Step(name, "not run") for name in ("uv-sync", "mypy", "pytest")]
        return run
    sync_argv = [str(uv), "sync", "-p", str(interpreter.path)]
    if (project / "uv.lock").is_file():
        sync_argv.append("--locked")  # a shipped lock must match the pyproject
    sync = run_command(sync_argv, project, env, TIMEOUTS["uv-sync"])
    run.steps.append(step_from("uv-sync", sync))
    if not sync.ok:
        run.steps += [Step("mypy", "not run"), Step("pytest", "not run")]
        return run
    for tool, args in (("mypy", ()), ("pytest", pytest_args)):
        run.steps.append(_run_tool([tool, *args], project, uv, env, run))
    return run


def _run_tool(
    argv: Sequence[str], project: Path, uv: Path, env: Mapping[str, str], run: PythonRun
) -> Step:
    tool = argv[0]
    if not (project / ".venv" / "bin" / tool).exists():
        detail = f"{tool} is not installed by `uv sync`: add it to the variant's dev group"
        return Step(tool, "failed", 0, detail)
    result = run_command([str(uv), "run", "--no-sync", *argv], project, env, TIMEOUTS[tool])
    step = step_from(tool, result)
    if tool == "pytest":
        run.tests_passed, run.coverage = parse_pytest_output(result.output)
        if not step.ok:
            step.detail = pytest_headline(result.output) + step.detail
    return step


def pytest_headline(output: str) -> str:
    """The lines that say why pytest failed, before the tail of its output."""
    wanted = re.compile(r"^(FAILED |ERROR |FAIL Required test coverage|=+ .*(passed|failed|error))")
    lines = [line for line in output.splitlines() if wanted.match(line)]
    return "why:\n" + "\n".join(lines[-25:]) + "\n\n" if lines else ""


def parse_pytest_output(output: str) -> tuple[int | None, float | None]:
    """The pass count of the final summary line and pytest-cov's total coverage."""
    passed = re.findall(r"(\d+) passed", output)
    total = re.findall(r"Total coverage: (\d+(?:\.\d+)?)%", output)
    if not total:
        total = re.findall(r"(?m)^TOTAL\s.*?(\d+(?:\.\d+)?)%\s*$", output)
    return (int(passed[-1]) if passed else None, float(total[-1]) if total else None)
