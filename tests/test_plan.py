"""The plan's strategies on synthetic questionnaires whose answers are counted by hand.

Each synthetic template is a real Copier template (a git repository with `copier.yml` and a
`template/` folder), rendered in-process like this repository's. Its Python file names the axes
that change Python code; its README, compose file and CI file name the others, so the trees
that the plan finds distinct are known in advance.
"""

from __future__ import annotations

import itertools
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.commands import run_command
from harness.covering import uncovered
from harness.matrix import Matrix, load_matrix
from harness.plan import (
    CI_LIMIT_SECONDS,
    FULL_TIER_BUDGET_SECONDS,
    Plan,
    build_plan,
    covering_requirements,
    covering_rows,
    digest_combinations,
    load_plan,
    python_candidates,
    quick_combinations,
    readme_digest,
)
from harness.progress import Progress
from harness.python_checks import dotenv_settings
from harness.questionnaire import Questionnaire
from harness.render import TemplateSnapshot, render
from harness.summary import write_summary
from harness.tree_checks import iter_files, write_tree

# ---- synthetic templates -------------------------------------------------------------------------

FEATURES = """
    database:
      type: str
      choices: [sqlite, postgresql]
      default: sqlite
    auth:
      type: bool
      default: true
    redis:
      type: bool
      default: false
    celery:
      type: bool
      default: false
    celery_broker:
      type: str
      choices: [redis, rabbitmq]
      default: redis
      when: "{{ celery }}"
      validator: "{% if celery_broker == 'redis' and not redis %}that broker needs redis{% endif %}"
    websockets:
      type: bool
      default: false
    #WEBSOCKETS_RULE
    docker:
      type: bool
      default: false
    ci:
      type: str
      choices: [none, github, gitlab]
      default: none
"""
WEBSOCKETS_NEED_REDIS = """\
      validator: "{% if websockets and not redis %}websockets fan out through redis{% endif %}"
"""
PYTHON_FILE = """\
DATABASE = "{{ database }}"
AUTH = {{ auth }}
REDIS = {{ redis }}
{% if celery %}
BROKER = "{{ celery_broker }}"
{% endif %}
WEBSOCKETS = {{ websockets }}
"""
OTHER_FILES = {
    "README.md.jinja": "# {{ project_name }}\n\nDocker: {{ docker }}, CI: {{ ci }}\n",
    "{% if docker %}compose.yaml{% endif %}.jinja": "services: {}\n",
    "{% if ci == 'github' %}ci.yml{% endif %}.jinja": "on: push\n",
    ".python-version.jinja": "{{ python_version }}\n",
    "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers | to_nice_yaml }}",
}


def write_template(root: Path, pythons: list[str], websockets_need_redis: bool) -> Path:
    """A committed synthetic template: the future axes, `pythons`, optionally a second rule."""
    rule = WEBSOCKETS_NEED_REDIS if websockets_need_redis else ""
    features = FEATURES.replace("    #WEBSOCKETS_RULE\n", rule)
    copier_yml = (
        "_subdirectory: template\n_envops:\n  trim_blocks: true\n  lstrip_blocks: true\n"
        "project_name:\n  type: str\n"
        f"python_version:\n  type: str\n  choices: {json.dumps(pythons)}\n"
        f"  default: {json.dumps(pythons[0] if len(pythons) < 3 else pythons[1])}\n"
        + textwrap.dedent(features)
    )
    files = {"copier.yml": copier_yml, "template/src/app.py.jinja": PYTHON_FILE}
    files.update({f"template/{name}": text for name, text in OTHER_FILES.items()})
    write_tree(root, files)
    for argv in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "t"],
    ):
        result = run_command(argv, root)
        assert result.ok, result.describe()
    return root


ALL_FEATURES = "database=postgresql,redis,celery,celery_broker=rabbitmq,websockets,docker,ci=github"


def matrix_of(template: Path) -> Matrix:
    return Matrix(Questionnaire(template / "copier.yml"))


@pytest.fixture(scope="module")
def eight_axes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Matrix]:
    template = write_template(tmp_path_factory.mktemp("eight"), ["3.12", "3.13"], True)
    return template, matrix_of(template)


def plan_of(template: Path, matrix: Matrix, tier: str) -> Plan:
    digests = digest_combinations(python_candidates(matrix, tier), template)
    return build_plan(matrix, tier, digests)


# ---- the enumeration and its constraints ---------------------------------------------------------


def test_eight_axes_valid_count_by_hand(eight_axes: tuple[Path, Matrix]) -> None:
    _, matrix = eight_axes
    # Per Python: database 2 x auth 2 x docker 2 x ci 3 = 24, times the valid (redis, celery,
    # broker, websockets): redis off -> celery off or on rabbitmq, websockets off (2); redis on
    # -> celery off, on redis, on rabbitmq, each with websockets off or on (6). 24 x 8 x 2.
    assert len(matrix.valid) == 24 * 8 * 2 == 384
    assert len(matrix.axes) == 8


def test_each_constraint_refuses_exactly_its_combinations(eight_axes: tuple[Path, Matrix]) -> None:
    _, matrix = eight_axes
    by_message: dict[str, list[dict[str, Any]]] = {}
    for item in matrix.invalid:
        by_message.setdefault(item.rejection.message, []).append(dict(item.data))
    # Candidates are the product over every axis, a hidden broker included (2 values).
    # The broker rule: redis off, celery on, broker redis, websockets either: 2 per 24 x 2.
    broker = by_message.pop("that broker needs redis")
    assert len(broker) == 2 * 24 * 2
    assert all(d["celery"] and d["celery_broker"] == "redis" and not d["redis"] for d in broker)
    # The websockets rule, where the broker rule did not refuse first: redis off, websockets on,
    # celery off (broker redis or rabbitmq, hidden) or on with rabbitmq: 3 per 24 x 2.
    websockets = by_message.pop("websockets fan out through redis")
    assert len(websockets) == 3 * 24 * 2
    assert all(d["websockets"] and not d["redis"] for d in websockets)
    assert by_message == {}, "a rejection with no constraint behind it"
    assert {i.rejection.question for i in matrix.invalid_by_reason()} == {
        "celery_broker",
        "websockets",
    }


# ---- the strategies ------------------------------------------------------------------------------


def test_full_tier_distinct_trees(eight_axes: tuple[Path, Matrix]) -> None:
    template, matrix = eight_axes
    plan = plan_of(template, matrix, "full")
    assert plan.strategy == "distinct trees"
    assert len(plan.combinations) == 384  # every valid combination is rendered
    on_312 = [tree for tree in plan.trees if tree.run.python == "3.12"]
    # database x auth x the 8 valid (redis, celery, broker, websockets); docker and ci do not
    # touch Python, so each tree stands for docker 2 x ci 3 = 6 combinations.
    assert len(on_312) == 2 * 2 * 8
    assert all(len(tree.members) == 6 for tree in on_312)
    on_313 = {tree.id: tree.run.roles for tree in plan.trees if tree.run.python == "3.13"}
    assert on_313 == {
        "default@py3.13": ("default",),
        f"{ALL_FEATURES}@py3.13": ("all-features",),
    }
    relations = [p.relation for p in plan.combinations]
    assert relations.count("ran it") == len(plan.trees)
    assert relations.count("identical tree") == 32 * 5
    # On 3.13, the combinations that run nothing of their own point at their twin on 3.12.
    assert relations.count("same features, default Python") == 192 - 2
    assert all(p.tree is not None for p in plan.combinations)


def test_all_tier_runs_every_distinct_tree(eight_axes: tuple[Path, Matrix]) -> None:
    template, matrix = eight_axes
    plan = plan_of(template, matrix, "all")
    assert len(plan.trees) == 32 * 2
    members = [member for tree in plan.trees for member in tree.members]
    assert sorted(members) == sorted(p.id for p in plan.combinations)


def test_quick_tier(eight_axes: tuple[Path, Matrix]) -> None:
    template, matrix = eight_axes
    names = [c.name for c in quick_combinations(matrix)]
    assert names == [
        "default",  # auth on
        ALL_FEATURES,
        "no-auth",  # the minimal combination, then each feature value alone on it:
        "database=postgresql,no-auth",
        "no-auth,redis",
        "no-auth,celery,celery_broker=rabbitmq",  # the broker it can have without redis
        "no-auth,redis,websockets",  # websockets alone is refused: with the redis it needs
        "no-auth,docker",
        "no-auth,ci=github",
        "no-auth,ci=gitlab",
    ]
    plan = plan_of(template, matrix, "quick")
    assert {p.combination.python for p in plan.combinations} == {"3.12"}
    # docker and ci change no Python: their trees are the minimal one's.
    minimal = plan.tree("no-auth@py3.12")
    assert set(minimal.members) == {
        "no-auth@py3.12",
        "no-auth,docker@py3.12",
        "no-auth,ci=github@py3.12",
        "no-auth,ci=gitlab@py3.12",
    }


def test_covering_array_strategy(eight_axes: tuple[Path, Matrix]) -> None:
    template, matrix = eight_axes
    rows = covering_rows(matrix, template / "template")
    requirements = covering_requirements(matrix, template / "template")
    python_axes = {"database", "auth", "redis", "celery", "celery_broker", "websockets"}
    assert any(set(r.axes) == python_axes and r.strength == 3 for r in requirements)
    digests = digest_combinations(python_candidates(matrix, "full") + rows, template)
    plan = build_plan(matrix, "full", digests, covering_rows=rows, budget_seconds=24 * 3600)
    assert plan.strategy == "distinct trees", "34 trees fit a day's budget: no covering array"
    plan = build_plan(matrix, "full", digests, covering_rows=rows, budget_seconds=60)
    assert plan.strategy == "covering array"
    assert len(plan.trees) <= len(rows) < 34
    candidates = [{**c.feature_answers, "python_version": c.python} for c in matrix.valid]
    chosen = [{**c.feature_answers, "python_version": c.python} for c in rows]
    assert uncovered(chosen, candidates, requirements) == set()
    # A default-Python combination outside the array whose tree a row runs is no less checked.
    ran = {member for tree in plan.trees for member in tree.members}
    for planned in plan.combinations:
        if planned.combination.python == "3.12" and planned.id not in ran:
            assert planned.relation == "identical tree" or planned.tree is None
    for python in ("3.12", "3.13"):  # each interpreter still runs default and all-features
        roles = {
            role for tree in plan.trees if tree.run.python == python for role in tree.run.roles
        }
        assert roles == {"default", "all-features"}
    # Every pair of answers (Python included) that some valid combination has, in some row.
    rows_answers = [{**c.feature_answers, "python_version": c.python} for c in rows]
    every = [{**c.feature_answers, "python_version": c.python} for c in matrix.valid]
    axes = sorted(every[0])
    for first, second in itertools.combinations(axes, 2):
        wanted = {(a[first], a[second]) for a in every}
        found = {(a[first], a[second]) for a in rows_answers}
        assert wanted == found, (first, second)


def test_shards_split_the_plan_exactly(eight_axes: tuple[Path, Matrix]) -> None:
    template, matrix = eight_axes
    plan = plan_of(template, matrix, "full")
    for count in range(1, 7):
        shards = [plan.shard(index, count) for index in range(1, count + 1)]
        assert set().union(*shards) == plan.item_keys()
        assert sum(len(shard) for shard in shards) == len(plan.item_keys())
    with pytest.raises(ValueError, match="between 1 and 3"):
        plan.shard(4, 3)


def test_a_combination_that_fails_to_render_gets_a_tree_of_its_own(tmp_path: Path) -> None:
    """Planning goes on past a broken render: the combination's own checks report it."""
    write_tree(
        tmp_path,
        {
            "copier.yml": "_envops:\n  undefined: jinja2.StrictUndefined\nproject_name:\n"
            "  type: str\npython_version:\n  type: str\n  choices: ['3.12']\n"
            "broken:\n  type: bool\n  default: false\n",
            "app.py.jinja": "{% if broken %}{{ no_such_answer }}{% endif %}\n",
        },
    )
    for argv in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "t"],
    ):
        assert run_command(argv, tmp_path).ok
    matrix = matrix_of(tmp_path)
    plan = plan_of(tmp_path, matrix, "full")
    keys = {tree.id: tree.key for tree in plan.trees}
    assert keys["broken@py3.12"] == "unrenderable:broken@py3.12"
    assert not keys["default@py3.12"].startswith("unrenderable")


# ---- the card's future axes: the plan's size and the full tier's time ----------------------------


@pytest.fixture(scope="module")
def future(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Matrix]:
    template = write_template(tmp_path_factory.mktemp("future"), ["3.11", "3.12", "3.13"], False)
    return template, matrix_of(template)


def test_future_axes_plan_fits_the_budget(
    future: tuple[Path, Matrix], capsys: pytest.CaptureFixture[str]
) -> None:
    template, matrix = future
    assert len(matrix.valid) == 2 * 2 * 5 * 2 * 2 * 3 * 3 == 720
    start = time.monotonic()
    digests = digest_combinations(list(matrix.valid), template)
    seconds = time.monotonic() - start
    plan = build_plan(matrix, "full", digests)
    # 3.12: database x auth x (redis, celery, broker) 5 x websockets = 40; 3.11 and 3.13 run
    # the default and all-features trees.
    assert len(plan.trees) == 40 + 2 + 2
    estimate = plan.estimated_seconds({})
    rows = covering_rows(matrix, template / "template")
    chosen = build_plan(matrix, "full", digests, rows)
    chosen_estimate = chosen.estimated_seconds({})
    with capsys.disabled():
        print(
            f"\nfuture axes: {len(matrix.valid)} combinations rendered in {seconds:.1f} s "
            f"({len(matrix.valid) / seconds:.0f}/s), {len(plan.trees)} distinct trees, "
            f"estimated {estimate / 60:.0f} min; the full tier runs {chosen.strategy} "
            f"({len(chosen.trees)} trees), estimated {chosen_estimate / 60:.0f} min of "
            f"{FULL_TIER_BUDGET_SECONDS / 60:.0f}"
        )
    assert len(rows) < len(plan.trees)
    # The full tier runs every distinct tree while they fit, and the covering array otherwise.
    assert chosen.strategy == (
        "distinct trees" if estimate <= FULL_TIER_BUDGET_SECONDS else "covering array"
    )
    assert chosen_estimate < CI_LIMIT_SECONDS


# ---- this repository -----------------------------------------------------------------------------


@pytest.mark.quick
@pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")
@pytest.mark.parametrize("role", ["default", "all-features"])
def test_snapshot_renders_what_copier_renders(role: str, tmp_path: Path) -> None:
    matrix = load_matrix()
    combination = matrix.default_variant() if role == "default" else matrix.all_features_variant()
    assert combination is not None
    copier_render = render(combination.data, tmp_path / "copier")
    with TemplateSnapshot() as snapshot:
        snapshot_render = snapshot.render(combination.data, tmp_path / "snapshot")
    tree, same = _files(copier_render), _files(snapshot_render)
    assert sorted(same) == sorted(tree)
    assert [name for name in tree if tree[name] != same[name]] == []
    # Each clone commits the uncommitted edits anew: only that commit's hash may differ.
    answers = [
        yaml.safe_load((root / ".copier-answers.yml").read_text())
        for root in (copier_render, snapshot_render)
    ]
    assert all(a.pop("_commit") for a in answers)
    assert answers[0] == answers[1]


def _files(root: Path) -> dict[str, bytes]:
    """Every file of a render but its answers file (compared apart); `.env` by the names it
    sets, its secrets being random."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in iter_files(root)}
    del files[".copier-answers.yml"]
    files[".env"] = "\n".join(dotenv_settings(files[".env"].decode())).encode()
    return files


@pytest.mark.quick
def test_every_python_runs_default_and_all_features() -> None:
    plan = load_plan("full")
    matrix = load_matrix()
    for python in matrix.pythons:
        roles = {
            role for tree in plan.trees if tree.run.python == python for role in tree.run.roles
        }
        assert roles == {"default", "all-features"}, python
    assert {p.id for p in plan.combinations} == {f"{c.name}@py{c.python}" for c in matrix.valid}


# ---- progress and summary ------------------------------------------------------------------------


def test_progress_counts_and_estimates_time_left() -> None:
    now = [0.0]
    progress = Progress(
        {"static": {"a": 1.0, "b": 1.0}, "tree": {"t1": 30.0, "t2": 30.0}},
        workers=2,
        clock=lambda: now[0],
    )
    line = progress.record("tree", "t1", 60.0)  # twice as slow as expected
    assert line == "progress: renders 0/2, trees 1/2; about 32s left"  # (30 + 1 + 1) x 2 / 2
    now[0] = 1.0
    assert progress.record("static", "a", 2.0) is None, "renders report at most every 10 s"
    now[0] = 20.0
    assert progress.record("static", "b", 2.0) == "progress: renders 2/2, trees 1/2; about 30s left"
    assert progress.record("tree", "unknown", 1.0) is None


def test_summary_groups_by_tree_and_writes_every_combination(
    eight_axes: tuple[Path, Matrix], tmp_path: Path
) -> None:
    template, matrix = eight_axes
    plan = plan_of(template, matrix, "quick")
    tree = plan.tree("no-auth@py3.12")
    reports = [
        {
            "kind": "tree",
            "id": tree.id,
            "outcome": "passed",
            "seconds": 12.0,
            "missing": [],
            "tests_passed": 7,
            "coverage": 99.0,
            "steps": [{"name": "pytest", "status": "ok"}],
        },
        {
            "kind": "static",
            "id": "no-auth,docker@py3.12",
            "outcome": "failed",
            "seconds": 0.4,
            "missing": [],
            "steps": [{"name": "ruff-check", "status": "failed"}],
        },
    ]
    lines = write_summary(plan, reports, tmp_path)
    row = next(line for line in lines if line.startswith("no-auth "))
    assert "4: " in row
    assert "passed" in row
    assert "99.0%" in row
    assert "failed: static no-auth,docker@py3.12" in lines
    data = json.loads((tmp_path / "combinations.json").read_text())
    by_id = {c["combination"]: c for c in data["combinations"]}
    assert len(by_id) == len(plan.combinations)
    assert by_id["no-auth,docker@py3.12"]["Python checks by"] == "no-auth@py3.12"
    assert by_id["no-auth,docker@py3.12"]["static checks"].startswith("FAILED ruff-check")
    assert "| no-auth,docker@py3.12 |" in (tmp_path / "combinations.md").read_text()


def test_readme_digest_follows_only_what_the_examples_test_runs(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# A\n\nProse.\n\n```sh\necho one\n```\n")
    first = readme_digest(readme)
    readme.write_text(
        "# A\n\nOther prose.\n\n<!-- not run: why -->\n```sh\nserve\n```\n\n```sh\necho one\n```\n"
    )
    assert readme_digest(readme) == first
    readme.write_text("# A\n\n```sh\necho two\n```\n")
    assert readme_digest(readme) != first
