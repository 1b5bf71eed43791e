"""The covering-array generator, on synthetic questionnaires whose answers are known by hand."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from harness.covering import (
    Requirement,
    Row,
    covering_array,
    required_tuples,
    uncovered,
)

pytestmark = pytest.mark.quick

TESTS_DIR = Path(__file__).resolve().parent

# Eight questionnaire-like axes; celery_broker is None (hidden) unless celery is on.
SYNTHETIC_AXES: Mapping[str, Sequence[Any]] = {
    "database": ["sqlite", "postgresql"],
    "auth": [False, True],
    "redis": [False, True],
    "celery": [False, True],
    "celery_broker": [None, "redis", "rabbitmq"],
    "docker": [False, True],
    "ci": ["none", "github", "gitlab"],
    "python": ["3.11", "3.12", "3.13"],
}

# The nine axes the questionnaire is heading for; celery is a choice, not a bool.
FUTURE_AXES: Mapping[str, Sequence[Any]] = {
    "database": ["sqlite", "postgresql"],
    "auth": [False, True],
    "redis": [False, True],
    "celery": ["none", "redis", "rabbitmq"],
    "websockets": [False, True],
    "docker": [False, True],
    "ci": ["none", "github", "gitlab"],
    "python": ["3.11", "3.12", "3.13"],
}
FUTURE_REQUIREMENTS = [
    Requirement(axes=("database", "auth", "redis", "celery", "websockets"), strength=3),
    Requirement(axes=tuple(FUTURE_AXES), strength=2),
]


def synthetic_valid(row: Row) -> bool:
    if (row["celery_broker"] is None) == row["celery"]:
        return False  # the broker is asked exactly when celery is on
    return row["celery_broker"] != "redis" or bool(row["redis"])


def future_valid(row: Row) -> bool:
    return row["celery"] != "redis" or bool(row["redis"])


def valid_rows(axes: Mapping[str, Sequence[Any]], valid: Callable[[Row], bool]) -> list[Row]:
    rows = (dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values()))
    return [row for row in rows if valid(row)]


def every_row(row: Row) -> bool:
    return True


def bool_rows(*axes: str) -> list[Row]:
    return valid_rows({axis: [False, True] for axis in axes}, every_row)


def future_candidates() -> list[Row]:
    return valid_rows(FUTURE_AXES, future_valid)


def brute_force_missing(
    rows: Sequence[Row], candidates: Sequence[Row], axes: Mapping[str, Sequence[Any]], size: int
) -> list[dict[str, Any]]:
    """Every `size`-tuple of `axes` values that some candidate has and no row has."""
    missing = []
    for subset in itertools.combinations(axes, size):
        for values in itertools.product(*(axes[axis] for axis in subset)):
            wanted = dict(zip(subset, values, strict=True))

            def has(row: Row, wanted: dict[str, Any] = wanted) -> bool:
                return all(row[axis] == value for axis, value in wanted.items())

            if any(has(row) for row in candidates) and not any(has(row) for row in rows):
                missing.append(wanted)
    return missing


def test_synthetic_questionnaire_pairwise() -> None:
    candidates = valid_rows(SYNTHETIC_AXES, synthetic_valid)
    # (redis, celery, broker): off with either redis, rabbitmq with either, redis broker with
    # redis only = 5, times 2 * 2 * 2 * 3 * 3 for database, auth, docker, ci, python.
    assert len(candidates) == 5 * 72
    requirements = [Requirement(axes=tuple(SYNTHETIC_AXES), strength=2)]
    # All pairs: ((sum of sizes)^2 - sum of squared sizes) / 2 = (19^2 - 47) / 2 = 157, less the
    # four forbidden: celery off with a broker (2), celery on without one, redis broker sans redis.
    required = required_tuples(candidates, requirements)
    assert len(required) == 153
    forbidden = [
        (("celery", False), ("celery_broker", "redis")),
        (("celery", False), ("celery_broker", "rabbitmq")),
        (("celery", True), ("celery_broker", None)),
        (("celery_broker", "redis"), ("redis", False)),
    ]
    assert not required & set(forbidden)

    rows = covering_array(candidates, requirements)
    assert all(row in candidates for row in rows)
    assert uncovered(rows, candidates, requirements) == set()
    assert brute_force_missing(rows, candidates, SYNTHETIC_AXES, 2) == []
    # The nine python x ci pairs need nine rows; greedy takes 12 of the 360.
    assert 9 <= len(rows) <= 15


def test_three_bool_axes_at_strength_three_need_all_eight() -> None:
    candidates = bool_rows("a", "b", "c")
    requirements = [Requirement(axes=("a", "b", "c"), strength=3)]
    rows = covering_array(candidates, requirements)
    # Each candidate is the only one with its triple: every step is a tie, kept in candidate order.
    assert rows == candidates
    # Every row holds the only copy of its triple, so dropping one leaves exactly that uncovered.
    assert uncovered(rows[1:], candidates, requirements) == {tuple(sorted(rows[0].items()))}


def test_four_bool_axes_pairwise_near_the_optimum_of_five() -> None:
    candidates = bool_rows("a", "b", "c", "d")
    rows = covering_array(candidates, [Requirement(axes=("a", "b", "c", "d"), strength=2)])
    assert 5 <= len(rows) <= 6
    assert brute_force_missing(rows, candidates, {axis: [False, True] for axis in "abcd"}, 2) == []


def test_single_axis_at_strength_one_takes_one_row_per_value() -> None:
    axes: dict[str, list[Any]] = {"ci": ["none", "github", "gitlab"], "docker": [False, True]}
    candidates = valid_rows(axes, every_row)
    rows = covering_array(candidates, [Requirement(axes=("ci",), strength=1)])
    assert [row["ci"] for row in rows] == ["none", "github", "gitlab"]


def test_strength_beyond_the_axes_means_their_full_valid_product() -> None:
    candidates = valid_rows(
        {"redis": [False, True], "cache": [False, True]},
        lambda row: bool(row["redis"] or not row["cache"]),  # the cache needs redis
    )
    rows = covering_array(candidates, [Requirement(axes=("redis", "cache"), strength=5)])
    assert sorted((row["redis"], row["cache"]) for row in rows) == [
        (False, False),
        (True, False),
        (True, True),
    ]


def test_mixed_strengths_cover_the_triples_of_the_subset() -> None:
    candidates = valid_rows(SYNTHETIC_AXES, synthetic_valid)
    triple_axes = ("auth", "redis", "celery", "celery_broker")
    requirements = [
        Requirement(axes=triple_axes, strength=3),
        Requirement(axes=tuple(SYNTHETIC_AXES), strength=2),
    ]
    rows = covering_array(candidates, requirements)
    assert uncovered(rows, candidates, requirements) == set()
    subset = {axis: SYNTHETIC_AXES[axis] for axis in triple_axes}
    assert brute_force_missing(rows, candidates, subset, 3) == []
    assert brute_force_missing(rows, candidates, SYNTHETIC_AXES, 2) == []
    # The requirement asked for triples only within the subset: some other triple is left out.
    others = {axis: SYNTHETIC_AXES[axis] for axis in ("database", "ci", "python")}
    assert brute_force_missing(rows, candidates, others, 3) != []


def test_seed_rows_come_first_and_unchanged() -> None:
    candidates = valid_rows(SYNTHETIC_AXES, synthetic_valid)
    default = {**candidates[0]}
    everything = {
        "database": "postgresql",
        "auth": True,
        "redis": True,
        "celery": True,
        "celery_broker": "redis",
        "docker": True,
        "ci": "github",
        "python": "3.12",
    }
    requirements = [Requirement(axes=tuple(SYNTHETIC_AXES), strength=2)]
    rows = covering_array(candidates, requirements, seed_rows=[everything, default, everything])
    assert rows[:2] == [everything, default]
    assert everything not in rows[2:]
    assert default not in rows[2:]
    assert uncovered(rows, candidates, requirements) == set()


def test_seed_row_outside_the_candidates_is_refused() -> None:
    candidates = valid_rows(SYNTHETIC_AXES, synthetic_valid)
    broker_without_redis = {**candidates[0], "celery": True, "celery_broker": "redis"}
    assert broker_without_redis["redis"] is False
    with pytest.raises(ValueError, match="is not among the candidates"):
        covering_array(
            candidates,
            [Requirement(axes=tuple(SYNTHETIC_AXES), strength=2)],
            seed_rows=[broker_without_redis],
        )


def test_requirement_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one axis"):
        Requirement(axes=(), strength=1)
    with pytest.raises(ValueError, match="repeat"):
        Requirement(axes=("a", "a"), strength=2)
    with pytest.raises(ValueError, match="at least 1"):
        Requirement(axes=("a",), strength=0)


def test_row_without_a_required_axis_is_refused() -> None:
    with pytest.raises(ValueError, match="no value for axis 'b'"):
        covering_array([{"a": True}], [Requirement(axes=("a", "b"), strength=2)])


# Run in a child interpreter: the future array as JSON, under the child's own hash seed.
CHILD_ARRAY = (
    "import json\n"
    "from harness.covering import covering_array\n"
    "from test_covering import FUTURE_REQUIREMENTS, future_candidates\n"
    "print(json.dumps(covering_array(future_candidates(), FUTURE_REQUIREMENTS)))\n"
)


def test_deterministic_across_calls_and_hash_seeds() -> None:
    candidates = future_candidates()
    rows = covering_array(candidates, FUTURE_REQUIREMENTS)
    assert covering_array(candidates, FUTURE_REQUIREMENTS) == rows
    outputs = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(TESTS_DIR)}
        child = subprocess.run(
            [sys.executable, "-c", CHILD_ARRAY],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(child.stdout))
    assert outputs == [rows, rows]


def test_future_axes_array_is_complete_small_and_fast() -> None:
    candidates = future_candidates()
    # (redis, celery): none or rabbitmq with either redis, celery on redis with redis = 5, times
    # 2 * 2 * 2 * 2 * 3 * 3 for database, auth, websockets, docker, ci, python.
    assert len(candidates) == 720
    started = time.perf_counter()
    rows = covering_array(candidates, FUTURE_REQUIREMENTS)
    elapsed = time.perf_counter() - started
    print(f"future axes: {len(rows)} rows of {len(candidates)} in {elapsed:.3f} s")
    assert uncovered(rows, candidates, FUTURE_REQUIREMENTS) == set()
    triple_axes = {axis: FUTURE_AXES[axis] for axis in FUTURE_REQUIREMENTS[0].axes}
    assert brute_force_missing(rows, candidates, triple_axes, 3) == []
    assert brute_force_missing(rows, candidates, FUTURE_AXES, 2) == []
    # (database, celery, websockets) alone has 12 valid triples, each needing its own row.
    assert 12 <= len(rows) <= 20
    assert elapsed < 5
