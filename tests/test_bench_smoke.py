"""The benchmark script works: a bounded smoke run of `bench/run.py --smoke`.

Not a performance test: it proves that the script renders the all-features variant, serves it,
seeds it, drives load at every endpoint and the ceilings, and writes both result files. It is
not part of `--quick`. A missing PostgreSQL or interpreter skips it, or fails it under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.bench_smoke import require, run_bench
from harness.matrix import load_matrix

TIMEOUT = 240  # the run itself takes about 20 s; the first one also fills the venv
ENDPOINTS = {
    "bare_fastapi",
    "bare_starlette",
    "health_live",
    "items_list_page1",
    "items_list_deep",
    "items_get",
    "items_create",
}
# The all-features variant has the Redis cache: these rows are served with it on (the check
# request before each load proves the 304 is a 304), the others by an instance with it off.
CACHED_ENDPOINTS = {"items_list_page1_cached", "items_get_cached", "items_get_304"}


@pytest.mark.xdist_group("bench-smoke")
def test_bench_smoke_run_writes_json_and_markdown(tmp_path: Path) -> None:
    combination = load_matrix().all_features_variant()
    assert combination is not None
    require(combination.answers, combination.python)

    # The smoke run renders into its own stable folder (its venv kept), never the full run's.
    seconds = run_bench("run.py", output_dir=tmp_path, timeout=TIMEOUT)

    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in results["endpoints"]}
    assert set(rows) == ENDPOINTS | CACHED_ENDPOINTS
    assert rows["items_list_page1_cached"]["target"] == 0.35
    assert rows["items_list_page1_cached"]["met"] is not None
    for row in rows.values():
        assert row["rps"] > 0, row
        assert row["requests"] > 0, row
        assert row["non_2xx"] == 0, row
    assert rows["bare_fastapi"]["ratio"] == 1.0
    timings = {row["id"]: row for row in results["timings"]}
    for name in ("copier_copy", "import_time", "startup_to_ready"):
        assert timings[name]["seconds"] > 0, timings[name]
    assert results["template"]["variant"] == combination.name

    markdown = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "| Endpoint | req/s | p50 ms | p99 ms | ratio to bare FastAPI |" in markdown
    assert "GET /health/live" in markdown
    print(f"bench smoke run: {seconds:.1f}s")
