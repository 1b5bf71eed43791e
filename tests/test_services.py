"""The service declarations, the isolation rule, and (against the real servers) the corners
that `isolated_services` makes and removes."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
import jinja2.meta
import pytest
from harness import services
from harness.questionnaire import Questionnaire
from harness.services import (
    FUTURE_QUESTIONS,
    SERVICES,
    amqp_login_problem,
    isolated_services,
    isolation_owner,
    redis_client,
    service_env,
    service_problem,
    services_for,
)
from harness.variant import unavailable

SAFE_TOKEN = re.compile(r"[A-Za-z0-9-]{1,40}")

# Unique per run: two sessions on one broker or Redis must not collide either.
SESSION = f"test-services-{uuid.uuid4().hex[:8]}"


# ---- which variant needs which service -------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param({"database": "sqlite", "auth": True}, set(), id="sqlite-no-extras"),
        pytest.param({"database": "postgresql"}, {"postgres"}, id="postgresql"),
        pytest.param({"database": "sqlite", "redis": True}, {"redis"}, id="redis"),
        pytest.param({"redis": False}, set(), id="redis-off"),
        pytest.param(
            {"redis": False, "celery": True, "celery_broker": "rabbitmq"},
            {"rabbitmq"},
            id="celery-on-rabbitmq",
        ),
        pytest.param(
            {"redis": False, "celery": True, "celery_broker": "redis"},
            {"redis"},
            id="celery-on-redis",
        ),
        pytest.param(
            {"redis": True, "celery": True, "celery_broker": "rabbitmq"},
            {"redis", "rabbitmq"},
            id="redis-and-celery-on-rabbitmq",
        ),
        pytest.param(
            {"celery": False, "celery_broker": "rabbitmq"}, set(), id="celery-off-leftover-broker"
        ),
        pytest.param({"celery": False, "celery_broker": "redis"}, set(), id="celery-off-redis"),
        pytest.param({}, set(), id="no-answers-at-all"),
    ],
)
def test_services_for_reads_the_answers(answers: Mapping[str, Any], expected: set[str]) -> None:
    assert services_for(answers) == expected


def _unknown_names(condition: str, known: frozenset[str]) -> set[str]:
    env = jinja2.Environment()
    used = jinja2.meta.find_undeclared_variables(env.parse(f"{{{{ {condition} }}}}"))
    return used - known


@pytest.fixture(scope="module")
def known_questions() -> frozenset[str]:
    return frozenset(Questionnaire().names) | FUTURE_QUESTIONS


def test_conditions_read_only_known_questions(known_questions: frozenset[str]) -> None:
    unknown = {
        name: sorted(names)
        for name, service in SERVICES.items()
        if (names := _unknown_names(service.needed_when, known_questions))
    }
    assert not unknown, f"conditions read names copier.yml does not ask: {unknown}"


def test_the_name_check_catches_a_typo(known_questions: frozenset[str]) -> None:
    assert _unknown_names('databse == "postgresql"', known_questions) == {"databse"}


def test_future_questions_are_not_asked_yet() -> None:
    """Once copier.yml asks one, it leaves FUTURE_QUESTIONS, so a typo there cannot hide."""
    assert not FUTURE_QUESTIONS & set(Questionnaire().names)


# ---- the isolation rule ----------------------------------------------------------------------


def test_isolation_owner_is_safe_stable_and_distinct() -> None:
    inputs = [
        (f"2026120{s}-120000-{s}", f"gw{w}", f"variant-{v}@py3.1{v % 3}")
        for s in range(10)
        for w in range(25)
        for v in range(40)
    ]
    tokens = {isolation_owner(*given) for given in inputs}
    assert len(tokens) == len(inputs) == 10_000
    unsafe = [token for token in tokens if not SAFE_TOKEN.fullmatch(token)]
    assert not unsafe, unsafe[:3]
    assert isolation_owner(*inputs[0]) == isolation_owner(*inputs[0])
    # Inputs that concatenate alike stay apart; a worker with odd characters stays safe.
    assert isolation_owner("a-b", "c", "d") != isolation_owner("a", "b-c", "d")
    assert SAFE_TOKEN.fullmatch(isolation_owner("s", "gw 1/*:[x]", "v"))


def test_service_env_gives_every_run_its_own_corner() -> None:
    wanted = frozenset(SERVICES)
    envs = [
        service_env(wanted, isolation_owner("session", f"gw{worker}", f"variant-{variant}"))
        for worker in range(64)
        for variant in range(20)
    ]
    prefixes = {env["REDIS_KEY_PREFIX"] for env in envs}
    vhosts = {unquote(urlsplit(env["RABBITMQ_URL"]).path[1:]) for env in envs}
    assert len(prefixes) == len(vhosts) == 64 * 20
    assert {urlsplit(env["REDIS_URL"]).path for env in envs} == {"/0"}
    assert {env["DATABASE_URL"] for env in envs} == {services.POSTGRES_URL}


def test_service_env_has_only_the_wanted_services() -> None:
    assert service_env(frozenset(), "owner") == {}
    assert set(service_env(frozenset({"redis"}), "owner")) == {"REDIS_URL", "REDIS_KEY_PREFIX"}


# ---- the RabbitMQ probe ----------------------------------------------------------------------


def test_rabbitmq_probe_says_where_and_what(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once the socket is closed
    monkeypatch.setattr(services, "RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    problem = service_problem("rabbitmq")
    assert problem is not None
    assert f"127.0.0.1:{port}" in problem
    assert "not reachable" in problem
    assert "HARNESS_RABBITMQ_URL" in problem


@pytest.fixture
def fake_server() -> Iterator[int]:
    """A server that answers the AMQP 0-9-1 header with another version's header."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(8)
                connection.sendall(b"AMQP\x00\x00\x08\x00")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        thread.join(timeout=5)


def test_amqp_login_reports_a_server_of_another_protocol(fake_server: int) -> None:
    problem = amqp_login_problem(f"amqp://guest:guest@127.0.0.1:{fake_server}/%2F")
    assert problem is not None
    assert "protocol header" in problem


# ---- against the real servers ----------------------------------------------------------------


def _require(service: str) -> None:
    problem = service_problem(service)
    if problem:
        unavailable(problem)


def test_rabbitmq_probe_reports_a_refused_login() -> None:
    _require("rabbitmq")
    parts = urlsplit(services.RABBITMQ_URL)
    wrong = parts._replace(netloc=f"harness-nobody:wrong@{parts.hostname}:{parts.port or 5672}")
    problem = amqp_login_problem(wrong.geturl())
    assert problem is not None
    assert "ACCESS_REFUSED" in problem


def test_rabbitmq_vhost_exists_while_isolated_and_is_gone_after() -> None:
    _require("rabbitmq")
    owner = isolation_owner(SESSION, "main", "rabbitmq-vhost")
    with isolated_services(frozenset({"rabbitmq"}), owner) as env:
        assert amqp_login_problem(env["RABBITMQ_URL"]) is None
    gone = amqp_login_problem(env["RABBITMQ_URL"])
    assert gone is not None
    assert "NOT_ALLOWED" in gone


def test_rabbitmq_vhost_is_gone_even_when_the_tests_fail() -> None:
    _require("rabbitmq")
    owner = isolation_owner(SESSION, "main", "rabbitmq-failure")
    with (
        pytest.raises(RuntimeError, match="the tests failed"),
        isolated_services(frozenset({"rabbitmq"}), owner) as env,
    ):
        raise RuntimeError("the tests failed")
    assert amqp_login_problem(env["RABBITMQ_URL"]) is not None


def test_redis_keys_under_the_prefix_are_gone_after_and_others_survive() -> None:
    _require("redis")
    owner = isolation_owner(SESSION, "main", "redis-prefix")
    outside = f"{isolation_owner(SESSION, 'main', 'redis-outside')}:survivor"
    with redis_client() as redis:
        redis.command("SET", outside, "kept")
        try:
            with isolated_services(frozenset({"redis"}), owner) as env:
                prefix = env["REDIS_KEY_PREFIX"]
                # More keys than one SCAN page holds, so the cleanup must follow the cursor.
                keys = [f"{prefix}key:{index}" for index in range(2500)]
                redis.command("MSET", *(word for key in keys for word in (key, "value")))
                assert redis.command("EXISTS", *keys) == len(keys)
            assert redis.command("EXISTS", *keys) == 0
            assert redis.command("GET", outside) == b"kept"
        finally:
            redis.command("DEL", outside)


def test_redis_keys_are_gone_even_when_the_tests_fail() -> None:
    _require("redis")
    owner = isolation_owner(SESSION, "main", "redis-failure")
    key = service_env(frozenset({"redis"}), owner)["REDIS_KEY_PREFIX"] + "key"
    with redis_client() as redis:
        redis.command("SET", key, "value")
        with (
            pytest.raises(RuntimeError, match="the tests failed"),
            isolated_services(frozenset({"redis"}), owner),
        ):
            raise RuntimeError("the tests failed")
        assert redis.command("EXISTS", key) == 0
