"""Totals from a JUnit XML report (pytest's or mypy's), for session checks and summaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


class ReportError(Exception):
    """A report that exists but cannot be read (truncated by a killed job, not XML)."""


@dataclass(frozen=True)
class Totals:
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def parse(path: Path) -> ET.Element | None:
    """The report's root element; None without a report; ReportError for a broken one."""
    if not path.is_file():
        return None
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ReportError(f"{path} is not a readable XML report ({err})") from None
    except OSError as err:
        raise ReportError(f"cannot read {path}: {err.strerror}") from None


def _count(element: ET.Element, key: str, path: Path) -> int:
    text = element.get(key, "0")
    if not text.isascii() or not text.isdigit():
        raise ReportError(f"{path}: {key}={text!r} is not a count")
    return int(text)


def totals(path: Path) -> Totals:
    """Sum the counts of every test suite in the report; a missing report counts as no tests."""
    root = parse(path)
    if root is None:
        return Totals(0, 0, 0, 0)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = [0, 0, 0, 0]
    for suite in suites:
        for i, key in enumerate(("tests", "failures", "errors", "skipped")):
            counts[i] += _count(suite, key, path)
    return Totals(*counts)


def skip_reasons(path: Path) -> list[str]:
    """`test id: reason` for every skipped test case in the report."""
    root = parse(path)
    if root is None:
        return []
    reasons = []
    for case in root.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            reasons.append(f"{name}: {skipped.get('message', '')}")
    return reasons
