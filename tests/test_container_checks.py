"""The static checks of the Docker and CI files (harness/container_checks.py), the Docker build
context and the test stack (harness/docker.py), on real renders and on edits that break them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.container_checks import (
    compose_problems,
    feature_file_problems,
    hadolint_problems,
    schema_problems,
    workflow_command_problems,
    workflow_environment_problems,
)
from harness.docker import build_context_files, build_key, stack_file
from harness.matrix import Combination, load_matrix
from harness.python_checks import python_tree_digest
from harness.render import TemplateSnapshot

pytestmark = pytest.mark.quick


def _combination(**features: Any) -> Combination:
    matrix = load_matrix()
    found = matrix.closest({**matrix.minimal_answers(), **features}, matrix.default_python)
    assert found is not None
    assert all(found.answers[k] == v for k, v in features.items())
    return found


def _render(snapshot: TemplateSnapshot, tmp_path: Path, **features: Any) -> tuple[Path, Any]:
    combination = _combination(**features)
    root = tmp_path / "project"
    snapshot.render(combination.data, root)
    return root, combination.answers


FULL_STACK = {
    "database": "postgresql",
    "redis": True,
    "celery": True,
    "celery_broker": "rabbitmq",
    "docker": True,
}


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_a_render_passes_every_check(snapshot: TemplateSnapshot, tmp_path: Path, ci: str) -> None:
    root, answers = _render(snapshot, tmp_path, **FULL_STACK, ci=ci)
    assert feature_file_problems(root, answers) == []
    assert hadolint_problems(root) == []
    assert schema_problems(root) == []
    assert compose_problems(root, answers) == []
    assert workflow_command_problems(root) == []
    assert workflow_environment_problems(root, answers) == []


def test_off_features_have_no_files(snapshot: TemplateSnapshot, tmp_path: Path) -> None:
    root, answers = _render(snapshot, tmp_path, docker=False, ci="none")
    assert feature_file_problems(root, answers) == []
    (root / "compose.yaml").write_text("services: {}\n")
    assert feature_file_problems(root, answers) == [
        "compose.yaml: present though its feature is off"
    ]


def test_gitlab_tests_reach_services_by_alias_not_localhost(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    root, answers = _render(snapshot, tmp_path, **FULL_STACK, ci="gitlab")
    pipeline = root / ".gitlab-ci.yml"
    text = pipeline.read_text()
    pipeline.write_text(text.replace("@postgres:5432", "@localhost:5432"))
    problems = workflow_environment_problems(root, answers)
    assert len(problems) == 1
    assert "DATABASE_URL" in problems[0]
    assert "postgres:5432" in problems[0]


def test_github_tests_reach_services_on_the_mapped_port(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    root, answers = _render(snapshot, tmp_path, **FULL_STACK, ci="github")
    workflow = root / ".github/workflows/ci.yml"
    data = yaml.safe_load(workflow.read_text())
    data["jobs"]["test"]["services"]["redis"]["ports"] = ["16379:6379"]
    workflow.write_text(yaml.safe_dump(data))
    problems = workflow_environment_problems(root, answers)
    assert problems == [
        "github tests job: REDIS_URL='redis://localhost:6379/0' does not reach the redis "
        "container, which is at localhost:16379"
    ]


def test_a_missing_service_or_variable_is_found(snapshot: TemplateSnapshot, tmp_path: Path) -> None:
    root, answers = _render(snapshot, tmp_path, **FULL_STACK, ci="github")
    workflow = root / ".github/workflows/ci.yml"
    data = yaml.safe_load(workflow.read_text())
    del data["jobs"]["test"]["services"]["rabbitmq"]
    del data["jobs"]["test"]["env"]["REDIS_KEY_PREFIX"]
    workflow.write_text(yaml.safe_dump(data))
    problems = workflow_environment_problems(root, answers)
    assert any("services ['postgres', 'redis'], needed" in p for p in problems)
    assert any("REDIS_KEY_PREFIX" in p for p in problems)


def test_a_workflow_command_the_readme_does_not_name_is_found(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    root, _ = _render(snapshot, tmp_path, ci="github")
    workflow = root / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text().replace("uv run mypy", "uv run mypy --strict src"))
    problems = workflow_command_problems(root)
    assert problems == [
        "CI job types runs 'uv run mypy --strict src', which no harness check runs",
        "CI job types runs 'uv run mypy --strict src', which the README does not name",
    ]


def test_compose_secrets_services_and_conditions(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    root, answers = _render(snapshot, tmp_path, **FULL_STACK, ci="none")
    compose = root / "compose.yaml"
    data = yaml.safe_load(compose.read_text())
    data["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
    data["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_started"
    del data["services"]["beat"]
    compose.write_text(yaml.safe_dump(data))
    problems = compose_problems(root, answers)
    assert any("services [" in p and "'beat'" in p for p in problems)
    assert "compose.yaml: postgres.POSTGRES_PASSWORD is written in the file: use ${}" in problems
    assert "compose.yaml: web must wait for migrate: service_completed_successfully" in problems


def test_hadolint_runs_at_warning_level(snapshot: TemplateSnapshot, tmp_path: Path) -> None:
    root, _ = _render(snapshot, tmp_path, docker=True)
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("WORKDIR /app\n", "RUN cd /app\n", 1))
    problems = hadolint_problems(root)
    assert len(problems) == 1
    assert "DL3003" in problems[0]  # use WORKDIR to switch to a directory


def test_ci_files_and_docs_stay_out_of_the_build(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    github, _ = _render(snapshot, tmp_path / "a", docker=True, ci="github")
    gitlab, _ = _render(snapshot, tmp_path / "b", docker=True, ci="gitlab")
    files = build_context_files(github)
    assert "README.md" in files  # the package's description: uv_build needs it
    assert "pyproject.toml" in files
    assert not [f for f in files if f.startswith((".github/", "tests/", ".env"))]
    assert ".copier-answers.yml" not in files
    assert ".gitlab-ci.yml" not in build_context_files(gitlab)
    (github / "tests" / "extra.py").write_text("")
    assert build_key(github) == build_key(_rerender(snapshot, github, ci="github"))


def _rerender(snapshot: TemplateSnapshot, root: Path, **features: Any) -> Path:
    again = root.parent / "again"
    snapshot.render(_combination(docker=True, **features).data, again)
    return again


def test_docker_and_ci_answers_share_the_python_tree(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    plain, _ = _render(snapshot, tmp_path / "a")
    both, _ = _render(snapshot, tmp_path / "b", docker=True, ci="gitlab")
    facts = {"python": "3.12", "services": ""}
    assert python_tree_digest(plain, facts) == python_tree_digest(both, facts)
    readme = both / "README.md"  # the section a test reads still counts
    readme.write_text(readme.read_text().replace("\n## Configure\n", "\n## Configure\n\nNew.\n"))
    assert python_tree_digest(plain, facts) != python_tree_digest(both, facts)


def test_the_test_stack_runs_the_apps_on_the_host_network() -> None:
    resolved: dict[str, Any] = {
        "services": {
            "postgres": {"image": "postgres:17", "healthcheck": {"test": ["CMD", "pg_isready"]}},
            "migrate": {"build": {"context": "."}, "healthcheck": {"test": ["NONE"]}},
            "web": {
                "build": {"context": "."},
                "ports": ["8000:8000"],
                "environment": {"DATABASE_URL": "postgresql+asyncpg://postgres@postgres/x"},
                "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
            },
        },
        "networks": {"default": {}},
    }
    env = {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/mine"}
    stack = stack_file(resolved, "app:1", "python:3.12-slim", env, 41234)
    web = stack["services"]["web"]
    assert "ports" not in web
    assert web["network_mode"] == "host"
    assert web["image"] == "app:1"
    assert web["environment"] == {**env, "PORT": "41234"}
    assert web["depends_on"] == resolved["services"]["web"]["depends_on"]
    assert stack["services"]["migrate"]["healthcheck"] == {"test": ["NONE"]}
    postgres = stack["services"]["postgres"]
    assert postgres["image"] == "python:3.12-slim"
    assert "5432" in " ".join(postgres["healthcheck"]["test"])
    assert "networks" not in stack
