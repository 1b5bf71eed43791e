"""Entry points of fastapi-roadmap that need nothing but Python 3.11+.

    python3 dev.py quickstart [DEST]   render the default project into DEST (../my-service),
                                       commit it in a git repository of its own, and serve it
    python3 dev.py test [PYTEST ARGS]  run the template's harness (every variant); any pytest
                                       option passes through: --quick, -x, --variant ID, ...
    python3 dev.py plan [--json ...]   print the harness's plan: which combinations get which
                                       checks, split into --shards N for CI
    python3 dev.py summary FILES       merge CI's shard summaries (.harness/summary/*.json)
    python3 dev.py copier ARGS         run the pinned Copier: `copier copy`, `copier update`

Each installs uv into a private virtual environment first when it is not on PATH.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
TOOLS_VENV = ROOT / ".harness" / "tools"
COPIER = "copier==9.19.1"
QUICKSTART_NAME = "My Service"
QUICKSTART_SLUG = "my-service"
SERVER_START_SECONDS = 120.0
# Runs Copier's own command line; a validator's refusal prints its message, not a traceback.
RUN_COPIER = """\
import sys
from copier.__main__ import CopierApp
try:
    CopierApp.run(["copier", *sys.argv[1:]])
except ValueError as error:
    sys.exit(f"copier: {error}")
"""


def ensure_uv() -> str:
    """Return the path of a uv executable, installing uv privately when there is none."""
    try:
        from uv import find_uv_bin  # the uv wheel's own locator: the real binary, not a shim

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    # A pyenv shim resolves per folder and fails inside projects pinned to another Python.
    if found and f"{os.sep}shims{os.sep}" not in found:
        return found
    bin_dir = TOOLS_VENV / ("Scripts" if os.name == "nt" else "bin")
    uv = bin_dir / ("uv.exe" if os.name == "nt" else "uv")
    if not uv.exists():
        # stderr: the output of `plan --json` and `summary` is read by programs.
        print(f"uv not found: installing it into {TOOLS_VENV}", file=sys.stderr, flush=True)
        venv.create(TOOLS_VENV, with_pip=True, clear=True)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", "uv"],
            check=True,
            stdout=sys.stderr,
        )
    return str(uv)


def uv_env(uv: str) -> dict[str, str]:
    """Environment for child processes: uv on PATH, no virtualenv leaking in from the caller.

    Only uv's own folder goes on PATH when it holds nothing else; the private tools folder
    also holds a `python3`, which must not shadow the user's.
    """
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    uv_dir = Path(uv).parent
    if uv_dir != TOOLS_VENV / "bin" and uv_dir != TOOLS_VENV / "Scripts":
        env["PATH"] = os.pathsep.join([str(uv_dir), env.get("PATH", "")])
    return env


def copier_command(uv: str, *args: str) -> list[str]:
    return [uv, "tool", "run", "--from", COPIER, "python", "-c", RUN_COPIER, *args]


# ---- quickstart -------------------------------------------------------------------------------


def quickstart(dest: Path, port: int, force: bool) -> int:
    if dest == ROOT or ROOT in dest.parents:
        sys.exit(f"{dest} is inside the template's clone: choose a folder outside {ROOT}")
    if not port_is_free(port):
        sys.exit(f"port {port} is in use: stop what serves it, or pass --port")
    uv = ensure_uv()
    # The interpreter running this script, which the render's python_version names.
    env = {"UV_PYTHON": sys.executable, **uv_env(uv)}
    if force and dest.exists():
        shutil.rmtree(dest)
    if (dest / ".copier-answers.yml").exists():
        print(f"{dest} is already rendered; serving it (use --force to render it again)")
    else:
        print(f"Rendering the default project into {dest}", flush=True)
        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
        data = [
            "--data",
            f"project_name={QUICKSTART_NAME}",
            "--data",
            f"python_version={python_version}",
        ]
        render = copier_command(uv, "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD", *data)
        subprocess.run([*render, str(ROOT), str(dest)], check=True, env=env)
        subprocess.run([uv, "lock", "--quiet"], cwd=dest, env=env, check=True)
        first_commit(dest)
    subprocess.run([uv, "sync", "--quiet"], cwd=dest, env=env, check=True)
    scripts = dest / ".venv" / ("Scripts" if os.name == "nt" else "bin")
    return serve([str(scripts / QUICKSTART_SLUG), "serve", "--port", str(port)], dest, env, port)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def first_commit(dest: Path) -> None:
    """Make `dest` a git repository of its own, with everything rendered in a first commit, so
    that pre-commit installs its hooks there and `copier update` has a clean tree to work on."""
    if shutil.which("git") is None:
        print("git not found: the project is not a git repository yet (see its README)")
        return
    git = ["git", "-C", str(dest)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    identity = []
    if not subprocess.run([*git, "config", "user.email"], capture_output=True).stdout.strip():
        identity = ["-c", "user.name=Your Name", "-c", "user.email=you@example.com"]
    message = "Render the project from fastapi-roadmap"
    subprocess.run([*git, *identity, "commit", "-q", "-m", message], check=True)
    print(f"{dest} is a git repository of its own, with a first commit", flush=True)


def serve(command: list[str], cwd: Path, env: dict[str, str], port: int) -> int:
    """Run the server until it exits; SIGINT and SIGTERM are passed on to it, once each.

    The server gets a session of its own, so a Ctrl+C reaches it only through here (once,
    not twice: a second SIGINT would make uvicorn skip its graceful shutdown).
    """
    server = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    stopped_by: list[int] = []

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        stopped_by.append(signum)
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, pass_on)
    try:
        if wait_until_live(server, port):
            print(f"Serving {cwd} on http://127.0.0.1:{port}/docs (Ctrl+C stops it)", flush=True)
        returncode = server.wait()
    finally:
        if server.poll() is None:  # dev.py itself failed: the server must not outlive it
            server.kill()
            server.wait()
    if stopped_by:
        return 128 + stopped_by[0]
    return returncode


def wait_until_live(server: subprocess.Popen[bytes], port: int) -> bool:
    """True once the server answers /health/live; False if it exits first."""
    url = f"http://127.0.0.1:{port}/health/live"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while server.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    return False


# ---- test and copier --------------------------------------------------------------------------


def test(pytest_args: list[str]) -> int:
    uv = ensure_uv()
    env = uv_env(uv)
    subprocess.run([uv, "sync", "--locked"], cwd=ROOT, env=env, check=True)
    command = [uv, "run", "--locked", "pytest", "-n", "auto", *pytest_args]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def harness_module(module: str, args: list[str]) -> int:
    """Run one of the harness's command lines (`harness.plan`, `harness.summary`)."""
    uv = ensure_uv()
    env = {**uv_env(uv), "PYTHONPATH": str(ROOT / "tests")}
    subprocess.run([uv, "sync", "--locked", "--quiet"], cwd=ROOT, env=env, check=True)
    command = [uv, "run", "--locked", "--quiet", "python", "-m", module, *args]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def copier(args: list[str]) -> int:
    uv = ensure_uv()
    return subprocess.run(copier_command(uv, *args), env=uv_env(uv), check=False).returncode


# ---- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("quickstart", help="render the default project and serve it")
    start.add_argument(
        "dest",
        nargs="?",
        type=Path,
        default=ROOT.parent / QUICKSTART_SLUG,
        help="where to render it (default: %(default)s, beside this clone)",
    )
    start.add_argument("--port", type=int, default=8000)
    start.add_argument("--force", action="store_true", help="render again over DEST")
    commands.add_parser("test", help="run the harness; every other argument goes to pytest")
    commands.add_parser("plan", help="print the harness's plan; every argument goes to it")
    commands.add_parser("summary", help="merge the summaries of CI's shards, as Markdown")
    commands.add_parser("copier", help="run the pinned Copier; every argument goes to it")
    return parser


def main(argv: list[str]) -> int:
    # `test`, `plan`, `summary` and `copier` pass every argument through, options included.
    if argv[:1] == ["test"]:
        return test(argv[1:])
    if argv[:1] == ["copier"]:
        return copier(argv[1:])
    if argv[:1] in (["plan"], ["summary"]):
        return harness_module(f"harness.{argv[0]}", argv[1:])
    args = build_parser().parse_args(argv)
    return quickstart(args.dest.resolve(), args.port, args.force)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl+C before the server runs: the children stop with us
        sys.exit(130)
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
