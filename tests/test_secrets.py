"""No secret is written where Copier or git keeps it: Copier generates them into `.env`.

Each case is rendered with Copier and committed, then updated to the working tree
(`vcs_ref="HEAD"`), as it is or with an answer changed, and committed after each update. Every
secret the rendered `.env` sets (its own list, not one written here) must then be absent from
the answers file and from every object of the git repository, `.env` must be ignored and
unchanged by the updates, and each secret must be 256 random bits of its own. The secrets are
what the app and compose.yaml read: a token the rendered app signs verifies with `.env`'s key,
and every compose stack's passwords are the ones `.env` sets.
"""

from __future__ import annotations

import re
import subprocess
import urllib.parse
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from copier.errors import DirtyLocalWarning
from harness.docker import signed_with, stack_shape
from harness.interpreters import find_interpreter, find_uv
from harness.matrix import Combination, load_matrix
from harness.python_checks import TIMEOUTS, dotenv_settings, variant_env
from harness.render import TemplateSnapshot
from harness.variant import unavailable
from test_answer_change import committed_template

pytestmark = pytest.mark.quick

# Each case, and the answers its updates change, in order: nothing (an update to the working
# tree), then one answer. An update costs 7 to 14 s, so the second case makes only the latter.
CASES: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    "default": ({}, {"redis": True}),
    "all-features": ({"websockets": False},),
}
# 256 bits, in hex (template/.env.jinja's random_secret).
SECRET = re.compile(r"[0-9a-f]{64}")
# What compose.yaml cannot start without: `${NAME:?message}`.
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?[^}]*\}")


def git(project: Path, *args: str) -> str:
    identity = ("-c", "user.name=Owner", "-c", "user.email=owner@example.com")
    return subprocess.run(
        ["git", *identity, *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout


def case_combination(name: str) -> Combination:
    matrix = load_matrix()
    found = matrix.default_variant() if name == "default" else matrix.all_features_variant()
    assert found is not None
    return found


def read_secrets(project: Path) -> dict[str, str]:
    return dotenv_settings((project / ".env").read_text(encoding="utf-8"))


def update(project: Path, data: Mapping[str, Any], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_update(
            project,
            data=dict(data),
            defaults=True,
            overwrite=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=False,
        )
    git(project, "add", "-A")
    git(project, "commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's template, committed: an update replays the render's commit, which a
    dirty working tree's render would have made in a clone of its own."""
    return committed_template(tmp_path_factory.mktemp("template"))


# One test per case: making it (a render and its updates) is most of its cost.
@pytest.mark.parametrize("case", list(CASES))
def test_secrets_stay_in_dotenv_through_updates(
    case: str, template_repo: Path, snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    combination = case_combination(case)
    project = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(template_repo),
            project,
            data=dict(combination.data),
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=False,
        )
    at_render = (project / ".env").read_bytes()
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Render the project")
    for change in CASES[case]:
        update(project, {**combination.data, **change}, f"Update with {dict(change)}")
    secrets = read_secrets(project)

    # 256 random bits each, none drawn twice.
    assert secrets, ".env sets no secret"
    assert [name for name, value in secrets.items() if not SECRET.fullmatch(value)] == []
    assert len(set(secrets.values())) == len(secrets), f"a value repeats in {secrets}"
    # Neither the answers file nor any git object, reachable or not, holds one.
    answers = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    history = git(project, "log", "-p", "--all")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=project,
        check=True,
        capture_output=True,
    ).stdout.decode(errors="replace")
    for place, text in (("answers file", answers), ("git log", history), ("git", objects)):
        leaked = [name for name, value in secrets.items() if value in text]
        assert leaked == [], f"the {place} holds {leaked}"
    # Git ignores .env, and the updates left it as the render wrote it.
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=project)
    assert ignored.returncode == 0, "git does not ignore .env"
    assert (project / ".env").read_bytes() == at_render, "an update changed .env"
    # Every render draws its own, renders in one process too (the harness's snapshot shares
    # Jinja's compiled templates between them).
    drawn = [set(secrets.values())]
    for name in ("first", "second"):
        drawn.append(set(read_secrets(snapshot.render(combination.data, tmp_path / name)).values()))
    assert len(set().union(*drawn)) == 3 * len(secrets), "two renders drew the same secret"


def compose_cases() -> list[Combination]:
    """On the default Python, with auth and without: one combination of each compose stack
    (database, Redis, Celery's broker), and one without Docker."""
    matrix = load_matrix()
    found: dict[tuple[Any, ...], Combination] = {}
    for combination in matrix.valid:
        answers = combination.answers
        if combination.python == matrix.default_python:
            shape = stack_shape(answers) if answers.get("docker") else None
            found.setdefault((shape, answers.get("auth")), combination)
    return list(found.values())


@pytest.mark.parametrize("combination", compose_cases(), ids=lambda c: c.id)
def test_dotenv_sets_what_the_app_and_compose_read(
    combination: Combination, snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    """SECRET_KEY where the app has it, and each password compose.yaml asks for, nothing else;
    compose's URLs, interpolated from `.env`, carry each password as it is."""
    root = snapshot.render(combination.data, tmp_path / "project")
    secrets = read_secrets(root)
    compose = root / "compose.yaml"
    compose_text = compose.read_text(encoding="utf-8") if compose.is_file() else ""
    settings = dotenv_settings((root / ".env.example").read_text(encoding="utf-8"))
    wanted = set(REQUIRED_VARIABLE.findall(compose_text)) | ({"SECRET_KEY"} & set(settings))

    assert set(secrets) == wanted
    assert [name for name, value in secrets.items() if not SECRET.fullmatch(value)] == []
    if not compose_text:
        return
    interpolated = REQUIRED_VARIABLE.sub(lambda found: secrets[found.group(1)], compose_text)
    app = yaml.safe_load(interpolated)["x-app"].get("environment", {})
    for variable, service in (("DATABASE_URL", "POSTGRES"), ("RABBITMQ_URL", "RABBITMQ")):
        if variable in app:
            password = urllib.parse.unquote(urllib.parse.urlsplit(app[variable]).password or "")
            assert password == secrets[f"{service}_PASSWORD"]


def test_the_app_signs_tokens_with_the_generated_key(
    snapshot: TemplateSnapshot, tmp_path: Path
) -> None:
    """The default render's own settings, read in its folder as `serve` reads them, sign with
    the SECRET_KEY of its `.env` (every variant's settings read `.env` alike)."""
    combination = case_combination("default")
    uv, interpreter = find_uv(), find_interpreter(combination.python)
    if uv is None or interpreter is None:
        unavailable(f"uv or CPython {combination.python} is not available")
    root = snapshot.render(combination.data, tmp_path / "project")
    env = variant_env(root, {})
    sync = [str(uv), "sync", "--quiet", "-p", str(interpreter.path)]
    subprocess.run(sync, cwd=root, env=env, check=True, timeout=TIMEOUTS["uv-sync"])
    package = yaml.safe_load((root / ".copier-answers.yml").read_text())["package_name"]
    issue = (
        "from datetime import UTC, datetime\n"
        f"from {package}.auth.tokens import TokenCodec, TokenType\n"
        f"from {package}.config import get_settings\n"
        "codec = TokenCodec(get_settings())\n"
        "now = datetime.now(UTC)\n"
        "print(codec.issue(TokenType.ACCESS, user_id=1, family_id='f', scopes=frozenset(),"
        " now=now).token)\n"
    )
    token = subprocess.run(
        [str(uv), "run", "--no-sync", "python", "-c", issue],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()

    assert signed_with(token, read_secrets(root)["SECRET_KEY"])
    assert not signed_with(token, "insecure-development-key-change-me-in-production")
