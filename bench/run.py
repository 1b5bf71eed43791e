"""The benchmark suite of fastapi-roadmap: the rendered all-features service against the ceiling.

    uv run python bench/run.py                      # full run (about 5 minutes)
    uv run python bench/run.py --quick              # shorter loads, no server comparison
    uv run python bench/run.py --smoke              # proves the script works (~20 s)
    uv run python bench/run.py --harness            # also time the template's own harness
    uv run --group bench python bench/run.py --profile   # py-spy profiles of the slow endpoints
    uv run python bench/run.py --baseline REV       # REV against the working tree, interleaved

It renders the all-features variant (derived from copier.yml by the harness's matrix), seeds a
throwaway PostgreSQL database, serves the app with uvicorn (one worker, no reload, warning logs,
127.0.0.1), drives load with `wrk` (or `bench/loadgen.py` when wrk is missing) and writes
`bench/results/latest.json` and `bench/results/latest.md`. Each endpoint is reported as a ratio to
a bare FastAPI app measured in the same run, under the same server and load settings, before and
after the endpoints. See bench/README.md. It is a measurement, not a test: it exits 0 when every
measurement ran, whether or not the targets were met.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
APPS_DIR = BENCH_DIR / "apps"
sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness.interpreters import find_interpreter, find_uv  # noqa: E402
from harness.matrix import Combination, Matrix  # noqa: E402
from harness.python_checks import variant_env  # noqa: E402
from harness.questionnaire import Questionnaire  # noqa: E402
from harness.render import check_data_keys  # noqa: E402
from harness.services import (  # noqa: E402
    POSTGRES_URL,
    isolated_services,
    isolation_owner,
    service_problem,
    services_for,
)
from procstat import group_cpu_seconds  # noqa: E402

HOST = "127.0.0.1"  # the only address this script ever targets
SEED_ITEMS = 1000
PAGE_SIZE = 20
# Installed into the rendered venv for the server comparison only (the template is unchanged).
SERVER_PACKAGES = ("granian==2.8.7", "gunicorn==27.0.1", "uvicorn-worker==0.4.0")
VERSIONS_OF = (
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic-core",
    "sqlalchemy",
    "asyncpg",
    "uvicorn",
    "uvloop",
    "httptools",
    "granian",
    "gunicorn",
    "uvicorn-worker",
)

# Ratios to the bare FastAPI ceiling of the same run (from the benchmark issue).
ENDPOINT_TARGETS = {
    "health_live": 0.85,
    "items_list_page1": 0.15,
    "items_list_deep": 0.15,
    "items_get": 0.20,
    "items_list_page1_cached": 0.35,
}
# With Redis, these rows are served by the instance with the response cache on; every other
# item row by a second instance of the same render with `CACHE_ENABLED=false`.
CACHED_ROWS = frozenset({"items_list_page1_cached", "items_get_cached", "items_get_304"})
# A server must beat uvicorn by this much on item get before it is recommended.
NOISE = 0.10
# Seconds, lower is better.
TIMING_TARGETS = {
    "import_time": 0.4,
    "startup_to_ready": 0.6,
    "copier_copy": 1.5,
    "test_suite": 20.0,
}


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says why and what to do."""


class Unavailable(BenchError):
    """A prerequisite (service, interpreter) is missing: exit code 3."""


# ---- settings of one run ----


@dataclass(frozen=True)
class Plan:
    mode: str
    duration: int  # seconds of load per measurement (wrk takes whole seconds)
    warmup: int  # seconds of unrecorded load first (0: none)
    connections: int
    threads: int
    repeats: int  # samples of import time, startup time and copier copy
    test_suite: bool
    servers: bool
    profile: bool
    harness: bool
    profile_duration: int = 8
    items: int = SEED_ITEMS
    rounds: int = 3  # of a --baseline comparison


def make_plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        base = Plan("smoke", 1, 0, 4, 1, 1, False, False, False, False, 2)
    elif args.quick:
        base = Plan("quick", 3, 1, 32, 1, 3, True, False, False, False, 4)
    else:
        base = Plan("full", 10, 2, 32, 1, 5, True, True, False, False, 8)
    return Plan(
        mode=base.mode,
        duration=args.duration or base.duration,
        warmup=base.warmup if args.warmup is None else args.warmup,
        connections=args.connections or base.connections,
        threads=args.threads,
        repeats=args.repeats or base.repeats,
        test_suite=base.test_suite if args.test_suite is None else args.test_suite,
        servers=base.servers if args.servers is None else args.servers,
        profile=args.profile,
        harness=args.harness,
        profile_duration=base.profile_duration,
        items=args.items or (100 if args.smoke else SEED_ITEMS),
        rounds=args.rounds or (1 if args.smoke else 3),
    )


# ---- small helpers ----


def pytest_note(done: subprocess.CompletedProcess[str]) -> str:
    """pytest's closing line (`12 passed in 3.4s`), marked when the run failed."""
    summary = re.findall(r"^=+ (.*(?:passed|failed|error).*) =+$", done.stdout, re.MULTILINE)
    note = (summary[-1] if summary else "") + ("" if done.returncode == 0 else " (FAILED)")
    return note.strip()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (its own process group, killed whole on timeout)."""
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            raise BenchError(
                f"timed out after {timeout:.0f}s: {' '.join(argv)}\n{err[-2000:]}"
            ) from None
    done = subprocess.CompletedProcess(list(argv), process.returncode, out, err)
    if check and done.returncode != 0:
        raise BenchError(
            f"exited {done.returncode}: {' '.join(argv)}\n{(out + err)[-3000:]}".rstrip()
        )
    return done


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def git(*argv: str) -> str:
    return run(["git", *argv], cwd=REPO_ROOT, timeout=60).stdout.strip()


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


# ---- HTTP client (stdlib) ----


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    connection = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def etag_of(port: int, path: str, headers: Mapping[str, str]) -> str:
    """The ETag of the answer to `GET path`."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10.0)
    try:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        tag = response.getheader("ETag")
    finally:
        connection.close()
    if response.status != 200 or not tag:
        raise BenchError(f"GET {path} answered {response.status} with ETag {tag!r}")
    return tag


def get_json(port: int, path: str, headers: Mapping[str, str] | None = None) -> Any:
    status, body = request(port, "GET", path, headers=headers)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body)


# ---- server processes ----


class Server:
    """One server process group on 127.0.0.1, started and stopped by us only."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        port: int,
        logs: Path,
    ) -> None:
        self.name, self.argv, self.cwd, self.env, self.port = name, list(argv), cwd, env, port
        self.log_path = logs / f"{name}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        return self

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_for(self, path: str, timeout: float = 30.0) -> float:
        """Seconds from process start to the first 200 from `path`."""
        assert self.process is not None
        deadline = self.started_at + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited {self.process.returncode} before {path} answered 200:\n"
                    f"$ {' '.join(self.argv)}\n{self.log_tail()}"
                )
            try:
                status, _ = request(self.port, "GET", path, timeout=1.0)
            except OSError:
                status = 0
            if status == 200:
                return time.perf_counter() - self.started_at
            time.sleep(0.005)
        raise BenchError(f"{self.name}: no 200 from {path} in {timeout:.0f}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU time of every process of the group so far, for saturation checks."""
        return 0.0 if self.process is None else group_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ---- load generation ----


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int
    seconds: float
    tool: str
    server_cpu: float | None = None  # CPU-seconds of the server per wall second (1.0 = saturated)
    server_cpu_seconds: float | None = None  # of the server during the load

    @property
    def cpu_us_per_request(self) -> float | None:
        """The server's CPU time per request: steadier than req/s when other work shares
        the cores, as it counts only the server's own time."""
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1e6

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.errors == 0 and self.requests > 0


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""  # JSON; "{n}" is replaced by a value unique within the run
    expect: int = 200


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if not (rps and p50 and p99 and done):
        raise BenchError(f"cannot read wrk output:\n{output[-2000:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    seconds = _wrk_ms(done.group(2) + done.group(3)) / 1000
    return Load(
        rps=float(rps.group(1)),
        p50_ms=_wrk_ms(p50.group(1)),
        p99_ms=_wrk_ms(p99.group(1)),
        requests=int(done.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(x) for x in socket_errors.groups()) if socket_errors else 0,
        seconds=seconds,
        tool="wrk",
    )


def _lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def wrk_script(target: Target, scripts: Path) -> Path | None:
    if not target.body and target.method == "GET":
        return None
    prefix, _, suffix = target.body.partition("{n}")
    token = secrets.token_hex(4)  # each invocation makes new names: no 409 on reruns
    script = f"""-- generated by bench/run.py
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  hdrs = {{}}
  for k, v in pairs(wrk.headers) do hdrs[k] = v end
  hdrs["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = {_lua_string(prefix)} .. "{token}-" .. tid .. "-" .. counter .. {_lua_string(suffix)}
  if {_lua_string(prefix)} == "" and {_lua_string(suffix)} == "" then body = nil end
  return wrk.format({_lua_string(target.method)}, nil, hdrs, body)
end
"""
    scripts.mkdir(parents=True, exist_ok=True)
    path = scripts / f"{target.method.lower()}-{token}.lua"
    path.write_text(script)
    return path


class LoadGenerator:
    def __init__(self, tool: str, plan: Plan, scripts: Path, python: Path) -> None:
        self.tool, self.plan, self.scripts, self.python = tool, plan, scripts, python

    def run(self, port: int, target: Target, seconds: int, server: Server | None = None) -> Load:
        url = f"http://{HOST}:{port}{target.path}"
        if self.tool == "wrk":
            argv = ["wrk", f"-t{self.plan.threads}", f"-c{self.plan.connections}"]
            argv += [f"-d{seconds}s", "--timeout", "5s", "--latency"]
            for name, value in target.headers.items():
                argv += ["-H", f"{name}: {value}"]
            script = wrk_script(target, self.scripts)
            if script:
                argv += ["-s", str(script)]
            argv.append(url)
        else:
            argv = [str(self.python), str(BENCH_DIR / "loadgen.py"), "--url", url]
            argv += ["--method", target.method, "--connections", str(self.plan.connections)]
            argv += ["--duration", str(seconds)]
            for name, value in target.headers.items():
                argv += ["--header", f"{name}: {value}"]
            if target.body:
                argv += ["--header", "Content-Type: application/json", "--body", target.body]
        cpu_before = server.cpu_seconds() if server else 0.0
        started = time.perf_counter()
        done = run(argv, timeout=seconds + 60)
        wall = time.perf_counter() - started
        if self.tool == "wrk":
            load = parse_wrk(done.stdout)
        else:
            data = json.loads(done.stdout)
            load = Load(
                rps=data["rps"],
                p50_ms=data["p50_ms"],
                p99_ms=data["p99_ms"],
                requests=data["requests"],
                non_2xx=data["non_2xx"],
                errors=data["errors"],
                seconds=data["seconds"],
                tool="python",
            )
        if server:
            load.server_cpu_seconds = round(server.cpu_seconds() - cpu_before, 3)
            load.server_cpu = round(load.server_cpu_seconds / wall, 2)
        return load

    def measure(self, port: int, target: Target, server: Server | None = None) -> Load:
        """Check one request, warm up (unrecorded), then measure."""
        body = target.body.replace("{n}", f"check-{secrets.token_hex(4)}").encode() or None
        headers = dict(target.headers)
        if body:
            headers["Content-Type"] = "application/json"
        status, answer = request(port, target.method, target.path, body=body, headers=headers)
        if status != target.expect:
            raise BenchError(
                f"{target.method} {target.path} answered {status} (expected {target.expect}) "
                f"before the load: {answer[:300]!r}"
            )
        if self.plan.warmup:
            self.run(port, target, self.plan.warmup)
        return self.run(port, target, self.plan.duration, server)


# ---- the run ----


@dataclass
class EndpointResult:
    id: str
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    ratio: float | None
    target: float | None
    met: bool | None
    requests: int
    non_2xx: int
    errors: int
    server_cpu: float | None
    note: str = ""


@dataclass
class TimingResult:
    id: str
    label: str
    seconds: float | None
    target: float | None
    met: bool | None
    samples: list[float] = field(default_factory=list)
    note: str = ""


class Bench:
    def __init__(self, args: argparse.Namespace, plan: Plan) -> None:
        self.args, self.plan = args, plan
        self.work = Path(args.work_dir).resolve()
        self.project = self.work / "project"
        self.logs = self.work / "logs"
        self.output_dir = Path(args.output_dir).resolve()
        self.results: dict[str, Any] = {
            "schema": 1,
            "mode": plan.mode,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "plan": asdict(plan),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_start": loadavg(),
            },
            "notes": [],
        }
        self.endpoints: list[EndpointResult] = []
        self.timings: list[TimingResult] = []
        self.auth_headers: dict[str, str] = {}
        self.credentials: tuple[str, str] | None = None
        self.startup_samples: list[float] = []
        self.item_id = 0
        self.item_etag = ""
        self.caches = False  # the variant has the Redis response cache
        self.cache_off: dict[str, str] = {}  # the settings of the instance without it
        self.database_url = ""
        self.database_name = ""
        self.service_settings: dict[str, str] = {}  # this run's corner of Redis, RabbitMQ...
        self.services_held = contextlib.ExitStack()

    def note(self, text: str) -> None:
        log(f"note: {text}")
        self.results["notes"].append(text)

    # -- template and variant -------------------------------------------------------------------

    def resolve_template(self) -> tuple[Path, Combination]:
        ref = self.args.ref
        commit = git("rev-parse", f"{ref}^{{commit}}")
        if ref == "HEAD":
            source = REPO_ROOT
            dirty = bool(git("status", "--porcelain", "--", "copier.yml", "template", "includes"))
        else:
            source = self.work / "template-snapshot"
            shutil.rmtree(source, ignore_errors=True)
            source.mkdir(parents=True)
            archive = subprocess.run(
                ["git", "archive", "--format=tar", commit],
                cwd=REPO_ROOT,
                capture_output=True,
                check=True,
                timeout=120,
            ).stdout
            with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
                tar.extractall(source, filter="data")
            dirty = False
        questionnaire = Questionnaire(source / "copier.yml", source)
        combination = self.choose_variant(Matrix(questionnaire))
        check_data_keys(combination.data, questionnaire)
        self.results["template"] = {
            "ref": ref,
            "commit": commit,
            "dirty_working_tree": dirty,
            "variant": combination.name,
            "python": combination.python,
            "data": dict(combination.data),
        }
        if dirty:
            self.note(
                "the working tree of the template has uncommitted changes: Copier clones the "
                "repository and commits them first, which makes `copier copy` slower than a "
                "user's copy of a released template"
            )
        return source, combination

    def choose_variant(self, matrix: Matrix) -> Combination:
        """The variant this benchmark renders: the all-features one."""
        combination = matrix.all_features_variant()
        if combination is None:
            raise BenchError("the matrix has no all-features variant")
        return combination

    def copier_argv(self, dst: Path, data_file: Path) -> list[str]:
        script = Path(sys.executable).parent / "copier"
        copier = [str(script)] if script.exists() else [sys.executable, "-m", "copier"]
        return [
            *copier,
            "copy",
            "--defaults",
            "--quiet",
            "--overwrite",
            "--vcs-ref",
            self.args.ref,
            "--data-file",
            str(data_file),
            str(REPO_ROOT),
            str(dst),
        ]

    def render(self, combination: Combination) -> list[float]:
        """Render into the stable project folder (its .venv kept), timing `copier copy`."""
        data_file = self.work / "data.yml"
        data_file.write_text(yaml.safe_dump(dict(combination.data), sort_keys=False))
        if self.project.exists():
            for child in self.project.iterdir():
                if child.name != ".venv":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        samples = []
        log(f"rendering {combination.name}@py{combination.python} at {self.args.ref}")
        started = time.perf_counter()
        run(self.copier_argv(self.project, data_file), timeout=300)
        samples.append(time.perf_counter() - started)
        for index in range(1, self.plan.repeats):
            dst = self.work / f"copy-{index}"
            shutil.rmtree(dst, ignore_errors=True)
            started = time.perf_counter()
            run(self.copier_argv(dst, data_file), timeout=300)
            samples.append(time.perf_counter() - started)
            shutil.rmtree(dst, ignore_errors=True)
        return samples

    def answers(self) -> dict[str, Any]:
        loaded = yaml.safe_load((self.project / ".copier-answers.yml").read_text())
        return dict(loaded or {})

    # -- environment -----------------------------------------------------------------------------

    def sync(self, python: str) -> None:
        interpreter = find_interpreter(python)
        if interpreter is None:
            raise Unavailable(f"no CPython {python} interpreter found for the rendered project")
        uv = find_uv()
        if uv is None:
            raise Unavailable("uv not found (run this script with `uv run`)")
        self.uv = uv
        log(f"uv sync (CPython {interpreter.version})")
        started = time.perf_counter()
        run(
            [str(uv), "sync", "--compile-bytecode", "-p", str(interpreter.path)],
            cwd=self.project,
            env=self.env(),
        )
        self.add_timing(
            "uv_sync",
            "uv sync of the rendered project (shared cache)",
            [time.perf_counter() - started],
        )
        self.python = self.project / ".venv" / "bin" / "python"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = variant_env(self.project, dict(extra or {}))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure imports the way a service runs them
        return env

    def app_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The settings the app is served with: production, warnings only, our database."""
        settings = {
            "ENVIRONMENT": self.args.environment,
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "DATABASE_URL": self.database_url,
            # The rate limiter's work is measured, not its refusals: a budget no load reaches.
            "RATE_LIMIT_DEFAULT": "1000000000/minute",
        }
        settings.update({k: v for k, v in self.service_settings.items() if k != "DATABASE_URL"})
        settings.update(self.secret_settings)
        settings.update(self.superuser_settings)
        settings.update(extra or {})
        return self.env(settings)

    def documented_settings(self) -> list[str]:
        example = self.project / ".env.example"
        if not example.is_file():
            return []
        names = re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", example.read_text(), re.MULTILINE)
        return list(dict.fromkeys(names))

    def cache_off_settings(self) -> dict[str, str]:
        """The settings that turn the response cache off, if the render has that switch (a
        revision before `CACHE_ENABLED` caches every read: its uncached rows are not)."""
        if "CACHE_ENABLED" in self.documented_settings():
            return {"CACHE_ENABLED": "false"}
        self.note("this render has no CACHE_ENABLED: its uncached rows are served from the cache")
        return {}

    def discover_secrets(self) -> dict[str, str]:
        """Secrets documented in .env.example (SECRET_KEY, say) get a random value, so that
        production mode, which refuses the development defaults, starts."""
        wanted = [n for n in self.documented_settings() if "SECRET" in n and "URL" not in n]
        return {name: secrets.token_urlsafe(48) for name in wanted}

    def versions(self, names: Sequence[str] = VERSIONS_OF) -> dict[str, str]:
        """The installed versions of those of `names` that the rendered venv has."""
        code = (
            "import importlib.metadata as m, json\n"
            f"names = {list(names)!r}\n"
            "found = {}\n"
            "for n in names:\n"
            "    try: found[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(found))"
        )
        return dict(json.loads(run([str(self.python), "-c", code], env=self.env()).stdout))

    # -- database -------------------------------------------------------------------------------

    def create_database(self, database: str) -> None:
        if database != "postgresql":
            self.database_url = f"sqlite+aiosqlite:///{self.work / 'bench.db'}"
            (self.work / "bench.db").unlink(missing_ok=True)
            self.note(f"the all-features variant uses {database}, not PostgreSQL")
            return
        problem = service_problem("postgres")
        if problem:
            raise Unavailable(problem)
        self.database_name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        self._pg_admin(f'CREATE DATABASE "{self.database_name}"')
        parts = urlsplit(POSTGRES_URL)
        self.database_url = urlunsplit(parts._replace(path=f"/{self.database_name}"))
        log(f"created database {self.database_name}")

    def release(self) -> None:
        """Drop the database and this run's corner of the other services."""
        self.services_held.close()
        if self.database_name:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            log(f"dropped database {self.database_name}")
            self.database_name = ""

    def _pg_admin(self, sql: str) -> None:
        dsn = POSTGRES_URL.replace("+asyncpg", "")
        code = (
            "import asyncio, sys, asyncpg\n"
            "async def main():\n"
            "    conn = await asyncpg.connect(sys.argv[1], timeout=10)\n"
            "    try:\n"
            "        await conn.execute(sys.argv[2])\n"
            "    finally:\n"
            "        await conn.close()\n"
            "asyncio.run(main())\n"
        )
        run([str(self.python), "-c", code, dsn, sql], env=self.env(), timeout=60)

    def migrate(self, slug: str) -> None:
        log("migrating")
        cli = self.project / ".venv" / "bin" / slug
        run([str(cli), "migrate"], cwd=self.project, env=self.app_env(), timeout=120)

    # -- servers ---------------------------------------------------------------------------------

    def server_argv(self, server: str, app: str, factory: bool, port: int) -> list[str]:
        venv_bin = self.project / ".venv" / "bin"
        if server == "uvicorn":
            argv = [str(self.python), "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
            argv += ["--log-level", "warning", "--no-access-log", "--no-server-header"]
            return [*argv, "--factory"] if factory else argv
        if server == "granian":
            argv = [str(venv_bin / "granian"), "--interface", "asgi", "--host", HOST]
            argv += ["--port", str(port), "--workers", "1", "--loop", "uvloop"]
            argv += ["--log-level", "warning", "--no-access-log"]
            return [*argv, "--factory", app] if factory else [*argv, app]
        if server == "gunicorn":
            argv = [str(venv_bin / "gunicorn"), "--workers", "1"]
            argv += ["--worker-class", "uvicorn_worker.UvicornWorker", "--bind", f"{HOST}:{port}"]
            argv += ["--log-level", "warning"]
            return [*argv, f"{app}()" if factory else app]
        raise ValueError(server)

    def bare(self, kind: str, server: str = "uvicorn") -> Server:
        port = free_port()
        argv = self.server_argv(server, f"bare_{kind}:app", False, port)
        env = self.env({"PYTHONPATH": str(APPS_DIR)})
        return Server(f"bare-{kind}-{server}", argv, APPS_DIR, env, port, self.logs)

    def app_server(
        self, server: str = "uvicorn", wrap: Sequence[str] = (), *, cached: bool = False
    ) -> Server:
        """The app under `server`; with Redis, its response cache on only when `cached`."""
        port = free_port()
        argv = [*wrap, *self.server_argv(server, self.app_spec, True, port)]
        env = self.app_env() if cached else self.app_env(self.cache_off)
        name = f"app-{server}" + ("-cached" if cached and self.caches else "")
        return Server(name, argv, self.project, env, port, self.logs)

    # -- seeding and auth ------------------------------------------------------------------------

    def authenticate(self, port: int, slug: str) -> dict[str, str]:
        """A bearer token for the benchmark user (created first if need be), discovering the
        token endpoint and the way to create a user from the app's OpenAPI and command line."""
        openapi = get_json(port, "/openapi.json")
        paths: dict[str, Any] = openapi.get("paths", {})
        token_path = next(
            (p for p in paths if p.rstrip("/").endswith("/token") and "post" in paths[p]), None
        )
        if token_path is None:
            raise BenchError("auth is on, but the OpenAPI document has no POST .../token path")
        if self.credentials is None:
            email = f"bench-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(18)
            how = self._create_user(port, slug, paths, openapi, email, password)
            self.credentials = (email, password)
            self.results["auth"] = {"user_created_by": how, "token_path": token_path}
        email, password = self.credentials
        form = f"username={email}&password={password}".replace("@", "%40").encode()
        status, body = request(
            port,
            "POST",
            token_path,
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise BenchError(f"POST {token_path} answered {status}: {body[:300]!r}")
        self.results.setdefault("auth", {})["token_path"] = token_path
        return {"Authorization": f"Bearer {json.loads(body)['access_token']}"}

    def first_superuser_settings(self) -> dict[str, str]:
        """When the project creates a first superuser from its settings, use that."""
        names = self.documented_settings()
        if not {"FIRST_SUPERUSER_EMAIL", "FIRST_SUPERUSER_PASSWORD"} <= set(names):
            return {}
        self.credentials = (f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18))
        self.results["auth"] = {"user_created_by": "FIRST_SUPERUSER_EMAIL/PASSWORD at startup"}
        return {
            "FIRST_SUPERUSER_EMAIL": self.credentials[0],
            "FIRST_SUPERUSER_PASSWORD": self.credentials[1],
        }

    def _create_user(
        self,
        port: int,
        slug: str,
        paths: Mapping[str, Any],
        openapi: Mapping[str, Any],
        email: str,
        password: str,
    ) -> str:
        cli = self.project / ".venv" / "bin" / slug
        help_text = run([str(cli), "--help"], env=self.app_env(), check=False).stdout
        if "create-superuser" in help_text:
            sub_help = run(
                [str(cli), "create-superuser", "--help"], env=self.app_env(), check=False
            ).stdout
            argv = [str(cli), "create-superuser"]
            for option, value in (
                ("--email", email),
                ("--username", email),
                ("--password", password),
            ):
                if option in sub_help:
                    argv += [option, value]
            if "--email" not in sub_help and "--username" not in sub_help:
                argv.append(email)
            run(argv, cwd=self.project, env=self.app_env(), stdin=f"{password}\n{password}\n")
            return "cli create-superuser"
        register = next(
            (
                p
                for p in paths
                if "post" in paths[p] and re.search(r"/(register|signup|users)/?$", p)
            ),
            None,
        )
        if register is None:
            raise BenchError(
                "auth is on, but there is neither a `create-superuser` command nor a "
                "registration endpoint to create the benchmark user"
            )
        schema = _request_schema(paths[register]["post"], openapi)
        payload: dict[str, Any] = {}
        for name in schema.get("required", list(schema.get("properties", {}))):
            lowered = name.lower()
            if "password" in lowered:
                payload[name] = password
            elif "email" in lowered or lowered == "username":
                payload[name] = email
            else:
                payload[name] = "bench"
        status, body = request(
            port,
            "POST",
            register,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        if status not in (200, 201):
            raise BenchError(f"POST {register} answered {status}: {body[:300]!r}")
        return f"POST {register}"

    def seed(self, port: int) -> None:
        """`plan.items` items (1,000) through the app's own API (8 keep-alive connections); the
        one in the middle is the item the rows get (and revalidate, with its ETag)."""
        local = threading.local()

        def create(index: int) -> int:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection(HOST, port, timeout=10)
            body = json.dumps(
                {
                    "name": f"seed-{index:05d}",
                    "description": f"Seeded item number {index} for the benchmark.",
                    "price": f"{1 + index % 500}.{index % 100:02d}",
                    "quantity": index % 50,
                }
            ).encode()
            headers = {"Content-Type": "application/json", **self.auth_headers}
            status, answer = request(
                port, "POST", "/api/v1/items", body=body, headers=headers, conn=local.conn
            )
            if status != 201:
                raise BenchError(f"seeding: POST /api/v1/items answered {status}: {answer[:300]!r}")
            return int(json.loads(answer)["id"])

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, range(self.plan.items)))
        page = get_json(port, "/api/v1/items?page=1&size=1", self.auth_headers)
        log(f"seeded {self.plan.items} items in {time.perf_counter() - started:.1f}s")
        if page.get("total", 0) < self.plan.items:
            raise BenchError(f"seeding: the list reports {page.get('total')} items")
        self.item_id = ids[len(ids) // 2]
        if self.caches:  # for the 304 row; a baseline render from before ETags has none
            # Creates change no item, so the tag stays current for the whole run.
            self.item_etag = etag_of(port, f"/api/v1/items/{self.item_id}", self.auth_headers)

    # -- measurements ---------------------------------------------------------------------------

    def measure_bare(self, gen: LoadGenerator, kind: str, server: str = "uvicorn") -> Load:
        with self.bare(kind, server) as bare:
            bare.wait_for("/")
            load = gen.measure(bare.port, Target("GET", "/"), bare)
        log(f"bare {kind} ({server}): {load.rps:,.0f} req/s, p99 {load.p99_ms:.2f} ms")
        return load

    def endpoint_targets(self, auth: bool) -> list[tuple[str, str, Target, str]]:
        headers = self.auth_headers
        deep = math.ceil(self.plan.items / PAGE_SIZE)
        no_auth = "" if auth else "(no auth in this variant)"
        body = '{"name": "load-{n}", "price": "12.50", "quantity": 3}'
        page1 = f"/api/v1/items?page=1&size={PAGE_SIZE}"
        one = f"/api/v1/items/{self.item_id}"
        uncached = " (cache off)" if self.caches else ""
        cached = [
            (
                "items_list_page1_cached",
                f"GET {page1} (cached, warm)",
                Target("GET", page1, headers),
                no_auth,
            ),
            (
                "items_get_cached",
                "GET /api/v1/items/{id} (cached, warm)",
                Target("GET", one, headers),
                no_auth,
            ),
            (
                "items_get_304",
                "GET /api/v1/items/{id} with If-None-Match: its ETag (304, cached)",
                Target("GET", one, {**headers, "If-None-Match": self.item_etag}, expect=304),
                no_auth,
            ),
        ]
        # The uncached rows first: the creates retire the cached pages, which the cached rows'
        # check request and warm-up fill again.
        return [
            ("health_live", "GET /health/live", Target("GET", "/health/live"), ""),
            (
                "items_list_page1",
                f"GET {page1}{uncached}",
                Target("GET", page1, headers),
                no_auth,
            ),
            (
                "items_list_deep",
                f"GET /api/v1/items?page={deep}&size={PAGE_SIZE}{uncached}",
                Target("GET", f"/api/v1/items?page={deep}&size={PAGE_SIZE}", headers),
                no_auth,
            ),
            (
                "items_get",
                f"GET /api/v1/items/{{id}}{uncached}",
                Target("GET", one, headers),
                no_auth,
            ),
            (
                "items_create",
                "POST /api/v1/items",
                Target("POST", "/api/v1/items", headers, body, expect=201),
                no_auth,
            ),
            *(cached if self.caches else []),
        ]

    def add_timing(
        self, id_: str, label: str, samples: Sequence[float], note: str = ""
    ) -> TimingResult:
        value = median(samples) if samples else None
        target = TIMING_TARGETS.get(id_)
        met = None if target is None or value is None else value < target
        result = TimingResult(id_, label, value, target, met, [round(s, 4) for s in samples], note)
        self.timings = [t for t in self.timings if t.id != id_] + [result]
        return result

    def import_time(self, package: str) -> None:
        """`-X importtime` total (the sum of every module's own time), warm .pyc files."""
        argv = [str(self.python), "-X", "importtime", "-c", f"import {package}.main"]
        env = self.app_env()
        run(argv, cwd=self.project, env=env)  # write the project's own .pyc files first
        samples, own, cpu = [], [], []
        by_package: Counter[str] = Counter()
        for _ in range(self.plan.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            stderr = run(argv, cwd=self.project, env=env).stderr
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            total = 0
            for line in stderr.splitlines():
                match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(.+)$", line)
                if match:
                    total += int(match.group(1))
                    by_package[match.group(4).strip().split(".")[0]] += int(match.group(1))
                    if match.group(4).strip() == f"{package}.main":
                        own.append(int(match.group(2)) / 1e6)
            samples.append(total / 1e6)
        note = f"min {min(samples):.3f}s; process CPU median {median(cpu):.3f}s"
        if own:
            note += f"; `{package}.main` cumulative {median(own):.3f}s"
        self.add_timing("import_time", "App import (`-X importtime`, all modules)", samples, note)
        grand = sum(by_package.values()) or 1
        self.results["import_by_package_pct"] = {
            name: round(100 * value / grand, 1) for name, value in by_package.most_common(12)
        }

    def startup_time(self) -> None:
        samples = self.startup_samples[:1]  # the benchmark server's own start counts
        for _ in range(self.plan.repeats - len(samples)):
            with self.app_server(cached=True) as server:
                samples.append(server.wait_for("/health/ready"))
        self.add_timing(
            "startup_to_ready", "Process start to first 200 from /health/ready (uvicorn)", samples
        )

    def test_suite(self) -> None:
        log("running the rendered test suite")
        env = self.env(self.service_settings)
        started = time.perf_counter()
        done = run(
            [str(self.uv), "run", "--no-sync", "pytest", "-p", "no:cacheprovider"],
            cwd=self.project,
            env=env,
            timeout=900,
            check=False,
        )
        seconds = time.perf_counter() - started
        self.add_timing(
            "test_suite",
            "Rendered test suite (`pytest`, real services)",
            [seconds],
            pytest_note(done),
        )

    def harness_times(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        for id_, extra in (("harness_quick", ["--quick"]), ("harness_full", [])):
            log(f"running the harness ({id_})")
            started = time.perf_counter()
            done = run(
                [str(self.uv), "run", "pytest", "-n", "auto", *extra],
                cwd=REPO_ROOT,
                env=env,
                timeout=5400,
                check=False,
            )
            seconds = time.perf_counter() - started
            label = f"Harness `pytest -n auto{' --quick' if extra else ''}`"
            self.add_timing(id_, label, [seconds], pytest_note(done))

    def refresh_token(self, port: int) -> None:
        if self.auth_headers:  # tokens expire: a fresh one for each later server
            self.auth_headers = self.authenticate(port, "")

    def server_comparison(self, gen: LoadGenerator) -> None:
        log("installing " + ", ".join(SERVER_PACKAGES) + " into the rendered venv (this run only)")
        run(
            [str(self.uv), "pip", "install", "-q", "--python", str(self.python), *SERVER_PACKAGES],
            env=self.env(),
        )
        rows: list[dict[str, Any]] = []
        try:
            for server in ("uvicorn", "granian", "gunicorn"):
                row: dict[str, Any] = {"server": server}
                try:
                    row["bare_fastapi"] = asdict(self.measure_bare(gen, "fastapi", server))
                    with self.app_server(server) as app:
                        row["startup_to_ready"] = round(app.wait_for("/health/ready"), 3)
                        self.refresh_token(app.port)
                        for id_, _, target, _ in self.endpoint_targets(bool(self.auth_headers)):
                            if id_ in ("health_live", "items_get"):
                                row[id_] = asdict(gen.measure(app.port, target, app))
                    live = row["health_live"]["rps"]
                    log(f"{server}: /health/live {live:,.0f} req/s")
                except BenchError as error:
                    row["error"] = str(error)[:2000]
                    log(f"{server} failed: {str(error)[:300]}")
                rows.append(row)
        finally:
            run(
                [str(self.uv), "sync", "--compile-bytecode", "-p", str(self.python)],
                cwd=self.project,
                env=self.env(),
            )
        self.results["servers"] = {"packages": list(SERVER_PACKAGES), "rows": rows}

    def profile(self, gen: LoadGenerator) -> None:
        """py-spy (CPU samples, the event loop thread) while wrk drives one endpoint."""
        py_spy = Path(sys.executable).parent / "py-spy"
        if not py_spy.exists():
            self.note("--profile needs py-spy: `uv run --group bench python bench/run.py ...`")
            return
        profiles: dict[str, Any] = {}
        for id_, label, target, _ in self.endpoint_targets(bool(self.auth_headers)):
            raw = self.logs / f"profile-{id_}.txt"
            raw.unlink(missing_ok=True)
            wrap = [str(py_spy), "record", "--format", "raw", "--rate", "250"]
            wrap += ["--output", str(raw), "--"]
            server = self.app_server(wrap=wrap, cached=id_ in CACHED_ROWS)
            with server:
                server.wait_for("/health/ready", timeout=60)
                self.refresh_token(server.port)
                gen.run(server.port, target, self.plan.profile_duration)
                assert server.process is not None
                os.kill(server.process.pid, signal.SIGINT)  # py-spy writes its file, then exits
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.wait(20)
            if raw.exists():
                profiles[id_] = {"label": label, **summarize_profile(raw, self.package)}
                shutil.copy(raw, self.output_dir / f"profile-{id_}.txt")
            else:
                self.note(f"py-spy wrote no profile for {id_}: {server.log_tail(500)}")
        self.results["profile"] = profiles

    # -- orchestration ---------------------------------------------------------------------------

    def execute(self) -> None:
        try:  # release() undoes whatever part of prepare() ran
            gen, package, slug, auth = self.prepare()
            self.migrate(slug)
            self.measure_all(gen, package, slug, auth)
        finally:
            self.release()
        self.results["machine"]["loadavg_end"] = loadavg()

    def prepare(self) -> tuple[LoadGenerator, str, str, bool]:
        """Everything before serving: render, install, settings, an empty database."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.logs, ignore_errors=True)
        _, combination = self.resolve_template()
        copier_samples = self.render(combination)
        self.add_timing("copier_copy", "`copier copy` of the all-features variant", copier_samples)
        answers = self.answers()
        package, slug = combination.answers["package_name"], combination.answers["project_slug"]
        self.app_spec = f"{package}.main:create_app"
        self.package = package
        self.services = services_for(answers)
        for service in sorted(self.services - {"postgres"}):  # create_database checks that one
            if problem := service_problem(service):
                raise Unavailable(problem)
        self.sync(combination.python)
        self.results["versions"] = self.versions()
        self.secret_settings = self.discover_secrets()
        auth = answers.get("auth") is True
        self.caches = answers.get("redis") is True
        if self.caches:
            self.cache_off = self.cache_off_settings()
        self.superuser_settings = self.first_superuser_settings() if auth else {}
        self.results["template"]["auth"] = auth
        tool = self.args.loadgen
        if tool == "auto":
            tool = "wrk" if shutil.which("wrk") else "python"
            if tool == "python":
                self.note("wrk is not installed (`apt-get install wrk`): using bench/loadgen.py")
        gen = LoadGenerator(tool, self.plan, self.work / "lua", self.python)
        self.results["load"] = {
            "tool": tool,
            "connections": self.plan.connections,
            "threads": self.plan.threads,
            "duration_s": self.plan.duration,
            "warmup_s": self.plan.warmup,
            "server": "uvicorn, 1 worker, no reload, --log-level warning, no access log",
            "environment": self.args.environment,
        }
        owner = isolation_owner("bench", str(os.getpid()), str(self.work))
        self.service_settings = self.services_held.enter_context(
            isolated_services(self.services, owner)
        )
        self.create_database(str(answers.get("database")))
        return gen, package, slug, auth

    def serve_both(self, serving: contextlib.ExitStack) -> dict[bool, Server]:
        """The app ready to serve, by `cached`: with Redis, two instances of the render on the
        one database, the cache on in one and off in the other; else one for every row."""
        cached = serving.enter_context(self.app_server(cached=True))
        self.startup_samples.append(cached.wait_for("/health/ready"))
        uncached = serving.enter_context(self.app_server()) if self.caches else cached
        uncached.wait_for("/health/ready")
        return {True: cached, False: uncached}

    def measure_all(self, gen: LoadGenerator, package: str, slug: str, auth: bool) -> None:
        before = {kind: self.measure_bare(gen, kind) for kind in ("starlette", "fastapi")}
        with contextlib.ExitStack() as serving:
            apps = self.serve_both(serving)
            if auth:
                self.auth_headers = self.authenticate(apps[False].port, slug)
            self.seed(apps[False].port)
            loads = {}
            for id_, label, target, note in self.endpoint_targets(auth):
                server = apps[id_ in CACHED_ROWS]
                if auth and id_ != "health_live":
                    status, _ = request(server.port, target.method, target.path)
                    if status < 400:
                        note = "(public in this variant: the token is sent, not checked)"
                load = gen.measure(server.port, target, server)
                loads[id_] = (label, load, note)
                log(
                    f"{label}: {load.rps:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 "
                    f"{load.p99_ms:.2f} ms, server CPU {load.server_cpu}"
                )
        after = {kind: self.measure_bare(gen, kind) for kind in ("fastapi", "starlette")}
        ceiling = (before["fastapi"].rps + after["fastapi"].rps) / 2
        self.results["ceilings"] = {
            "before": {k: asdict(v) for k, v in before.items()},
            "after": {k: asdict(v) for k, v in after.items()},
            "fastapi_rps": round(ceiling, 1),
            "drift": {
                k: round(after[k].rps / before[k].rps - 1, 3) if before[k].rps else None
                for k in ("fastapi", "starlette")
            },
            "starlette_over_fastapi": round(
                (before["starlette"].rps + after["starlette"].rps) / 2 / ceiling, 3
            )
            if ceiling
            else None,
        }
        for kind, label in (("fastapi", "bare FastAPI (ceiling)"), ("starlette", "bare Starlette")):
            merged = _mean_load(before[kind], after[kind])
            self.endpoints.append(self._row(f"bare_{kind}", label, merged, ceiling, ""))
        for id_, (label, load, note) in loads.items():
            self.endpoints.append(self._row(id_, label, load, ceiling, note))
        dirty = [e for e in self.endpoints if e.non_2xx or e.errors]
        for row in dirty:
            self.note(f"{row.label}: {row.non_2xx} non-2xx responses, {row.errors} socket errors")

        self.import_time(package)
        self.startup_time()
        if self.plan.test_suite:
            self.test_suite()
        if self.plan.servers:
            self.server_comparison(gen)
        if self.plan.profile:
            self.profile(gen)
        if self.plan.harness:
            self.harness_times()

    def _row(self, id_: str, label: str, load: Load, ceiling: float, note: str) -> EndpointResult:
        ratio = round(load.rps / ceiling, 3) if ceiling else None
        target = ENDPOINT_TARGETS.get(id_)
        met = None if target is None or ratio is None else ratio >= target
        return EndpointResult(
            id_,
            label,
            round(load.rps, 1),
            round(load.p50_ms, 3),
            round(load.p99_ms, 3),
            ratio,
            target,
            met,
            load.requests,
            load.non_2xx,
            load.errors,
            load.server_cpu,
            note,
        )

    # -- output ----------------------------------------------------------------------------------

    def write(self) -> tuple[Path, Path]:
        self.results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.results["endpoints"] = [asdict(e) for e in self.endpoints]
        self.results["timings"] = [asdict(t) for t in self.timings]
        self.results["recommendation"] = server_recommendation(self.results.get("servers"))
        json_path = self.output_dir / "latest.json"
        md_path = self.output_dir / "latest.md"
        json_path.write_text(json.dumps(self.results, indent=2) + "\n")
        md_path.write_text(markdown(self.results))
        return json_path, md_path


class Comparison:
    """`--baseline REV`: the working tree (or `--ref`) and REV, served side by side and measured
    in interleaved rounds against the same bare-FastAPI ceilings, so that machine noise hits
    both alike. Each round measures the ceiling, then every endpoint on both (the order of the
    two alternating between rounds), then the ceiling again."""

    def __init__(self, args: argparse.Namespace, plan: Plan) -> None:
        plan = dataclasses.replace(plan, repeats=1)
        self.plan = plan
        self.new = Bench(args, plan)
        baseline_args = argparse.Namespace(**vars(args))
        # A commit, never the working tree, even when REV is HEAD.
        baseline_args.ref = git("rev-parse", f"{args.baseline}^{{commit}}")
        baseline_args.work_dir = str(Path(args.work_dir) / "baseline")
        self.old = Bench(baseline_args, plan)
        self.work = self.new.work
        self.rounds: list[dict[str, Any]] = []

    def execute(self) -> None:
        slugs = {}
        try:
            for bench in (self.new, self.old):
                gen, _, slugs[id(bench)], _ = bench.prepare()
                bench.migrate(slugs[id(bench)])
            with contextlib.ExitStack() as serving:
                servers = {
                    side: (bench, bench.serve_both(serving))
                    for side, bench in (("new", self.new), ("old", self.old))
                }
                for bench, apps in servers.values():
                    app = apps[False]
                    if bench.results["template"]["auth"]:
                        bench.auth_headers = bench.authenticate(app.port, slugs[id(bench)])
                    bench.seed(app.port)
                for index in range(self.plan.rounds):
                    self.rounds.append(self.measure_round(gen, index, servers))
        finally:
            for bench in (self.new, self.old):
                bench.release()
        for bench in (self.new, self.old):
            bench.results["machine"]["loadavg_end"] = loadavg()

    def measure_round(
        self,
        gen: LoadGenerator,
        index: int,
        servers: Mapping[str, tuple[Bench, Mapping[bool, Server]]],
    ) -> dict[str, Any]:
        log(f"round {index + 1} of {self.plan.rounds}")
        before = self.new.measure_bare(gen, "fastapi")
        order = ("new", "old") if index % 2 == 0 else ("old", "new")
        loads: dict[str, dict[str, Load]] = {"new": {}, "old": {}}
        for bench, apps in servers.values():
            bench.refresh_token(apps[False].port)  # tokens expire: a fresh one each round
        targets = {side: dict_targets(servers[side][0]) for side in order}
        for id_ in targets["new"]:
            for side in order:
                if id_ not in targets[side]:
                    continue
                bench, apps = servers[side]
                app = apps[id_ in CACHED_ROWS]
                loads[side][id_] = gen.measure(app.port, targets[side][id_][1], app)
        after = self.new.measure_bare(gen, "fastapi")
        ceiling = (before.rps + after.rps) / 2
        return {
            "ceiling_rps": round(ceiling, 1),
            "ceiling_drift": round(after.rps / before.rps - 1, 3) if before.rps else None,
            "order": list(order),
            "loads": {
                side: {k: asdict(v) for k, v in by_id.items()} for side, by_id in loads.items()
            },
            "ratios": {
                side: {k: round(v.rps / ceiling, 4) for k, v in by_id.items()}
                for side, by_id in loads.items()
            },
            "cpu_us_per_request": {
                side: {k: v.cpu_us_per_request for k, v in by_id.items()}
                for side, by_id in loads.items()
            },
        }

    def write(self) -> tuple[Path, Path]:
        results = {
            "schema": 1,
            "mode": f"{self.plan.mode}, baseline comparison",
            "new": self.new.results["template"],
            "old": self.old.results["template"],
            "versions": {"new": self.new.results["versions"], "old": self.old.results["versions"]},
            "load": self.new.results["load"],
            "machine": self.new.results["machine"],
            "rounds": self.rounds,
            "labels": {id_: label for id_, (label, _) in dict_targets(self.new).items()},
            "notes": self.new.results["notes"] + self.old.results["notes"],
        }
        output = self.new.output_dir
        json_path, md_path = output / "comparison.json", output / "comparison.md"
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        md_path.write_text(comparison_markdown(results))
        return json_path, md_path


def dict_targets(bench: Bench) -> dict[str, tuple[str, Target]]:
    auth = bool(bench.auth_headers)
    return {id_: (label, target) for id_, label, target, _ in bench.endpoint_targets(auth)}


def comparison_markdown(results: Mapping[str, Any]) -> str:
    new, old = results["new"], results["old"]
    rounds = results["rounds"]
    load = results["load"]

    def name(template: Mapping[str, Any]) -> str:
        dirty = " + uncommitted changes" if template.get("dirty_working_tree") else ""
        return f"`{template['ref']}` = {str(template['commit'])[:12]}{dirty}"

    lines = [
        f"# Benchmark comparison: {new['variant']}@py{new['python']}",
        "",
        f"- new: {name(new)}; old (baseline): {name(old)}",
        f"- {len(rounds)} interleaved rounds; load: {load['tool']}, {load['connections']} "
        f"connections, {load['duration_s']} s per endpoint after a {load['warmup_s']} s warm-up",
        "- ceilings (bare FastAPI req/s per round): "
        + ", ".join(f"{r['ceiling_rps']:,.0f} (drift {r['ceiling_drift']:+.1%})" for r in rounds),
        f"- machine: {results['machine'].get('cpus')} CPUs, load average "
        f"{results['machine'].get('loadavg_start')} at the start, "
        f"{results['machine'].get('loadavg_end')} at the end",
        "",
        "Ratio: req/s over the round's bare FastAPI ceiling; median of the rounds, with the "
        "range. new/old: the median of the per-round quotients, with their range.",
        "",
        "| Endpoint | old ratio | new ratio | new/old - 1 | per round |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for id_, label in results["labels"].items():
        old_ratios = [r["ratios"]["old"][id_] for r in rounds if id_ in r["ratios"]["old"]]
        new_ratios = [r["ratios"]["new"][id_] for r in rounds if id_ in r["ratios"]["new"]]
        changes = [
            r["ratios"]["new"][id_] / r["ratios"]["old"][id_] - 1
            for r in rounds
            if r["ratios"]["old"].get(id_) and id_ in r["ratios"]["new"]
        ]
        lines.append(
            f"| {label} | {_spread(old_ratios, '.3f')} | {_spread(new_ratios, '.3f')} | "
            f"{_fmt(median(changes) if changes else None, '+.1%')} | "
            + ", ".join(f"{c:+.1%}" for c in changes)
            + " |"
        )
    lines += [
        "",
        "Server CPU time per request (µs; median of the rounds, with the range): it counts only "
        "the server's own time, so it is steadier than req/s on a shared machine.",
        "",
        "| Endpoint | old µs | new µs | new/old - 1 | per round |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for id_, label in results["labels"].items():
        cpu = [r.get("cpu_us_per_request", {}) for r in rounds]
        old_cpu = [c["old"][id_] for c in cpu if c and c["old"].get(id_)]
        new_cpu = [c["new"][id_] for c in cpu if c and c["new"].get(id_)]
        changes = [
            c["new"][id_] / c["old"][id_] - 1
            for c in cpu
            if c and c["old"].get(id_) and c["new"].get(id_)
        ]
        lines.append(
            f"| {label} | {_spread(old_cpu, '.0f')} | {_spread(new_cpu, '.0f')} | "
            f"{_fmt(median(changes) if changes else None, '+.1%')} | "
            + ", ".join(f"{c:+.1%}" for c in changes)
            + " |"
        )
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def _spread(values: Sequence[float], spec: str) -> str:
    if not values:
        return "—"
    return f"{median(values):{spec}} ({min(values):{spec}} to {max(values):{spec}})"


def _mean_load(a: Load, b: Load) -> Load:
    return Load(
        rps=(a.rps + b.rps) / 2,
        p50_ms=(a.p50_ms + b.p50_ms) / 2,
        p99_ms=(a.p99_ms + b.p99_ms) / 2,
        requests=a.requests + b.requests,
        non_2xx=a.non_2xx + b.non_2xx,
        errors=a.errors + b.errors,
        seconds=a.seconds + b.seconds,
        tool=a.tool,
        server_cpu=None
        if a.server_cpu is None or b.server_cpu is None
        else round((a.server_cpu + b.server_cpu) / 2, 2),
    )


def _request_schema(operation: Mapping[str, Any], openapi: Mapping[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    first: dict[str, Any] = next(iter(content.values()), {})
    schema: dict[str, Any] = first.get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return dict(schema)


# ---- profiles ----

# Where a sample's time goes: the innermost frame of a known package decides.
PROFILE_BUCKETS: Mapping[str, str] = {
    "asyncpg": "asyncpg (driver)",
    "sqlalchemy": "SQLAlchemy",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "fastapi": "FastAPI (routing, dependencies, validation, serialization)",
    "starlette": "Starlette (routing, middleware, responses)",
    "uvicorn": "uvicorn + httptools (HTTP protocol)",
    "json": "stdlib json",
    "logging": "stdlib logging",
    "uuid": "stdlib uuid",
    "asyncio": "event loop (uvloop: native I/O and callbacks)",
}


def summarize_profile(raw: Path, package: str, top: int = 15) -> dict[str, Any]:
    """Shares of the request-handling samples, from py-spy's collapsed stacks.

    Samples inside an import (start-up) are left out. `components_pct`: the innermost frame of a
    known package (or of the app itself) decides. `top_self_pct`: functions where the CPU was.
    `inclusive_pct`: frames on the stack, without the trunk that every request shares.
    """
    self_time: Counter[str] = Counter()
    component: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = startup = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any("importlib._bootstrap" in frame for frame in frames):
            startup += count
            continue
        total += count
        self_time[_short_frame(frames[-1])] += count
        component[_component(frames, package)] += count
        for frame in {_short_frame(frame) for frame in frames}:
            inclusive[frame] += count

    def share(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    branches = [(k, v) for k, v in inclusive.most_common() if v < 0.5 * total]
    return {
        "samples": total,
        "startup_samples_left_out": startup,
        "components_pct": {k: share(v) for k, v in component.most_common()},
        "top_self_pct": [[k, share(v)] for k, v in self_time.most_common(top)],
        "inclusive_pct": [[k, share(v)] for k, v in branches[: top + 10]],
    }


def _frame_package(frame: str) -> str:
    match = re.search(r"\(([^():]+?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else ""
    for marker in ("site-packages/", "/src/", "/lib/python3.", "<frozen "):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3.":
                path = path.split("/", 1)[-1]
    return path.split("/", 1)[0].removesuffix(".py")


def _component(frames: Sequence[str], package: str) -> str:
    for frame in reversed(frames):
        name = _frame_package(frame)
        if name == package:
            return "the app's own code"
        if name in PROFILE_BUCKETS:
            return PROFILE_BUCKETS[name]
    return "other"


def _short_frame(frame: str) -> str:
    """`func (…/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    function, path = match.groups()
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{function} ({path})"


# ---- report ----


def server_recommendation(servers: Mapping[str, Any] | None) -> str:
    if not servers:
        return ""
    scored = []
    for row in servers["rows"]:
        if "error" in row or not row.get("health_live") or not row.get("items_get"):
            continue
        if any(row[k]["non_2xx"] or row[k]["errors"] for k in ("health_live", "items_get")):
            continue
        scored.append((row["items_get"]["rps"], row["health_live"]["rps"], row["server"]))
    if not scored:
        return "no server ran cleanly"
    scored.sort(reverse=True)
    best = scored[0]
    uvicorn = next((s for s in scored if s[2] == "uvicorn"), None)
    if uvicorn is None or best[2] == "uvicorn":
        return f"keep {best[2]}: fastest clean server on `GET /api/v1/items/{{id}}` in this run"
    get_gain, live_gain = best[0] / uvicorn[0] - 1, best[1] / uvicorn[1] - 1
    verdict = (
        f"consider {best[2]}"
        if get_gain >= NOISE and live_gain >= 0
        else "keep uvicorn: the difference is within this run's noise"
    )
    return (
        f"{verdict} ({best[2]}: {get_gain:+.0%} on item get, {live_gain:+.0%} on /health/live "
        f"vs uvicorn; a switch needs >= {NOISE:.0%} on item get and no loss on /health/live, "
        "in repeated runs)"
    )


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _met(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def markdown(results: Mapping[str, Any]) -> str:
    template = results.get("template", {})
    load = results.get("load", {})
    versions = results.get("versions", {})
    ceilings = results.get("ceilings", {})
    lines = [
        f"# Benchmark: {template.get('variant', '?')}@py{template.get('python', '?')}",
        "",
        f"- {results.get('started_at')} ({results.get('mode')} run); template "
        f"`{template.get('ref')}` = {str(template.get('commit', ''))[:12]}"
        + (" + uncommitted changes" if template.get("dirty_working_tree") else ""),
        f"- load: {load.get('tool')} with {load.get('threads')} thread(s), "
        f"{load.get('connections')} connections, {load.get('duration_s')} s per endpoint "
        f"after a {load.get('warmup_s')} s warm-up; server: {load.get('server')}; "
        f"ENVIRONMENT={load.get('environment')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- machine: {results.get('machine', {}).get('cpus')} CPUs, load average "
        f"{results.get('machine', {}).get('loadavg_start')} at the start, "
        f"{results.get('machine', {}).get('loadavg_end')} at the end",
    ]
    if ceilings:
        drift = ceilings.get("drift", {})
        lines.append(
            f"- ceiling drift (after/before - 1): bare FastAPI {_fmt(drift.get('fastapi'), '+.1%')}"
            f", bare Starlette {_fmt(drift.get('starlette'), '+.1%')}; Starlette/FastAPI "
            f"{_fmt(ceilings.get('starlette_over_fastapi'), '.2f')}"
        )
    lines += [
        "",
        "| Endpoint | req/s | p50 ms | p99 ms | ratio to bare FastAPI | target | met? | "
        "server CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: |",
    ]
    for row in results.get("endpoints", []):
        label = row["label"] + (f" {row['note']}" if row["note"] else "")
        if row["non_2xx"] or row["errors"]:
            label += f" ⚠ {row['non_2xx']} non-2xx, {row['errors']} errors"
        target = f">= {row['target']:.2f}" if row["target"] is not None else "—"
        lines.append(
            f"| {label} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{_fmt(row['ratio'], '.3f')} | {target} | {_met(row['met'])} | "
            f"{_fmt(row['server_cpu'], '.2f')} |"
        )
    lines += [
        "",
        "| Timing | seconds (median) | target | met? | samples | note |",
        "| --- | ---: | ---: | :---: | --- | --- |",
    ]
    for row in results.get("timings", []):
        target = f"< {row['target']:g}" if row["target"] is not None else "—"
        samples = ", ".join(f"{s:.3f}" for s in row["samples"])
        lines.append(
            f"| {row['label']} | {_fmt(row['seconds'], '.3f')} | {target} | {_met(row['met'])} "
            f"| {samples} | {row['note']} |"
        )
    servers = results.get("servers")
    if servers:
        lines += [
            "",
            "## Servers (1 worker each; ratios to bare FastAPI under uvicorn, this run)",
            "",
            "| Server | bare FastAPI req/s | /health/live req/s | p99 ms | item get req/s | p99 ms "
            "| live ratio | get ratio | start to ready s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        ceiling = ceilings.get("fastapi_rps") or 0
        for row in servers["rows"]:
            if "error" in row:
                lines.append(f"| {row['server']} | failed: {row['error'][:120]} |||||||")
                continue
            live, get = row["health_live"], row["items_get"]
            lines.append(
                f"| {row['server']} | {row['bare_fastapi']['rps']:,.0f} | {live['rps']:,.0f} | "
                f"{live['p99_ms']:.2f} | {get['rps']:,.0f} | {get['p99_ms']:.2f} | "
                f"{live['rps'] / ceiling:.3f} | {get['rps'] / ceiling:.3f} | "
                f"{row['startup_to_ready']:.3f} |"
                if ceiling
                else f"| {row['server']} | … |"
            )
        lines += ["", f"Recommendation: {results.get('recommendation')}"]
    profile = results.get("profile")
    if profile:
        lines += ["", "## Where the time goes (py-spy, CPU samples of the server)"]
        for data in profile.values():
            lines += ["", f"### {data['label']} ({data['samples']} samples)", ""]
            lines.append(
                "Components: " + ", ".join(f"{k} {v}%" for k, v in data["components_pct"].items())
            )
            lines += ["", "| function (self time) | % |", "| --- | ---: |"]
            lines += [f"| `{name}` | {pct} |" for name, pct in data["top_self_pct"][:10]]
            lines += [
                "",
                "| on the stack (inclusive, below the shared trunk) | % |",
                "| --- | ---: |",
            ]
            lines += [f"| `{name}` | {pct} |" for name, pct in data["inclusive_pct"][:15]]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    lines += [
        "",
        "Ratios compare each endpoint with a bare FastAPI app served the same way in the same run "
        "(the mean of a measurement before and after the endpoints); absolute req/s depend on "
        "the machine and on whatever else runs on it. `server CPU` is CPU-seconds of the server "
        "per wall second during the measurement: near 1.0 means the server was the bottleneck.",
    ]
    return "\n".join(lines) + "\n"


# ---- entry point ----


def default_work_dir() -> Path:
    digest = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"fastapi-roadmap-bench-{os.getuid()}" / digest


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See bench/README.md for what each number means.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="3 s loads, no server comparison")
    mode.add_argument("--smoke", action="store_true", help="1 s loads, 4 connections, 1 sample")
    parser.add_argument("--duration", type=int, help="seconds of load per measurement")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up load before each")
    parser.add_argument("--connections", type=int, help="concurrent connections (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--repeats", type=int, help="samples of import/startup/copier timings")
    parser.add_argument("--items", type=int, help="items to seed (default 1000; --smoke: 100)")
    parser.add_argument("--ref", default="HEAD", help="template revision (HEAD: working tree)")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also render REV and compare: both served, measured in interleaved rounds against "
        "the same ceilings; writes comparison.{json,md} (timings, servers, profiles skipped)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of a --baseline comparison (default 3)")
    parser.add_argument(
        "--servers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compare uvicorn, granian and gunicorn (default: on in a full run)",
    )
    parser.add_argument(
        "--test-suite",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time the rendered project's test suite (default: off in --smoke)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy profiles (bench group)")
    parser.add_argument("--harness", action="store_true", help="time the harness (minutes)")
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--environment",
        default="production",
        choices=("production", "development"),
        help="ENVIRONMENT of the served app (default: production)",
    )
    return parse_with_folders(parser, argv)


def parse_with_folders(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, suffix: str = ""
) -> argparse.Namespace:
    """Parses `argv` with the options every script of bench/ takes: --output-dir, and --work-dir,
    the render and venv folder kept between runs, one per script (`suffix`) and per --smoke."""
    parser.add_argument("--output-dir", default=str(BENCH_DIR / "results"))
    parser.add_argument(
        "--work-dir",
        help=f"render and venv folder, kept between runs (default: {default_work_dir()}{suffix}, "
        "with -smoke appended for --smoke)",
    )
    args = parser.parse_args(argv)
    if args.work_dir is None:
        args.work_dir = f"{default_work_dir()}{suffix}{'-smoke' if args.smoke else ''}"
    return args


@contextlib.contextmanager
def locked(work: Path) -> Iterator[None]:
    work.mkdir(parents=True, exist_ok=True)
    with (work / "lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError(f"another benchmark run uses {work}; pass --work-dir") from None
        yield


def measure_and_write(
    name: str,
    args: argparse.Namespace,
    plan: Any,
    measure: Callable[[dict[str, Any], Path], None],
    markdown_of: Callable[[Mapping[str, Any]], str],
) -> int:
    """The frame of a benchmark script's run: `measure(results, work)` under the work folder's
    lock, with the machine's load before and after, then `<name>.json` and `<name>.md` in the
    output folder. Exits 3 when a prerequisite is missing, 1 when a measurement failed."""
    # A TERM (a timeout, Ctrl+C from a wrapper) unwinds: servers stopped, corners removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(args.work_dir).resolve()
    output = Path(args.output_dir).resolve()
    results: dict[str, Any] = {
        "schema": 1,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "plan": asdict(plan),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "notes": [],
    }
    results["machine"]["loadavg_start"] = loadavg()
    started = time.perf_counter()
    try:
        with locked(work):
            measure(results, work)
    except Unavailable as error:
        print(f"bench: missing prerequisite: {error}", file=sys.stderr)
        return 3
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    results["machine"]["loadavg_end"] = loadavg()
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    output.mkdir(parents=True, exist_ok=True)
    json_path, md_path = output / f"{name}.json", output / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown_of(results))
    print()
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path} in {results['wall_seconds']:.0f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    # A TERM (a timeout, Ctrl+C from a wrapper) unwinds: servers stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench: Bench | Comparison = Comparison(args, plan) if args.baseline else Bench(args, plan)
    started = time.perf_counter()
    try:
        with locked(bench.work):
            bench.execute()
    except Unavailable as error:
        print(f"bench: missing prerequisite: {error}", file=sys.stderr)
        return 3
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    if isinstance(bench, Bench):
        bench.results["wall_seconds"] = round(seconds, 1)
    json_path, md_path = bench.write()
    print()
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path} in {seconds:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
