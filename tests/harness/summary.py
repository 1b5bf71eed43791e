"""The per-variant summary table printed at the end of the session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

HEADERS = ("variant", "python", "result", "checks", "tests", "cover", "secs", "shared-with")


def _checks(report: Mapping[str, Any]) -> str:
    steps = report["steps"]
    failed = [s["name"] for s in steps if s["status"] == "failed"]
    not_run = [s["name"] for s in steps if s["status"] == "not run"]
    ok = len(steps) - len(failed) - len(not_run)
    text = f"{ok}/{len(steps)} ok"
    if failed:
        text = f"FAILED {', '.join(failed)}; {text}"
    return f"{text}; not run: {', '.join(not_run)}" if not_run else text


def _shared(report: Mapping[str, Any], reusers: Mapping[str, list[str]]) -> str:
    """Who ran the Python checks this variant reports, or how many variants reused its run."""
    owner = report.get("python_owner")
    if owner and owner != report["id"]:
        return f"reused {owner}"
    count = len(reusers.get(report["id"], []))
    return f"ran for {count} other(s)" if count else "-"


def _row(report: Mapping[str, Any], reusers: Mapping[str, list[str]]) -> tuple[str, ...]:
    coverage = report.get("coverage")
    passed = report.get("tests_passed")
    shown = [role for role in report.get("roles", []) if role != report["name"]]
    roles = f" ({', '.join(shown)})" if shown else ""
    return (
        report["name"] + roles,
        report["python"],
        report["outcome"],
        _checks(report),
        "-" if passed is None else str(passed),
        "-" if coverage is None else f"{coverage:.1f}%",
        f"{report['seconds']:.0f}",
        _shared(report, reusers),
    )


def format_table(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    reusers: dict[str, list[str]] = defaultdict(list)
    for report in reports:
        owner = report.get("python_owner")
        if owner and owner != report["id"]:
            reusers[owner].append(report["id"])
    rows = [HEADERS, *(_row(r, reusers) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


def format_footer(reports: Sequence[Mapping[str, Any]]) -> str:
    outcomes = [r["outcome"] for r in reports]
    runs = {r["python_key"] for r in reports if r.get("python_key")}
    shared = sum(1 for r in reports if r.get("python_owner") not in (None, r["id"]))
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("passed", "failed", "skipped"))
    checks = [step["name"] for step in reports[0]["steps"]] if reports else []
    return (
        f"{len(reports)} variants: {counts}; {len(runs)} Python runs, "
        f"{shared} variants reused another's run\nchecks, in order: {', '.join(checks)}"
    )


def missing_lines(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{r['id']}: {m}" for r in reports for m in r.get("missing", [])]
