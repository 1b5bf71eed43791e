"""Real backing services: which variant needs which, where they are, and whether they are up.

`services_for` and `service_env` are the two small functions that later features extend.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

POSTGRES_URL = os.environ.get(
    "HARNESS_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HARNESS_REDIS_URL", "redis://127.0.0.1:6379")
CONNECT_TIMEOUT = 3.0


def services_for(answers: Mapping[str, Any]) -> frozenset[str]:
    """The real services a variant's own tests need, from its answers."""
    needed = set()
    if answers.get("database") == "postgresql":
        needed.add("postgres")
    if answers.get("redis") is True or answers.get("celery") is True:
        needed.add("redis")
    return frozenset(needed)


def service_env(services: frozenset[str], slot: int) -> dict[str, str]:
    """Where a variant's services are, and its own corner of them.

    `slot` is unique among the variants running at the same time (the xdist worker number).
    PostgreSQL: the project's tests create and drop their own uniquely named database on this
    server, so the URL points at the maintenance database. Redis: one logical database per slot.
    """
    env = {}
    if "postgres" in services:
        env["DATABASE_URL"] = POSTGRES_URL
    if "redis" in services:
        env["REDIS_URL"] = f"{REDIS_URL.rstrip('/')}/{1 + slot % 15}"
    return env


def service_problem(service: str) -> str | None:
    """None if `service` answers, else what is wrong (for a skip or failure message)."""
    return _PROBES[service]()


def _endpoint(url: str, default_port: int) -> tuple[SplitResult, str, int]:
    parts = urlsplit(url)
    return parts, parts.hostname or "127.0.0.1", parts.port or default_port


def _postgres_problem() -> str | None:
    """Connect and speak the startup handshake: a listening port alone is not a database."""
    parts, host, port = _endpoint(POSTGRES_URL, 5432)
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or user
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    where = f"PostgreSQL at {host}:{port} ({POSTGRES_URL}, override with HARNESS_POSTGRES_URL)"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            sock.sendall(startup)
            problem = _startup_outcome(sock)
            sock.sendall(b"X\0\0\0\x04")
    except OSError as error:
        return f"{where} is not reachable: {error}"
    return f"{where} refused the connection: {problem}" if problem else None


def _startup_outcome(sock: socket.socket) -> str | None:
    """Read the server's messages until it is ready (None), asks for a password (None: it is
    up, the project's driver will authenticate), or reports an error (its message)."""
    buffer = b""
    while True:
        while len(buffer) >= 5 and len(buffer) >= 1 + struct.unpack("!i", buffer[1:5])[0]:
            kind, length = buffer[:1], struct.unpack("!i", buffer[1:5])[0]
            body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
            if kind == b"E":
                fields = {f[:1]: f[1:] for f in body.split(b"\0") if f}
                return fields.get(b"M", body).decode(errors="replace")
            if kind == b"Z" or (kind == b"R" and body[:4] != b"\0\0\0\0"):
                return None
        chunk = sock.recv(4096)
        if not chunk:
            return "the server closed the connection during startup"
        buffer += chunk


def _redis_problem() -> str | None:
    _, host, port = _endpoint(REDIS_URL, 6379)
    where = f"Redis at {host}:{port} ({REDIS_URL}, override with HARNESS_REDIS_URL)"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(256)
    except OSError as error:
        return f"{where} is not reachable: {error}"
    if reply.startswith((b"+PONG", b"-NOAUTH")):
        return None
    return f"{where} answered PING with {reply[:80]!r}"


_PROBES: dict[str, Callable[[], str | None]] = {
    "postgres": _postgres_problem,
    "redis": _redis_problem,
}
