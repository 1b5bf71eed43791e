"""Docker variants built and served for real (harness/docker.py; docs/harness.md, "Docker").

One stack per distinct compose stack (database x Redis x Celery broker) on the default Python,
and the all-features combination of every Python: its image is built from the project's own
Dockerfile (base images are stand-ins the harness makes once), its compose stack is brought
up until every service is healthy, the round trip runs through the published port, and the
stack goes down leaving no container, network or volume. The daemon is started for this module
and stopped after it, on one xdist worker.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.docker import (
    STACK_SECONDS,
    Daemon,
    ServedStack,
    Stack,
    base_images,
    build_image,
    build_key,
    docker_problem,
    ensure_image,
    image_size,
    project_name,
    python_image_tag,
    round_trip,
    served_stacks,
    shared_daemon,
    stack_shape,
)
from harness.interpreters import find_interpreter, find_uv
from harness.matrix import VariantRun, load_matrix
from harness.python_checks import HARNESS_DIR
from harness.services import POSTGRES_URL, isolated_services, service_problem, services_for
from harness.variant import HarnessContext, unavailable, workspace

MEASUREMENTS = HARNESS_DIR / "docker-stacks.json"


def _stacks() -> list[ServedStack]:
    matrix = load_matrix()  # every valid combination: the full tier's renders
    specials = [matrix.all_features_variant(python) for python in matrix.pythons]
    return served_stacks(list(matrix.valid), matrix.default_python, specials)


STACKS = _stacks()


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    problem = docker_problem()
    if problem:
        unavailable(problem)
    with shared_daemon() as running:
        yield running


def _database(name: str, statement: str) -> None:
    subprocess.run(
        ["psql", POSTGRES_URL.replace("+asyncpg", ""), "-qc", statement.format(name=name)],
        check=True,
        capture_output=True,
    )


@pytest.mark.xdist_group("docker")
@pytest.mark.parametrize(
    "served",
    [
        pytest.param(
            stack,
            id=stack.combination.id,
            marks=pytest.mark.variant(
                stack.combination.id, estimate=STACK_SECONDS, duration_key=stack.id
            ),
        )
        for stack in STACKS
    ],
)
def test_stack_serves_a_round_trip(
    served: ServedStack, daemon: Daemon, harness: HarnessContext, tmp_path: Path
) -> None:
    combination = served.combination
    services = services_for(combination.answers)
    missing = [p for p in (service_problem(s) for s in sorted(services)) if p]
    if missing:
        unavailable("; ".join(missing))
    uv = find_uv()
    assert uv is not None
    interpreter = find_interpreter(combination.python)
    if interpreter is None:
        unavailable(f"no CPython {combination.python} interpreter found")
    with workspace(VariantRun(combination, ()), fallback=tmp_path, purpose="docker") as base:
        root = base / "project"
        harness.snapshot.render(combination.data, root)
        # uv cannot download an interpreter here: it locks with the variant's own.
        lock = [str(uv), "lock", "--quiet", "--python", str(interpreter.path)]
        subprocess.run(lock, cwd=root, check=True, timeout=300)
        made = {
            tag: ensure_image(daemon, tag, make)
            for tag, make in base_images((root / "Dockerfile").read_text()).items()
        }
        key = build_key(root)
        image = f"harness-app:{key}"
        cold = not daemon.has_image(image)
        build_seconds = build_image(daemon, root, image)
        owner = harness.isolation_owner(f"docker-{combination.id}")
        database = owner.replace("-", "_")
        with isolated_services(services, owner) as env:
            env = dict(env)
            if "postgres" in services:
                _database(database, 'CREATE DATABASE "{name}"')
                env["DATABASE_URL"] = POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"
            stack = Stack(
                daemon,
                root,
                image,
                python_image_tag(combination.python),
                env,
                project_name(owner),
            )
            try:
                healthy = stack.up()
                steps = round_trip(stack, combination.answers)
            finally:
                left = stack.down()
                if "postgres" in services:
                    _database(database, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        assert left == [], f"the stack left {left} behind"
        record = {
            "id": combination.id,
            "why": list(served.why),
            "stands_for": list(served.stands_for),
            "image": image,
            "image_bytes": image_size(daemon, image),
            "build_seconds": round(build_seconds, 1),
            "build_was_cold": cold,
            "healthy_seconds": round(healthy, 1),
            "base_images": made,
            "round_trip": steps,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _record(record)
        print(json.dumps(record, indent=1))


def _record(record: dict[str, Any]) -> None:
    try:
        known = json.loads(MEASUREMENTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known[record["id"]] = record
    MEASUREMENTS.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")


def test_every_docker_combination_has_a_served_stack() -> None:
    """Each docker combination stands with a served stack of its compose services (on its
    Python when one is served there); every shape is served on the default Python, and every
    Python serves its all-features combination."""
    matrix = load_matrix()
    docker = [c for c in matrix.valid if c.answers.get("docker")]
    assert sorted(m for s in STACKS for m in s.stands_for) == sorted(c.id for c in docker)
    for stack in STACKS:
        shapes = {stack_shape(c.answers) for c in docker if c.id in stack.stands_for}
        assert shapes == {stack_shape(stack.combination.answers)}
    default = matrix.default_python
    served = {stack_shape(s.combination.answers) for s in STACKS if s.combination.python == default}
    assert served == {stack_shape(c.answers) for c in docker}
    for python in matrix.pythons:
        wanted = matrix.all_features_variant(python)
        assert wanted is not None
        assert wanted.id in {s.combination.id for s in STACKS}
