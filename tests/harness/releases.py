"""The template's releases: `CHANGELOG.md` entries, and a clone of this repository tagged with them.

Each release is a PEP 440 git tag. The newest entry of `CHANGELOG.md` is the version being
released (pyproject.toml's `version`); every older one names the commit it was tagged on, so a
clone without tags (CI's, say) can be tagged again with the real history.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from .questionnaire import REPO_ROOT

CHANGELOG = REPO_ROOT / "CHANGELOG.md"
# What a release of the template is made of: the working tree's copy of these goes into the
# tagged clone's newest release, so uncommitted work is what gets tested.
RELEASED_PATHS = ("copier.yml", "includes", "template", "CHANGELOG.md", "pyproject.toml")
_ENTRY = re.compile(
    r"^## (?P<version>\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?)"
    r"(?: \(commit (?P<commit>[0-9a-f]{7,40})\))?\s*$"
)


@dataclass(frozen=True)
class Release:
    version: Version
    commit: str | None  # None for the newest: it is tagged on the commit that holds its entry
    notes: str


def changelog_releases(text: str) -> list[Release]:
    """The entries, newest first, as written."""
    releases: list[Release] = []
    heading: re.Match[str] | None = None
    notes: list[str] = []

    def close() -> None:
        if heading is not None:
            releases.append(
                Release(Version(heading["version"]), heading["commit"], "".join(notes).strip())
            )

    for line in text.splitlines(keepends=True):
        match = _ENTRY.match(line)
        if match is None and line.startswith("## "):
            msg = f"CHANGELOG.md: a release heading must read '## VERSION (commit SHA)': {line!r}"
            raise ValueError(msg)
        if match is None:
            notes.append(line)
            continue
        close()
        heading, notes = match, []
    close()
    return releases


def project_version() -> Version:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return Version(tomllib.load(file)["project"]["version"])


def git(*args: str, cwd: Path = REPO_ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def has_commit(repo: Path, commit: str) -> bool:
    probe = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def tagged_clone(dest: Path, releases: list[Release]) -> Path:
    """A clone of this repository whose tags are exactly `releases`.

    The older ones go on the commits their entries name; the newest on a commit of the working
    tree's template, made in the clone.
    """
    subprocess.run(
        ["git", "clone", "--quiet", "--no-tags", str(REPO_ROOT), str(dest)],
        check=True,
        capture_output=True,
    )
    for relative in RELEASED_PATHS:
        source, target = REPO_ROOT / relative, dest / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    git("add", "-A", *RELEASED_PATHS, cwd=dest)
    git("-c", "user.name=Harness", "-c", "user.email=harness@example.com", "commit", "--quiet",
        "--allow-empty", "-m", "The working tree's template", cwd=dest)  # fmt: skip
    newest, *older = releases
    git("tag", str(newest.version), "HEAD", cwd=dest)
    for release in older:
        assert release.commit is not None
        git("tag", str(release.version), release.commit, cwd=dest)
    return dest
