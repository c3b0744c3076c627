"""Evidence on demand: each selected test run K times (pytest-repeat's `--count`), and the ones
whose outcome changed from one repeat to the next named as nondeterministic.

pytest-repeat (kept, 2025) rather than pytest-flakefinder (last release 2022): both repeat
each test, and pytest-repeat's ids (`test_a[3-20]`, `test_b[x-3-20]`) name the repeat, so the
JUnit report alone says which outcomes differed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mlci.session import junit

REPEAT = "pytest-repeat>=0.9"
SHOWN = 10  # tests named in the line, at most
# `name[3-20]`, or `name[params-3-20]`: the repeat's index and count close the id.
_REPEAT_ID = re.compile(r"^(?P<name>[^\[]*)\[(?:(?P<params>.*)-)?[0-9]+-[0-9]+\]$")


@dataclass(frozen=True)
class Nondeterministic:
    test: str  # the id without the repeat
    failed: int
    runs: int


def pytest_args(count: int) -> list[str]:
    """Each test `count` times, the repeats one after another (`--repeat-scope=function`)."""
    return [f"--count={count}", "--repeat-scope=function"]


def base_id(case_id: str) -> str:
    """The test a repeat belongs to: `t.py::test_a[3-20]` -> `t.py::test_a`."""
    match = _REPEAT_ID.match(case_id)
    if match is None:
        return case_id
    params = match["params"]
    return match["name"] + (f"[{params}]" if params else "")


def find(report: Path) -> tuple[list[Nondeterministic], int]:
    """The tests that both passed and failed over their repeats, most failures first, and how
    many tests ran."""
    root = junit.parse(report)
    if root is None:
        return [], 0
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for case in root.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        failed = case.find("failure") is not None or case.find("error") is not None
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcomes[base_id(name)].append(failed)
    found = [
        Nondeterministic(test, sum(runs), len(runs))
        for test, runs in outcomes.items()
        if any(runs) and not all(runs)
    ]
    return sorted(found, key=lambda entry: (-entry.failed, entry.test)), len(outcomes)


def verdict_line(session: str, report: Path, count: int) -> str:
    """One line: which tests are nondeterministic over `count` runs, or that none was."""
    found, tests = find(report)
    if not found:
        return (
            f"mlci: {session}: flake-finder: none of {tests} tests changed outcome in {count} runs"
        )
    named = ", ".join(
        f"{entry.test} ({entry.failed} of {entry.runs} failed)" for entry in found[:10]
    )
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return (
        f"mlci: {session}: flake-finder: {len(found)} of {tests} tests are nondeterministic over"
        f" {count} runs: {named}{more}"
    )
