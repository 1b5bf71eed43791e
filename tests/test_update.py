"""`copier update` from an older revision of the template keeps the owner's edits.

A project is rendered from an older commit of this repository, committed, and edited the way an
owner would: a module of their own, and a line added to a generated file. Updating it to the
working tree must apply without conflicts and give exactly a fresh render plus those edits.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import copier
import pytest
from copier.errors import DirtyLocalWarning
from harness.matrix import SAMPLE_ANSWERS, Combination, load_matrix
from harness.questionnaire import REPO_ROOT
from harness.releases import git
from harness.render import render
from harness.variant import unavailable

pytestmark = pytest.mark.quick

TEMPLATE_PATHS = ("copier.yml", "includes", "template")
OWNER_MODULE = "owner_notes.py"
OWNER_MODULE_TEXT = '"""Written by the owner; no template owns this file."""\n\nTEAM = "orders"\n'
OWNER_LINE = "# Added by the owner; an update must keep it.\n"
CONFLICT_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


def older_revision() -> str | None:
    """The newest commit whose template differs from the working tree's."""
    for sha in git("log", "--format=%H", "--", *TEMPLATE_PATHS).splitlines():
        differs = subprocess.run(
            ["git", "diff", "--quiet", sha, "--", *TEMPLATE_PATHS], cwd=REPO_ROOT, check=False
        )
        if differs.returncode == 1:
            return sha
    return None


def files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            yield path.relative_to(root)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes; the answers file without `_commit`, which names a temporary commit.
    Not `.env`, whose secrets are random (tests/test_secrets.py checks it)."""
    tree = {}
    for relative in files(root):
        if relative == Path(".env"):
            continue
        content = (root / relative).read_bytes()
        if relative.name == ".copier-answers.yml":
            lines = content.splitlines(keepends=True)
            content = b"".join(line for line in lines if not line.startswith(b"_commit:"))
        tree[str(relative)] = content
    return tree


def file_to_edit(old: Path, new: Path) -> Path | None:
    """A generated Python module that the update leaves unchanged (an edit there cannot clash)."""
    for relative in files(old):
        if relative.suffix != ".py" or relative.parts[0] != "src":
            continue
        counterpart = new / relative
        if counterpart.exists() and counterpart.read_bytes() == (old / relative).read_bytes():
            return relative
    return None


def apply_owner_edits(project: Path, edited: Path) -> None:
    (project / OWNER_MODULE).write_text(OWNER_MODULE_TEXT)
    with (project / edited).open("a") as file:
        file.write(OWNER_LINE)


@pytest.mark.parametrize("role", ["default", "all-features"])
def test_update_keeps_owner_edits(role: str, tmp_path: Path) -> None:
    old_sha = older_revision()
    if old_sha is None:
        unavailable("no older revision of the template in this clone's history (shallow clone?)")
    matrix = load_matrix()
    combination: Combination | None = (
        matrix.default_variant() if role == "default" else matrix.all_features_variant()
    )
    assert combination is not None

    # The owner started from the older revision, with the identity answers only.
    project = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(REPO_ROOT),
            project,
            data=dict(SAMPLE_ANSWERS),
            defaults=True,
            vcs_ref=old_sha,
            quiet=True,
        )
    fresh = render(combination.data, tmp_path / "fresh")
    edited = file_to_edit(project, fresh)
    assert edited is not None, "every generated module changes: no owner edit to check"

    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("-c", "user.name=Owner", "-c", "user.email=owner@example.com", "commit", "-qm",
        "Start from the template", cwd=project)  # fmt: skip
    apply_owner_edits(project, edited)
    git("add", "-A", cwd=project)
    git("-c", "user.name=Owner", "-c", "user.email=owner@example.com", "commit", "-qm",
        "Owner's edits", cwd=project)  # fmt: skip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_update(
            project,
            data=dict(combination.data),
            defaults=True,
            overwrite=True,
            vcs_ref="HEAD",
            quiet=True,
        )

    rejects = [str(path) for path in files(project) if path.suffix == ".rej"]
    assert not rejects, f"copier update left rejected hunks: {rejects}"
    conflicted = [
        str(path)
        for path in files(project)
        if any(
            line.startswith(CONFLICT_MARKERS) for line in (project / path).read_bytes().splitlines()
        )
    ]
    assert not conflicted, f"copier update left conflict markers in: {conflicted}"
    assert (project / OWNER_MODULE).read_text() == OWNER_MODULE_TEXT
    assert (project / edited).read_text().endswith(OWNER_LINE)

    # The result is a fresh render of the same answers plus the owner's edits, and nothing else.
    apply_owner_edits(fresh, edited)
    shutil.rmtree(fresh / ".git", ignore_errors=True)
    assert snapshot(project) == snapshot(fresh)
