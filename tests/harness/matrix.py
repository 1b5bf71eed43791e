"""The valid combinations of answers, derived from `copier.yml` alone.

Feature axes are every question with `choices` or `type: bool`, except `python_version`, which is
the interpreter axis. Identity questions get fixed sample answers. Every candidate combination is
answered as Copier would (`when:` false -> the default, unrecorded; a validator's message -> the
combination is invalid), and the distinct valid outcomes are the variants.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from .questionnaire import Question, Questionnaire, Rejection, Resolution

PYTHON_QUESTION = "python_version"

# Fixed answers for the identity questions (everything that is not an axis). Questions without a
# sample answer take their (possibly derived) default, so slug and package name stay derived.
SAMPLE_ANSWERS: Mapping[str, Any] = {
    "project_name": "Order Service",
    "description": "Takes orders and tracks them until delivery.",
    "author_name": "Order Team",
    "author_email": "orders@example.com",
}


@dataclass(frozen=True)
class Combination:
    """One valid set of answers: what is passed to Copier and what Copier should end with."""

    features: tuple[tuple[str, Any], ...]  # axis -> effective value, questionnaire order
    python: str
    name: str
    data: Mapping[str, Any]  # the `data=` for copier.run_copy
    answers: Mapping[str, Any]  # every answer, derived ones included
    recorded: Mapping[str, Any]  # what the answers file must hold

    @property
    def feature_answers(self) -> dict[str, Any]:
        return dict(self.features)

    @property
    def id(self) -> str:
        return f"{self.name}@py{self.python}"


@dataclass(frozen=True)
class InvalidCombination:
    """A candidate combination that the questionnaire refuses, and how."""

    data: Mapping[str, Any]
    rejection: Rejection

    @property
    def label(self) -> str:
        wanted = ",".join(f"{k}={v}" for k, v in self.data.items() if k not in SAMPLE_ANSWERS)
        return f"{self.rejection.question}: {wanted}"


@dataclass(frozen=True)
class VariantRun:
    """A combination to render and check on one interpreter."""

    combination: Combination
    roles: tuple[str, ...]  # "default", "all-features" (on that interpreter)

    @property
    def name(self) -> str:
        return self.combination.name

    @property
    def python(self) -> str:
        return self.combination.python

    @property
    def id(self) -> str:
        return self.combination.id


class Matrix:
    """The valid and invalid combinations of one questionnaire."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.questionnaire = questionnaire
        if PYTHON_QUESTION not in questionnaire.by_name:
            raise ValueError(f"copier.yml has no {PYTHON_QUESTION!r} question")
        self.python_question = questionnaire.by_name[PYTHON_QUESTION]
        self.axes = [q for q in questionnaire if _is_axis(q) and q.name != PYTHON_QUESTION]
        self.valid, self.invalid = self._enumerate()

    # ---- the axes -----------------------------------------------------------------------------

    @property
    def default_python(self) -> str:
        return str(self.questionnaire.default_of(self.python_question, SAMPLE_ANSWERS))

    @property
    def pythons(self) -> tuple[str, ...]:
        return tuple(str(value) for value in self.python_question.choice_values)

    @cached_property
    def _default_context(self) -> dict[str, Any]:
        # A default may name earlier answers (celery_broker's names redis): theirs, by default.
        return {**SAMPLE_ANSWERS, **self.questionnaire.resolve(SAMPLE_ANSWERS).answers}

    def axis_values(self, question: Question) -> list[Any]:
        """The values of an axis, its default first."""
        default = self.questionnaire.default_of(question, self._default_context)
        values = [False, True] if question.is_bool else list(question.choice_values)
        if question.multiselect:
            raise NotImplementedError(f"{question.name}: multiselect axes are not enumerated yet")
        return sorted(values, key=lambda value: value != default)

    def defaults(self) -> dict[str, Any]:
        return {q.name: self.axis_values(q)[0] for q in self.axes}

    def minimal_answers(self) -> dict[str, Any]:
        """Every bool off, every choice at its default: the base each feature is added to."""
        defaults = self.defaults()
        return {q.name: False if q.is_bool else defaults[q.name] for q in self.axes}

    def wished_all_features(self) -> dict[str, Any]:
        """Every bool on, every choice at its first non-default value."""
        wished = {}
        for question in self.axes:
            values = self.axis_values(question)
            wished[question.name] = True if question.is_bool else values[min(1, len(values) - 1)]
        return wished

    # ---- enumeration --------------------------------------------------------------------------

    def _enumerate(self) -> tuple[list[Combination], list[InvalidCombination]]:
        valid: dict[tuple[Any, ...], Combination] = {}
        invalid: list[InvalidCombination] = []
        axes = [*self.axes, self.python_question]
        for values in itertools.product(*(self.axis_values(q) for q in axes)):
            given = {**SAMPLE_ANSWERS, **{q.name: v for q, v in zip(axes, values, strict=True)}}
            resolution = self.questionnaire.resolve(given)
            if resolution.rejection is not None:
                invalid.append(InvalidCombination(given, resolution.rejection))
                continue
            combination = self._combination(resolution)
            valid.setdefault((*combination.features, combination.python), combination)
        return list(valid.values()), invalid

    def _combination(self, resolution: Resolution) -> Combination:
        answers, defaults = resolution.answers, self.defaults()
        # A question that is not asked counts as its axis default, whatever its default derives
        # to: celery_broker follows redis, but without celery there is no broker to tell apart.
        features = tuple(
            (q.name, defaults[q.name] if q.name in resolution.hidden else answers.get(q.name))
            for q in self.axes
        )
        return Combination(
            features=features,
            python=str(answers[PYTHON_QUESTION]),
            name=self.variant_name(dict(features)),
            data=self._render_data(resolution),
            answers=dict(answers),
            recorded=self.questionnaire.recorded_answers(resolution),
        )

    def _render_data(self, resolution: Resolution) -> dict[str, Any]:
        """Samples (for the questions this copier.yml has) plus every asked axis answer; a
        question whose `when` is false gets no data."""
        names = set(self.questionnaire.names) - resolution.hidden
        data = {k: v for k, v in SAMPLE_ANSWERS.items() if k in names}
        for question in [*self.axes, self.python_question]:
            if question.name not in resolution.hidden and question.name in resolution.answers:
                data[question.name] = resolution.answers[question.name]
        return data

    def variant_name(self, features: Mapping[str, Any]) -> str:
        """`default`, or the non-default answers: `auth`, `no-docker`, `database=postgresql`."""
        defaults = self.defaults()
        parts = []
        for question in self.axes:
            value = features.get(question.name, defaults[question.name])
            if value == defaults[question.name]:
                continue
            if question.is_bool:
                parts.append(question.name if value else f"no-{question.name}")
            else:
                parts.append(f"{question.name}={value}")
        return ",".join(parts) or "default"

    # ---- the variants to run ------------------------------------------------------------------

    def closest(
        self, wished: Mapping[str, Any], python: str, fixed: Mapping[str, Any] | None = None
    ) -> Combination | None:
        """The valid combination on `python` matching most wished answers (earlier ones win),
        among those that hold every `fixed` answer."""
        candidates = [
            c
            for c in self.valid
            if c.python == python
            and all(c.feature_answers.get(k) == v for k, v in (fixed or {}).items())
        ]
        if not candidates:
            return None

        def score(combination: Combination) -> tuple[int, tuple[bool, ...]]:
            hits = tuple(value == wished.get(name) for name, value in combination.features)
            return sum(hits), hits

        return max(candidates, key=score)

    def default_variant(self, python: str | None = None) -> Combination | None:
        return self.closest(self.defaults(), python or self.default_python)

    def all_features_variant(self, python: str | None = None) -> Combination | None:
        return self.closest(self.wished_all_features(), python or self.default_python)

    def invalid_by_reason(self) -> list[InvalidCombination]:
        """One invalid combination per distinct (question, kind, message)."""
        seen: dict[tuple[str, str, str], InvalidCombination] = {}
        for item in self.invalid:
            rejection = item.rejection
            seen.setdefault((rejection.question, rejection.kind, rejection.message), item)
        return list(seen.values())


def _is_axis(question: Question) -> bool:
    return question.has_choices or question.is_bool


@cache
def load_matrix() -> Matrix:
    """The matrix of this repository's `copier.yml` (computed once per process)."""
    return Matrix(Questionnaire())
