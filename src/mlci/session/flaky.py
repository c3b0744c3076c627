"""Flaky tests with evidence: reruns that are reported, and a quarantine that expires.

- `flaky-reruns = N`: pytest-rerunfailures reruns a failed test up to N times. A test that
  failed and then passed is *flaky*, never a plain pass: mlci's pytest plugin marks it in the
  JUnit report (a `mlci.flaky` property and a line in `system-out`, which GitLab's test report
  shows), lists it in `mlci-reports/<session>/flaky.json` (test id, attempts, the first failure's
  message), the session logs it in its verdict line, and the GitHub job summary lists it.
- `quarantine = "quarantine.toml"`: tests that may fail for now, each with a reason and the date
  the quarantine ends. A quarantined test still runs and its result is reported; its failure
  does not fail the session (it is reported as xfailed: quarantined). Once the date has passed
  the session fails in one line: fix it, or extend the date. Each quarantined test's passes in a
  row are counted per session in `.mlci-carry/quarantine.json` (CI carries it from run to run);
  at `quarantine-ready-after` the test is reported as ready to leave.

Standard library only: the nox process and the pytest plugin both use it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci._toml import tomllib
from mlci.errors import ConfigError

REPORT = "flaky.json"
HISTORY = ".mlci-carry/quarantine.json"  # from the project root: passes in a row, per session
PROPERTY = "mlci.flaky"
QUARANTINE_ENV = "MLCI_QUARANTINE"  # the entries, as JSON, for the pytest plugin
REPORTS_ENV = "MLCI_REPORTS"  # the session's report folder, for the plugin's flaky.json
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Entry:
    """One quarantined test."""

    test: str  # a pytest node id: tests/test_x.py::test_y
    reason: str
    until: datetime.date

    def as_dict(self) -> dict[str, str]:
        return {"test": self.test, "reason": self.reason, "until": self.until.isoformat()}


def read_quarantine(path: Path) -> list[Entry]:
    """The entries of a quarantine file; ConfigError naming the first bad one."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"quarantine: cannot read {path}: {err.strerror}") from None
    except ValueError as err:
        raise ConfigError(f"quarantine: {path} is not TOML ({err})") from None
    tests = data.get("test", [])
    if not isinstance(tests, list):
        raise ConfigError(f"quarantine: {path}: write each entry as a [[test]] table")
    entries = []
    for number, raw in enumerate(tests, start=1):
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("reason"):
            raise ConfigError(f"quarantine: {path}: entry {number} needs an id and a reason")
        until = raw.get("until")
        if isinstance(until, str) and _DATE.fullmatch(until):
            until = datetime.date.fromisoformat(until)
        if not isinstance(until, datetime.date) or isinstance(until, datetime.datetime):
            raise ConfigError(
                f"quarantine: {path}: {raw['id']} needs `until`, the date its quarantine ends"
                " (until = 2027-01-31)"
            )
        entries.append(Entry(str(raw["id"]), str(raw["reason"]), until))
    return entries


def expired(entries: list[Entry], today: datetime.date | None = None) -> list[str]:
    """One line per entry whose date has passed."""
    today = today or datetime.date.today()
    return [
        f"quarantine: {entry.test} was quarantined until {entry.until} ({entry.reason}):"
        " fix it, or extend the date"
        for entry in entries
        if entry.until < today
    ]


def environment(entries: list[Entry], reports: Path) -> dict[str, str]:
    """What the pytest plugin reads."""
    return {
        QUARANTINE_ENV: json.dumps([entry.as_dict() for entry in entries]),
        REPORTS_ENV: str(reports),
    }


def quarantined_here() -> dict[str, dict[str, str]]:
    """For the pytest plugin: node id -> entry."""
    try:
        entries = json.loads(os.environ.get(QUARANTINE_ENV) or "[]")
    except ValueError:
        return {}
    return {str(e["test"]): e for e in entries if isinstance(e, dict) and "test" in e}


def write_report(
    reports: Path, flaky: list[dict[str, Any]], quarantined: list[dict[str, Any]]
) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    data = {"flaky": flaky, "quarantined": quarantined}
    (reports / REPORT).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_report(reports: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads((reports / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"flaky": [], "quarantined": []}
    return {key: list(data.get(key, [])) for key in ("flaky", "quarantined")}


def annotate_junit(junit: Path, flaky: list[dict[str, Any]]) -> None:
    """One test case per test, as without reruns: pytest's report lists each rerun attempt as
    an empty test case (which a CI report shows as a pass), so those are dropped; and a line in
    each flaky test's `system-out`, which GitLab's test report shows (properties it does not)."""
    if not junit.is_file():
        return
    try:
        tree = ET.parse(junit)
    except ET.ParseError:
        return
    by_id = {entry["junit"]: entry for entry in flaky}
    for suite in tree.getroot().iter("testsuite"):
        cases = suite.findall("testcase")
        last = {_case_id(case): case for case in cases}
        for case in cases:
            if last[_case_id(case)] is not case and len(case) == 0:
                suite.remove(case)  # an earlier attempt of a rerun test
    for case in tree.getroot().iter("testcase"):
        entry = by_id.get(_case_id(case))
        if entry is None:
            continue
        out = case.find("system-out")
        if out is None:
            out = ET.SubElement(case, "system-out")
        note = (
            f"mlci: FLAKY: failed {entry['failures']} time(s), then passed (attempt"
            f" {entry['attempts']}); first failure: {entry['first_failure']}\n"
        )
        out.text = note + (out.text or "")
    tree.write(junit, encoding="utf-8", xml_declaration=True)


def _case_id(case: ET.Element) -> str:
    return f"{case.get('classname', '')}::{case.get('name', '')}"


def describe(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One phrase each for the flaky and the quarantined tests of a run (none: nothing)."""
    parts = []
    if found["flaky"]:
        names = ", ".join(entry["test"] for entry in found["flaky"][:5])
        parts.append(f"{len(found['flaky'])} flaky (failed, then passed on a rerun): {names}")
    failed = [entry for entry in found["quarantined"] if entry.get("outcome") == "failed"]
    if found["quarantined"]:
        parts.append(
            f"{len(found['quarantined'])} quarantined ran, {len(failed)} failed and did not count"
        )
    return parts


def verdict_line(session: str, reports: Path, shown: Path) -> str | None:
    """The session log's line about flaky and quarantined tests (None: there were none)."""
    parts = describe(read_report(reports))
    if not parts:
        return None
    return f"mlci: {session}: " + "; ".join(parts) + f" (see {shown / REPORT})"


def record_streaks(
    root: Path, session: str, quarantined: list[dict[str, Any]], listed: set[str]
) -> dict[str, int]:
    """Count this run into each quarantined test's passes in a row (a failure starts again
    from 0; a test that did not run keeps its count), for this session; tests no longer in the
    quarantine are forgotten. Returns the session's counts."""
    path = root / HISTORY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    known = data.get(session, {})
    streaks = {
        test: count
        for test, count in (known.items() if isinstance(known, dict) else ())
        if test in listed and isinstance(count, int)  # a hand-edited value starts again
    }
    # One count per run: a test run several times (flake-finder's repeats) passed this run
    # only if every one of its runs passed.
    passed: dict[str, bool] = {}
    for entry in quarantined:
        test = str(entry.get("test", ""))
        if test in listed:
            passed[test] = passed.get(test, True) and entry.get("outcome") == "passed"
    for test, ok in passed.items():
        streaks[test] = streaks.get(test, 0) + 1 if ok else 0
    data[session] = streaks
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Written by mlci: what CI carries from run to run.\n*\n")
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return streaks


def ready_line(session: str, streaks: dict[str, int], after: int, quarantine: str) -> str | None:
    """The log's line naming the quarantined tests that passed `after` runs in a row."""
    ready = sorted(test for test, count in streaks.items() if count >= after)
    if not ready:
        return None
    return (
        f"mlci: {session}: ready to leave the quarantine, passed {after} runs in a row:"
        f" {', '.join(ready)} (remove them from {quarantine})"
    )
