"""Real backing services: which variant needs which, where they are, whether they are up, and
each variant run's own corner of them.

Every service is declared once, in the `SERVICES` table at the end of this module: when a
variant needs it (a Jinja expression over the answers, like a question's `when:` in copier.yml),
its probe, the environment that points a project at it, and what must exist for that while the
project's tests run. A later feature adds a service with one entry.

Isolation comes from an `owner` token (`isolation_owner`), unique to one variant run in one
worker of one harness session, never from a counter: PostgreSQL needs nothing (the project's
tests make their own uniquely named database), Redis gets a key prefix, RabbitMQ a virtual host.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeAlias
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

import jinja2

POSTGRES_URL = os.environ.get(
    "HARNESS_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HARNESS_REDIS_URL", "redis://127.0.0.1:6379/0")
# The path is the virtual host: %2F is the default one, "/", which the probe logs in to.
RABBITMQ_URL = os.environ.get("HARNESS_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# The broker's own CLI; in a container, e.g. `docker exec <container> rabbitmqctl`.
RABBITMQCTL = shlex.split(os.environ.get("HARNESS_RABBITMQCTL", "rabbitmqctl"))
CONNECT_TIMEOUT = 3.0
RABBITMQCTL_TIMEOUT = 60.0
# Questions a service condition may read before copier.yml asks them: undefined, so falsy.
FUTURE_QUESTIONS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Service:
    """One backing service, declared once (see `SERVICES`)."""

    needed_when: str  # a Jinja expression over the answers, like copier.yml's `when:`
    problem: Callable[[], str | None]  # None if the service answers, else what is wrong
    env: Callable[[str], dict[str, str]]  # owner -> the variables that point a project at it
    isolated: Callable[[str], AbstractContextManager[None]]  # owner -> its corner, while open


class IsolationError(RuntimeError):
    """A service refused to make or remove a variant run's corner of it."""


# ---- the entry points ----------------------------------------------------------------------


def services_for(answers: Mapping[str, Any]) -> frozenset[str]:
    """The real services a variant's own tests need, from its answers."""
    return frozenset(
        name for name, service in SERVICES.items() if _holds(service.needed_when, answers)
    )


def _holds(condition: str, answers: Mapping[str, Any]) -> bool:
    return bool(_compiled(condition)(answers))


@functools.cache
def _compiled(condition: str) -> Callable[..., Any]:
    # The default Undefined: a question copier.yml does not ask (yet) is falsy, not an error.
    return jinja2.Environment().compile_expression(condition)


def isolation_owner(session: str, worker: str, variant: str) -> str:
    """A short token, letters, digits and `-` only, for one variant run in one worker of one
    session. The hash keeps distinct inputs apart; the worker is there for a human reading a
    leftover Redis key or virtual host."""
    digest = hashlib.sha256(json.dumps([session, worker, variant]).encode()).hexdigest()[:20]
    readable = re.sub(r"[^A-Za-z0-9]+", "", worker)[:8] or "main"
    return f"harness-{readable}-{digest}"


def service_env(services: frozenset[str], owner: str) -> dict[str, str]:
    """Where a variant run's services are, and its own corner of them (see `isolation_owner`)."""
    env: dict[str, str] = {}
    for name in sorted(services):
        env.update(SERVICES[name].env(owner))
    return env


@contextlib.contextmanager
def isolated_services(services: frozenset[str], owner: str) -> Iterator[dict[str, str]]:
    """Make `owner`'s corner of each service, yield `service_env`, and remove the corners again,
    whatever happened meanwhile (each one, even if removing another failed)."""
    with contextlib.ExitStack() as stack:
        for name in sorted(services):
            stack.enter_context(SERVICES[name].isolated(owner))
        yield service_env(services, owner)


def service_problem(service: str) -> str | None:
    """None if `service` answers, else what is wrong (for a skip or failure message)."""
    return SERVICES[service].problem()


def _endpoint(url: str, default_port: int) -> tuple[SplitResult, str, int]:
    parts = urlsplit(url)
    return parts, parts.hostname or "127.0.0.1", parts.port or default_port


# ---- PostgreSQL ------------------------------------------------------------------------------


def _postgres_env(owner: str) -> dict[str, str]:
    # The project's tests create and drop their own uniquely named database on this server.
    return {"DATABASE_URL": POSTGRES_URL}


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


# ---- Redis: logical database 0 (or HARNESS_REDIS_URL's), one key prefix per owner -------------

RedisReply: TypeAlias = "bytes | int | list[RedisReply] | None"


class RedisError(Exception):
    """Redis answered a command with an error."""


class RedisClient:
    """Just enough RESP for the harness (it has no redis package): one command at a time."""

    def __init__(self, sock: socket.socket, reader: BinaryIO) -> None:
        self._sock, self._reader = sock, reader

    def command(self, *args: str | bytes) -> RedisReply:
        words = [arg.encode() if isinstance(arg, str) else arg for arg in args]
        request = b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in words)
        self._sock.sendall(b"*%d\r\n" % len(words) + request)
        return self._reply()

    def _reply(self) -> RedisReply:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b"+":
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else bytes(self._reader.read(size + 2)[:size])
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RedisError(f"not a RESP reply: {line[:80]!r}")


@contextlib.contextmanager
def redis_client(url: str = REDIS_URL) -> Iterator[RedisClient]:
    """A connection to `url`'s server, logged in and on its logical database."""
    parts, host, port = _endpoint(url, 6379)
    with (
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock,
        sock.makefile("rb") as reader,
    ):
        client = RedisClient(sock, reader)
        if parts.password:
            user = [unquote(parts.username)] if parts.username else []
            client.command("AUTH", *user, unquote(parts.password))
        client.command("SELECT", _redis_database(url))
        yield client


def _redis_database(url: str) -> str:
    return urlsplit(url).path.strip("/") or "0"


def _redis_env(owner: str) -> dict[str, str]:
    url = urlsplit(REDIS_URL)._replace(path=f"/{_redis_database(REDIS_URL)}")
    return {"REDIS_URL": urlunsplit(url), "REDIS_KEY_PREFIX": f"{owner}:"}


@contextlib.contextmanager
def _redis_keys_removed_after(owner: str) -> Iterator[None]:
    # Nothing to make: the prefix exists once a key has it. Owners hold no glob characters, so
    # the prefix is a literal MATCH pattern.
    try:
        yield
    finally:
        with redis_client() as redis:
            delete_redis_keys(redis, f"{owner}:*")


def delete_redis_keys(redis: RedisClient, pattern: str) -> None:
    """Delete every key matching `pattern`, a page of SCAN at a time (never KEYS, which blocks)."""
    cursor = b"0"
    while True:
        match redis.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000"):
            case [bytes() as cursor, list() as keys]:
                if keys:
                    redis.command("UNLINK", *(_word(key) for key in keys))
            case reply:
                raise RedisError(f"SCAN answered {reply!r}")
        if cursor == b"0":
            return


def _word(reply: RedisReply) -> bytes:
    if not isinstance(reply, bytes):
        raise RedisError(f"expected a string, Redis answered {reply!r}")
    return reply


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


# ---- RabbitMQ: one virtual host per owner ---------------------------------------------------


def _rabbitmq_env(owner: str) -> dict[str, str]:
    url = urlsplit(RABBITMQ_URL)._replace(path="/" + quote(owner, safe=""))
    return {"RABBITMQ_URL": urlunsplit(url)}


@contextlib.contextmanager
def _rabbitmq_vhost(owner: str) -> Iterator[None]:
    # rabbitmqctl, not the HTTP API: the management plugin is off by default, the CLI is not.
    user = unquote(urlsplit(RABBITMQ_URL).username or "guest")
    _rabbitmqctl("add_vhost", owner)
    try:
        _rabbitmqctl("set_permissions", "-p", owner, user, ".*", ".*", ".*")
        yield
    finally:
        _rabbitmqctl("delete_vhost", owner)


def _rabbitmqctl(*args: str) -> None:
    command = [*RABBITMQCTL, *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=RABBITMQCTL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise IsolationError(f"$ {' '.join(command)}: {error}") from error
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise IsolationError(f"$ {' '.join(command)} exited {done.returncode}: {output}")


def _rabbitmq_problem() -> str | None:
    _, host, port = _endpoint(RABBITMQ_URL, 5672)
    where = f"RabbitMQ at {host}:{port} (override with HARNESS_RABBITMQ_URL)"
    problem = amqp_login_problem(RABBITMQ_URL)
    if problem:
        return f"{where} {problem}"
    if shutil.which(RABBITMQCTL[0]) is None:
        return (
            f"{where} is up, but {RABBITMQCTL[0]} (which makes each run's virtual host) is "
            "missing; HARNESS_RABBITMQCTL names another command"
        )
    return None


def amqp_login_problem(url: str) -> str | None:
    """None if `url`'s user can open `url`'s virtual host, else what went wrong: an AMQP 0-9-1
    handshake from the protocol header to Connection.Open-Ok, then a clean Connection.Close."""
    parts, host, port = _endpoint(url, 5672)
    user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
    vhost = unquote(parts.path[1:]) or "/"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            _amqp_login(_AmqpConnection(sock), user, password, vhost)
    except OSError as error:
        return f"is not reachable: {error}"
    except _AmqpRefused as refusal:
        return str(refusal)
    return None


class _AmqpRefused(Exception):
    """The server said no, or answered something the handshake does not expect."""


def _amqp_login(amqp: _AmqpConnection, user: str, password: str, vhost: str) -> None:
    amqp.send_header()
    amqp.expect(_CONNECTION_START, "the AMQP 0-9-1 protocol header")
    plain = f"\0{user}\0{password}".encode()
    start_ok = _CLIENT_PROPERTIES + _short("PLAIN") + _long(plain) + _short("en_US")
    amqp.send(_CONNECTION_START_OK, start_ok)
    tune = amqp.expect(_CONNECTION_TUNE, f"the login as {user!r}")
    channel_max, frame_max = struct.unpack("!HI", tune[:6])
    amqp.send(_CONNECTION_TUNE_OK, struct.pack("!HIH", channel_max, frame_max, 0))
    amqp.send(_CONNECTION_OPEN, _short(vhost) + _short("") + b"\0")
    amqp.expect(_CONNECTION_OPEN_OK, f"opening virtual host {vhost!r}")
    amqp.send(_CONNECTION_CLOSE, struct.pack("!H", 200) + _short("") + struct.pack("!HH", 0, 0))
    amqp.expect(_CONNECTION_CLOSE_OK, "Connection.Close")


# Connection methods: (class id, method id).
_CONNECTION_START, _CONNECTION_START_OK = (10, 10), (10, 11)
_CONNECTION_TUNE, _CONNECTION_TUNE_OK = (10, 30), (10, 31)
_CONNECTION_OPEN, _CONNECTION_OPEN_OK = (10, 40), (10, 41)
_CONNECTION_CLOSE, _CONNECTION_CLOSE_OK = (10, 50), (10, 51)
_METHOD_FRAME, _HEARTBEAT_FRAME, _FRAME_END = 1, 8, b"\xce"


class _AmqpConnection:
    """Method frames on channel 0, which is all a handshake needs."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._buffer = sock, b""

    def send_header(self) -> None:
        self._sock.sendall(b"AMQP\x00\x00\x09\x01")

    def send(self, method: tuple[int, int], arguments: bytes) -> None:
        payload = struct.pack("!HH", *method) + arguments
        frame = struct.pack("!BHI", _METHOD_FRAME, 0, len(payload)) + payload + _FRAME_END
        self._sock.sendall(frame)

    def expect(self, method: tuple[int, int], after: str) -> bytes:
        """The arguments of the next method, which must be `method`."""
        received, arguments = self._next_method(after)
        if received == _CONNECTION_CLOSE:
            (code,) = struct.unpack("!H", arguments[:2])
            text = arguments[3 : 3 + arguments[2]].decode(errors="replace")
            self.send(_CONNECTION_CLOSE_OK, b"")
            raise _AmqpRefused(f"refused {after}: {code} {text}")
        if received != method:
            raise _AmqpRefused(f"answered {after} with method {received}, not {method}")
        return arguments

    def _next_method(self, after: str) -> tuple[tuple[int, int], bytes]:
        while True:
            header = self._exactly(7, after)
            if header.startswith(b"AMQP"):
                raise _AmqpRefused(f"answered {after} with its own protocol header {header!r}")
            kind, _, size = struct.unpack("!BHI", header)
            if kind not in (_METHOD_FRAME, _HEARTBEAT_FRAME):
                raise _AmqpRefused(f"answered {after} with {header!r}: not an AMQP frame")
            body = self._exactly(size + 1, after)
            if body[-1:] != _FRAME_END:
                raise _AmqpRefused(f"answered {after} with a frame missing its end marker")
            if kind == _METHOD_FRAME:
                class_id, method_id = struct.unpack("!HH", body[:4])
                return (class_id, method_id), body[4:-1]

    def _exactly(self, size: int, after: str) -> bytes:
        while len(self._buffer) < size:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise _AmqpRefused(f"did not answer {after} within {CONNECT_TIMEOUT:g} s") from None
            if not chunk:
                raise _AmqpRefused(f"closed the connection after {after}")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _short(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!B", len(data)) + data


def _long(data: bytes) -> bytes:
    return struct.pack("!I", len(data)) + data


# The one client property: a refused login gets a Connection.Close that says why, instead of
# the server closing the socket after a delay.
_CLIENT_PROPERTIES = _long(
    _short("capabilities") + b"F" + _long(_short("authentication_failure_close") + b"t\x01")
)


# ---- the declaration ------------------------------------------------------------------------

SERVICES: dict[str, Service] = {
    "postgres": Service(
        needed_when='database == "postgresql"',
        problem=_postgres_problem,
        env=_postgres_env,
        isolated=lambda owner: contextlib.nullcontext(),
    ),
    "redis": Service(
        needed_when='redis or (celery and celery_broker == "redis")',
        problem=_redis_problem,
        env=_redis_env,
        isolated=_redis_keys_removed_after,
    ),
    "rabbitmq": Service(
        needed_when='celery and celery_broker == "rabbitmq"',
        problem=_rabbitmq_problem,
        env=_rabbitmq_env,
        isolated=_rabbitmq_vhost,
    ),
}
