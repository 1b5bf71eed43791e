"""The questionnaire through real Copier: validators, derived defaults, choices, unknown keys.

Every question with a validator needs bad-input cases here (or an invalid combination in the
matrix that its validator rejects); `test_every_validator_has_bad_cases` enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import zip_longest
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from harness.commands import run_command
from harness.matrix import SAMPLE_ANSWERS, InvalidCombination, load_matrix
from harness.questionnaire import REPO_ROOT, Questionnaire
from harness.render import UnknownQuestionError, render

pytestmark = pytest.mark.quick

# question -> [(bad answer, a piece of the validator's message)]
BAD_INPUTS: Mapping[str, list[tuple[Any, str]]] = {
    "project_name": [
        ("", "Must not be empty"),
        ("   ", "Must not be empty"),
        ("A" * 81, "at most 80 characters"),
        ("1st Service", "Must start with a letter"),
        ("Order/Service", "Only letters, digits"),
    ],
    "project_slug": [
        ("Order-Service", "kebab-case"),
        ("order--service", "kebab-case"),
        ("-order", "kebab-case"),
        ("order_service", "kebab-case"),
        ("1-order", "kebab-case"),
        ("order-" + "x" * 35, "at most 40 characters"),
    ],
    "package_name": [
        ("OrderService", "snake_case"),
        ("1order", "snake_case"),
        ("order-service", "snake_case"),
        ("class", "Python keyword"),
        ("json", "standard library"),
        ("fastapi", "project dependency"),
        ("order_" + "x" * 35, "at most 40 characters"),
    ],
    "description": [
        ("two\nlines", "single line"),
        ("x" * 201, "at most 200 characters"),
    ],
    "author_name": [
        ("", "Must not be empty"),
        ('Say "hi"', "without double quotes"),
        ("two\nlines", "One line"),
    ],
    "author_email": [
        ("not-an-email", "an email like"),
        ("team@localhost", "an email like"),
        ("a b@example.com", "an email like"),
    ],
}

# The width Copier's one-line validation toolbar must fit in.
PROMPT_COLUMNS = 80

# question -> answers that must be accepted (rendered together, one value per question a time)
GOOD_INPUTS: Mapping[str, list[Any]] = {
    "project_name": ["Order Service", "A", "Billing API v2.0", "N" * 80, "Stock_Keeper-3"],
    "project_slug": ["order-service", "a", "billing-api-v2", "x1-y2-z3"],
    "package_name": ["order_service", "_private", "billing_api2", "a"],
    "description": ["", "Ça marche: orders, refunds & more.", "d" * 200],
    "author_name": ["Ada Lovelace", "O'Brien & Co.", "Équipe Paiements"],
    "author_email": ["team@example.com", "first.last+tag@sub.example.co.uk"],
}

# project_name -> (derived project_slug, derived package_name)
DERIVED: Mapping[str, tuple[str, str]] = {
    "Order Service": ("order-service", "order_service"),
    "My.API_Service 2": ("my-api-service-2", "my_api_service_2"),
    "Billing--API  v2": ("billing-api-v2", "billing_api_v2"),
    "X": ("x", "x"),
}


def _bad_cases() -> list[object]:
    return [
        pytest.param(question, value, message, id=f"{question}-{index}")
        for question, cases in BAD_INPUTS.items()
        for index, (value, message) in enumerate(cases)
    ]


def _render_answers(data: Mapping[str, Any], dst: Path) -> dict[str, Any]:
    render(data, dst)
    answers: dict[str, Any] = yaml.safe_load((dst / Questionnaire().answers_file).read_text())
    return answers


def _assert_rejected(
    data: Mapping[str, Any], dst: Path, expected: str, template: Path = REPO_ROOT
) -> None:
    """Copier refuses `data` with `expected` in its message, and leaves nothing on disk."""
    questionnaire = Questionnaire(template / "copier.yml")
    with pytest.raises(Exception) as caught:  # noqa: PT011 - Copier raises plain ValueError
        render(data, dst, questionnaire, template)
    assert expected in str(caught.value), f"unexpected error: {caught.value}"
    leftovers = list(dst.iterdir()) if dst.exists() else []
    assert not leftovers, f"a refused copy left files behind: {leftovers}"


@pytest.mark.parametrize(("question", "value", "message"), _bad_cases())
def test_validator_rejects_bad_input(
    questionnaire: Questionnaire, question: str, value: Any, message: str, tmp_path: Path
) -> None:
    data = {**SAMPLE_ANSWERS, question: value}
    resolution = questionnaire.resolve(data)
    rejection = resolution.rejection
    assert rejection is not None, f"the harness's evaluator accepts {question}={value!r}"
    assert (rejection.question, rejection.kind) == (question, "validator")
    assert message in rejection.message
    _assert_rejected(data, tmp_path / "out", rejection.copier_text)


@pytest.mark.parametrize(("question", "value", "message"), _bad_cases())
def test_validator_messages_fit_an_80_column_prompt(
    questionnaire: Questionnaire, question: str, value: Any, message: str
) -> None:
    """Copier's prompt shows "Validation error for question '<name>': <message>" on one
    80-column line and cuts the rest; the name is already there, so the message omits it."""
    rejection = questionnaire.resolve({**SAMPLE_ANSWERS, question: value}).rejection
    assert rejection is not None
    assert len(rejection.copier_text) <= PROMPT_COLUMNS, rejection.copier_text
    assert question not in rejection.message


def test_every_validator_has_bad_cases(questionnaire: Questionnaire) -> None:
    covered = set(BAD_INPUTS) | {item.rejection.question for item in load_matrix().invalid}
    validated = {q.name for q in questionnaire if q.has_validator}
    uncovered = sorted(validated - covered)
    assert not uncovered, (
        f"{uncovered} have a validator but no bad-input case: "
        "add cases to BAD_INPUTS in tests/test_questionnaire.py"
    )
    stale = sorted(set(BAD_INPUTS) - validated)
    assert not stale, f"BAD_INPUTS has cases for questions without a validator: {stale}"


def _good_rounds() -> list[object]:
    columns = [[(q, v) for v in values] for q, values in GOOD_INPUTS.items()]
    rounds = [dict(pair for pair in row if pair) for row in zip_longest(*columns)]
    return [pytest.param(data, id=f"round{i}") for i, data in enumerate(rounds)]


@pytest.mark.parametrize("good", _good_rounds())
def test_good_inputs_accepted(
    questionnaire: Questionnaire, good: dict[str, Any], tmp_path: Path
) -> None:
    data = {**SAMPLE_ANSWERS, **good}
    resolution = questionnaire.resolve(data)
    assert resolution.rejection is None, resolution.rejection
    answers = _render_answers(data, tmp_path / "out")
    assert {k: answers[k] for k in good} == good


@pytest.mark.parametrize(("name", "expected"), DERIVED.items())
def test_derived_defaults(
    questionnaire: Questionnaire, name: str, expected: tuple[str, str], tmp_path: Path
) -> None:
    answers = _render_answers({"project_name": name}, tmp_path / "out")
    assert (answers["project_slug"], answers["package_name"]) == expected
    derived = questionnaire.resolve({"project_name": name}).answers
    assert (derived["project_slug"], derived["package_name"]) == expected


def _choice_questions() -> list[str]:
    return [q.name for q in Questionnaire() if q.has_choices]


@pytest.mark.parametrize("question", _choice_questions())
def test_invalid_choice_rejected(question: str, tmp_path: Path) -> None:
    data = {**SAMPLE_ANSWERS, question: "not-a-choice"}
    _assert_rejected(data, tmp_path / "out", f"Invalid choice for '{question}'")


# A template whose answers constrain each other, so that the refusal of an invalid combination is
# checked against real Copier even while copier.yml itself has no such constraint.
SYNTHETIC_COPIER_YML = """\
project_name:
  type: str
broker:
  type: bool
  default: false
embedded:
  type: bool
  default: false
  validator: "{% if embedded and broker %}an embedded service runs no broker{% endif %}"
"""
SYNTHETIC = "synthetic"


def _invalid_combinations() -> list[object]:
    """One per refusal reason of copier.yml, and always the synthetic template's."""
    real = [
        pytest.param(REPO_ROOT, item, id=item.label) for item in load_matrix().invalid_by_reason()
    ]
    return [*real, pytest.param(SYNTHETIC, None, id="synthetic: embedded and broker")]


def _synthetic_template(root: Path) -> tuple[Path, InvalidCombination]:
    root.mkdir()
    (root / "copier.yml").write_text(SYNTHETIC_COPIER_YML)
    (root / "README.md.jinja").write_text("{{ project_name }}\n")
    matrix_data = {"project_name": "Order Service", "broker": True, "embedded": True}
    rejection = Questionnaire(root / "copier.yml").resolve(matrix_data).rejection
    assert rejection is not None, "the harness's evaluator accepts embedded with a broker"
    assert rejection.message == "an embedded service runs no broker"
    return root, InvalidCombination(matrix_data, rejection)


@pytest.mark.parametrize(("template", "combination"), _invalid_combinations())
def test_invalid_combination_rejected(
    template: Path | str, combination: InvalidCombination | None, tmp_path: Path
) -> None:
    if template == SYNTHETIC:
        template, combination = _synthetic_template(tmp_path / "template")
    assert isinstance(template, Path)
    assert combination is not None
    _assert_rejected(
        combination.data, tmp_path / "out", combination.rejection.copier_text, template
    )


def test_unknown_data_key_rejected_before_copier(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    with pytest.raises(UnknownQuestionError, match=r"'datbase' \(did you mean 'database'\?\)"):
        render({**SAMPLE_ANSWERS, "datbase": "postgresql"}, dst)
    assert not dst.exists(), "the render helper must refuse before Copier creates anything"


def test_defaults_render_and_record_answers(questionnaire: Questionnaire, tmp_path: Path) -> None:
    answers = _render_answers({"project_name": "Order Service"}, tmp_path / "out")
    expected = questionnaire.recorded_answers(
        questionnaire.resolve({"project_name": "Order Service"})
    )
    assert {k: v for k, v in answers.items() if not k.startswith("_")} == expected
    assert answers["_src_path"] == str(questionnaire.root)


def test_render_uses_the_working_tree_with_uncommitted_changes(tmp_path: Path) -> None:
    """`vcs_ref="HEAD"` must render what is on disk, not only what is committed."""
    clone = tmp_path / "template"
    result = run_command(["git", "clone", "-q", str(REPO_ROOT), str(clone)], tmp_path)
    assert result.ok, result.describe()
    (clone / "template" / "uncommitted.txt.jinja").write_text("{{ project_name }}\n")
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nEdited, not committed.\n")
    dst = render(SAMPLE_ANSWERS, tmp_path / "out", Questionnaire(clone / "copier.yml"), clone)
    assert (dst / "uncommitted.txt").read_text() == "Order Service\n"
    assert "Edited, not committed." in (dst / "README.md").read_text()


@pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")
@pytest.mark.parametrize(
    ("database", "step"),
    [("sqlite", "git init -q && uv lock"), ("postgresql", "createdb -h localhost -U postgres")],
)
def test_next_steps_after_copy(
    database: str, step: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copier's closing message: commit the lock file first; create the PostgreSQL database."""
    dst = tmp_path / "out"
    copier.run_copy(
        str(REPO_ROOT),
        str(dst),
        data={**SAMPLE_ANSWERS, "database": database},
        defaults=True,
        vcs_ref="HEAD",
        quiet=False,
    )

    message = capsys.readouterr().err
    assert f"cd {dst}\n  git init -q && uv lock && git add -A && git commit" in message
    assert step in message
    assert "copier update --defaults" in message
