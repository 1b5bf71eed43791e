"""MkDocs hook: the options page, generated from `copier.yml` at build time.

`docs/options.md` holds the prose: one `### `question`` section per question, saying what it
adds. Under each of those headings the hook puts what `copier.yml` says of the question: its
help, type, choices, default (an expression as written), when it is asked, and the messages of
its validator with their conditions. A question without a section, or a section for a question
that `copier.yml` no longer has, is a warning, which `mkdocs build --strict` makes an error.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

OPTIONS_PAGE = "options.md"
QUESTION_HEADING = re.compile(r"^### `([A-Za-z_][A-Za-z0-9_]*)`[ \t]*$", re.MULTILINE)
# A validator's branches: `{%- if CONDITION -%} MESSAGE` and `{%- elif CONDITION -%} MESSAGE`.
VALIDATOR_BRANCH = re.compile(r"{%-?\s*(?:el)?if\s+(.+?)\s*-?%}(.*?)(?={%)", re.DOTALL)
VALIDATOR_IMPORT = re.compile(r"{%-?\s*from\s+\"([^\"]+)\"\s+import\s+(.+?)\s*-?%}")
MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#])")

# Under `mkdocs`, so that `mkdocs build --strict` counts its warnings.
log = logging.getLogger("mkdocs.hooks.options_page")


def load_questions(copier_yml: Path) -> dict[str, dict[str, Any]]:
    """The questions of a `copier.yml` (every key without a leading `_`), in its order."""
    config = yaml.safe_load(copier_yml.read_text(encoding="utf-8"))
    return {
        name: spec if isinstance(spec, dict) else {"default": spec}  # Copier's `name: default`
        for name, spec in config.items()
        if not name.startswith("_")
    }


def render_options_page(
    markdown: str, questions: Mapping[str, Mapping[str, Any]]
) -> tuple[str, list[str]]:
    """The page with each question's facts under its heading, and what is wrong with the prose."""
    problems = []
    seen: list[str] = []
    for match in QUESTION_HEADING.finditer(markdown):
        name = match.group(1)
        if name not in questions:
            problems.append(f"{OPTIONS_PAGE} describes `{name}`, which copier.yml does not ask")
        elif name in seen:
            problems.append(f"{OPTIONS_PAGE} describes `{name}` twice")
        seen.append(name)
    problems += [
        f"copier.yml asks `{name}`, which {OPTIONS_PAGE} does not describe "
        f"(add a `### `{name}`` section)"
        for name in questions
        if name not in seen
    ]

    def with_facts(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in questions:
            return match.group(0)
        return f"{match.group(0)}\n\n{question_facts(questions[name])}\n"

    return QUESTION_HEADING.sub(with_facts, markdown), problems


def question_facts(spec: Mapping[str, Any]) -> str:
    """What `copier.yml` says of one question, as a Markdown list."""
    facts = []
    if spec.get("help"):
        facts.append(f"**Prompt**: {plain(' '.join(str(spec['help']).split()))}")
    facts.append(f"**Type**: {code(question_type(spec))}")
    choices = choice_pairs(spec.get("choices"))
    if choices:
        listed = ", ".join(
            code(value) if label == value else f"{code(value)} ({plain(label)})"
            for label, value in choices
        )
        facts.append(f"**Choices**: {listed}")
    facts.append(f"**Default**: {default_text(spec)}")
    when = spec.get("when", True)
    facts.append(
        "**Asked**: always" if when is True else f"**Asked**: only when {code(when)} is true"
    )
    facts += validator_facts(str(spec.get("validator") or ""))
    return "\n".join(f"- {fact}" for fact in facts)


def question_type(spec: Mapping[str, Any]) -> str:
    """The declared type, or the one Copier infers from the default."""
    if spec.get("type"):
        return str(spec["type"])
    default = spec.get("default")
    for python_type, name in ((bool, "bool"), (int, "int"), (float, "float")):
        if isinstance(default, python_type):
            return name
    return "str"


def choice_pairs(raw: Any) -> list[tuple[str, str]]:
    """(label, value) of each choice: a list of values, or a mapping of labels to values."""
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else ((value, value) for value in raw)
    pairs = []
    for label, value in items:
        if isinstance(value, dict):  # a choice with a validator of its own
            value = value.get("value")
        pairs.append((str(label), yaml_text(value)))
    return pairs


def default_text(spec: Mapping[str, Any]) -> str:
    if "default" not in spec:
        return "none: an answer is required"
    default = spec["default"]
    if isinstance(default, str) and ("{{" in default or "{%" in default):
        return f"{code(default.strip())}, computed from the answers before it"
    return code(yaml_text(default))


def validator_facts(validator: str) -> list[str]:
    """The validator's messages with their conditions, and where imported names come from."""
    if not validator.strip():
        return []
    branches = [
        f"    - when {code(' '.join(condition.split()))}: {plain(' '.join(message.split()))}"
        for condition, message in VALIDATOR_BRANCH.findall(validator)
    ]
    facts = ["**Refused**, with the validator's message:\n" + "\n".join(branches)]
    facts += [
        f"**Names from** {code(source)}: {code(' '.join(names.split()))}"
        for source, names in VALIDATOR_IMPORT.findall(validator)
    ]
    return facts


def yaml_text(value: Any) -> str:
    """A value as `copier.yml` would write it (`true`, not Python's `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def code(text: Any) -> str:
    """An inline code span that holds any text, backticks included."""
    text = str(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def plain(text: str) -> str:
    """Text that Markdown shows as it is."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != OPTIONS_PAGE:
        return markdown
    questions = load_questions(Path(config.config_file_path).parent / "copier.yml")
    rendered, problems = render_options_page(markdown, questions)
    for problem in problems:
        log.warning(problem)
    return rendered
