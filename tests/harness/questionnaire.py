"""Read `copier.yml` and evaluate its questions the way Copier does.

The questionnaire is the single source of truth: the questions, their choices, their defaults,
their `when:` conditions and their validators all come from `copier.yml`. Templated values are
rendered with a Jinja environment configured like Copier's (sandboxed, Ansible filters, the
template's `_envops`, a loader rooted at the repository so `{% from "includes/..." %}` works).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

REPO_ROOT = Path(__file__).resolve().parents[2]
COPIER_YML = REPO_ROOT / "copier.yml"

# Copier's own Jinja extensions (it adds a `yield` tag too, which questions never use).
COPIER_EXTENSIONS = ("jinja2_ansible_filters.AnsibleCoreFiltersExtension",)
_UNDEFINED_CLASSES: dict[str, type[jinja2.Undefined]] = {
    "jinja2.Undefined": jinja2.Undefined,
    "jinja2.StrictUndefined": jinja2.StrictUndefined,
}
_TRUE_WORDS = {"y", "yes", "t", "true", "on"}
_FALSE_WORDS = {"n", "no", "f", "false", "off", "~", "null", "none"}
_NATIVE_TYPES = {"bool", "float", "int", "json", "str", "yaml", "path"}


class QuestionnaireError(Exception):
    """`copier.yml` says something the harness cannot evaluate (a bug in the questionnaire)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def cast_to_bool(value: Any) -> bool:
    """Copier's conversion of a rendered `when:` (or a bool answer) to a bool."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
    try:
        return bool(float(value))
    except (TypeError, ValueError):
        return bool(value)


def cast_answer(type_name: str, value: Any) -> Any:
    """Cast an answer to a question's type, as Copier does before validating it."""
    if type_name == "bool":
        return cast_to_bool(value)
    if type_name == "str":
        return str(value)
    if type_name == "int":
        return int(value)
    if type_name == "float":
        return float(value)
    if type_name == "json" and isinstance(value, str):
        return json.loads(value)
    if type_name == "yaml" and isinstance(value, str):
        return yaml.safe_load(value)
    return value


@dataclass(frozen=True)
class Choice:
    """One option of a choice question. A non-empty rendered `validator` disables it."""

    label: str
    value: Any
    validator: str = ""


@dataclass(frozen=True)
class Question:
    """One question of `copier.yml`, unevaluated."""

    name: str
    type: str
    default: Any = MISSING
    choices: tuple[Choice, ...] = ()
    multiselect: bool = False
    validator: str = ""
    when: Any = True
    secret: bool = False

    @property
    def is_bool(self) -> bool:
        return self.type == "bool"

    @property
    def has_choices(self) -> bool:
        return bool(self.choices)

    @property
    def choice_values(self) -> tuple[Any, ...]:
        return tuple(choice.value for choice in self.choices)

    @property
    def has_validator(self) -> bool:
        return bool(self.validator.strip()) or any(c.validator for c in self.choices)


@dataclass(frozen=True)
class Rejection:
    """Why Copier refuses an answer: a validator's message, a disabled or unknown choice."""

    question: str
    kind: str  # "validator" | "choice" | "required"
    message: str

    @property
    def copier_text(self) -> str:
        """The start of the error Copier raises for it."""
        if self.kind == "choice":
            return f"Invalid choice for '{self.question}': {self.message}"
        if self.kind == "required":
            return f'Question "{self.question}" is required'
        return f"Validation error for question '{self.question}': {self.message}"


@dataclass
class Resolution:
    """The outcome of answering the whole questionnaire with some given data."""

    answers: dict[str, Any] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    rejection: Rejection | None = None

    @property
    def valid(self) -> bool:
        return self.rejection is None


class Questionnaire:
    """The questions of a `copier.yml`, and a Copier-like evaluator for them."""

    def __init__(self, copier_yml: Path = COPIER_YML, root: Path | None = None) -> None:
        self.path = copier_yml
        self.root = root or copier_yml.parent
        self.config = _load_yaml_documents(copier_yml)
        self.settings = {k: v for k, v in self.config.items() if k.startswith("_")}
        self.env = self._make_env()
        self._templates: dict[str, jinja2.Template] = {}
        self.questions = self._parse_questions()
        self.by_name = {question.name: question for question in self.questions}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(question.name for question in self.questions)

    @property
    def answers_file(self) -> str:
        return str(self.settings.get("_answers_file", ".copier-answers.yml"))

    def _make_env(self) -> SandboxedEnvironment:
        envops = dict(self.settings.get("_envops") or {})
        undefined = envops.get("undefined", "jinja2.StrictUndefined")
        if undefined not in _UNDEFINED_CLASSES:
            raise QuestionnaireError(f"_envops.undefined: unsupported value {undefined!r}")
        envops["undefined"] = _UNDEFINED_CLASSES[undefined]
        extensions = [*COPIER_EXTENSIONS, *self.settings.get("_jinja_extensions", [])]
        loader = jinja2.FileSystemLoader(str(self.root))
        return SandboxedEnvironment(loader=loader, extensions=extensions, **envops)

    def _parse_questions(self) -> list[Question]:
        questions = []
        for name, spec in self.config.items():
            if name.startswith("_"):
                continue
            questions.append(self._parse_question(name, spec))
        return questions

    def _parse_question(self, name: str, spec: Any) -> Question:
        if not isinstance(spec, dict):
            spec = {"default": spec}  # Copier's shorthand `name: default`
        default = spec.get("default", MISSING)
        type_name = spec.get("type") or _inferred_type(default)
        if type_name not in _NATIVE_TYPES:
            raise QuestionnaireError(f"question {name!r}: unsupported type {type_name!r}")
        return Question(
            name=name,
            type=type_name,
            default=default,
            choices=self._parse_choices(name, type_name, spec.get("choices")),
            multiselect=bool(spec.get("multiselect", False)),
            validator=str(spec.get("validator") or ""),
            when=spec.get("when", True),
            secret=bool(spec.get("secret", False)),
        )

    def _parse_choices(self, name: str, type_name: str, raw: Any) -> tuple[Choice, ...]:
        if not raw:
            return ()
        if isinstance(raw, str):
            # Templated choices: rendered against the questionnaire's defaults (a static view).
            raw = yaml.safe_load(self.render(raw, {}))
        pairs = list(raw.items()) if isinstance(raw, dict) else raw
        choices = []
        for item in pairs:
            label, value = item if isinstance(item, (list, tuple)) else (item, item)
            validator = ""
            if isinstance(value, dict):
                if "value" not in value:
                    raise QuestionnaireError(f"question {name!r}: choice {label!r} has no value")
                validator = str(value.get("validator") or "")
                value = value["value"]
            rendered = self.render(value, {}) if isinstance(value, str) else value
            choices.append(Choice(str(label), cast_answer(type_name, rendered), validator))
        return tuple(choices)

    # ---- evaluation -------------------------------------------------------------------------

    def render(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Render a templated value; non-strings are returned as they are (like Copier)."""
        if not isinstance(value, str):
            return value
        template = self._templates.get(value)
        if template is None:
            template = self.env.from_string(value)
            self._templates[value] = template
        return template.render(dict(context))

    def is_asked(self, question: Question, context: Mapping[str, Any]) -> bool:
        """Evaluate `when:`; a question whose `when` is false takes its default, unrecorded."""
        try:
            return cast_to_bool(self.render(question.when, context))
        except jinja2.TemplateError as error:
            raise QuestionnaireError(
                f"question {question.name!r}: `when` fails: {error}"
            ) from error

    def default_of(self, question: Question, context: Mapping[str, Any]) -> Any:
        if question.default is MISSING:
            return MISSING
        try:
            value = self.render(question.default, context)
        except jinja2.TemplateError as error:
            raise QuestionnaireError(
                f"question {question.name!r}: `default` fails: {error}"
            ) from error
        return cast_answer(question.type, value)

    def rejection(
        self, question: Question, answer: Any, context: Mapping[str, Any]
    ) -> Rejection | None:
        """How Copier would reject `answer`, or None if it is accepted."""
        if question.has_choices:
            message = self._choice_error(question, answer, context)
            if message:
                return Rejection(question.name, "choice", message)
        if not question.validator:
            return None
        try:
            message = str(self.render(question.validator, {**context, question.name: answer}))
        except Exception as error:  # Copier turns any render error into a message
            message = str(error)
        message = message.strip()
        return Rejection(question.name, "validator", message) if message else None

    def _choice_error(self, question: Question, answer: Any, context: Mapping[str, Any]) -> str:
        """Copier's `Invalid choice` detail: the disabled choice's message, or the valid ones."""
        valid = []
        for choice in question.choices:
            disabled = str(self.render(choice.validator, context)).strip()
            if choice.value == answer:
                return disabled
            if not disabled:
                valid.append(choice.value)
        return f"{answer!r} is not in {valid}"

    def resolve(self, given: Mapping[str, Any]) -> Resolution:
        """Answer every question as `copier copy --defaults --data ...` would."""
        result = Resolution()
        for question in self.questions:
            context = {**given, **result.answers}
            asked = self.is_asked(question, context)
            if asked and question.name in given:
                answer = cast_answer(question.type, given[question.name])
            else:
                answer = self.default_of(question, context)
            if not asked:
                result.hidden.add(question.name)
            if answer is MISSING:
                if asked:
                    result.rejection = Rejection(question.name, "required", "no answer")
                    return result
                continue
            rejection = self.rejection(question, answer, context) if asked else None
            if rejection:
                result.rejection = rejection
                return result
            result.answers[question.name] = answer
        return result

    def recorded_answers(self, resolution: Resolution) -> dict[str, Any]:
        """What the answers file should record: asked, non-secret questions."""
        return {
            name: value
            for name, value in resolution.answers.items()
            if name not in resolution.hidden and not self.by_name[name].secret
        }

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)


def _inferred_type(default: Any) -> str:
    """Copier infers a missing `type` from the default's Python type."""
    name = type(default).__name__
    return name if name in _NATIVE_TYPES else "yaml"


def _load_yaml_documents(path: Path) -> dict[str, Any]:
    """Copier merges every YAML document of `copier.yml` into one mapping."""
    merged: dict[str, Any] = {}
    with path.open(encoding="utf-8") as stream:
        for document in yaml.safe_load_all(stream):
            if document:
                merged.update(document)
    return merged
