"""Entry points of fastapi-roadmap that need nothing but Python 3.11+.

    python3 dev.py quickstart [DEST]   render the default project into DEST and serve it
    python3 dev.py test [PYTEST ARGS]  run the template's harness (every variant)

Both install uv into a private virtual environment first when it is not on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS_VENV = ROOT / ".harness" / "tools"
COPIER = "copier==9.19.1"
QUICKSTART_NAME = "My Service"


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
        print(f"uv not found: installing it into {TOOLS_VENV}", flush=True)
        venv.create(TOOLS_VENV, with_pip=True, clear=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "uv"], check=True)
    return str(uv)


def uv_env(uv: str) -> dict[str, str]:
    """Environment for child processes: uv on PATH, no virtualenv leaking in from the caller."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([str(Path(uv).parent), env.get("PATH", "")])
    env.setdefault("UV_PYTHON", sys.executable)
    return env


def quickstart(dest: Path, port: int, force: bool) -> int:
    uv = ensure_uv()
    env = uv_env(uv)
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if force and dest.exists():
        shutil.rmtree(dest)
    if (dest / ".copier-answers.yml").exists():
        print(f"{dest} is already rendered; serving it (use --force to render it again)")
    else:
        render = [uv, "tool", "run", "--from", COPIER, "copier", "copy", "--defaults", "--quiet"]
        render += ["--vcs-ref", "HEAD", "--data", f"project_name={QUICKSTART_NAME}"]
        render += ["--data", f"python_version={python_version}", str(ROOT), str(dest)]
        subprocess.run(render, check=True, env=env)
    slug = "-".join(QUICKSTART_NAME.lower().split())
    serve = [uv, "run", slug, "serve", "--port", str(port)]
    print(f"Serving {dest} on http://127.0.0.1:{port}/docs (Ctrl+C stops it)", flush=True)
    return subprocess.run(serve, cwd=dest, env=env, check=False).returncode


def test(pytest_args: list[str]) -> int:
    uv = ensure_uv()
    env = uv_env(uv)
    subprocess.run([uv, "sync", "--locked"], cwd=ROOT, env=env, check=True)
    command = [uv, "run", "--locked", "pytest", "-n", "auto", *pytest_args]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("quickstart", help="render the default project and serve it")
    start.add_argument("dest", nargs="?", type=Path, default=ROOT / "my-service")
    start.add_argument("--port", type=int, default=8000)
    start.add_argument("--force", action="store_true", help="render again over DEST")
    run_tests = commands.add_parser("test", help="run the harness; extra args go to pytest")
    run_tests.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "quickstart":
        return quickstart(args.dest.resolve(), args.port, args.force)
    return test(args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
