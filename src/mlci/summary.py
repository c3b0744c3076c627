"""Short Markdown summaries of a session's reports and of a CI run's job results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from mlci.junit import totals

# What a job result means for the required check (GitHub `needs.<job>.result` values).
PASSING_RESULTS = ("success", "skipped")


def coverage_percent(path: Path) -> float | None:
    """Line coverage from a Cobertura `coverage.xml`, or None without one."""
    if not path.is_file():
        return None
    rate = ET.parse(path).getroot().get("line-rate")
    return None if rate is None else round(float(rate) * 100, 1)


def total_coverage(path: Path) -> float | None:
    """coverage.py's total (lines and branches together, as --cov-fail-under counts it)."""
    if not path.is_file():
        return None
    root = ET.parse(path).getroot()
    valid = int(root.get("lines-valid", "0")) + int(root.get("branches-valid", "0"))
    covered = int(root.get("lines-covered", "0")) + int(root.get("branches-covered", "0"))
    return 100.0 if valid == 0 else 100.0 * covered / valid


ICONS = {"success": "✅", "failure": "❌", "cancelled": "⏹️", "skipped": "⏭️"}


def session_summary(name: str, reports: Path, outcome: str = "") -> str:
    """Markdown for one session's reports: test counts and coverage.

    `outcome`: how the session's step ended (GitHub's steps.<id>.outcome), when known.
    """
    junit = reports / "junit.xml"
    if not junit.is_file():
        if outcome:
            return f"### {ICONS.get(outcome, '❔')} {name}\nsession {outcome}; no test report\n"
        return f"### ❔ {name}\nno test report: the session stopped before its tests ran\n"
    counts = totals(junit)
    ok = counts.failures == 0 and counts.errors == 0 and counts.tests > 0
    if outcome:
        ok = ok and outcome == "success"
    line = (
        f"{counts.passed} passed, {counts.failures} failed, {counts.errors} errors,"
        f" {counts.skipped} skipped"
    )
    coverage = coverage_percent(reports / "coverage.xml")
    if coverage is not None:
        line += f" · line coverage {coverage:g}%"
    return f"### {'✅' if ok else '❌'} {name}\n{line}\n"


def needs_verdict(needs_json: str) -> tuple[bool, str]:
    """Judge GitHub's `needs` context: pass when every job succeeded or was skipped."""
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
        passed = result in PASSING_RESULTS
        ok = ok and passed
        lines.append(f"{'✅' if passed else '❌'} {job}: {result}")
    return ok, "\n".join(lines)
