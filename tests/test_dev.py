"""`python3 dev.py`, as a newcomer runs it: quickstart, test, copier.

The quickstart renders into a temporary folder and serves on a free port: it must answer when
it says so, be a git repository of its own with one commit, and stop the server with itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from harness.commands import run_command
from harness.interpreters import find_uv
from harness.questionnaire import REPO_ROOT
from harness.readme_examples import free_port
from harness.variant import unavailable

DEV = REPO_ROOT / "dev.py"
START_SECONDS = 300.0
STOP_SECONDS = 30.0


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The caller's environment, with uv (and nothing else of the harness) on PATH."""
    uv = find_uv()
    if uv is None:
        unavailable("uv is not installed (or not runnable)")
    folder = tmp_path_factory.mktemp("bin")
    (folder / "uv").symlink_to(uv)
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV", "UV_PYTHON"}}
    env["PATH"] = os.pathsep.join([str(folder), env.get("PATH", "")])
    return env


class Quickstart:
    """`python3 dev.py quickstart DEST --port PORT`, with its output read line by line."""

    def __init__(self, dest: Path, env: dict[str, str]) -> None:
        self.dest, self.port = dest, free_port()
        argv = [sys.executable, str(DEV), "quickstart", str(dest), "--port", str(self.port)]
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # signals in this test reach dev.py only, as `kill` would
        )
        self.output: list[str] = []
        self.server_pids: list[int] = []

    def wait_for_serving(self) -> None:
        """Read stdout until "Serving ..."; the port must answer at that moment."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_SECONDS
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("Serving "):
                self.server_pids = self.children()
                assert live(self.port), f"printed {line!r} before the port answered"
                return
            assert time.monotonic() < deadline, "no 'Serving' line in time"
        pytest.fail(f"dev.py exited before serving:\n{''.join(self.output)}{self.stderr()}")

    def stop(self, signum: int) -> tuple[int, str]:
        """Send `signum` to dev.py alone; its exit code and its standard error."""
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            pytest.fail(f"dev.py did not stop on signal {signum}")
        return self.process.returncode, self.stderr()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def children(self) -> list[int]:
        """The processes dev.py started (the server runs in a session of its own)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    found.append(int(stat.parent.name))
        return found

    def kill(self, children: list[int]) -> None:
        """Whatever the test did, nothing of this quickstart survives it."""
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def live(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def git(dest: Path, *args: str) -> str:
    result = run_command(["git", "-C", str(dest), *args], dest)
    assert result.ok, result.describe()
    return result.output.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quickstart") / "my-service"


@pytest.fixture
def quickstart(project: Path, dev_env: dict[str, str]) -> Iterator[Quickstart]:
    started = Quickstart(project, dev_env)
    yield started
    started.kill(started.server_pids)


def test_quickstart_serves_a_committed_project_and_sigterm_stops_the_server(
    quickstart: Quickstart,
) -> None:
    quickstart.wait_for_serving()

    assert git(quickstart.dest, "rev-parse", "--show-toplevel") == str(quickstart.dest)
    assert git(quickstart.dest, "rev-list", "--count", "HEAD") == "1"
    assert git(quickstart.dest, "status", "--porcelain") == "", "uncommitted files"
    assert "uv.lock" in git(quickstart.dest, "ls-files")

    returncode, _ = quickstart.stop(signal.SIGTERM)

    assert returncode == 128 + signal.SIGTERM
    assert not live(quickstart.port), "the server outlived dev.py"


def test_ctrl_c_stops_the_quickstart_without_a_traceback(quickstart: Quickstart) -> None:
    quickstart.wait_for_serving()  # renders the project unless the test before did

    returncode, stderr = quickstart.stop(signal.SIGINT)

    assert returncode == 128 + signal.SIGINT
    assert "Traceback" not in stderr
    assert not live(quickstart.port), "the server outlived dev.py"


def test_quickstart_refuses_a_folder_inside_the_clone(dev_env: dict[str, str]) -> None:
    result = run_command(
        [sys.executable, str(DEV), "quickstart", str(REPO_ROOT / "my-service")], REPO_ROOT, dev_env
    )

    assert not result.ok
    assert "inside the template's clone" in result.output
    assert not (REPO_ROOT / "my-service").exists()


def test_dev_test_passes_pytest_options_through(dev_env: dict[str, str]) -> None:
    argv = [sys.executable, str(DEV), "test", "--quick", "-x", "--collect-only", "-q"]
    result = run_command([*argv, "tests/test_matrix.py"], REPO_ROOT, dev_env, timeout=300)

    assert result.ok, result.describe()
    assert "test_matrix.py::" in result.output


def test_dev_copier_shows_a_refused_answer_without_a_traceback(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    argv = [sys.executable, str(DEV), "copier", "copy", "--defaults", "--vcs-ref", "HEAD"]
    argv += ["--data", "project_name=X", "--data", "package_name=json"]
    result = run_command([*argv, str(REPO_ROOT), str(tmp_path / "out")], REPO_ROOT, dev_env)

    assert not result.ok
    assert "Traceback" not in result.output
    assert "'package_name': Shadows a standard library module" in result.output


def _dev_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", DEV)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_children_get_no_python_of_the_private_tools_folder() -> None:
    """The tools folder holds a `python3` of its own: it must not shadow the user's, and no
    interpreter is forced on uv (which would recreate environments made with another one)."""
    dev = _dev_module()

    private = dev.uv_env(str(dev.TOOLS_VENV / "bin" / "uv"))
    elsewhere = dev.uv_env("/opt/uv/bin/uv")

    assert private["PATH"] == os.environ.get("PATH", "")
    assert elsewhere["PATH"].split(os.pathsep)[0] == "/opt/uv/bin"
    assert "UV_PYTHON" not in private or private["UV_PYTHON"] == os.environ.get("UV_PYTHON")
