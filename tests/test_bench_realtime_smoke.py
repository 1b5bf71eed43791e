"""The real-time benchmark works: a bounded smoke run of `bench/realtime.py --smoke`.

Not a performance test: it proves that the script renders the websockets variant with Redis,
serves it with two uvicorn processes, fans messages out to clients on both through Redis,
measures throughput and delivery latency, and leaves no key behind. It is not part of
`--quick`. A missing service or interpreter skips it, or fails it under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import test_bench_jobs_smoke as jobs_smoke
from harness.interpreters import find_interpreter
from harness.matrix import load_matrix
from harness.questionnaire import REPO_ROOT
from harness.services import service_problem, services_for
from harness.variant import unavailable

BENCH = REPO_ROOT / "bench" / "realtime.py"
TIMEOUT = 600  # about 90 s with a warm venv; the first run also renders and syncs
CLIENTS, MESSAGES, LATENCY_MESSAGES = 10, 50, 20  # --smoke


@pytest.mark.xdist_group("bench-smoke")
def test_bench_realtime_smoke_run_fans_out_across_two_processes(tmp_path: Path) -> None:
    answers = {"database": "postgresql", "redis": True, "websockets": True}
    for service in sorted(services_for(answers)):
        if problem := service_problem(service):
            unavailable(problem)
    matrix = load_matrix()
    if find_interpreter(matrix.default_python) is None:
        unavailable(f"no CPython {matrix.default_python} interpreter found")

    argv = [sys.executable, str(BENCH), "--smoke", "--output-dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode == 3:
        unavailable(done.stderr.strip())
    assert done.returncode == 0, f"$ {' '.join(argv)}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    report = json.loads((tmp_path / "realtime.json").read_text(encoding="utf-8"))["report"]
    assert report["answers"] == {**answers, "auth": True}
    assert (report["servers"], report["clients"]) == (2, CLIENTS)
    assert report["dropped_clients"] == []
    throughput, latency = report["throughput"], report["latency"]
    assert throughput["messages"] == MESSAGES, throughput
    assert throughput["deliveries_per_second"] == pytest.approx(
        throughput["messages_per_second"] * CLIENTS, rel=0.01
    )
    # Every client received every message, half of them through the other process.
    assert latency["deliveries"] == LATENCY_MESSAGES * CLIENTS, latency
    assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p99_ms"], latency
    assert jobs_smoke.leftover_keys(report["isolation"]["redis_key_prefix"]) == []
    markdown = (tmp_path / "realtime.md").read_text(encoding="utf-8")
    assert "| messages/s | deliveries/s |" in markdown
    print(f"bench realtime smoke run: {seconds:.1f}s")
