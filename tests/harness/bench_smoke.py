"""What the benchmark smoke tests share: their prerequisites, one run of a `bench/` script, and
the corners of the services that a run must leave behind empty."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .interpreters import find_interpreter
from .questionnaire import REPO_ROOT
from .services import RABBITMQCTL, redis_client, service_problem, services_for
from .variant import unavailable

BENCH_DIR = REPO_ROOT / "bench"
# What a benchmark script exits with when a prerequisite is missing.
UNAVAILABLE = 3


def require(answers: Mapping[str, Any], python: str) -> None:
    """Skip (fail under CI=true) unless the services of `answers` and CPython `python` are here."""
    for service in sorted(services_for(answers)):
        if problem := service_problem(service):
            unavailable(problem)
    if find_interpreter(python) is None:
        unavailable(f"no CPython {python} interpreter found")


def run_bench(script: str, *args: str, output_dir: Path, timeout: float) -> float:
    """Runs `bench/<script> --smoke` from the repository; its wall seconds."""
    argv = [sys.executable, str(BENCH_DIR / script), "--smoke", *args]
    argv += ["--output-dir", str(output_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode == UNAVAILABLE:
        unavailable(done.stderr.strip())
    assert done.returncode == 0, f"$ {' '.join(argv)}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return seconds


def leftover_keys(prefix: str) -> list[bytes]:
    """Every key under `prefix`, a page of SCAN at a time."""
    found: list[bytes] = []
    cursor: bytes = b"0"
    with redis_client() as redis:
        while True:
            match redis.command("SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", "1000"):
                case [bytes() as cursor, list() as keys]:
                    found += [key for key in keys if isinstance(key, bytes)]
                case reply:
                    raise AssertionError(f"SCAN answered {reply!r}")
            if cursor == b"0":
                return found


def vhosts() -> set[str]:
    done = subprocess.run(
        [*RABBITMQCTL, "list_vhosts", "--quiet", "--no-table-headers"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(done.stdout.split())
