"""Docker variants, built and served for real: the daemon, stand-in base images, builds, stacks.

No registry is reachable, so the harness makes the base images the Dockerfile names, once per
machine, and keeps them under `.harness/docker-images/` (`docker save`, then `docker load`):

- `python:<version>-slim`: `debootstrap --variant=minbase bookworm`, the libraries CPython
  links against, and the pyenv CPython of that version copied into `/usr/local` (its paths
  rewritten, stripped, `ldconfig`), with the host's CA bundle as `SSL_CERT_FILE` (HTTPS passes
  a proxy whose CA only that bundle has);
- `ghcr.io/astral-sh/uv:<version>`: `/uv` and `/uvx` from the PyPI wheel of that version.

The daemon is Debian's dockerd with its state under `.harness/docker/`, no bridge and no
iptables, so containers use host networking. A stack comes up from the project's own
`compose.yaml` plus a test-only override (`stack_override`): the app's services run from the
built image on the host's network, pointed at the host's PostgreSQL, Redis and RabbitMQ in a
corner of their own; the infrastructure services become stand-ins, on the python image, that
are healthy when the host's server answers, so every `depends_on` condition still holds.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from .commands import CommandResult, run_command
from .python_checks import HARNESS_DIR, dotenv_settings
from .tree_checks import iter_files

DOCKER = "/usr/bin/docker"  # Debian's client: the newer one on PATH has no buildx
COMPOSE = "/usr/bin/docker-compose"
DOCKERD = "/usr/sbin/dockerd"
STATE_DIR = HARNESS_DIR / "docker"  # the daemon's data, exec root, socket and log
IMAGES_DIR = HARNESS_DIR / "docker-images"  # saved stand-in base images
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"  # as /etc/apt/sources.list.d/debian.sources says
# What CPython's extension modules link against, beyond the minbase system (no Tk).
RUNTIME_PACKAGES = (
    "libssl3",
    "libffi8",
    "libsqlite3-0",
    "libreadline8",
    "libncursesw6",
    "libnsl2",
    "libtirpc3",
    "libexpat1",
)
HOST_CA_BUNDLE = Path(
    os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE") or ""
) or Path("/etc/ssl/certs/ca-certificates.crt")
# Left out of the stand-in CPython: tests, Tk, IDLE and the static library.
PYTHON_PRUNE = ("test", "idlelib", "tkinter", "turtledemo", "lib-dynload/_test*", "config-*/*.a")
# What pyenv's site-packages hold besides pip (this machine installs tools there): not the
# image's.
SITE_PACKAGES_KEPT = ("pip", "pip-*")
BIN_KEPT = ("python*", "pip*", "pydoc*", "idle*", "2to3*")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
DAEMON_START_SECONDS = 60.0
HEALTHY_SECONDS = 300.0
READY_SECONDS = 60.0
UV_IMAGE = re.compile(r"^COPY --from=(ghcr\.io/astral-sh/uv):(\S+) ", re.MULTILINE)
PYTHON_ARG = re.compile(r"^ARG PYTHON_VERSION=(\S+)$", re.MULTILINE)


class DockerError(RuntimeError):
    """A docker command failed; the message holds the command and its output."""


def docker_problem() -> str | None:
    """Why Docker variants cannot be served here, or None."""
    for tool in (DOCKERD, DOCKER, COMPOSE):
        if not Path(tool).is_file():
            return f"{tool} is missing (apt-get install docker.io docker-compose)"
    if not shutil.which("debootstrap") and not any(IMAGES_DIR.glob("python-*.tar")):
        return "debootstrap is missing (apt-get install debootstrap)"
    if os.geteuid() != 0:
        return "dockerd needs root here"
    return None


def _checked(result: CommandResult) -> CommandResult:
    if not result.ok:
        raise DockerError(result.describe())
    return result


# ---- the daemon ---------------------------------------------------------------------------------


@dataclass
class Daemon:
    """dockerd with its state under `root`, started and stopped by this process (by PID)."""

    root: Path = STATE_DIR
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "run" / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_BUILDKIT": "1",
            "COMPOSE_DOCKER_CLI_BUILD": "1",
        }

    def start(self) -> None:
        for folder in ("data", "exec", "run"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        config = {
            "data-root": str(self.root / "data"),
            "exec-root": str(self.root / "exec"),
            "pidfile": str(self.root / "run" / "docker.pid"),
            "hosts": [f"unix://{self.socket}"],
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "bridge": "none",
            "features": {"buildkit": True},
        }
        config_file = self.root / "daemon.json"
        config_file.write_text(json.dumps(config, indent=1), encoding="utf-8")
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [DOCKERD, "--config-file", str(config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + DAEMON_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DockerError(
                    f"dockerd exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self.socket.exists() and self.docker("version").ok:
                return
            time.sleep(0.2)
        self.stop()
        raise DockerError(
            f"dockerd did not answer in {DAEMON_START_SECONDS:.0f} s: {self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        log = self.root / "dockerd.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def docker(self, *args: str, cwd: Path = STATE_DIR, timeout: float = 600) -> CommandResult:
        return run_command([DOCKER, *args], cwd=cwd, env=self.env, timeout=timeout)

    def compose(self, project: str, files: list[Path], *args: str, cwd: Path) -> CommandResult:
        options = ["--project-name", project, "--project-directory", str(cwd)]
        for file in files:
            options += ["--file", str(file)]
        return run_command([COMPOSE, *options, *args], cwd=cwd, env=self.env, timeout=600)

    def has_image(self, tag: str) -> bool:
        return self.docker("image", "inspect", tag).ok


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by its parent, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@contextlib.contextmanager
def shared_daemon(root: Path = STATE_DIR) -> Iterator[Daemon]:
    """The harness's daemon for as long as any process of this checkout uses it: the first
    user starts it, the last one stops it by its PID (xdist workers and sessions alike). Users
    register under a lock as `users/<pid>`; a user that died without leaving is ignored."""
    users = root / "users"
    users.mkdir(parents=True, exist_ok=True)
    daemon = Daemon(root)
    me = users / str(os.getpid())
    with (root / "daemon.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pid = _daemon_pid(root)
            if pid is None or not daemon.docker("version").ok:
                if pid is not None:
                    _stop_pid(pid)
                daemon.start()
            me.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield daemon
    finally:
        with (root / "daemon.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                me.unlink(missing_ok=True)
                others = [u for u in users.iterdir() if u.name.isdigit() and _alive(int(u.name))]
                pid = _daemon_pid(root)
                if not others and pid is not None:
                    _stop_pid(pid)
                    left = mounts_below(root)
                    if left:
                        raise DockerError(f"the stopped daemon left mounts behind: {left}")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _daemon_pid(root: Path) -> int | None:
    try:
        pid = int((root / "run" / "docker.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _stop_pid(pid: int, seconds: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after `seconds`; waits until the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our child: reap it, or it stays a zombie
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
    if _alive(pid):
        raise DockerError(f"dockerd (pid {pid}) did not stop")
    unmount_below(STATE_DIR)


def unmount_below(root: Path) -> None:
    """What a stopped dockerd may leave mounted under its folders (its data root bound onto
    itself, the default network namespace), deepest first."""
    for point in sorted(set(mounts_below(root)), key=len, reverse=True):
        run_command(["umount", point], cwd=Path("/"), timeout=30)


def mounts_below(root: Path) -> list[str]:
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [p for p in points if p == str(root) or p.startswith(f"{root}/")]


def daemon_running(root: Path = STATE_DIR) -> bool:
    return _daemon_pid(root) is not None


# ---- stand-in base images -----------------------------------------------------------------------


def python_image_tag(version: str) -> str:
    return f"python:{version}-slim"


def pyenv_python(version: str) -> Path | None:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = sorted(
        (
            p
            for p in root.glob(f"{version}.*")
            if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)
        ),
        key=lambda p: int(p.name.rsplit(".", 1)[1]),
    )
    return found[-1] if found else None


def ensure_image(daemon: Daemon, tag: str, make: Any) -> str:
    """`tag` in the daemon: already there, loaded from `.harness/docker-images/`, or made by
    `make(daemon, tag)` and saved there. Returns how ("present", "loaded", "built")."""
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    saved = IMAGES_DIR / (re.sub(r"[^A-Za-z0-9.-]+", "_", tag) + ".tar")
    with saved.with_suffix(".lock").open("a") as lock:  # one maker per image at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _ensure_image(daemon, tag, make, saved)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure_image(daemon: Daemon, tag: str, make: Any, saved: Path) -> str:
    if daemon.has_image(tag):
        return "present"
    if saved.is_file():
        _checked(daemon.docker("load", "--input", str(saved)))
        return "loaded"
    make(daemon, tag)
    partial = saved.with_suffix(".partial")
    _checked(daemon.docker("save", "--output", str(partial), tag))
    partial.replace(saved)
    return "built"


def minbase_rootfs(work: Path) -> Path:
    """A bookworm minbase tree with CPython's runtime libraries (cached as a tarball)."""
    cached = IMAGES_DIR / f"{SUITE}-minbase.tar"
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    # The python images of every version start from this one tree: one maker at a time.
    with cached.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not cached.is_file():
                _checked(
                    run_command(
                        [
                            "debootstrap",
                            "--variant=minbase",
                            f"--include={','.join(RUNTIME_PACKAGES)}",
                            SUITE,
                            str(rootfs),
                            MIRROR,
                        ],
                        cwd=IMAGES_DIR,
                        timeout=900,
                    )
                )
                for junk in (
                    "var/cache/apt/archives",
                    "var/lib/apt/lists",
                    "usr/share/doc",
                    "usr/share/man",
                    "usr/share/locale",
                ):
                    shutil.rmtree(rootfs / junk, ignore_errors=True)
                    (rootfs / junk).mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(".partial")
                _checked(
                    run_command(
                        ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                        cwd=IMAGES_DIR,
                    )
                )
                partial.replace(cached)
            else:
                _checked(
                    run_command(
                        ["tar", "-C", str(rootfs), "--numeric-owner", "-xf", str(cached)],
                        cwd=IMAGES_DIR,
                    )
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return rootfs


def make_python_image(daemon: Daemon, tag: str) -> None:
    version = tag.split(":", 1)[1].removesuffix("-slim")
    source = pyenv_python(version)
    if source is None:
        raise DockerError(f"no pyenv CPython {version} to make {tag} from")
    with tempfile.TemporaryDirectory(prefix="harness-python-image-") as scratch:
        rootfs = minbase_rootfs(Path(scratch))
        local = rootfs / "usr" / "local"
        for part in ("bin", "lib", "include"):
            shutil.rmtree(local / part, ignore_errors=True)
            shutil.copytree(source / part, local / part, symlinks=True)
        stdlib = local / "lib" / f"python{version}"
        for pattern in PYTHON_PRUNE:
            for path in stdlib.glob(pattern):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for path in (stdlib / "site-packages").iterdir():
            if not any(fnmatch(path.name, kept) for kept in SITE_PACKAGES_KEPT):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in (local / "bin").iterdir():
            if not any(fnmatch(path.name, kept) for kept in BIN_KEPT):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        old = str(source).encode()
        for path in iter_files(local):
            if path.is_symlink():
                continue
            data = path.read_bytes()
            if old not in data:
                continue
            if b"\0" in data:  # a binary: its RPATH no longer resolves, ldconfig finds the lib
                continue
            path.write_bytes(data.replace(old, b"/usr/local"))
        binaries = [p for p in iter_files(local) if not p.is_symlink() and p.suffix == ".so"]
        binaries += [local / "bin" / f"python{version}"]
        binaries += [p for p in local.glob("lib/libpython*.so*") if not p.is_symlink()]
        run_command(
            ["strip", "--strip-unneeded", *map(str, set(binaries))], cwd=IMAGES_DIR, timeout=300
        )
        for name in ("python", "python3"):
            link = local / "bin" / name
            if not link.exists():
                link.symlink_to(f"python{version}")
        certs = rootfs / "etc" / "ssl" / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA_BUNDLE, certs / "ca-certificates.crt")
        _checked(run_command(["ldconfig", "-r", str(rootfs)], cwd=IMAGES_DIR))
        changes = [
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            f"ENV PYTHON_VERSION={source.name}",
            'CMD ["python3"]',
        ]
        archive = Path(scratch) / "rootfs.tar"
        _checked(
            run_command(
                ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."],
                cwd=IMAGES_DIR,
            )
        )
        options = [item for change in changes for item in ("--change", change)]
        _checked(daemon.docker("import", *options, str(archive), tag, timeout=600))
        check = daemon.docker(
            "run",
            "--rm",
            "--network",
            "host",
            tag,
            "python3",
            "-c",
            "import ssl, sqlite3, ctypes, lzma, bz2, readline, uuid; print(ssl.OPENSSL_VERSION)",
        )
        _checked(check)


def uv_wheel(version: str, work: Path) -> Path:
    """The manylinux x86_64 wheel of uv `version`, from PyPI through pip."""
    _checked(
        run_command(
            [
                "python3",
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                "manylinux_2_17_x86_64",
                "--python-version",
                "3.12",
                "--dest",
                str(work),
                f"uv=={version}",
            ],
            cwd=work,
            timeout=300,
        )
    )
    return next(work.glob(f"uv-{version}-*.whl"))


def make_uv_image(daemon: Daemon, tag: str) -> None:
    version = tag.rsplit(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="harness-uv-image-") as scratch:
        wheel = uv_wheel(version, Path(scratch))
        buffer = io.BytesIO()
        with zipfile.ZipFile(wheel) as archive, tarfile.open(fileobj=buffer, mode="w") as image:
            for name in ("uv", "uvx"):
                data = archive.read(f"uv-{version}.data/scripts/{name}")
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o755
                image.addfile(info, io.BytesIO(data))
        archive_path = Path(scratch) / "uv.tar"
        archive_path.write_bytes(buffer.getvalue())
        _checked(daemon.docker("import", "--change", 'CMD ["/uv"]', str(archive_path), tag))


def base_images(dockerfile: str) -> dict[str, Any]:
    """The stand-ins a Dockerfile needs: tag -> how to make it."""
    needed: dict[str, Any] = {}
    uv = UV_IMAGE.search(dockerfile)
    if uv:
        needed[f"{uv.group(1)}:{uv.group(2)}"] = make_uv_image
    python = PYTHON_ARG.search(dockerfile)
    if python:
        needed[python_image_tag(python.group(1))] = make_python_image
    return needed


# ---- build inputs -------------------------------------------------------------------------------


def dockerignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(relpath: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a match on a folder
    covers what is below it."""
    ignored = False
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        pattern = pattern.removeprefix("**/")
        if any(
            fnmatch(prefix, pattern)
            or (fnmatch(prefix.rsplit("/", 1)[-1], pattern) and "/" not in pattern)
            for prefix in prefixes
        ):
            ignored = not negated
    return ignored


def build_context_files(root: Path) -> list[str]:
    patterns = dockerignore_patterns(root)
    files = sorted(p.relative_to(root).as_posix() for p in iter_files(root))
    return [f for f in files if not is_ignored(f, patterns)]


def build_key(root: Path) -> str:
    """A hash of what `docker build` sees: the context after `.dockerignore`, and the base
    images named (the Dockerfile is in the context)."""
    digest = hashlib.sha256()
    for relpath in build_context_files(root):
        digest.update(relpath.encode() + b"\0" + (root / relpath).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def compose_services(root: Path) -> dict[str, Any]:
    data = yaml.safe_load((root / "compose.yaml").read_text(encoding="utf-8")) or {}
    return dict(data.get("services") or {})


def stack_key(root: Path) -> str:
    """The compose stack's shape: its services, as the compose file defines them."""
    text = (root / "compose.yaml").read_text(encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- a stack ------------------------------------------------------------------------------------

# The host's server behind each infrastructure service of compose.yaml, for the stand-ins.
INFRASTRUCTURE_PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_file(
    resolved: Mapping[str, Any], image: str, base_image: str, env: Mapping[str, str], port: int
) -> dict[str, Any]:
    """The stack the harness brings up: the project's compose configuration as
    `docker-compose config` resolves it (with `.env`), and then, test-only, the app's services
    on the host's network from `image`, with `env` and no published port (host networking
    has none), and each infrastructure service a stand-in on `base_image` that is healthy while
    the host's server accepts connections. Dependencies, conditions, volumes and the app's
    commands and health checks stay the project's."""
    stack: dict[str, Any] = json.loads(json.dumps(resolved))  # a deep copy
    for name, service in stack["services"].items():
        service["network_mode"] = "host"
        service.pop("ports", None)
        service.pop("networks", None)
        if "build" in service:
            service.pop("build")
            service["image"] = image
            service["environment"] = {**service.get("environment", {}), **env, "PORT": str(port)}
            check = service.get("healthcheck", {})
            if not check.get("disable") and check.get("test") != ["NONE"]:
                # Asked more often, and given time on a loaded machine: dockerd 20.10 does not
                # kill a check that timed out, so timed-out checks would pile up.
                service["healthcheck"] = {
                    **check,
                    "interval": "5s",
                    "timeout": "30s",
                    "start_period": "0s",
                }
        else:
            host_port = INFRASTRUCTURE_PORTS[name]
            probe = (
                "import socket; "
                f"socket.create_connection(('127.0.0.1', {host_port}), timeout=2).close()"
            )
            service.update(
                image=base_image,
                entrypoint=["sleep"],
                command=["infinity"],
                healthcheck={
                    "test": ["CMD", "python3", "-c", probe],
                    "interval": "1s",
                    "timeout": "3s",
                    "retries": 30,
                },
            )
    stack.pop("networks", None)
    return stack


@dataclass
class StackRun:
    """What bringing a stack up measured and found."""

    project: str
    build_seconds: float = 0.0
    up_seconds: float = 0.0
    healthy_seconds: float = 0.0
    image_bytes: int = 0
    steps: list[str] = field(default_factory=list)


def project_name(key: str) -> str:
    """A compose project name of its own for `key` (an isolation owner, say)."""
    return f"harness-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def build_image(daemon: Daemon, root: Path, tag: str) -> float:
    """`docker build` of the project's Dockerfile, unmodified, on the host's network; proxy
    variables, when set, go in as the standard build arguments."""
    args = ["build", "--network", "host", "--tag", tag]
    for name in PROXY_VARIABLES:
        if os.environ.get(name):
            args += ["--build-arg", name]
    started = time.monotonic()
    _checked(daemon.docker(*args, ".", cwd=root, timeout=1200))
    return time.monotonic() - started


def image_size(daemon: Daemon, tag: str) -> int:
    result = _checked(daemon.docker("image", "inspect", "--format", "{{.Size}}", tag))
    return int(result.output.strip().splitlines()[-1])


def container_health(daemon: Daemon, project: str) -> dict[str, str]:
    """Each container of the project: its service and its health (or state)."""
    found = daemon.docker(
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--format",
        "{{.ID}}",
    )
    ids = found.output.split()
    if not ids:
        return {}
    inspected = json.loads(_checked(daemon.docker("inspect", *ids)).output)
    states = {}
    for container in inspected:
        service = container["Config"]["Labels"].get("com.docker.compose.service", "?")
        state = container["State"]
        health = state.get("Health", {}).get("Status")
        states[service] = health or f"{state['Status']}:{state.get('ExitCode')}"
    return states


def leftovers(daemon: Daemon, project: str) -> list[str]:
    """Containers, networks and volumes of `project` still there."""
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind, args in (
        ("container", ("ps", "--all", "--quiet", "--filter", label)),
        ("network", ("network", "ls", "--quiet", "--filter", label)),
        ("volume", ("volume", "ls", "--quiet", "--filter", label)),
    ):
        found += [f"{kind} {name}" for name in daemon.docker(*args).output.split()]
    return found


def http_json(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    data = None
    sent = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None, dict(response.headers)
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text.decode(errors="replace")
        return error.code, parsed, dict(error.headers)


# ---- bringing a stack up, and its round trip ----------------------------------------------------


def wait_until(what: str, check: Any, seconds: float, interval: float = 0.5) -> float:
    """Poll `check()` until it returns a true value; the seconds it took."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < seconds:
        last = check()
        if last:
            return time.monotonic() - started
        time.sleep(interval)
    raise DockerError(f"{what}: not within {seconds:.0f} s (last: {last!r})")


@dataclass
class Stack:
    """A rendered project's compose stack in the harness's daemon, on the host's network."""

    daemon: Daemon
    root: Path
    image: str
    base_image: str
    env: Mapping[str, str]
    project: str
    port: int = field(default_factory=free_port)

    @property
    def file(self) -> Path:
        return self.root / ".harness-stack.yaml"

    def compose(self, *args: str, file: Path | None = None) -> CommandResult:
        return self.daemon.compose(self.project, [file or self.file], *args, cwd=self.root)

    def up(self) -> float:
        """`docker-compose up -d` (which waits for each dependency's condition), then until
        every service is healthy or, for a one-shot job, exited 0; the seconds to that."""
        # The `.env` Copier generated, as it is: compose.yaml's passwords come from it (the
        # stand-in services ignore them), and the app's SECRET_KEY (round_trip checks it).
        if not (self.root / ".env").is_file():
            raise DockerError("the render has no .env: compose.yaml reads its passwords there")
        resolved = yaml.safe_load(
            _checked(self.compose("config", file=self.root / "compose.yaml")).output
        )
        services = resolved["services"]
        stack = stack_file(resolved, self.image, self.base_image, self.env, self.port)
        self.file.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
        started = time.monotonic()
        _checked(self.compose("up", "--detach", "--no-build"))

        def settled() -> dict[str, str] | None:
            states = container_health(self.daemon, self.project)
            done = all(s in {"healthy", "exited:0"} for s in states.values())
            if any(s.startswith("exited:") and s != "exited:0" for s in states.values()):
                raise DockerError(f"a service failed: {states}\n{self.logs()}")
            return states if done and set(states) == set(services) else None

        try:
            wait_until("every service healthy", settled, HEALTHY_SECONDS)
        except DockerError as error:
            raise DockerError(f"{error}\n{self.logs()}") from None
        return time.monotonic() - started

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40").output

    def down(self) -> list[str]:
        """Remove the stack, volumes included; what is left of it (nothing, when all went well)."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        self.file.unlink(missing_ok=True)
        return leftovers(self.daemon, self.project)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def signed_with(token: str, key: str) -> bool:
    """Whether `token` is a JWT whose HS256 signature is `key`'s."""
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.urlsafe_b64encode(expected).rstrip(b"=").decode(), signature)


def round_trip(stack: Stack, answers: Mapping[str, Any]) -> list[str]:
    """Through the published port: readiness, an authenticated (or open) write and read, and
    with Celery an export run by the worker. What it did, one line per step."""
    done = []
    answers_seen: list[tuple[int, Any]] = []

    def ready() -> bool:
        # Readiness may lag liveness (a first database connection on a loaded machine).
        answers_seen.append(http_json("GET", stack.url("/health/ready"))[:2])
        return answers_seen[-1][0] == 200

    try:
        wait_until("/health/ready answering 200", ready, READY_SECONDS, interval=1.0)
    except DockerError:
        raise DockerError(f"/health/ready answered {answers_seen[-1]}") from None
    body = answers_seen[-1][1]
    done.append(f"GET /health/ready 200 {json.dumps(body.get('checks', body))}")
    headers: dict[str, str] = {}
    if answers.get("auth"):
        account = {"email": "docker@example.com", "password": "correct horse battery staple"}
        status, body, _ = http_json("POST", stack.url("/api/v1/users"), account)
        if status != 201:
            raise DockerError(f"register answered {status}: {body}")
        form = {"username": account["email"], "password": account["password"]}
        status, body, _ = http_json("POST", stack.url("/api/v1/auth/token"), form=form)
        if status != 200:
            raise DockerError(f"sign in answered {status}: {body}")
        headers["Authorization"] = f"Bearer {body['access_token']}"
        dotenv = dotenv_settings((stack.root / ".env").read_text(encoding="utf-8"))
        if not signed_with(body["access_token"], dotenv["SECRET_KEY"]):
            raise DockerError("the access token is not signed with .env's SECRET_KEY")
        done.append("registered and signed in, with a token signed by .env's SECRET_KEY")
    item = {"name": "Docker cup", "price": "4.50", "quantity": 3}
    status, body, _ = http_json("POST", stack.url("/api/v1/items"), item, headers)
    if status != 201:
        raise DockerError(f"create item answered {status}: {body}")
    status, read, _ = http_json("GET", stack.url(f"/api/v1/items/{body['id']}"), None, headers)
    if status != 200 or read["name"] != item["name"]:
        raise DockerError(f"read item answered {status}: {read}")
    done.append(f"created and read item {body['id']}")
    if answers.get("celery"):
        status, body, sent = http_json("POST", stack.url("/api/v1/items/exports"), None, headers)
        location = {k.lower(): v for k, v in sent.items()}.get("location", "")
        if status != 202 or not location:
            raise DockerError(f"start export answered {status}: {body}")
        job: dict[str, Any] = {}

        def finished() -> bool:
            nonlocal job
            _, job, _ = http_json("GET", stack.url(location), None, headers)
            return job.get("state") in {"succeeded", "failed"}

        wait_until("the export job finished", finished, 60)
        if job.get("state") != "succeeded" or job.get("result", {}).get("items") != 1:
            raise DockerError(f"the export job ended {job}")
        done.append(f"export job {job['id']} succeeded in the worker: {job['result']}")
    return done


# ---- which stacks the harness serves ------------------------------------------------------------

# What compose.yaml's services depend on (its only conditions), and what else picks the image.
STACK_AXES = ("database", "redis", "celery", "celery_broker")
STACK_SECONDS = 75.0  # build (warm base images), bring-up to healthy, round trip, teardown
STACK_BUILD_SECONDS = 30.0  # a cold dependency layer


def stack_shape(answers: Mapping[str, Any]) -> tuple[Any, ...]:
    """The compose services a variant has: database, Redis, and Celery's broker (or none)."""
    broker = answers.get("celery_broker") if answers.get("celery") else None
    return (answers.get("database"), bool(answers.get("redis")), broker)


@dataclass(frozen=True)
class ServedStack:
    """A combination whose image is built and stack brought up, and the docker combinations
    whose compose stack it stands for."""

    combination: Any  # matrix.Combination
    why: tuple[str, ...]
    stands_for: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"docker:{self.combination.id}"


def served_stacks(
    combinations: list[Any], default_python: str, all_features: list[Any]
) -> list[ServedStack]:
    """Every distinct compose stack (database x Redis x broker) on the default Python, with
    auth (the default) where there is a choice; the all-features combination of every Python.
    Each other docker combination is reported with the served stack of its shape and Python,
    else of its shape."""
    docker = [c for c in combinations if c.answers.get("docker")]
    chosen: dict[Any, tuple[Any, list[str]]] = {}
    for combination in all_features:
        if combination is not None and combination.answers.get("docker"):
            chosen[combination.id] = (combination, [f"all-features on Python {combination.python}"])
    shapes = {stack_shape(c.answers) for c in docker}
    for shape in sorted(shapes, key=repr):
        served = [
            c
            for c in chosen.values()
            if stack_shape(c[0].answers) == shape and c[0].python == default_python
        ]
        if served:
            served[0][1].append("its compose stack")
            continue
        candidates = [
            c for c in docker if stack_shape(c.answers) == shape and c.python == default_python
        ]
        candidates.sort(
            key=lambda c: (c.answers.get("ci") != "none", not c.answers.get("auth"), c.id)
        )
        chosen[candidates[0].id] = (candidates[0], ["its compose stack"])
    members: dict[str, list[str]] = {key: [] for key in chosen}
    for combination in docker:
        same = [
            key
            for key, (served, _) in chosen.items()
            if stack_shape(served.answers) == stack_shape(combination.answers)
        ]
        same.sort(key=lambda key: chosen[key][0].python != combination.python)
        members[same[0]].append(combination.id)
    return [
        ServedStack(combination, tuple(why), tuple(members[key]))
        for key, (combination, why) in chosen.items()
    ]
