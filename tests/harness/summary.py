"""The session summary: one row per distinct tree on the terminal, every combination in files.

At hundreds of combinations a row each is unreadable, so the terminal gets one row per tree
that ran Python checks, with how many combinations it stands for, and one line for the static
checks of all combinations. `combinations.md` and `combinations.json` under the work folder hold
the full per-combination table: its static checks, and whose Python run stands for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .plan import Plan
from .python_checks import HARNESS_DIR

SUMMARY_DIR = HARNESS_DIR / "summary"
TREE_HEADERS = ("tree", "python", "stands for", "result", "checks", "tests", "cover", "secs")
COMBINATION_HEADERS = (
    "combination",
    "static checks",
    "secs",
    "Python checks by",
    "how",
    "result",
    "tests",
    "cover",
)
NAMES_SHOWN = 3  # combination names per tree row on the terminal; the files list them all


def steps_text(report: Mapping[str, Any]) -> str:
    steps = report["steps"]
    failed = [s["name"] for s in steps if s["status"] == "failed"]
    not_run = [s["name"] for s in steps if s["status"] == "not run"]
    ok = len(steps) - len(failed) - len(not_run)
    text = f"{ok}/{len(steps)} ok"
    if failed:
        text = f"FAILED {', '.join(failed)}; {text}"
    return f"{text}; not run: {', '.join(not_run)}" if not_run else text


def _members_text(members: Sequence[str], shown: int | None) -> str:
    names = list(members) if shown is None else list(members[:shown])
    more = len(members) - len(names)
    return f"{len(members)}: {', '.join(names)}" + (f", +{more} more" if more else "")


def _coverage(report: Mapping[str, Any] | None) -> str:
    value = report.get("coverage") if report else None
    return "-" if value is None else f"{value:.1f}%"


def _tests(report: Mapping[str, Any] | None) -> str:
    value = report.get("tests_passed") if report else None
    return "-" if value is None else str(value)


def tree_rows(
    plan: Plan, trees: Mapping[str, Mapping[str, Any]], shown: int | None
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for tree in plan.trees:
        report = trees.get(tree.id)
        roles = f" ({', '.join(tree.run.roles)})" if tree.run.roles else ""
        rows.append(
            (
                tree.run.name + roles,
                tree.run.python,
                _members_text(tree.members, shown),
                report["outcome"] if report else "not run",
                steps_text(report) if report else "-",
                _tests(report),
                _coverage(report),
                f"{report['seconds']:.0f}" if report else "-",
            )
        )
    return rows


def combination_rows(
    plan: Plan,
    statics: Mapping[str, Mapping[str, Any]],
    trees: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for planned in plan.combinations:
        static = statics.get(planned.id)
        tree = trees.get(planned.tree) if planned.tree else None
        rows.append(
            (
                planned.id,
                steps_text(static) if static else "not run",
                f"{static['seconds']:.1f}" if static else "-",
                planned.tree or "-",
                planned.relation,
                tree["outcome"] if tree else "-",
                _tests(tree),
                _coverage(tree),
            )
        )
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    everything = [tuple(headers), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in everything) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in everything
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(headers), line(["---"] * len(headers)), *(line(row) for row in rows)]


def _by_kind(reports: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Mapping[str, Any]]:
    return {r["id"]: r for r in reports if r["kind"] == kind}


def footer(plan: Plan, reports: Sequence[Mapping[str, Any]]) -> list[str]:
    statics, trees = _by_kind(reports, "static"), _by_kind(reports, "tree")
    lines = []
    for kind, found, planned in (
        ("combinations rendered and statically checked", statics, len(plan.combinations)),
        ("distinct trees ran their Python checks", trees, len(plan.trees)),
    ):
        outcomes = [r["outcome"] for r in found.values()]
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("passed", "failed", "skipped"))
        lines.append(f"{len(found)} of {planned} {kind}: {counts}")
    stood_for = sum(len(t.members) - 1 for t in plan.trees)
    others = sum(1 for p in plan.combinations if p.relation == "same features, default Python")
    lines.append(
        f"runs shared: {stood_for} combinations reused an identical tree's run; {others} on "
        "another Python are checked statically, their features' Python on the default Python"
    )
    lines += [f"failed: {r['kind']} {r['id']}" for r in reports if r["outcome"] == "failed"]
    lines += [f"missing: {r['id']}: {m}" for r in reports for m in r.get("missing", [])]
    return lines


def write_summary(plan: Plan, reports: Sequence[Mapping[str, Any]], directory: Path) -> list[str]:
    """Write the per-combination files; return the terminal's lines (trees, then the totals)."""
    statics, trees = _by_kind(reports, "static"), _by_kind(reports, "tree")
    directory.mkdir(parents=True, exist_ok=True)
    rows = combination_rows(plan, statics, trees)
    markdown = [
        f"# Harness run: {plan.tier} tier, {plan.strategy}",
        "",
        "## Distinct trees",
        "",
        *markdown_table(TREE_HEADERS, tree_rows(plan, trees, shown=None)),
        "",
        "## Combinations",
        "",
        *markdown_table(COMBINATION_HEADERS, rows),
        "",
        *footer(plan, reports),
    ]
    (directory / "combinations.md").write_text("\n".join(markdown) + "\n", encoding="utf-8")
    data = {
        "plan": plan.to_json(),
        "combinations": [dict(zip(COMBINATION_HEADERS, row, strict=True)) for row in rows],
        "reports": list(reports),
    }
    (directory / "combinations.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    ran = [
        row
        for row, tree in zip(tree_rows(plan, trees, NAMES_SHOWN), plan.trees, strict=True)
        if tree.id in trees
    ]
    lines = table(TREE_HEADERS, ran)
    lines += ["", *footer(plan, reports)]
    lines.append(f"every combination: {directory / 'combinations.md'} (and .json)")
    return lines


def merge(paths: Sequence[Path], directory: Path) -> list[str]:
    """One summary from the shards' `combinations.json`, as Markdown (CI's last job)."""
    from .plan import load_plan

    shards = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    if not shards:
        raise SystemExit("no shard summaries given")
    tier = shards[0]["plan"]["tier"]
    plan = load_plan(tier)
    if any(shard["plan"] != plan.to_json() for shard in shards):
        raise SystemExit(
            "a shard ran another plan than this checkout's: merge summaries of one run"
        )
    reports = [report for shard in shards for report in shard["reports"]]
    write_summary(plan, reports, directory)
    return (directory / "combinations.md").read_text(encoding="utf-8").splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="dev.py summary", description=merge.__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="the shards' combinations.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        lines = merge(args.files, Path(directory))
    print("\n".join(lines))
    failed = [line for line in lines if line.startswith("failed: ")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
