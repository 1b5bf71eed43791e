"""The real-time benchmark works: a bounded smoke run of `bench/realtime.py --smoke`.

Not a performance test: it proves that the script renders the websockets variant with Redis,
serves it with two uvicorn processes, fans messages out to clients on both through Redis,
measures throughput and delivery latency, and leaves no key behind. It is not part of
`--quick`. A missing service or interpreter skips it, or fails it under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.bench_smoke import leftover_keys, require, run_bench
from harness.matrix import load_matrix

TIMEOUT = 600  # about 90 s with a warm venv; the first run also renders and syncs
CLIENTS, MESSAGES, LATENCY_MESSAGES = 10, 50, 20  # --smoke


@pytest.mark.xdist_group("bench-smoke")
def test_bench_realtime_smoke_run_fans_out_across_two_processes(tmp_path: Path) -> None:
    answers = {"database": "postgresql", "redis": True, "websockets": True}
    require(answers, load_matrix().default_python)

    seconds = run_bench("realtime.py", output_dir=tmp_path, timeout=TIMEOUT)

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
    assert leftover_keys(report["isolation"]["redis_key_prefix"]) == []
    markdown = (tmp_path / "realtime.md").read_text(encoding="utf-8")
    assert "| messages/s | deliveries/s |" in markdown
    print(f"bench realtime smoke run: {seconds:.1f}s")
