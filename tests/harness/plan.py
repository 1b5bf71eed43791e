"""The run plan: which combinations get which checks, and which distinct trees run Python.

Every tier renders its combinations and gives each the static checks (tree checks, ruff, the
answers file). The Python checks (uv sync, mypy, pytest) run once per distinct Python tree:
combinations whose Python-relevant files, interpreter and services are identical share one
run. Which trees are distinct is known only from a render, so planning renders the candidates
(cheaply, in-process from one snapshot) and hashes them. Plans are cached per template content.

Tiers:
- quick: on the default Python, the default, the all-features and the minimal combination,
  and each feature alone on top of the minimal one;
- full: every combination rendered; every distinct tree of the default Python runs Python, and
  every other Python runs the default and all-features trees. When the estimate exceeds the
  budget, a covering array of the trees instead (`covering.py`);
- all: every distinct tree on every Python.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .conditionals import questions_by_file, rendered_name
from .covering import Requirement, covering_array
from .docker import served_stacks
from .matrix import PYTHON_QUESTION, Combination, Matrix, VariantRun, load_matrix
from .python_checks import HARNESS_DIR, is_python_relevant, python_tree_digest
from .questionnaire import REPO_ROOT
from .readme_examples import ReadmeMarkupError, extract_examples
from .render import TemplateSnapshot
from .services import services_for
from .tree_checks import iter_files

TIERS = ("quick", "full", "all")
STRATEGIES = ("auto", "distinct", "covering")  # the full tier's: auto picks by the budget
PLANS_DIR = HARNESS_DIR / "plans"
# What the full tier may take on this 2-core machine before it falls back to a covering array.
FULL_TIER_BUDGET_SECONDS = 45 * 60
# The most CI gives a run: whatever its strategy, the full tier must stay well under it.
CI_LIMIT_SECONDS = 90 * 60
# The time model, used before `.harness/durations.json` holds measured seconds per tree. Its
# parts come from this 2-core machine; its scale from the clean-clone full tier of 24 trees,
# which took 2,316 s with both cores busy, 2.4 times what the parts alone had said: the trees
# share the cores with their own servers, workers and browsers (docs/harness.md).
STATIC_SECONDS = 0.8  # render, tree checks (ruff, and hadolint and schemas where they apply)
# uv sync, mypy and pytest of the minimal tree, with the real server of its e2e slow-body and
# shutdown test (a start, the 1 s body deadline, the 2 s shutdown timeout)
TREE_SECONDS = 45.0
FEATURE_SECONDS = 20.0  # each feature on top of the minimal combination
SERVICE_SECONDS = 6.0  # each real service its tests use
# Features whose tests cost more than FEATURE_SECONDS: celery runs real workers, beat and a
# SIGKILL redelivery; websockets drives a headless Chromium and, with Redis, two server
# processes and a Redis restart.
FEATURE_EXTRA_SECONDS = {"celery": 40.0, "websockets": 25.0}
CONTRACT_SECONDS = 35.0  # contract fuzzing of each tree (harness/contract.py)
# bandit (1.5 s) and pip-audit of each tree (harness/security.py): the lock's export and, cached
# per lock digest, its answer; a lock not asked about today costs about 6 s more
SECURITY_SECONDS = 4.0
README_SECONDS = 30.0  # the README examples of each tree on the default Python
# Each served Docker stack (test_docker.py): image build with warm layers, bring-up to healthy,
# round trip and teardown, measured on this machine while the Python runs shared it (a cold
# dependency layer adds about 30 s once per distinct lock file and Python).
DOCKER_STACK_SECONDS = 75.0
# test_toggles.py: its seven toggles away and back through `copier update`, measured with both
# cores busy (no-auth 172, redis 305, celery 341, websockets 309: their mypy and pytest; docker
# 80, ci=github 47, ci=gitlab 67: their Python is the default tree's, checked by the plan)
TOGGLES_SECONDS = 1320.0
# test_release_update.py: four owner projects updated from older releases, each with its
# checks (343 s at two workers on a busy machine)
RELEASE_UPDATE_SECONDS = 680.0
# the harness's own tests, the domain guides, update and answer changes, the toggles and the
# release updates
OTHER_SECONDS = 360.0 + TOGGLES_SECONDS + RELEASE_UPDATE_SECONDS
QUICK_OTHER_SECONDS = 50.0  # the harness's own quick tests
# The plan's own inputs: the template, and the code that decides what a tree is.
PLAN_INPUTS = ("copier.yml", "template", "includes", "tests/harness", "uv.lock")
# Set by the controller: its workers and child processes plan from the same digests.
FINGERPRINT_VARIABLE = "HARNESS_PLAN_FINGERPRINT"
README = "README.md"


@dataclass(frozen=True)
class Tree:
    """A distinct Python tree: its checks run once, for every combination in `members`."""

    key: str  # digest of its Python-relevant files, interpreter and services
    run: VariantRun  # the representative combination that is rendered and checked
    members: tuple[str, ...]  # ids of the combinations whose Python this run checks

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def services(self) -> frozenset[str]:
        return services_for(self.run.combination.answers)


@dataclass(frozen=True)
class Planned:
    """One combination of the plan: its static checks always run; its Python checks by `tree`."""

    combination: Combination
    tree: str | None  # id of the tree that runs its Python checks, None if none does
    relation: str  # how that tree stands for it (for the summary)

    @property
    def id(self) -> str:
        return self.combination.id


@dataclass
class Plan:
    tier: str
    strategy: str  # "distinct trees" or "covering array"
    minimal: Mapping[str, Any] = field(default_factory=dict)  # the answers with no feature on
    default_python: str = ""
    combinations: list[Planned] = field(default_factory=list)
    trees: list[Tree] = field(default_factory=list)
    readmes: Mapping[str, str] = field(default_factory=dict)  # combination id -> README digest
    docker_stacks: int = 0  # the Docker stacks test_docker.py builds and brings up

    def tree(self, tree_id: str) -> Tree:
        return next(tree for tree in self.trees if tree.id == tree_id)

    def readme_runs(self) -> list[Planned]:
        """One combination per distinct (Python tree, README) of the default Python: the
        combinations whose README examples run (the quick tier: default and all-features)."""
        chosen: dict[tuple[str, str], Planned] = {}
        representatives = {tree.id for tree in self.trees}
        for planned in self.combinations:
            if planned.combination.python != self.default_python or planned.tree is None:
                continue
            if self.tier == "quick" and not self.tree(planned.tree).run.roles:
                continue
            key = (planned.tree, self.readmes.get(planned.id, ""))
            if key not in chosen or planned.id in representatives:
                chosen[key] = planned
        return list(chosen.values())

    def tree_seconds(self, tree: Tree, durations: Mapping[str, float]) -> float:
        """Measured seconds of the tree's Python checks, else the model's."""
        if tree.id in durations:
            return durations[tree.id]
        answers = tree.run.combination.feature_answers
        on_top = [name for name, value in self.minimal.items() if answers.get(name) != value]
        services = len(tree.services)
        return (
            TREE_SECONDS
            + CONTRACT_SECONDS
            + SECURITY_SECONDS
            + FEATURE_SECONDS * len(on_top)
            + sum(FEATURE_EXTRA_SECONDS.get(name, 0.0) for name in on_top)
            + SERVICE_SECONDS * services
        )

    def estimated_seconds(self, durations: Mapping[str, float], workers: int = 2) -> float:
        """Wall seconds of the whole run on `workers` cores, by the time model."""
        static = len(self.combinations) * durations.get("static", STATIC_SECONDS)
        trees = sum(self.tree_seconds(tree, durations) for tree in self.trees)
        readmes = README_SECONDS * len(self.readme_runs())
        other = QUICK_OTHER_SECONDS if self.tier == "quick" else OTHER_SECONDS
        stacks = DOCKER_STACK_SECONDS * self.docker_stacks
        return (static + trees + readmes + other + stacks) / max(1, workers)

    def shard(self, index: int, count: int) -> set[str]:
        """The item keys of shard `index` (1-based) of `count`: trees spread by expected time
        (longest first, each to the least loaded shard; shard 1 also runs the tests outside
        the plan, and a tree's README examples go with it), combinations round robin. The
        model's seconds, not this machine's measurements: every machine must split alike."""
        if not 1 <= index <= count:
            raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")
        loads = [OTHER_SECONDS + DOCKER_STACK_SECONDS * self.docker_stacks] + [0.0] * (count - 1)
        owner: dict[str, int] = {}
        readmes = Counter(planned.tree for planned in self.readme_runs())
        seconds = {
            tree.id: self.tree_seconds(tree, {}) + README_SECONDS * readmes[tree.id]
            for tree in self.trees
        }
        for tree in sorted(self.trees, key=lambda t: (-seconds[t.id], t.id)):
            slot = loads.index(min(loads))
            loads[slot] += seconds[tree.id]
            owner[tree_item(tree.id)] = slot
        for position, planned in enumerate(self.combinations):
            owner[static_item(planned.id)] = position % count
        return {key for key, slot in owner.items() if slot == index - 1}

    def item_keys(self) -> set[str]:
        return {static_item(p.id) for p in self.combinations} | {
            tree_item(t.id) for t in self.trees
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "strategy": self.strategy,
            "combinations": [
                {
                    "id": p.id,
                    "tree": p.tree,
                    "relation": p.relation,
                    "data": dict(p.combination.data),
                }
                for p in self.combinations
            ],
            "trees": [
                {
                    "id": t.id,
                    "key": t.key,
                    "roles": list(t.run.roles),
                    "services": sorted(t.services),
                    "members": list(t.members),
                }
                for t in self.trees
            ],
        }


def readme_digest(readme: Path) -> str:
    """A hash of what the README examples test would run: its runnable shell blocks. Prose,
    and blocks marked not to run, change nothing that test checks."""
    if not readme.is_file():
        return ""
    text = readme.read_text(encoding="utf-8")
    try:
        runnable = "\0".join(e.code for e in extract_examples(text) if e.runs)
    except ReadmeMarkupError:  # its test reports the markup; give it a run of its own
        runnable = text
    return hashlib.sha256(runnable.encode()).hexdigest()[:16]


def readme_key(combination_id: str) -> str:
    """Where the digests keep a combination's README digest, beside its tree key."""
    return f"readme:{combination_id}"


def static_item(combination_id: str) -> str:
    return f"static:{combination_id}"


def tree_item(tree_id: str) -> str:
    return f"tree:{tree_id}"


# ---- which combinations a tier holds -------------------------------------------------------------


def quick_combinations(matrix: Matrix) -> list[Combination]:
    """Default, all-features, minimal, and each feature value alone on top of the minimal
    (with what a constraint forces beside it, such as the service a feature needs)."""
    python = matrix.default_python
    minimal = matrix.minimal_answers()
    found = [
        matrix.closest(matrix.defaults(), python),
        matrix.closest(matrix.wished_all_features(), python),
        matrix.closest(minimal, python),
    ]
    for question in matrix.axes:
        for value in matrix.axis_values(question):
            if value != minimal[question.name]:
                found.append(matrix.closest(minimal, python, fixed={question.name: value}))
    chosen: dict[str, Combination] = {}
    for combination in found:
        if combination is not None:
            chosen.setdefault(combination.name, combination)
    return list(chosen.values())


def _roles(matrix: Matrix, combination: Combination) -> tuple[str, ...]:
    python = combination.python
    special = (
        ("default", matrix.default_variant(python)),
        ("all-features", matrix.all_features_variant(python)),
    )
    return tuple(role for role, found in special if found == combination)


# ---- building a plan -----------------------------------------------------------------------------


def build_plan(
    matrix: Matrix,
    tier: str,
    digests: Mapping[str, str],
    covering_rows: Sequence[Combination] | None = None,
    budget_seconds: float = FULL_TIER_BUDGET_SECONDS,
) -> Plan:
    """The plan of `tier`, given the tree digest of every combination that may run Python
    (`digests`: combination id -> key, from `digest_combinations`). With `covering_rows`, the
    full tier runs the trees of those rows when the model says the distinct trees would exceed
    the budget (the model, not this machine's timings: every machine must plan alike)."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}: one of {', '.join(TIERS)}")
    if tier == "quick":
        rendered = quick_combinations(matrix)
        candidates = rendered
    else:
        rendered = list(matrix.valid)
        candidates = python_candidates(matrix, tier)
    plan = _group(matrix, tier, "distinct trees", rendered, candidates, digests)
    over_budget = plan.estimated_seconds({}) > budget_seconds
    if tier == "full" and covering_rows is not None and over_budget:
        plan = _group(matrix, tier, "covering array", rendered, covering_rows, digests)
    return plan


def covering_requirements(matrix: Matrix, template_dir: Path) -> list[Requirement]:
    """3-wise over the axes that change Python files; 2-wise over every axis and the Python;
    and each pair of axes that meet in one file (they share its lines), on every Python."""
    axes = {q.name for q in matrix.axes}
    by_file = {
        path: names & axes
        for path, names in questions_by_file(template_dir, matrix.questionnaire.names).items()
    }
    python_axes = sorted(
        {
            q
            for path, names in by_file.items()
            if is_python_relevant(rendered_name(path))
            for q in names
        }
    )
    requirements = [Requirement((*sorted(axes), PYTHON_QUESTION), 2)]
    if python_axes:
        requirements.append(Requirement(tuple(python_axes), 3))
    pairs = {
        pair for names in by_file.values() for pair in itertools.combinations(sorted(names), 2)
    }
    requirements += [Requirement((*pair, PYTHON_QUESTION), 3) for pair in sorted(pairs)]
    return requirements


def covering_rows(matrix: Matrix, template_dir: Path) -> list[Combination]:
    """The valid combinations of the covering array; the default and all-features
    combinations of every Python come first, so each interpreter still runs them."""

    def row(combination: Combination) -> dict[str, Any]:
        return {**dict(combination.features), PYTHON_QUESTION: combination.python}

    seeds = [
        c
        for python in matrix.pythons
        for c in (matrix.default_variant(python), matrix.all_features_variant(python))
        if c is not None
    ]
    rows = covering_array(
        [row(c) for c in matrix.valid],
        covering_requirements(matrix, template_dir),
        seed_rows=[row(c) for c in seeds],
    )
    by_row = {json.dumps(row(c), sort_keys=True): c for c in matrix.valid}
    return [by_row[json.dumps(dict(r), sort_keys=True)] for r in rows]


def python_candidates(matrix: Matrix, tier: str) -> list[Combination]:
    """The combinations whose trees may run Python in `tier` (every one for `all`)."""
    if tier == "quick":
        return quick_combinations(matrix)
    if tier == "all":
        return list(matrix.valid)
    chosen = [c for c in matrix.valid if c.python == matrix.default_python]
    for python in matrix.pythons:
        for special in (matrix.default_variant(python), matrix.all_features_variant(python)):
            if special is not None and special not in chosen:
                chosen.append(special)
    return chosen


def _group(
    matrix: Matrix,
    tier: str,
    strategy: str,
    rendered: Sequence[Combination],
    candidates: Sequence[Combination],
    digests: Mapping[str, str],
) -> Plan:
    readmes = {c.id: digests[readme_key(c.id)] for c in rendered if readme_key(c.id) in digests}
    plan = Plan(tier, strategy, matrix.minimal_answers(), matrix.default_python, readmes=readmes)
    if tier != "quick":
        specials = [matrix.all_features_variant(python) for python in matrix.pythons]
        plan.docker_stacks = len(served_stacks(list(matrix.valid), matrix.default_python, specials))
    by_key: dict[str, list[Combination]] = {}
    for combination in candidates:
        by_key.setdefault(digests[combination.id], []).append(combination)
    tree_of_key: dict[str, str] = {}
    for key, members in by_key.items():
        # The representative holds a role if one does; the tree holds every member's roles.
        representative = max(members, key=lambda c: len(_roles(matrix, c)))
        roles = tuple(dict.fromkeys(role for c in members for role in _roles(matrix, c)))
        run = VariantRun(representative, roles)
        plan.trees.append(Tree(key, run, tuple(c.id for c in members)))
        tree_of_key[key] = run.id
    same_features = _same_features_on_default_python(matrix, by_key, tree_of_key)
    for combination in rendered:
        key = digests.get(combination.id, "")
        if key in tree_of_key:
            tree = tree_of_key[key]
            relation = "ran it" if tree == combination.id else "identical tree"
        elif combination.id in same_features:
            tree, relation = same_features[combination.id], "same features, default Python"
        else:
            tree, relation = None, f"no Python checks ({strategy})"
        plan.combinations.append(Planned(combination, tree, relation))
    return plan


def _same_features_on_default_python(
    matrix: Matrix, by_key: Mapping[str, list[Combination]], tree_of_key: Mapping[str, str]
) -> dict[str, str]:
    """Combinations on another Python whose features' tree runs on the default Python."""
    ran = {c.id: tree_of_key[key] for key, members in by_key.items() for c in members}
    on_default = {c.features: c for c in matrix.valid if c.python == matrix.default_python}
    found = {}
    for combination in matrix.valid:
        twin = on_default.get(combination.features)
        if twin is not None and twin.id in ran:
            found[combination.id] = ran[twin.id]
    return found


# ---- digests: render each candidate once, cheaply ------------------------------------------------


def digest_combinations(
    combinations: Sequence[Combination],
    template: Path = REPO_ROOT,
    workers: int | None = None,
) -> dict[str, str]:
    """combination id -> Python tree key, rendering each in-process from a template snapshot
    (spread over `workers` processes; about 16 renders a second each)."""
    workers = workers or min(os.cpu_count() or 1, max(1, len(combinations) // 20))
    datas = [(c.id, dict(c.data), sorted(services_for(c.answers)), c.python) for c in combinations]
    chunks = [datas[i::workers] for i in range(workers)]
    if workers == 1:
        results = [_digest_chunk(str(template), chunks[0])]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_digest_chunk, [str(template)] * workers, chunks))
    return {key: value for result in results for key, value in result.items()}


def _digest_chunk(
    template: str, chunk: Sequence[tuple[str, dict[str, Any], list[str], str]]
) -> dict[str, str]:
    found = {}
    scratch = Path(tempfile.mkdtemp(prefix="harness-plan-"))
    try:
        with TemplateSnapshot(Path(template)) as snapshot:
            for combination_id, data, services, python in chunk:
                destination = scratch / "project"
                facts = {"python": python, "services": ",".join(services)}
                try:
                    snapshot.render(data, destination)
                    found[combination_id] = python_tree_digest(destination, facts)[0]
                    found[readme_key(combination_id)] = readme_digest(destination / README)
                except Exception:  # a tree of its own, whose checks report the failure
                    found[combination_id] = f"unrenderable:{combination_id}"
                finally:
                    shutil.rmtree(destination, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return found


# ---- the cached plan of this repository ----------------------------------------------------------


def template_fingerprint(root: Path = REPO_ROOT, inputs: Iterable[str] = PLAN_INPUTS) -> str:
    """A hash of every file the plan depends on (the working tree, uncommitted edits included)."""
    digest = hashlib.sha256()
    for name in inputs:
        path = root / name
        files = [path] if path.is_file() else sorted(iter_files(path)) if path.is_dir() else []
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@cache
def load_plan(tier: str, strategy: str = "auto") -> Plan:
    """This repository's plan for `tier`; digests are cached per template fingerprint, so the
    xdist workers and later sessions reuse them (the first caller computes, under a lock).
    The controller pins the fingerprint in the environment, so its workers plan alike even if
    the template changes meanwhile (their renders then fail the tree-key check).
    `strategy` picks the full tier's: distinct trees, a covering array, or by the budget."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    matrix = load_matrix()
    template_dir = REPO_ROOT / str(matrix.questionnaire.settings.get("_subdirectory", ""))
    rows = (
        covering_rows(matrix, template_dir) if tier == "full" and strategy != "distinct" else None
    )
    candidates = python_candidates(matrix, tier) + (rows or [])
    fingerprint = os.environ.get(FINGERPRINT_VARIABLE) or template_fingerprint()
    cache_file = PLANS_DIR / f"digests-{fingerprint}.json"
    with _locked(PLANS_DIR / "digests.lock"):
        known = _read_json(cache_file)
        missing = [c for c in candidates if c.id not in known]
        if missing:
            known.update(digest_combinations(missing))
            # A failed render is planned, not kept: the next run tries it again.
            _write_json(cache_file, {k: v for k, v in known.items() if ":" not in v})
            _prune(PLANS_DIR, keep=cache_file)
    if strategy == "covering" and rows is not None:
        return _group(matrix, tier, "covering array", list(matrix.valid), rows, known)
    return build_plan(matrix, tier, known, rows)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def _prune(directory: Path, keep: Path) -> None:
    for old in directory.glob("digests-*.json"):
        if old != keep:
            old.unlink(missing_ok=True)


DURATIONS_FILE = HARNESS_DIR / "durations.json"


def read_durations() -> dict[str, float]:
    return {str(k): float(v) for k, v in _read_json(DURATIONS_FILE).items()}


def tree_key(root: Path, combination: Combination) -> str:
    """The key of a rendered tree: its Python-relevant files, its Python and its services."""
    services = ",".join(sorted(services_for(combination.answers)))
    return python_tree_digest(root, {"python": combination.python, "services": services})[0]


# ---- `python3 dev.py plan` ----------------------------------------------------------------------


def shard_names(count: int) -> list[str]:
    return [f"{index}/{count}" for index in range(1, count + 1)]


def plan_report(plan: Plan, shards: int) -> dict[str, Any]:
    """The plan as CI's first job prints it: counts, the estimate, and each shard's items."""
    shared = sum(len(tree.members) - 1 for tree in plan.trees)
    return {
        "tier": plan.tier,
        "strategy": plan.strategy,
        "combinations": len(plan.combinations),
        "trees": len(plan.trees),
        "runs_shared": shared,
        "estimated_minutes": round(plan.estimated_seconds(read_durations()) / 60, 1),
        "docker_stacks": plan.docker_stacks,
        "budget_minutes": FULL_TIER_BUDGET_SECONDS / 60,
        "shards": shard_names(shards),
        "shard_items": {
            name: sorted(plan.shard(i, shards))
            for i, name in enumerate(shard_names(shards), start=1)
        },
        "plan": plan.to_json(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="dev.py plan", description="print the harness's plan")
    parser.add_argument("--tier", choices=TIERS, default="full")
    parser.add_argument("--strategy", choices=STRATEGIES, default="auto")
    parser.add_argument("--shards", type=int, default=1, help="split it for CI's matrix")
    parser.add_argument("--json", action="store_true", help="the whole plan, as JSON")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    plan = load_plan(args.tier, args.strategy)
    report = plan_report(plan, args.shards)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"{plan.tier} tier, {plan.strategy}: {report['combinations']} combinations rendered "
        f"and statically checked; {report['trees']} distinct trees run Python "
        f"({report['runs_shared']} combinations share an identical tree's run); "
        f"{plan.docker_stacks} Docker stacks built and served; about "
        f"{report['estimated_minutes']} min on 2 workers (budget {report['budget_minutes']:.0f})"
    )
    for tree in plan.trees:
        roles = f" ({', '.join(tree.run.roles)})" if tree.run.roles else ""
        print(f"  {tree.id}{roles}: {', '.join(tree.members)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
