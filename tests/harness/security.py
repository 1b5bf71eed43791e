"""Static security checks of a synced tree: bandit over its code, pip-audit over its lock.

- `bandit` runs from the tree's own environment (it is in every variant's dev group): bandit
  parses with the interpreter it runs on, so only the variant's Python reads the variant's
  syntax (the harness's Python 3.11 skips a module with 3.12 generics, silently but for a
  line in its report). Any medium or high finding fails, and so does a file it could not scan.
- `pip-audit` runs from the harness over the tree's locked dependencies (`uv export` from its
  `uv.lock`, every group, no hashes), against the OSV database (`HARNESS_AUDIT_OSV_URL`, by
  default OSV's public API; PyPI's own service needs its per-version JSON pages, which a mirror
  may not serve). A known vulnerability in any locked version fails. The answer is cached per
  digest of the exported requirements for `AUDIT_MAX_AGE` seconds (`HARNESS_AUDIT_MAX_AGE`; 0
  asks every time), so trees with one lock, and the next runs of the day, cost nothing.
- When the vulnerability data cannot be reached, the step is "not run", with the reason; with
  `HARNESS_AUDIT_REQUIRED=true` (the template's GitHub workflow, whose runners reach OSV) it
  fails. A machine whose network has only the package registries cannot audit at all, and
  `.ci/run` on such a machine must not fail every tree for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .commands import run_command, tail
from .interpreters import find_uv
from .python_checks import HARNESS_DIR, Step

BANDIT_TIMEOUT = 300.0
AUDIT_TIMEOUT = 300.0
AUDIT_DIR = HARNESS_DIR / "audit"
AUDIT_MAX_AGE = float(os.environ.get("HARNESS_AUDIT_MAX_AGE", str(24 * 3600)))
OSV_URL = os.environ.get("HARNESS_AUDIT_OSV_URL", "https://api.osv.dev/v1/query")
# pip-audit's exit status when it found a vulnerability (its report is still written).
_FOUND = 1


def bandit_step(project: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path) -> Step:
    """`bandit -r src` at medium severity and above, from the tree's environment."""
    bandit = project / ".venv" / "bin" / "bandit"
    if not bandit.exists():
        return Step(
            "bandit",
            "failed",
            0,
            "bandit is not installed by `uv sync`: add it to the variant's dev group",
        )
    argv = [str(bandit), "-r", "src", "--severity-level", "medium", "-f", "json", "-q"]
    result = run_command(argv, project, env, BANDIT_TIMEOUT)
    try:
        report = json.loads(result.output[result.output.index("{") :])
    except ValueError:
        return Step("bandit", "failed", result.seconds, result.describe())
    problems = [
        f"{finding['filename']}:{finding['line_number']}: {finding['test_id']} "
        f"({finding['issue_severity']}) {finding['issue_text']}"
        for finding in report["results"]
    ]
    problems += [
        f"{error['filename']}: not scanned: {error['reason']}" for error in report["errors"]
    ]
    problems += unexplained_nosec(project / "src")
    if problems:
        detail = f"$ {result.command}  (in {project}) found:\n" + "\n".join(problems)
        return Step("bandit", "failed", result.seconds, detail)
    return Step("bandit", "ok", result.seconds)


# `# nosec B602 - the command is a constant`: the tests it silences, then why.
_NOSEC = re.compile(r"#\s*nosec\b")
_EXPLAINED_NOSEC = re.compile(r"#\s*nosec(\s+B\d+(\s*,\s*B\d+)*)?\s+-\s+\S")


def unexplained_nosec(src: Path) -> list[str]:
    """Every `# nosec` under `src` that does not say why."""
    return [
        f"{path.relative_to(src.parent)}:{number}: a `# nosec` must say why "
        "(`# nosec B602 - the command is a constant`)"
        for path in sorted(src.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _NOSEC.search(line) and not _EXPLAINED_NOSEC.search(line)
    ]


def audit_step(project: Path, env: Mapping[str, str], services: frozenset[str], tmp: Path) -> Step:
    """pip-audit over the tree's `uv.lock`, exported."""
    start = time.monotonic()
    uv = find_uv()
    if uv is None:
        return Step("audit", "not run", 0, "uv is not installed")
    requirements = tmp / "locked-requirements.txt"
    export = run_command(
        [
            str(uv),
            "export",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            "--all-groups",
            "--no-header",
            "--format",
            "requirements-txt",
            "--output-file",
            str(requirements),
        ],
        project,
        env,
        AUDIT_TIMEOUT,
    )
    if not export.ok:
        return Step("audit", "failed", export.seconds, export.describe())
    step = audit_requirements(requirements.read_text(encoding="utf-8"), tmp, env)
    step.seconds = time.monotonic() - start
    return step


def audit_requirements(
    requirements: str, tmp: Path, env: Mapping[str, str], osv_url: str = OSV_URL
) -> Step:
    """pip-audit of pinned `requirements` (one `name==version` a line) against the OSV API at
    `osv_url`, cached by digest of the pins and the URL."""
    start = time.monotonic()
    pins = sorted(
        line.split(";")[0].strip()
        for line in requirements.splitlines()
        if "==" in line.split("#")[0]
    )
    digest = hashlib.sha256("\n".join([osv_url, *pins]).encode()).hexdigest()
    with _cache_entry(digest) as cached:
        report = cached.get("report") if _fresh(cached) else None
        if report is None:
            report, failure = _pip_audit("\n".join(pins) + "\n", tmp, env, osv_url)
            if failure is not None:
                return _unreachable(osv_url, failure, time.monotonic() - start)
            cached.update(checked_at=time.time(), report=report)
    found = [
        f"{dependency['name']}=={dependency['version']}: "
        + ", ".join(
            f"{vuln['id']} (fixed in {', '.join(vuln['fix_versions']) or 'no release'})"
            for vuln in dependency["vulns"]
        )
        for dependency in report["dependencies"]
        if dependency.get("vulns")
    ]
    checked = len(report["dependencies"])
    if found:
        detail = (
            f"pip-audit found known vulnerabilities in {len(found)} of {checked} locked "
            "packages:\n" + "\n".join(found)
        )
        return Step("audit", "failed", time.monotonic() - start, detail)
    return Step("audit", "ok", time.monotonic() - start)


def _pip_audit(
    requirements: str, tmp: Path, env: Mapping[str, str], osv_url: str
) -> tuple[dict[str, Any], str | None]:
    listed, output = tmp / "audit-requirements.txt", tmp / "audit-report.json"
    listed.write_text(requirements, encoding="utf-8")
    output.unlink(missing_ok=True)
    argv = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--requirement",
        str(listed),
        # The lock pins every package: nothing to resolve, nothing to install.
        "--disable-pip",
        "--no-deps",
        "--vulnerability-service",
        "osv",
        "--osv-url",
        osv_url,
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "--output",
        str(output),
        "--cache-dir",
        str(AUDIT_DIR / "http"),
    ]
    result = run_command(argv, tmp, {**env, "HOME": str(tmp)}, AUDIT_TIMEOUT)
    if result.returncode not in (0, _FOUND) or not output.is_file():
        return {}, result.describe()
    report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    unaudited = [dep for dep in report["dependencies"] if "skip_reason" in dep]
    if unaudited:  # it could not ask about these: not an answer to keep
        return {}, "\n".join(dep["skip_reason"] for dep in unaudited)
    return report, None


def _fresh(cached: Mapping[str, Any]) -> bool:
    return "report" in cached and time.time() - float(cached["checked_at"]) < AUDIT_MAX_AGE


def _unreachable(osv_url: str, failure: str, seconds: float) -> Step:
    detail = f"pip-audit could not get the vulnerability data ({osv_url}):\n{tail(failure, 3)}"
    required = os.environ.get("HARNESS_AUDIT_REQUIRED", "").strip().lower() in {"true", "1", "yes"}
    return Step("audit", "failed" if required else "not run", seconds, detail)


@contextlib.contextmanager
def _cache_entry(digest: str) -> Iterator[dict[str, Any]]:
    """The cached answer for `digest`, locked against other workers, written back after."""
    AUDIT_DIR.mkdir(parents=True, exist_ok=True)
    path = AUDIT_DIR / f"{digest}.json"
    with (AUDIT_DIR / f"{digest}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entry: dict[str, Any] = (
            json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        )
        before = dict(entry)
        yield entry
        if entry != before:
            path.write_text(json.dumps(entry), encoding="utf-8")
