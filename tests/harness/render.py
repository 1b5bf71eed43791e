"""Render the template with Copier, the way a user would (`copier copy --defaults --data ...`)."""

from __future__ import annotations

import difflib
import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
from copier._main import Worker
from copier._template import Template
from copier.errors import DirtyLocalWarning
from jinja2.sandbox import SandboxedEnvironment

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


class TemplateSnapshot:
    """One clone of the template's working tree, rendered many times in this process.

    `render()` above clones the template and builds a Jinja environment for every project: a
    render costs 0.55 s on a quiet machine, 2 s on a busy one. A snapshot clones once, shares
    one Jinja environment (it holds no answers: they are the render context) whose compiled
    strings it keeps, and skips Copier's per-file `git config` probe of the destination, a
    no-op outside a git repository. A render then costs about 60 ms. It reaches into Copier's
    `Worker` (pinned in pyproject.toml); `test_snapshot_renders_what_copier_renders` compares
    its output with `render()` byte for byte, so a Copier upgrade that breaks it fails there.
    """

    def __init__(self, template: Path = REPO_ROOT, questionnaire: Questionnaire | None = None):
        self.source = str(template.resolve())
        self.questionnaire = questionnaire or Questionnaire(template / "copier.yml")
        self._template = Template(url=self.source, ref="HEAD")
        self._jinja_env: SandboxedEnvironment | None = None

    def __enter__(self) -> TemplateSnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._template._cleanup()

    def render(self, data: Mapping[str, Any], dst: Path) -> Path:
        """Render `data` into `dst` (new, or holding only caches), as `render()` would."""
        check_data_keys(data, self.questionnaire)
        worker = Worker(
            src_path=self.source,
            dst_path=dst,
            data=dict(data),
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=False,
        )
        shared = vars(worker)  # cached_property values live in the instance's __dict__
        shared["template"] = self._template
        shared["_sync_git_index_executable_bit"] = _no_git_index_sync
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DirtyLocalWarning)  # the first use clones
            shared["jinja_env"] = self._shared_jinja_env(worker)
            with worker:
                worker.run_copy()
        return dst

    def _shared_jinja_env(self, worker: Worker) -> SandboxedEnvironment:
        if self._jinja_env is None:
            env = worker.jinja_env
            compile_string = functools.lru_cache(maxsize=4096)(env.from_string)
            env.from_string = compile_string  # type: ignore[method-assign,assignment]
            self._jinja_env = env
        return self._jinja_env


def _no_git_index_sync(dst_relpath: Path, src_mode: int) -> None:
    """The harness renders outside any git repository, where Copier's index sync does nothing."""
