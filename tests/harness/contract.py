"""Contract fuzzing: schemathesis against a served render, from the render's own OpenAPI document.

Each distinct Python tree is served on a loopback port with a database of its own (SQLite or
PostgreSQL, as the tree's answer says), migrated by its own `migrate` command, and fuzzed with
every check and every phase schemathesis has (examples, coverage, fuzzing, and stateful runs
along the document's links), with a fixed seed. With auth, it runs twice: as a signed-in user,
then as an admin (the first superuser), so that the admin operations are fuzzed past their 403.

The pass condition is schemathesis's own: no 5xx, no response outside its schema, no undocumented
status or content type, and no schema-valid request refused. The refusals that depend on state
rather than on the request's shape (a stale ETag, a wrong current password) are listed, with
why, in one place: `tests/contract.toml`.

`HARNESS_CONTRACT_EXAMPLES` sets the examples per operation (10; a deeper run is one variable
away), `HARNESS_CONTRACT_SEED` the seed (printed on failure).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .commands import CommandResult, run_command, tail
from .databases import throwaway_database
from .python_checks import Step
from .questionnaire import REPO_ROOT
from .readme_examples import free_port, serving

CONFIG = REPO_ROOT / "tests" / "contract.toml"
EXAMPLES = int(os.environ.get("HARNESS_CONTRACT_EXAMPLES", "10"))
SEED = int(os.environ.get("HARNESS_CONTRACT_SEED", "20261201"))
RUN_TIMEOUT = 900.0
ADMIN = ("contract-admin@example.com", "contract admin password 1")
USER = ("contract-user@example.com", "contract user password 1")
# Limits that would turn a fuzzing run into a run of 429s: far above what it sends.
APP_SETTINGS = {
    "ENVIRONMENT": "development",
    "LOG_LEVEL": "WARNING",
    "DOCS_ENABLED": "true",
    "RATE_LIMIT_ENABLED": "false",
    "LOGIN_ATTEMPTS_PER_ACCOUNT": "1000000",
    "LOGIN_ATTEMPTS_PER_IP": "1000000",
    "REGISTRATIONS_PER_IP": "1000000",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST": "8",
    "ARGON2_PARALLELISM": "1",
    "FIRST_SUPERUSER_EMAIL": ADMIN[0],
    "FIRST_SUPERUSER_PASSWORD": ADMIN[1],
}


@dataclass(frozen=True)
class Caller:
    """Whom one schemathesis run speaks as: its name, and its bearer token (None: nobody)."""

    name: str
    token: str | None


def contract_step(
    project: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path
) -> Step:
    """Serve `project` and fuzz it; a failed step names the run and its seed."""
    start = time.monotonic()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    command = str(project / ".venv" / "bin" / answers["project_slug"])
    problems: list[str] = []
    with throwaway_database(project, env, services, tmp, "contract") as database_url:
        app_env = {**env, **APP_SETTINGS, "DATABASE_URL": database_url}
        migrate = run_command([command, "migrate"], project, app_env, 300)
        if not migrate.ok:
            return Step("contract", "failed", time.monotonic() - start, migrate.describe())
        port = free_port()
        with serving([command, "serve", "--port", str(port)], project, app_env, port):
            base = f"http://127.0.0.1:{port}"
            for caller in _callers(base, auth=bool(answers.get("auth"))):
                result = _fuzz(base, caller, project, env, tmp)
                if not result.ok:
                    problems.append(_failure(caller, result))
    status = "failed" if problems else "ok"
    return Step("contract", status, time.monotonic() - start, "\n\n".join(problems))


def _callers(base: str, *, auth: bool) -> list[Caller]:
    if not auth:
        return [Caller("anonymous", None)]
    _post_json(f"{base}/api/v1/users", {"email": USER[0], "password": USER[1]})
    return [Caller("user", _token(base, *USER)), Caller("admin", _token(base, *ADMIN))]


def _fuzz(
    base: str, caller: Caller, project: Path, env: Mapping[str, str], tmp: Path
) -> CommandResult:
    argv = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        # Text either database cannot store is a 422 by design (CONVENTIONS.md): lone
        # surrogates and NUL are left out of what counts as valid.
        "--generation-codec",
        "utf-8",
        "--generation-allow-x00",
        "false",
        "--no-color",
        "--header",
        "Host: 127.0.0.1",
    ]
    if caller.token is not None:
        argv += ["--header", f"Authorization: Bearer {caller.token}"]
    # Its cache and reports go under `tmp`, not the user's home.
    return run_command(argv, tmp, {**env, "HOME": str(tmp)}, RUN_TIMEOUT)


def _failure(caller: Caller, result: CommandResult) -> str:
    # The failures themselves, then the summary: the warnings between them are advice.
    failures, _, rest = result.output.partition("= WARNINGS =")
    _, _, summary = rest.partition("= SUMMARY =")
    report = failures.partition("= FAILURES =")[2] or failures
    return (
        f"schemathesis as {caller.name} (seed {SEED}, {EXAMPLES} examples per operation; "
        f"HARNESS_CONTRACT_SEED and HARNESS_CONTRACT_EXAMPLES change them) failed:\n"
        f"{tail(report, 150)}\n{tail(summary, 30)}"
    )


def _token(base: str, email: str, password: str) -> str:
    form = urllib.parse.urlencode({"username": email, "password": password}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/token", data=form, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Host", "127.0.0.1")
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.load(response)["access_token"]
        return token


def _post_json(url: str, body: Mapping[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Host", "127.0.0.1")
    with urllib.request.urlopen(request, timeout=30):
        pass
