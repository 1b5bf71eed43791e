"""The jobs benchmark works: a bounded smoke run of `bench/jobs.py --smoke` through both brokers.

Not a performance test: it proves that the script renders the celery variant of each broker,
starts a real worker, measures throughput and enqueue-to-result latency with the rendered app,
reports the configuration the app ships, and leaves no key and no virtual host behind. It is
not part of `--quick`. A missing service or interpreter skips it, or fails it under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.bench_smoke import leftover_keys, require, run_bench, vhosts
from harness.matrix import load_matrix

TIMEOUT = 600  # about 70 s with warm venvs; the first run also renders and syncs two
BROKERS = ("redis", "rabbitmq")
JOBS = 20  # --smoke
PREFETCH = 4


@pytest.mark.xdist_group("bench-smoke")
def test_bench_jobs_smoke_run_measures_each_broker(tmp_path: Path) -> None:
    answers = {"database": "postgresql", "redis": True, "celery": True}
    for broker in BROKERS:
        require({**answers, "celery_broker": broker}, load_matrix().default_python)

    seconds = run_bench(
        "jobs.py", "--raised-prefetch", str(PREFETCH), output_dir=tmp_path, timeout=TIMEOUT
    )

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
