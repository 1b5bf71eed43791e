"""The jobs benchmark works: a bounded smoke run of `bench/jobs.py --smoke` through both brokers.

Not a performance test: it proves that the script renders the celery variant of each broker,
starts a real worker, measures throughput and enqueue-to-result latency with the rendered app,
reports the configuration the app ships, and leaves no key and no virtual host behind. It is
not part of `--quick`. A missing service or interpreter skips it, or fails it under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness.interpreters import find_interpreter
from harness.matrix import load_matrix
from harness.questionnaire import REPO_ROOT
from harness.services import RABBITMQCTL, redis_client, service_problem, services_for
from harness.variant import unavailable

BENCH = REPO_ROOT / "bench" / "jobs.py"
TIMEOUT = 600  # about 70 s with warm venvs; the first run also renders and syncs two
BROKERS = ("redis", "rabbitmq")
JOBS = 20  # --smoke
PREFETCH = 4


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


@pytest.mark.xdist_group("bench-smoke")
def test_bench_jobs_smoke_run_measures_each_broker(tmp_path: Path) -> None:
    matrix = load_matrix()
    answers = {"database": "postgresql", "redis": True, "celery": True}
    for broker in BROKERS:
        for service in sorted(services_for({**answers, "celery_broker": broker})):
            if problem := service_problem(service):
                unavailable(problem)
    if find_interpreter(matrix.default_python) is None:
        unavailable(f"no CPython {matrix.default_python} interpreter found")

    argv = [sys.executable, str(BENCH), "--smoke", "--raised-prefetch", str(PREFETCH)]
    argv += ["--output-dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode == 3:
        unavailable(done.stderr.strip())
    assert done.returncode == 0, f"$ {' '.join(argv)}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    results = json.loads((tmp_path / "jobs.json").read_text(encoding="utf-8"))
    by_broker = {entry["broker"]: entry for entry in results["brokers"]}
    assert set(by_broker) == set(BROKERS)
    for broker, entry in by_broker.items():
        assert entry["answers"] == {**answers, "auth": True, "celery_broker": broker}
        assert [row["id"] for row in entry["rows"]] == ["shipped", f"prefetch_{PREFETCH}"]
        shipped, raised = entry["rows"]
        assert "--prefetch-multiplier" not in shipped["worker_command"]
        assert raised["worker_command"][-2:] == ["--prefetch-multiplier", str(PREFETCH)]
        for row in entry["rows"]:
            conf = row["configuration"]
            assert conf["broker"] == ("redis" if broker == "redis" else "amqp"), conf
            assert conf["result_backend"] == "redis", conf
            assert conf["task_acks_late"] is True, conf
            assert conf["worker_prefetch_multiplier"] == 1, conf
            assert conf["task_serializer"] == "json", conf
            throughput, latency = row["throughput"], row["latency"]
            assert throughput["jobs"] == JOBS, throughput
            assert throughput["jobs_per_second"] > 0, throughput
            assert latency["jobs"] == JOBS, latency
            assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p99_ms"], latency
            assert row["worker_start_to_first_result_s"] > 0, row
        isolation = entry["isolation"]
        assert leftover_keys(isolation["redis_key_prefix"]) == [], isolation
        if broker == "rabbitmq":
            assert isolation["rabbitmq_vhost"], isolation
            assert isolation["rabbitmq_vhost"] not in vhosts(), isolation

    markdown = (tmp_path / "jobs.md").read_text(encoding="utf-8")
    for broker in BROKERS:
        assert f"## Broker: {broker}" in markdown
    assert "| Worker | jobs/s | enqueued/s |" in markdown
    assert "not the shipped setting" in markdown
    print(f"bench jobs smoke run: {seconds:.1f}s")
