"""The Celery jobs benchmark: no-op jobs through each real broker, with one worker.

    uv run python bench/jobs.py                      # both brokers (a few minutes)
    uv run python bench/jobs.py --smoke              # proves the script works (~1 minute)
    uv run python bench/jobs.py --broker rabbitmq    # one broker
    uv run python bench/jobs.py --project DIR        # an existing render instead of rendering

For each broker it renders the celery variant (database=postgresql, redis, auth, celery with
that broker, the other answers as the all-features variant has them), syncs it, gives it a
Redis key prefix and a RabbitMQ virtual host of its own (the harness's `isolated_services`),
starts ONE worker of the rendered app (`celery -A <package>.worker worker --concurrency 1`,
plus `--include bench_noop`, a no-op task of this benchmark's), and measures, with the same
app, from another process: throughput (N jobs enqueued as fast as possible, until every result
is back) and the latency from enqueue to result (one job at a time, p50 and p99). It writes
`bench/results/jobs.json` and `bench/results/jobs.md` and prints the tables. See
bench/README.md, "Jobs". It is a measurement, not a test: it exits 0 when every measurement ran.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.matrix import Combination, Matrix
from harness.services import (
    isolated_services,
    isolation_owner,
    service_problem,
    services_for,
)
from run import (
    BENCH_DIR,
    Bench,
    BenchError,
    Plan,
    Server,
    Unavailable,
    log,
    measure_and_write,
    parse_with_folders,
    run,
)

PROBE_DIR = BENCH_DIR / "jobs_probe"
BROKERS = ("redis", "rabbitmq")
# The variant of the issue: the broker is the one answer that changes between the two.
CELERY_ANSWERS: Mapping[str, Any] = {
    "database": "postgresql",
    "redis": True,
    "auth": True,
    "celery": True,
}
VERSIONS_OF = ("celery", "kombu", "billiard", "redis", "amqp", "vine")
# The labelled second row: the shipped prefetch (1) lets the worker hold one unacknowledged
# job at a time; this shows what the round trip per job costs.
RAISED_PREFETCH = 16


@dataclass(frozen=True)
class JobsPlan:
    mode: str
    jobs: int  # throughput: enqueued at once, then awaited
    latency_jobs: int  # sequential enqueue -> result samples
    warmup: int  # jobs of each kind first, unrecorded
    concurrency: int  # the worker's pool size
    raised_prefetch: int  # 0: no second row
    loglevel: str = ""  # the worker's --loglevel; "": Celery's default, WARNING


def make_plan(args: argparse.Namespace) -> JobsPlan:
    base = (
        JobsPlan("smoke", 20, 20, 5, 1, 0)
        if args.smoke
        else JobsPlan("full", 2000, 500, 200, 1, RAISED_PREFETCH)
    )
    raised = base.raised_prefetch if args.raised_prefetch is None else args.raised_prefetch
    return JobsPlan(
        mode=base.mode,
        jobs=args.jobs or base.jobs,
        latency_jobs=args.latency_jobs or base.latency_jobs,
        warmup=base.warmup if args.warmup is None else args.warmup,
        concurrency=args.concurrency,
        raised_prefetch=raised,
        loglevel=args.loglevel or "",
    )


class CeleryVariant(Bench):
    """One broker's render, environment and corner of the services, from `Bench` (render,
    sync, settings), measured with a worker of its own."""

    def __init__(
        self,
        args: argparse.Namespace,
        plan: JobsPlan,
        work: Path,
        *,
        broker: str = "",
        project: Path | None = None,
    ) -> None:
        bench_args = argparse.Namespace(
            work_dir=str(work), output_dir=args.output_dir, ref=args.ref, environment="production"
        )
        super().__init__(bench_args, Plan("jobs", 0, 0, 0, 1, 1, False, False, False, False))
        self.jobs_plan, self.rendered = plan, project is None
        if project is not None:
            self.project = project.resolve()
            broker = str(self.answers().get("celery_broker"))
        self.broker = broker

    def choose_variant(self, matrix: Matrix) -> Combination:
        fixed = {**CELERY_ANSWERS, "celery_broker": self.broker}
        combination = matrix.closest(matrix.wished_all_features(), matrix.default_python, fixed)
        if combination is None:
            wanted = ", ".join(f"{k}={v}" for k, v in fixed.items())
            raise BenchError(f"copier.yml has no valid variant with {wanted}")
        return combination

    def measure(self) -> dict[str, Any]:
        """Render (unless it is an existing project), sync, isolate, and measure each row."""
        self.work.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.logs, ignore_errors=True)
        if self.rendered:
            _, combination = self.resolve_template()
            self.render(combination)
        answers = self.answers()
        python = str(answers["python_version"])
        if not self.rendered:
            self.results["template"] = {"project": str(self.project), "python": python}
        if answers.get("celery") is not True or answers.get("celery_broker") != self.broker:
            raise BenchError(
                f"{self.project} answers celery={answers.get('celery')!r}, celery_broker="
                f"{answers.get('celery_broker')!r}: not a celery variant with {self.broker!r}"
            )
        self.package = str(answers["package_name"])
        services = services_for(answers)
        for service in sorted(services):
            if problem := service_problem(service):
                raise Unavailable(problem)
        self.sync(python)
        self.secret_settings = self.discover_secrets()
        self.superuser_settings = {}
        # "benchjob" is what a person reading a leftover key or virtual host sees.
        owner = isolation_owner(f"bench-jobs-{os.getpid()}", "benchjob", str(self.work))
        try:
            self.service_settings = self.services_held.enter_context(
                isolated_services(services, owner)
            )
            # An empty database of its own (dropped at the end): a no-op job touches no table.
            self.create_database(str(answers.get("database")))
            rows = [self.measure_row("shipped", "as shipped", [])]
            if self.jobs_plan.raised_prefetch:
                multiplier = str(self.jobs_plan.raised_prefetch)
                rows.append(
                    self.measure_row(
                        f"prefetch_{multiplier}",
                        f"prefetch raised to {multiplier} (not the shipped setting)",
                        ["--prefetch-multiplier", multiplier],
                    )
                )
        finally:
            self.release()
        return {
            "broker": self.broker,
            "template": self.results["template"],
            "answers": {k: answers.get(k) for k in (*CELERY_ANSWERS, "celery_broker")},
            "versions": self.versions(VERSIONS_OF),
            "isolation": {  # removed again at the end (the smoke test checks it)
                "redis_key_prefix": self.service_settings.get("REDIS_KEY_PREFIX"),
                "rabbitmq_vhost": owner if "rabbitmq" in services else None,
            },
            "rows": rows,
        }

    def worker_argv(self, extra: Sequence[str]) -> list[str]:
        celery = self.project / ".venv" / "bin" / "celery"
        argv = [str(celery), "-A", f"{self.package}.worker", "worker"]
        argv += ["--concurrency", str(self.jobs_plan.concurrency), "--include", "bench_noop"]
        if self.jobs_plan.loglevel:
            argv += ["--loglevel", self.jobs_plan.loglevel]
        return [*argv, *extra]

    def measure_row(self, id_: str, label: str, extra: Sequence[str]) -> dict[str, Any]:
        plan = self.jobs_plan
        env = self.app_env({"PYTHONPATH": str(PROBE_DIR)})
        argv = self.worker_argv(extra)
        worker = Server(f"worker-{self.broker}-{id_}", argv, self.project, env, 0, self.logs)
        total = plan.jobs + plan.latency_jobs + 2 * plan.warmup
        probe = [str(self.python), str(PROBE_DIR / "measure_jobs.py"), "--app"]
        probe += [f"{self.package}.worker", "--warmup", str(plan.warmup)]
        probe += ["--jobs", str(plan.jobs), "--latency-jobs", str(plan.latency_jobs)]
        log(f"{self.broker}, {label}: $ {' '.join(argv[1:])}")
        with worker:
            assert worker.process is not None
            started = time.time() - (time.perf_counter() - worker.started_at)
            probe += ["--worker-pgid", str(worker.process.pid), "--worker-started", str(started)]
            try:
                done = run(probe, cwd=self.project, env=env, timeout=120 + 0.1 * total)
            except BenchError as error:
                raise BenchError(f"{error}\nworker log:\n{worker.log_tail()}") from None
            if worker.process.poll() is not None:
                raise BenchError(f"the worker exited during the run:\n{worker.log_tail()}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        throughput, latency = report["throughput"], report["latency"]
        log(
            f"{self.broker}, {label}: {throughput['jobs_per_second']:,.0f} jobs/s, latency p50 "
            f"{latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms"
        )
        return {"id": id_, "label": label, "worker_command": argv[1:], **report}


# ---- report ----


def markdown(results: Mapping[str, Any]) -> str:
    plan, machine = results["plan"], results["machine"]
    lines = [
        "# Celery jobs benchmark",
        "",
        f"- {results['started_at']} ({plan['mode']} run) from commit "
        f"{str(results.get('commit', ''))[:12]} of this repository",
        f"- one worker, `--concurrency {plan['concurrency']}` (prefork pool), log level "
        f"{plan['loglevel'] or 'WARNING (Celery default)'}, started per row; "
        f"the client is one process on the same machine, with the rendered app",
        f"- throughput: {plan['jobs']:,} no-op jobs enqueued at once, timed until every result "
        f"is back; latency: {plan['latency_jobs']:,} jobs one at a time, enqueue to result; "
        f"after {plan['warmup']:,} warm-up jobs of each",
        f"- machine: {machine['cpus']} CPUs, load average {machine['loadavg_start']} at the "
        f"start, {machine.get('loadavg_end')} at the end",
    ]
    for broker in results["brokers"]:
        template = broker["template"]
        name = template.get("variant") or template.get("project")
        if "commit" in template:
            dirty = " + uncommitted changes" if template.get("dirty_working_tree") else ""
            name += f" at `{template['ref']}` = {template['commit'][:12]}{dirty}"
        versions = ", ".join(f"{k} {v}" for k, v in broker["versions"].items())
        conf = broker["rows"][0]["configuration"]
        lines += [
            "",
            f"## Broker: {broker['broker']}",
            "",
            f"- variant: {name}, Python {template.get('python')}; {versions}",
            f"- shipped configuration: broker {conf['broker']}, result backend "
            f"{conf['result_backend']}, acks_late {conf['task_acks_late']}, prefetch multiplier "
            f"{conf['worker_prefetch_multiplier']}, serializer {conf['task_serializer']}",
            "",
            "| Worker | jobs/s | enqueued/s | worker CPU | CPU ms/job | client CPU | "
            "latency p50 ms | p99 ms | start to first result s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in broker["rows"]:
            throughput, latency = row["throughput"], row["latency"]
            lines.append(
                f"| {row['label']} | {throughput['jobs_per_second']:,.0f} | "
                f"{throughput['enqueued_per_second']:,.0f} | {throughput['worker_cpu']:.2f} | "
                f"{throughput['worker_cpu_ms_per_job']:.2f} | {throughput['client_cpu']:.2f} | "
                f"{latency['p50_ms']:.2f} | "
                f"{latency['p99_ms']:.2f} | {row['worker_start_to_first_result_s']:.2f} |"
            )
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    lines += [
        "",
        "jobs/s: throughput jobs over the seconds from the first enqueue to the last result. "
        "enqueued/s: how fast the client published them. worker CPU: CPU-seconds of the "
        "worker's processes per wall second meanwhile (near 1.0 with one child: the worker was "
        "the limit). client CPU: the same for the client that enqueues and awaits (near 1.0: one "
        "client was the limit). The client, the broker, Redis and the worker share the cores.",
    ]
    return "\n".join(lines) + "\n"


# ---- entry point ----


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See bench/README.md, 'Jobs', for what each number means.",
    )
    parser.add_argument("--smoke", action="store_true", help="20 jobs of each kind, one row")
    parser.add_argument(
        "--broker", action="append", choices=BROKERS, help="repeatable (default: both)"
    )
    parser.add_argument("--jobs", type=int, help="throughput jobs (default 2000)")
    parser.add_argument("--latency-jobs", type=int, help="sequential jobs (default 500)")
    parser.add_argument("--warmup", type=int, help="warm-up jobs of each kind (default 200)")
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool size (1)")
    parser.add_argument(
        "--raised-prefetch",
        type=int,
        help=f"a second row with --prefetch-multiplier N (default {RAISED_PREFETCH}; "
        "--smoke: 0, none)",
    )
    parser.add_argument(
        "--loglevel",
        help="the worker's --loglevel (default: Celery's, WARNING; the README's command: INFO)",
    )
    parser.add_argument("--ref", default="HEAD", help="template revision (HEAD: working tree)")
    parser.add_argument(
        "--project",
        action="append",
        type=Path,
        help="measure this rendered project (its answers name the broker) instead of rendering",
    )
    return parse_with_folders(parser, argv, "-jobs")


def variants(args: argparse.Namespace, plan: JobsPlan, work: Path) -> list[CeleryVariant]:
    if args.project:
        return [
            CeleryVariant(args, plan, work / f"project-{index}", project=project)
            for index, project in enumerate(args.project)
        ]
    return [CeleryVariant(args, plan, work / b, broker=b) for b in args.broker or BROKERS]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)

    def measure(results: dict[str, Any], work: Path) -> None:
        results["brokers"] = []
        for variant in variants(args, plan, work):
            results["brokers"].append(variant.measure())
            results["notes"] += variant.results["notes"]

    return measure_and_write("jobs", args, plan, measure, markdown)


if __name__ == "__main__":
    sys.exit(main())
