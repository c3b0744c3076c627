"""Short Markdown summaries of a session's reports and of a CI run's job results."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mlci.session import flaky
from mlci.session.junit import ReportError, parse, totals

# What a job result means for the required check (GitHub `needs.<job>.result` values).
ICONS = {"success": "✅", "failure": "❌", "cancelled": "⏹️", "skipped": "⏭️"}


def total_coverage(path: Path) -> float | None:
    """coverage.py's total from a Cobertura `coverage.xml`: lines and branches together when
    branch coverage is on, as `coverage report` counts it. None without a report."""
    root = parse(path)
    if root is None:
        return None
    try:
        valid = int(root.get("lines-valid", "0")) + int(root.get("branches-valid", "0"))
        covered = int(root.get("lines-covered", "0")) + int(root.get("branches-covered", "0"))
    except ValueError:
        raise ReportError(f"{path}: its line and branch counts are not numbers") from None
    return 100.0 if valid == 0 else 100.0 * covered / valid


def session_summary(name: str, reports: Path, outcome: str = "") -> str:
    """Markdown for one session's reports: test counts and coverage.

    `outcome`: how the session's step ended (GitHub's steps.<id>.outcome), when known.
    """
    junit = reports / "junit.xml"
    try:
        counts = totals(junit) if junit.is_file() else None
        coverage = total_coverage(reports / "coverage.xml")
    except ReportError as err:
        return f"### ❌ {name}\n{err}\n"
    if counts is None and coverage is not None:  # the combine job: coverage only
        ok = outcome in ("", "success")
        return f"### {'✅' if ok else '❌'} {name}\ncoverage {coverage:.2f}%\n"
    if counts is None:
        if outcome:
            return f"### {ICONS.get(outcome, '❔')} {name}\nsession {outcome}; no test report\n"
        return f"### ❔ {name}\nno test report: the session stopped before its tests ran\n"
    ok = counts.failures == 0 and counts.errors == 0 and counts.tests > 0
    if outcome:
        ok = ok and outcome == "success"
    line = (
        f"{counts.passed} passed, {counts.failures} failed, {counts.errors} errors,"
        f" {counts.skipped} skipped"
    )
    if coverage is not None:
        line += f" · coverage {coverage:.2f}%"
    found = flaky.read_report(reports)
    notes = "".join(f"- ⚠️ {part}\n" for part in flaky.describe(found))
    notes += "".join(
        f"  - `{entry['test']}`: failed {entry['failures']}x first, then passed:"
        f" {entry['first_failure']}\n"
        for entry in found["flaky"]
    )
    return f"### {'✅' if ok else '❌'} {name}\n{line}\n{notes}"


def needs_verdict(needs_json: str, allowed_skips: Iterable[str] = ()) -> tuple[bool, str]:
    """Judge GitHub's `needs` context: every job must have succeeded, except those listed in
    `allowed_skips`, which may also have been skipped (like re-actors/alls-green). A run where
    everything was skipped is therefore not green unless every job was allowed to skip."""
    allowed = set(allowed_skips)
    try:
        needs = json.loads(needs_json)
    except json.JSONDecodeError as err:
        return False, f"the needs context is not JSON ({err.msg})"
    if not isinstance(needs, dict) or not needs:
        return False, "the needs context names no job"
    lines = []
    ok = True
    for job, data in needs.items():
        result = data.get("result", "?") if isinstance(data, dict) else "?"
        passed = result == "success" or (result == "skipped" and job in allowed)
        ok = ok and passed
        note = "" if passed or result != "skipped" else " (not allowed to skip)"
        lines.append(f"{ICONS.get(result, '❔') if passed else '❌'} {job}: {result}{note}")
    return ok, "\n".join(lines)
