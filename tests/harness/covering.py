"""Covering arrays: few valid combinations that still meet every required t-tuple of answers.

The harness renders each valid combination of the questionnaire's answers. Once the axes
multiply into more distinct projects than a run can afford, it renders a covering array instead:
a subset of the valid combinations (rows) in which every required tuple of axis values occurs in
at least one row, e.g. every pair of answers, and every triple of the answers that interact most.
Most bugs depend on two or three answers at once, so the array finds them at a fraction of the
cost.

Only tuples that occur in some valid combination are required: a tuple a validator or `when:`
forbids cannot be rendered, so it is not asked for, and since every row is a candidate, no row
breaks a constraint.

The result is deterministic (candidate order breaks every tie and no decision depends on set
order or hash seeds), so a committed array can be regenerated and compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]  # axis name -> value
AxisTuple = tuple[tuple[str, Any], ...]  # (axis, value) pairs, sorted by axis name


@dataclass(frozen=True)
class Requirement:
    """Every `strength`-subset of `axes` must have each of its valid value tuples in some row.

    A strength of at least len(axes) asks for the full product of these axes (its valid tuples).
    """

    axes: tuple[str, ...]
    strength: int

    def __post_init__(self) -> None:
        if not self.axes:
            raise ValueError("a requirement needs at least one axis")
        if len(set(self.axes)) != len(self.axes):
            raise ValueError(f"requirement axes repeat an axis: {self.axes!r}")
        if self.strength < 1:
            raise ValueError(f"requirement strength must be at least 1, not {self.strength}")

    def axis_subsets(self) -> list[tuple[str, ...]]:
        """The axis subsets this requirement covers, each sorted by axis name."""
        return list(itertools.combinations(sorted(self.axes), min(self.strength, len(self.axes))))


def required_tuples(
    candidates: Sequence[Row], requirements: Sequence[Requirement]
) -> set[AxisTuple]:
    """Every tuple some requirement asks for that occurs in at least one candidate.

    A tuple no valid combination has (a constraint forbids it) is not required.
    """
    subsets = _axis_subsets(requirements)
    return {key for candidate in candidates for key in _row_tuples(candidate, subsets)}


def covering_array(
    candidates: Sequence[Row],
    requirements: Sequence[Requirement],
    seed_rows: Sequence[Row] = (),
) -> list[Row]:
    """A subset of `candidates` covering every required tuple, seed rows first in their order.

    `candidates` are the valid combinations in a stable order; each seed row must equal one of
    them (a repeated seed row is taken once). After the seeds, the greedy step repeatedly takes
    the candidate covering the most still-uncovered tuples, the earliest candidate on a tie.
    """
    subsets = _axis_subsets(requirements)
    # Each tuple gets a bit, numbered in order of first occurrence, so a candidate's tuples are one
    # int and its gain is a popcount.
    tuple_bits: dict[AxisTuple, int] = {}
    masks: list[int] = []
    for candidate in candidates:
        mask = 0
        for key in _row_tuples(candidate, subsets):
            mask |= 1 << tuple_bits.setdefault(key, len(tuple_bits))
        masks.append(mask)

    uncovered_mask = (1 << len(tuple_bits)) - 1
    chosen = _seed_indices(candidates, seed_rows)
    for index in chosen:
        uncovered_mask &= ~masks[index]
    # Every required tuple occurs in some candidate, so each step covers at least one more.
    while uncovered_mask:
        best = _best_candidate(masks, uncovered_mask)
        chosen.append(best)
        uncovered_mask &= ~masks[best]
    return [candidates[index] for index in chosen]


def uncovered(
    rows: Sequence[Row], candidates: Sequence[Row], requirements: Sequence[Requirement]
) -> set[AxisTuple]:
    """Required tuples that no row covers: empty for a complete array."""
    subsets = _axis_subsets(requirements)
    covered = {key for row in rows for key in _row_tuples(row, subsets)}
    return required_tuples(candidates, requirements) - covered


def _axis_subsets(requirements: Sequence[Requirement]) -> list[tuple[str, ...]]:
    """Every axis subset some requirement asks for, once each, in requirement order."""
    subsets = (subset for requirement in requirements for subset in requirement.axis_subsets())
    return list(dict.fromkeys(subsets))


def _row_tuples(row: Row, subsets: Sequence[tuple[str, ...]]) -> list[AxisTuple]:
    try:
        return [tuple((axis, row[axis]) for axis in subset) for subset in subsets]
    except KeyError as missing:
        raise ValueError(f"row {dict(row)!r} has no value for axis {missing}") from None


def _row_key(row: Row) -> AxisTuple:
    """A hashable identity for a row, independent of its key order."""
    return tuple(sorted(row.items(), key=lambda item: item[0]))


def _seed_indices(candidates: Sequence[Row], seed_rows: Sequence[Row]) -> list[int]:
    first_index: dict[AxisTuple, int] = {}
    for index, candidate in enumerate(candidates):
        first_index.setdefault(_row_key(candidate), index)
    indices: list[int] = []
    for seed in seed_rows:
        seed_index = first_index.get(_row_key(seed))
        if seed_index is None:
            raise ValueError(
                f"seed row {dict(seed)!r} is not among the candidates (not a valid combination)"
            )
        if seed_index not in indices:
            indices.append(seed_index)
    return indices


def _best_candidate(masks: Sequence[int], uncovered_mask: int) -> int:
    """The candidate covering the most uncovered tuples; max() keeps the first on a tie."""
    return max(range(len(masks)), key=lambda index: (masks[index] & uncovered_mask).bit_count())
