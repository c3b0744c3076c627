"""Which of a set of tests (the GPU tests, say) a change can affect, conservative by construction.

Only a pull or merge request may run fewer than all of them, and only when the diff is known, the
test map is fresh, and every changed file is one the map can follow. Anything the map cannot see
(dependencies, configuration, data files, new modules) runs them all.

Why coverage contexts rather than pytest-testmon's data: testmon records with coverage.py's
dynamic contexts too, but keeps per test the checksums of the code blocks it ran, in SQLite
(`.testmondata`) under an "environment" of name, installed packages and Python version; a run
whose packages differ (a GPU runner's CUDA torch) replaces that environment and drops its tests,
a new data version deletes the file, there is no way to combine two machines' files, and it
refuses to run beside pytest-cov with branch coverage on, which the kit turns on. Coverage
contexts give exactly "which files each test executed", are recorded on the GPU runner by the
pytest-cov the kit already runs, and combine across machines with `coverage combine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Literal

from mlci.session.test_map import TestMap, file_of

Event = Literal[
    "pull_request", "push_default", "tag", "schedule", "merge_group", "merge_train", "other"
]
Mode = Literal["affected", "all"]

_RUNS_ALL: dict[str, str] = {
    "push": "a push",
    "push_default": "push to the default branch",
    "workflow_dispatch": "a manual run",
    "tag": "tag pipeline",
    "schedule": "scheduled run",
    "merge_group": "merge queue",
    "merge_train": "merge train",
    "other": "not a pull or merge request",
}
# Files the packaging, the environment or the test run itself is made from.
_CONFIG = (
    "pyproject.toml", "uv.lock", "setup.py", "setup.cfg", "requirements*.txt", "requirements/**",
    "tox.ini", "noxfile.py", "conftest.py", ".pre-commit-config.yaml", ".github/**",
    ".gitlab-ci.yml", "ci-templates/**", "*.cfg", "*.ini", "*.toml",
)  # fmt: skip
_DOCS = ("*.md", "*.rst", "docs/**", "LICENSE*")
_TEST_FILES = ("test_*.py", "*_test.py")  # pytest's default python_files
_CLOCK_SKEW = timedelta(minutes=5)  # between the runner that recorded the map and this one


@dataclass(frozen=True)
class Decision:
    run: bool
    tests: tuple[str, ...] | None  # None: all of them
    reason: str  # one line


def decide(
    *,
    changed: Sequence[str] | None,
    test_map: TestMap | None,
    now: datetime,
    max_age: timedelta,
    event: str,
    always: Sequence[str],
    selected_tests: frozenset[str],
    mode: Mode,
    label: str = "gpu",
) -> Decision:
    """Whether to run `selected_tests` for a change, and which; `changed` includes deleted files
    and is None when the diff is unknown."""
    if event != "pull_request":
        return _all(label, _RUNS_ALL.get(event, f"a {event} run, not a pull request"))
    if changed is None:
        return _all(label, "the changed files are unknown")
    files = _normalized(changed)
    if not files:
        # An empty diff of a pull request more likely means the diff went wrong than no change.
        return _all(label, "the diff lists no changed files")
    if test_map is None:
        return _all(label, "no test map recorded yet")
    if not selected_tests:
        return _all(label, f"the test map records no {label} run yet")
    why = _stale(test_map, now, max_age) or _blind_spot(files, test_map, always, selected_tests)
    if why is not None:
        return _all(label, why)
    return _select(label, files, test_map, selected_tests, mode)


def matches(path: str, pattern: str) -> bool:
    """fnmatch within a path segment, `**` for any depth; a pattern without "/" matches the file
    name at any depth."""
    if "/" not in pattern:
        return fnmatchcase(PurePosixPath(path).name, pattern)
    return _match_parts(tuple(path.split("/")), tuple(pattern.strip("/").split("/")))


def _match_parts(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_match_parts(path[skip:], pattern[1:]) for skip in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], pattern[0]) and _match_parts(path[1:], pattern[1:])


def _all(label: str, why: str) -> Decision:
    return Decision(True, None, f"{label}: all tests, {why}")


def _select(
    label: str, files: Sequence[str], test_map: TestMap, selected_tests: frozenset[str], mode: Mode
) -> Decision:
    affected = _affected(files, test_map, selected_tests)
    if not affected:
        return Decision(False, (), f"{label}: skipped, {_none_reach(label, files, test_map)}")
    reach = f"reach the {_changed(files)}{_unrecorded_note(affected, test_map)}"
    if mode == "affected":
        count = f"{len(affected)} of {len(selected_tests)} {label} tests"
        return Decision(True, tuple(sorted(affected)), f"{label}: {count} {reach}")
    count = f"all {len(selected_tests)} {label} tests, {len(affected)}"
    return Decision(True, None, f"{label}: {count} {reach}")


def _stale(test_map: TestMap, now: datetime, max_age: timedelta) -> str | None:
    age = now - test_map.recorded_at
    if age < -_CLOCK_SKEW:
        return f"the test map ({_short(test_map)}) is dated after now"
    if age > max_age:
        return f"the test map ({_short(test_map)}) is {_span(age)} old, over {_span(max_age)}"
    return None


def _blind_spot(
    files: Sequence[str], test_map: TestMap, always: Sequence[str], selected_tests: frozenset[str]
) -> str | None:
    reasons = [
        (path, why)
        for path in files
        if (why := _why_blind(path, test_map, always, selected_tests)) is not None
    ]
    if not reasons:
        return None
    path, why = reasons[0]
    more = f" (and {_count(len(reasons) - 1, 'other file')})" if len(reasons) > 1 else ""
    return f"{path} changed{why}{more}"


def _why_blind(
    path: str, test_map: TestMap, always: Sequence[str], selected_tests: frozenset[str]
) -> str | None:
    """Why the map cannot say which tests `path` reaches; None when it can (or none can be)."""
    for pattern in always:
        if matches(path, pattern):
            return f", matching always {pattern!r}"
    if any(matches(path, pattern) for pattern in _CONFIG):
        return ""
    if path in test_map.setup_files:
        return ", run by fixture setup (a shared fixture is recorded for its first test only)"
    if path in test_map.seen_files() or _is_test_file(path, test_map, selected_tests):
        return None
    if any(matches(path, pattern) for pattern in _DOCS):
        return None
    if PurePosixPath(path).suffix != ".py":
        return ", not Python (the package may read it)"
    if any(matches(path, pattern) for pattern in _TEST_FILES):
        return ", a test file the test map has never seen (its tests are not in it yet)"
    return ", a module no recorded test ran (its reach is unknown)"


def _is_test_file(path: str, test_map: TestMap, selected_tests: frozenset[str]) -> bool:
    # A test file the map or the selection knows reaches only its own tests. One it has never
    # seen (a new test file) may hold tests of the selection: its reach is unknown.
    known = {file_of(node_id) for node_id in (*test_map.tests, *selected_tests)}
    return path in known


def _affected(
    files: Sequence[str], test_map: TestMap, selected_tests: frozenset[str]
) -> frozenset[str]:
    changed = frozenset(files)
    return frozenset(
        node_id
        for node_id in selected_tests
        if file_of(node_id) in changed
        or not test_map.tests.get(node_id)  # never recorded: its reach is unknown, so it runs
        or test_map.tests[node_id] & changed
    )


def _unrecorded_note(affected: frozenset[str], test_map: TestMap) -> str:
    unrecorded = sum(1 for node_id in affected if not test_map.tests.get(node_id))
    return f" ({unrecorded} not in the test map, run to be safe)" if unrecorded else ""


def _none_reach(label: str, files: Sequence[str], test_map: TestMap) -> str:
    return f"no {label} test reaches the {_changed(files)}; last full run {_short(test_map)}"


def _normalized(changed: Sequence[str]) -> list[str]:
    return sorted({path.removeprefix("./") for path in changed})


def _short(test_map: TestMap) -> str:
    return test_map.commit[:7] or test_map.recorded_at.strftime("%Y-%m-%d %H:%M UTC")


def _changed(files: Sequence[str]) -> str:
    return f"{_count(len(files), 'file')} changed"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _span(span: timedelta) -> str:
    if span >= timedelta(days=1):
        hours = f" {_count(span.seconds // 3600, 'hour')}" if span.seconds >= 3600 else ""
        return _count(span.days, "day") + hours
    if span >= timedelta(hours=1):
        return _count(span.seconds // 3600, "hour")
    return _count(span.seconds // 60, "minute")
