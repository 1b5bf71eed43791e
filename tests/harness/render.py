"""Render the template with Copier, the way a user would (`copier copy --defaults --data ...`)."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
from copier.errors import DirtyLocalWarning

from .questionnaire import REPO_ROOT, Questionnaire


class UnknownQuestionError(KeyError):
    """`data` names something that is not a question of `copier.yml`."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_data_keys(data: Mapping[str, Any], questionnaire: Questionnaire) -> None:
    """Raise for any data key that is not a question (Copier itself would silently ignore it)."""
    unknown = sorted(set(data) - set(questionnaire.names))
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, questionnaire.names, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UnknownQuestionError(
        f"not a question of copier.yml: {', '.join(hints)}; "
        f"the questions are: {', '.join(questionnaire.names)}"
    )


def render(
    data: Mapping[str, Any],
    dst: Path,
    questionnaire: Questionnaire | None = None,
    template: Path = REPO_ROOT,
) -> Path:
    """Render the working tree of the template into `dst` (new, or holding only caches).

    `vcs_ref="HEAD"` makes Copier render the working tree: with uncommitted changes it clones
    the repository and commits them in the clone (a `DirtyLocalWarning`, expected while editing).
    """
    check_data_keys(data, questionnaire or Questionnaire(template / "copier.yml"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(template.resolve()),
            str(dst),
            data=dict(data),
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=False,
        )
    return dst
