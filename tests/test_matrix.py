"""The matrix itself: derived from copier.yml, deduplicated, named, with the right variants.

The last tests use a small synthetic questionnaire (written to a temporary folder) with the
constructs later features bring: bool questions, `when:` and a validator between answers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from harness.matrix import PYTHON_QUESTION, SAMPLE_ANSWERS, Matrix, load_matrix
from harness.questionnaire import Questionnaire
from harness.render import UnknownQuestionError, check_data_keys

pytestmark = pytest.mark.quick


def test_default_variant_is_all_defaults() -> None:
    matrix = load_matrix()
    default = matrix.default_variant()
    assert default is not None, f"the default answers are refused: {matrix.invalid[:1]}"
    assert default.name == "default"
    assert default.feature_answers == matrix.defaults()
    assert default.python == matrix.default_python


def _misses_and_unforced(matrix: Matrix) -> tuple[list[str], list[str]]:
    """The axes where all-features differs from the wish, and those of them that nothing forces:
    answering the wish there (all else equal) is neither refused nor hidden by `when:`."""
    all_features = matrix.all_features_variant()
    assert all_features is not None
    assert all_features in matrix.valid
    wished = matrix.wished_all_features()
    misses = [name for name, value in all_features.features if value != wished[name]]
    unforced = []
    for name in misses:
        flipped = {
            **SAMPLE_ANSWERS,
            **all_features.feature_answers,
            name: wished[name],
            PYTHON_QUESTION: all_features.python,
        }
        resolution = matrix.questionnaire.resolve(flipped)
        if resolution.rejection is None and name not in resolution.hidden:
            unforced.append(name)
    return misses, unforced


def test_all_features_variant_misses_only_what_a_constraint_forces() -> None:
    misses, unforced = _misses_and_unforced(load_matrix())
    assert not unforced, f"all-features differs from the wish on {unforced}, which is allowed"
    assert set(misses) <= {q.name for q in load_matrix().axes}


def test_every_option_is_exercised() -> None:
    matrix = load_matrix()
    for question in matrix.axes:
        seen = {c.feature_answers[question.name] for c in matrix.valid}
        missing = [v for v in matrix.axis_values(question) if v not in seen]
        assert not missing, f"{question.name}: {missing} occur in no valid combination"


def test_variant_names_unique_and_data_are_questions() -> None:
    matrix = load_matrix()
    ids = [c.id for c in matrix.valid]
    assert len(ids) == len(set(ids)), ids
    for combination in matrix.valid:
        check_data_keys(combination.data, matrix.questionnaire)


def test_python_version_is_the_interpreter_axis_not_a_feature() -> None:
    matrix = load_matrix()
    assert PYTHON_QUESTION not in {q.name for q in matrix.axes}
    assert matrix.default_python in matrix.pythons


def test_unknown_key_check_names_the_questions() -> None:
    with pytest.raises(UnknownQuestionError, match="the questions are: project_name"):
        check_data_keys({"nope": 1}, load_matrix().questionnaire)


# ---- a synthetic questionnaire with the constructs of later features ---------------------------

SYNTHETIC = """
    _envops:
      undefined: jinja2.StrictUndefined
    project_name:
      type: str
    python_version:
      type: str
      choices: ["3.12", "3.13"]
      default: "3.12"
    redis:
      type: bool
      default: false
    celery:
      type: bool
      default: false
      validator: "{% if celery and not redis %}celery needs redis as its broker{% endif %}"
    beat:
      type: bool
      default: false
      when: "{{ celery }}"
    ci:
      type: str
      choices:
        None: none
        GitHub Actions: github
        GitLab CI: gitlab
      default: none
"""


@pytest.fixture
def synthetic(tmp_path: Path) -> Matrix:
    path = tmp_path / "copier.yml"
    path.write_text(textwrap.dedent(SYNTHETIC))
    return Matrix(Questionnaire(path))


def test_synthetic_when_false_takes_default_and_dedupes(synthetic: Matrix) -> None:
    on_312 = [c for c in synthetic.valid if c.python == "3.12"]
    # redis x celery (3 valid pairs) x beat (only with celery) x ci: (1 + 1 + 2) * 3
    assert len(on_312) == 12
    no_celery = [c for c in on_312 if not c.feature_answers["celery"]]
    assert all(c.feature_answers["beat"] is False for c in no_celery)
    assert all("beat" not in c.data and "beat" not in c.recorded for c in no_celery)


def test_synthetic_validator_makes_combinations_invalid(synthetic: Matrix) -> None:
    reasons = {(i.rejection.question, i.rejection.message) for i in synthetic.invalid}
    assert reasons == {("celery", "celery needs redis as its broker")}
    assert len(synthetic.invalid_by_reason()) == 1
    assert all(i.data["celery"] and not i.data["redis"] for i in synthetic.invalid)


def test_synthetic_names_and_special_variants(synthetic: Matrix) -> None:
    everything = synthetic.all_features_variant()
    assert everything is not None
    assert everything.name == "redis,celery,beat,ci=github"
    assert synthetic.variant_name({"redis": True, "celery": False, "ci": "gitlab"}) == (
        "redis,ci=gitlab"
    )


def test_synthetic_render_data_holds_only_its_questions(synthetic: Matrix) -> None:
    """Sample answers for questions this copier.yml does not have are not passed to Copier."""
    for combination in synthetic.valid:
        check_data_keys(combination.data, synthetic.questionnaire)
    everything = synthetic.all_features_variant()
    assert everything is not None
    assert dict(everything.data) == {
        "project_name": SAMPLE_ANSWERS["project_name"],
        "python_version": "3.12",
        "redis": True,
        "celery": True,
        "beat": True,
        "ci": "github",
    }


# Two features that exclude each other: all-features cannot have both.
CONFLICTING = """
    project_name:
      type: str
    python_version:
      type: str
      choices: ["3.12"]
      default: "3.12"
    broker:
      type: bool
      default: false
    embedded:
      type: bool
      default: false
      validator: "{% if embedded and broker %}an embedded service runs no broker{% endif %}"
"""


def test_synthetic_all_features_gives_up_only_the_refused_answer(tmp_path: Path) -> None:
    path = tmp_path / "copier.yml"
    path.write_text(textwrap.dedent(CONFLICTING))
    matrix = Matrix(Questionnaire(path))
    everything = matrix.all_features_variant()
    assert everything is not None
    assert everything.name == "broker"  # the earlier question wins; embedded is refused with it
    assert _misses_and_unforced(matrix) == (["embedded"], [])
