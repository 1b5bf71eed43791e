"""The audit step against a local OSV server that knows one advisory: a known vulnerability in a
locked version fails, a clean lock passes, answers are cached, and unreachable data is no pass.
And bandit's `# nosec` must say why."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from harness import security
from harness.readme_examples import free_port

pytestmark = pytest.mark.quick

ADVISORY = {
    "id": "GHSA-TEST-0001",
    "summary": "Sandbox escape",
    "affected": [
        {
            "package": {"name": "jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.11.3"}]}],
        }
    ],
}


class FakeOSV(BaseHTTPRequestHandler):
    """OSV's `/v1/query`: jinja2 below 2.11.3 has the advisory; everything else has none."""

    queries: list[dict[str, object]]

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).queries.append(query)
        version = tuple(int(part) for part in query["version"].split("."))
        vulnerable = query["package"]["name"] == "jinja2" and version < (2, 11, 3)
        body = json.dumps({"vulns": [ADVISORY]} if vulnerable else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    FakeOSV.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOSV)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "AUDIT_DIR", tmp_path / "cache")


LOCKED = "jinja2==2.10.1\n    # via app\nmarkupsafe==3.0.2 ; python_full_version >= '3.11'\n"


def test_a_known_vulnerability_in_a_locked_version_fails(osv_url: str, tmp_path: Path) -> None:
    step = security.audit_requirements(LOCKED, tmp_path, dict(os.environ), osv_url)

    assert step.status == "failed"
    assert "jinja2==2.10.1: GHSA-TEST-0001 (fixed in 2.11.3)" in step.detail
    assert "markupsafe" not in step.detail


def test_a_clean_lock_passes_and_its_answer_is_cached(osv_url: str, tmp_path: Path) -> None:
    clean = LOCKED.replace("2.10.1", "3.1.6")
    first = security.audit_requirements(clean, tmp_path, dict(os.environ), osv_url)
    asked = len(FakeOSV.queries)
    again = security.audit_requirements(clean, tmp_path, dict(os.environ), osv_url)

    assert (first.status, again.status) == ("ok", "ok")
    assert asked == 2  # jinja2 and markupsafe, each once
    assert len(FakeOSV.queries) == asked  # the second audit asked nothing


def test_unreachable_data_is_not_a_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1/query"
    monkeypatch.delenv("HARNESS_AUDIT_REQUIRED", raising=False)
    skipped = security.audit_requirements(LOCKED, tmp_path, dict(os.environ), closed)
    monkeypatch.setenv("HARNESS_AUDIT_REQUIRED", "true")
    required = security.audit_requirements(LOCKED, tmp_path, dict(os.environ), closed)

    assert (skipped.status, required.status) == ("not run", "failed")
    assert "could not get the vulnerability data" in required.detail


def test_a_nosec_without_its_reason_is_a_problem(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "run.py").write_text(
        "import subprocess\n"
        "subprocess.run('ls', shell=True)  # nosec B602 - a constant command\n"
        "subprocess.run('ls', shell=True)  # nosec\n"
        "subprocess.run('ls', shell=True)  # nosec B602\n",
        encoding="utf-8",
    )

    problems = security.unexplained_nosec(src)

    assert [problem.split(": ")[0] for problem in problems] == ["src/run.py:3", "src/run.py:4"]
