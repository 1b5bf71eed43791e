"""The real-time benchmark: messages fanned out to 100 clients across 2 uvicorn processes
through Redis pub/sub, and the delivery latency.

    uv run python bench/realtime.py              # 100 clients, 2000 messages (about a minute)
    uv run python bench/realtime.py --smoke      # proves the script works (10 clients)
    uv run python bench/realtime.py --project DIR    # an existing render instead of rendering

It renders the websockets variant closest to the all-features one with Redis on (PostgreSQL,
auth, redis, websockets), syncs it, gives it a Redis key prefix of its own (the harness's
`isolated_services`) and a database of its own, serves it with TWO uvicorn processes (one
worker each) in production settings, and runs `realtime_probe/measure_fanout.py` with the
project's interpreter: CLIENTS sockets spread over both processes, subscribed to one room,
and a publisher on the first. Every message crosses Redis to reach the second process's
clients. It writes `bench/results/realtime.json` and `bench/results/realtime.md` and prints
the table. See bench/README.md, "Real-time". It is a measurement, not a test: it exits 0 when
every measurement ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.matrix import Combination, Matrix
from harness.services import isolated_services, isolation_owner, service_problem, services_for
from run import (
    BENCH_DIR,
    Bench,
    BenchError,
    Plan,
    Unavailable,
    log,
    measure_and_write,
    parse_with_folders,
    run,
)

PROBE = BENCH_DIR / "realtime_probe" / "measure_fanout.py"
REALTIME_ANSWERS: Mapping[str, Any] = {
    "database": "postgresql",
    "redis": True,
    "auth": True,
    "websockets": True,
}
VERSIONS_OF = ("fastapi", "starlette", "uvicorn", "websockets", "redis")
PROCESSES = 2
# The publisher sends as fast as it can: the per-connection message limit, which protects the
# service from a flood, is raised out of the way of the measurement (and so is the send queue
# of a client that the one client process reads late).
BENCH_SETTINGS = {
    "REALTIME_MESSAGES_PER_SECOND": "1000000000",
    "REALTIME_MESSAGE_BURST": "1000000000",
    "REALTIME_SEND_QUEUE_SIZE": "100000",
}


@dataclass(frozen=True)
class RealtimePlan:
    mode: str
    clients: int
    messages: int  # throughput: published as fast as possible
    latency_messages: int  # one at a time, each after every client received the previous
    warmup: int


def make_plan(args: argparse.Namespace) -> RealtimePlan:
    base = (
        RealtimePlan("smoke", 10, 50, 20, 10)
        if args.smoke
        else RealtimePlan("full", 100, 2000, 300, 100)
    )
    return RealtimePlan(
        mode=base.mode,
        clients=args.clients or base.clients,
        messages=args.messages or base.messages,
        latency_messages=args.latency_messages or base.latency_messages,
        warmup=base.warmup if args.warmup is None else args.warmup,
    )


class RealtimeVariant(Bench):
    """The websockets render, its environment and corner of the services, from `Bench`
    (render, sync, settings, servers, auth), measured with two server processes."""

    def __init__(self, args: argparse.Namespace, plan: RealtimePlan, work: Path) -> None:
        bench_args = argparse.Namespace(
            work_dir=str(work), output_dir=args.output_dir, ref=args.ref, environment="production"
        )
        super().__init__(bench_args, Plan("realtime", 0, 0, 0, 1, 1, False, False, False, False))
        self.realtime_plan, self.rendered = plan, args.project is None
        if args.project is not None:
            self.project = args.project.resolve()

    def choose_variant(self, matrix: Matrix) -> Combination:
        combination = matrix.closest(
            matrix.wished_all_features(), matrix.default_python, dict(REALTIME_ANSWERS)
        )
        if combination is None:
            wanted = ", ".join(f"{k}={v}" for k, v in REALTIME_ANSWERS.items())
            raise BenchError(f"copier.yml has no valid variant with {wanted}")
        return combination

    def measure(self) -> dict[str, Any]:
        self.work.mkdir(parents=True, exist_ok=True)
        if self.rendered:
            _, combination = self.resolve_template()
            self.render(combination)
        answers = self.answers()
        if answers.get("websockets") is not True or answers.get("redis") is not True:
            raise BenchError(f"{self.project} is not a variant with websockets and redis on")
        python = str(answers["python_version"])
        if not self.rendered:
            self.results["template"] = {"project": str(self.project), "python": python}
        package, slug = str(answers["package_name"]), str(answers["project_slug"])
        self.app_spec = f"{package}.main:create_app"
        services = services_for(answers)
        for service in sorted(services):
            if problem := service_problem(service):
                raise Unavailable(problem)
        self.sync(python)
        self.secret_settings = self.discover_secrets()
        self.superuser_settings = self.first_superuser_settings()
        owner = isolation_owner(f"bench-realtime-{os.getpid()}", "benchrt", str(self.work))
        try:
            self.service_settings = self.services_held.enter_context(
                isolated_services(services, owner)
            )
            self.service_settings.update(BENCH_SETTINGS)
            self.create_database(str(answers.get("database")))
            self.migrate(slug)
            report = self.measure_servers(slug, bool(answers.get("auth")))
        finally:
            self.release()
        return {
            "template": self.results["template"],
            "answers": {k: answers.get(k) for k in REALTIME_ANSWERS},
            "versions": self.versions(VERSIONS_OF),
            "settings": BENCH_SETTINGS,
            "isolation": {"redis_key_prefix": self.service_settings.get("REDIS_KEY_PREFIX")},
            **report,
        }

    def measure_servers(self, slug: str, auth: bool) -> dict[str, Any]:
        plan = self.realtime_plan
        servers = [self.app_server(cached=True) for _ in range(PROCESSES)]
        try:
            # One after the other: each creates the first superuser if it is missing.
            for server in servers:
                server.start()
                server.wait_for("/health/ready", timeout=60)
            token = ""
            if auth:
                token = self.authenticate(servers[0].port, slug)["Authorization"].split()[1]
            probe = [str(self.python), str(PROBE), "--token", token]
            for server in servers:
                probe += ["--url", f"ws://127.0.0.1:{server.port}/api/v1/ws"]
            probe += ["--clients", str(plan.clients), "--messages", str(plan.messages)]
            probe += ["--latency-messages", str(plan.latency_messages)]
            probe += ["--warmup", str(plan.warmup)]
            cpu_before = [server.cpu_seconds() for server in servers]
            started = time.perf_counter()
            done = run(probe, cwd=self.project, env=self.env(), timeout=600)
            wall = time.perf_counter() - started
            server_cpu = [
                round((server.cpu_seconds() - before) / wall, 2)
                for server, before in zip(servers, cpu_before, strict=True)
            ]
            for server in servers:
                if server.process is not None and server.process.poll() is not None:
                    raise BenchError(f"{server.name} exited during the run:\n{server.log_tail()}")
        finally:
            for server in servers:
                server.stop()
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        report["server_cpu"] = server_cpu
        throughput, latency = report["throughput"], report["latency"]
        log(
            f"{throughput['messages_per_second']:,.0f} messages/s to {plan.clients} clients "
            f"({throughput['deliveries_per_second']:,.0f} deliveries/s), latency p50 "
            f"{latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms"
        )
        return report


# ---- report ----


def markdown(results: Mapping[str, Any]) -> str:
    plan, machine, report = results["plan"], results["machine"], results["report"]
    template = report["template"]
    name = template.get("variant") or template.get("project")
    if "commit" in template:
        dirty = " + uncommitted changes" if template.get("dirty_working_tree") else ""
        name += f" at `{template['ref']}` = {template['commit'][:12]}{dirty}"
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    throughput, latency = report["throughput"], report["latency"]
    settings = ", ".join(f"{k}={v}" for k, v in report["settings"].items())
    lines = [
        "# Real-time fan-out benchmark",
        "",
        f"- {results['started_at']} ({plan['mode']} run) from commit "
        f"{str(results.get('commit', ''))[:12]} of this repository",
        f"- variant: {name}, Python {template.get('python')}; {versions}",
        f"- {report['servers']} uvicorn processes (one worker each, production settings, "
        f"{settings}), Redis pub/sub between them; {report['clients']} client sockets spread "
        "over both, in one client process, subscribed to one room; the publisher on the first",
        f"- machine: {machine['cpus']} CPUs, load average {machine['loadavg_start']} at the "
        f"start, {machine.get('loadavg_end')} at the end",
        "",
        "| messages/s | deliveries/s | client CPU | server CPU | latency p50 ms | p99 ms | "
        "max ms | dropped clients |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {throughput['messages_per_second']:,.0f} | "
        f"{throughput['deliveries_per_second']:,.0f} | {throughput['client_cpu']:.2f} | "
        f"{' + '.join(f'{cpu:.2f}' for cpu in report['server_cpu'])} | "
        f"{latency['p50_ms']:.2f} | {latency['p99_ms']:.2f} | {latency['max_ms']:.2f} | "
        f"{len(report['dropped_clients'])} |",
        "",
        f"messages/s: {throughput['messages']:,} messages published as fast as the publisher's "
        "socket took them, over the seconds from the first publication to the last delivery "
        f"to every client; deliveries/s: the same times the clients. Latency: "
        f"{latency['messages']:,} messages one at a time, publication to arrival at each "
        f"client ({latency['deliveries']:,} deliveries), on one clock. client CPU and server "
        "CPU: CPU-seconds per wall second of the client process and of each server (near 1.0: "
        "that process was the limit). The clients, both servers and Redis share the cores.",
    ]
    return "\n".join(lines) + "\n"


# ---- entry point ----


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See bench/README.md, 'Real-time', for what each number means.",
    )
    parser.add_argument("--smoke", action="store_true", help="10 clients, 50 messages")
    parser.add_argument("--clients", type=int, help="client sockets (default 100)")
    parser.add_argument("--messages", type=int, help="throughput messages (default 2000)")
    parser.add_argument("--latency-messages", type=int, help="one-at-a-time messages (300)")
    parser.add_argument("--warmup", type=int, help="warm-up messages (default 100)")
    parser.add_argument("--ref", default="HEAD", help="template revision (HEAD: working tree)")
    parser.add_argument("--project", type=Path, help="measure this rendered project instead")
    return parse_with_folders(parser, argv, "-realtime")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)

    def measure(results: dict[str, Any], work: Path) -> None:
        variant = RealtimeVariant(args, plan, work)
        results["report"] = variant.measure()
        results["notes"] = variant.results["notes"]

    return measure_and_write("realtime", args, plan, measure, markdown)


if __name__ == "__main__":
    sys.exit(main())
