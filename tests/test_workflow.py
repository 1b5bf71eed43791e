"""The template's own CI workflow: valid, and running exactly the harness's plan in shards."""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.commands import run_command
from harness.matrix import load_matrix
from harness.plan import load_plan, main, shard_names
from harness.questionnaire import REPO_ROOT
from harness.services import SERVICES

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _shards() -> int:
    return int(_workflow()["env"]["SHARDS"])


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


@pytest.mark.quick
def test_workflow_validates_against_the_github_schema() -> None:
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    result = run_command([*argv, str(WORKFLOW)], REPO_ROOT, timeout=120)
    assert result.ok, result.describe()


@pytest.mark.quick
def test_workflow_plans_checks_its_shards_and_merges_them() -> None:
    jobs = _workflow()["jobs"]
    assert 'python3 dev.py plan --shards "$SHARDS" --json' in _runs(jobs["plan"])
    check = jobs["check"]
    assert check["needs"] == "plan"
    assert check["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert 'python3 dev.py test --shard "${{ matrix.shard }}"' in _runs(check)
    assert check["env"]["CI"] == "true", "a missing service or Python must fail, not skip"
    assert set(jobs["summary"]["needs"]) == {"plan", "check"}
    assert "python3 dev.py summary" in _runs(jobs["summary"])


@pytest.mark.quick
def test_workflow_has_every_service_and_python_the_harness_may_need() -> None:
    check = _workflow()["jobs"]["check"]
    assert set(check["services"]) == set(SERVICES)
    setup = next(
        s for s in check["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")
    )
    listed = str(setup["with"]["python-version"]).split()
    assert sorted(listed) == sorted(load_matrix().pythons)
    assert listed[-1] == load_matrix().default_python, "setup-python makes the last the default"


# Contexts GitHub allows where the workflow uses expressions outside steps (its docs' table).
ALLOWED_CONTEXTS = {
    "workflow env": {"github", "secrets", "inputs", "vars"},
    "job env": {"github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"},
    "strategy": {"github", "needs", "vars", "inputs"},
}


@pytest.mark.quick
def test_workflow_expressions_use_only_contexts_available_there() -> None:
    """The schema cannot see this; GitHub refuses the file at load time ("Unrecognized
    named-value: 'job'")."""
    workflow = _workflow()
    places: list[tuple[str, object]] = [("workflow env", workflow.get("env", {}))]
    for job in workflow["jobs"].values():
        places += [("job env", job.get("env", {})), ("strategy", job.get("strategy", {}))]
    misplaced = [
        f"{place}: {name}"
        for place, value in places
        for expression in re.findall(r"\$\{\{(.*?)\}\}", json.dumps(value))
        for name in re.findall(r"(?<![\w.])([A-Za-z_]\w*)\.", expression)
        if name not in ALLOWED_CONTEXTS[place]
    ]
    assert misplaced == []
    # The rule the test enforces: the `job` context in a job's env is refused.
    assert re.findall(r"(?<![\w.])([A-Za-z_]\w*)\.", " job.services.rabbitmq.id") == ["job"]


@pytest.mark.quick
def test_the_workflows_shards_are_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    count = _shards()
    assert main(["--shards", str(count), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["shards"] == shard_names(count)
    items = [set(printed["shard_items"][name]) for name in printed["shards"]]
    assert set().union(*items) == load_plan("full").item_keys()
    assert sum(len(shard) for shard in items) == len(load_plan("full").item_keys())
    assert all(items), "a shard with nothing to check"


def test_the_workflows_shards_collect_exactly_the_suite() -> None:
    """`--shard K/N` over K splits the collected suite: nothing twice, nothing left out."""
    count = _shards()
    everything = _collected()
    shards = [_collected("--shard", name) for name in shard_names(count)]
    assert sorted(itertools.chain(*shards)) == sorted(everything)
    assert all(shards), "a shard with nothing to do"


def _collected(*args: str) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    result = run_command([*argv, *args], REPO_ROOT, timeout=300)
    assert result.ok, result.describe()
    return [line for line in result.output.splitlines() if "::" in line]


def test_summaries_of_the_shards_merge_into_one(tmp_path: Path) -> None:
    from harness.summary import merge

    plan = load_plan("full")
    first, second = plan.trees[0], plan.trees[1]

    def shard(tree_id: str, outcome: str) -> Path:
        report = {
            "kind": "tree",
            "id": tree_id,
            "outcome": outcome,
            "seconds": 1.0,
            "missing": [],
            "steps": [],
        }
        path = tmp_path / f"{outcome}.json"
        path.write_text(json.dumps({"plan": plan.to_json(), "reports": [report]}))
        return path

    lines = merge([shard(first.id, "passed"), shard(second.id, "failed")], tmp_path / "out")
    assert f"failed: tree {second.id}" in lines
    assert any(line.startswith(f"| {first.run.name}") and "passed" in line for line in lines)

    other = tmp_path / "other.json"
    other.write_text(
        json.dumps({"plan": {**plan.to_json(), "tier": "full", "trees": []}, "reports": []})
    )
    with pytest.raises(SystemExit, match="another plan"):
        merge([other], tmp_path / "out")
