"""Totals from a JUnit XML report (pytest's or mypy's), for session checks and summaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Totals:
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def totals(path: Path) -> Totals:
    """Sum the counts of every test suite in the report; a missing report counts as no tests."""
    if not path.is_file():
        return Totals(0, 0, 0, 0)
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = [0, 0, 0, 0]
    for suite in suites:
        for i, key in enumerate(("tests", "failures", "errors", "skipped")):
            counts[i] += int(suite.get(key, "0"))
    return Totals(*counts)


def skip_reasons(path: Path) -> list[str]:
    """`test id: reason` for every skipped test case in the report."""
    if not path.is_file():
        return []
    reasons = []
    for case in ET.parse(path).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            reasons.append(f"{name}: {skipped.get('message', '')}")
    return reasons
