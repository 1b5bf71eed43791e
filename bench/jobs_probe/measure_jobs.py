"""Measures no-op Celery jobs through a running worker, with the rendered project's own app.

Run by `bench/jobs.py` with the rendered project's interpreter and `bench/jobs_probe` on
PYTHONPATH; prints one JSON object. The worker must be started with `--include bench_noop`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_noop import NOOP
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from procstat import group_alive, group_cpu_seconds


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency that happened)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


class Probe:
    def __init__(self, app: Celery, worker_pgid: int, timeout: float) -> None:
        self.app, self.worker_pgid, self.timeout = app, worker_pgid, timeout
        self.task = app.tasks[NOOP]

    def one(self, timeout: float) -> float:
        """Seconds from enqueue to the result, for one job."""
        started = time.perf_counter()
        result: AsyncResult = self.task.apply_async()
        result.get(timeout=timeout)
        return time.perf_counter() - started

    def first(self, timeout: float) -> None:
        """The first job's result, which waits for the worker to come up; fails at once when
        the worker exits instead."""
        result: AsyncResult = self.task.apply_async()
        deadline = time.monotonic() + timeout
        while True:
            try:
                result.get(timeout=1.0)
                return
            except CeleryTimeoutError:
                if not group_alive(self.worker_pgid):
                    raise SystemExit("the worker exited before the first job's result") from None
                if time.monotonic() > deadline:
                    raise SystemExit(f"no result from the worker in {timeout:.0f} s") from None

    def throughput(self, jobs: int) -> dict[str, Any]:
        """`jobs` no-op jobs enqueued as fast as one client can, then every result awaited."""
        cpu_before = group_cpu_seconds(self.worker_pgid)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        results = [self.task.apply_async() for _ in range(jobs)]
        enqueued = time.perf_counter()
        # Each result in turn, through the backend's own consumer: `ResultSet.get` polls every
        # half second, which would add up to 0.5 s to the run.
        for result in results:
            result.get(timeout=max(0.0, started + self.timeout - time.perf_counter()))
        done = time.perf_counter()
        worker_cpu = group_cpu_seconds(self.worker_pgid) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        states = {result.state for result in results}
        if states != {"SUCCESS"}:
            raise RuntimeError(f"throughput jobs ended in states {sorted(states)}")
        seconds = done - started
        return {
            "jobs": jobs,
            "seconds": round(seconds, 4),
            "jobs_per_second": round(jobs / seconds, 1),
            "enqueue_seconds": round(enqueued - started, 4),
            "enqueued_per_second": round(jobs / (enqueued - started), 1),
            "worker_cpu": round(worker_cpu / seconds, 2),
            "worker_cpu_ms_per_job": round(worker_cpu / jobs * 1000, 3),
            "client_cpu": round(client_cpu / seconds, 2),
        }

    def latency(self, jobs: int) -> dict[str, Any]:
        """`jobs` jobs one after the other: enqueue, wait for the result, next."""
        samples = sorted(self.one(self.timeout) * 1000 for _ in range(jobs))
        return {
            "jobs": jobs,
            "p50_ms": round(percentile(samples, 0.50), 3),
            "p99_ms": round(percentile(samples, 0.99), 3),
            "mean_ms": round(statistics.fmean(samples), 3),
            "min_ms": round(samples[0], 3),
            "max_ms": round(samples[-1], 3),
        }


def configuration(app: Celery) -> dict[str, Any]:
    """What the shipped app is configured with, for the report (no secrets: schemes only)."""
    conf = app.conf
    return {
        "broker": str(conf.broker_url).split("://", 1)[0],
        "result_backend": str(conf.result_backend).split("://", 1)[0],
        "task_acks_late": conf.task_acks_late,
        "worker_prefetch_multiplier": conf.worker_prefetch_multiplier,
        "task_serializer": conf.task_serializer,
        "result_serializer": conf.result_serializer,
        "accept_content": sorted(conf.accept_content),
        "worker_concurrency": conf.worker_concurrency,
        "task_ignore_result": conf.task_ignore_result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--app", required=True, help="the module that exposes `celery_app`")
    parser.add_argument("--worker-pgid", type=int, required=True)
    parser.add_argument("--worker-started", type=float, required=True, help="time.time()")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--latency-jobs", type=int, required=True)
    args = parser.parse_args()

    app: Celery = importlib.import_module(args.app).celery_app
    probe = Probe(app, args.worker_pgid, args.timeout)
    # The first job waits for the worker to come up: its wall time is the start-up's.
    probe.first(args.ready_timeout)
    ready = time.time() - args.worker_started
    if args.warmup:
        probe.throughput(args.warmup)
        probe.latency(args.warmup)
    report = {
        "worker_start_to_first_result_s": round(ready, 3),
        "configuration": configuration(app),
        "throughput": probe.throughput(args.jobs),
        "latency": probe.latency(args.latency_jobs),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
