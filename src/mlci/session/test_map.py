"""A map from tests to the project files they executed, read from coverage.py's data.

Recorded by pytest-cov with `--cov-context=test`, each executed line carries the node id of the
test that ran it (`tests/test_x.py::test_a|run`, also `|setup` and `|teardown`). The map keeps,
per test, the project files it reached; `selection` decides from it which tests a change can
affect. A CPU-recorded map and a GPU-recorded map combine with `merge`.

Lines run at import time carry the empty context and are left out: no single test ran them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import coverage

FORMAT = 1
_PHASES = frozenset({"run", "setup", "teardown"})
# A fixture shared by several tests (session, module, class scope) runs in the first one's
# setup only, so the files it reaches are recorded for that test alone.
_SHARED_PHASES = frozenset({"setup", "teardown"})


@dataclass(frozen=True)
class TestMap:
    """Per test node id, the project files (POSIX paths relative to the root) it executed."""

    __test__ = False  # a record, not a pytest test class

    tests: Mapping[str, frozenset[str]]
    commit: str
    recorded_at: datetime
    marker_tests: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Files some test reached in fixture setup or teardown: who else uses that fixture is unknown.
    setup_files: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.recorded_at.tzinfo is None:
            raise ValueError("a test map's recorded_at needs a time zone")
        object.__setattr__(self, "recorded_at", self.recorded_at.astimezone(timezone.utc))

    def seen_files(self) -> frozenset[str]:
        """Every file some test executed."""
        return frozenset(name for files in self.tests.values() for name in files)

    def dump(self, path: Path) -> None:
        """Write the map; a half-written file never replaces a good one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(_to_json(self), indent=1, sort_keys=True) + "\n")
        partial.replace(path)

    @staticmethod
    def load(path: Path) -> TestMap:
        """The map in `path`; ValueError (one line) when it is not a map of this format.

        A missing file raises FileNotFoundError: no map yet is normal, and the caller runs all.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable test map ({_one_line(error)})") from None
        try:
            return _from_json(data)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path}: not a test map of format {FORMAT} ({_one_line(error)})"
            ) from None


def from_coverage(
    data_file: Path,
    root: Path,
    *,
    commit: str = "",
    recorded_at: datetime | None = None,
    marker_tests: Mapping[str, frozenset[str]] | None = None,
) -> TestMap:
    """The map recorded in `data_file` (pytest-cov `--cov-context=test`); files outside `root`
    are dropped. ValueError (one line) when the file is missing, broken or has no test contexts.
    """
    # coverage is in the test environments, not where `mlci plan` runs: imported on use.
    import coverage
    from coverage.exceptions import CoverageException

    if not data_file.is_file():
        raise ValueError(f"{data_file}: no coverage data file there")
    data = coverage.CoverageData(basename=str(data_file))
    try:
        data.read()
        tests, setup_files = _reach(data, root.resolve())
    except (CoverageException, sqlite3.Error) as error:
        raise ValueError(f"{data_file}: unreadable coverage data ({_one_line(error)})") from None
    if not tests:
        raise ValueError(f"{data_file}: no test contexts; record it with pytest --cov-context=test")
    return TestMap(
        tests=tests,
        commit=commit,
        recorded_at=recorded_at or datetime.now(timezone.utc),
        marker_tests=dict(marker_tests or {}),
        setup_files=setup_files,
    )


# Where the sessions that record a map keep it, from the project root: one file per kind of run
# (`unit.json` on CPU, `gpu.json` on a GPU), carried between CI runs like testmon's data.
FOLDER = ".mlci-test-maps"


def carried(root: Path, kind: str) -> Path:
    """The map a `kind` of run (unit, gpu) records and CI carries."""
    return root / FOLDER / f"{kind}.json"


def load_carried(root: Path) -> tuple[TestMap | None, list[str]]:
    """Every carried map, merged (None when there is none), and one line per file that could
    not be read (left out: a broken map only makes the decision more conservative)."""
    merged: TestMap | None = None
    problems: list[str] = []
    for path in sorted((root / FOLDER).glob("*.json")):
        try:
            found = TestMap.load(path)
        except (OSError, ValueError) as err:
            problems.append(str(err))
            continue
        merged = found if merged is None else merge(merged, found)
    return merged, problems


def merge(a: TestMap, b: TestMap) -> TestMap:
    """Both maps in one: each test reaches the files either recorded. The older's commit and
    time name the result (on a tie, `b`'s): the whole is only as fresh as its oldest part, so a
    fresh CPU map never hides a stale GPU one from the age check."""
    older = a if a.recorded_at < b.recorded_at else b
    return TestMap(
        tests=_union(a.tests, b.tests),
        commit=older.commit,
        recorded_at=older.recorded_at,
        marker_tests=_union(a.marker_tests, b.marker_tests),
        setup_files=a.setup_files | b.setup_files,
    )


def file_of(node_id: str) -> str:
    """The file a test is defined in: `tests/test_x.py` of `tests/test_x.py::TestA::test_b`."""
    return node_id.split("::", 1)[0]


def _reach(
    data: coverage.CoverageData, root: Path
) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    tests: dict[str, set[str]] = {}
    setup_files: set[str] = set()
    for measured in data.measured_files():
        relative = _relative(measured, root)
        if relative is None:
            continue
        for context in _contexts(data.contexts_by_lineno(measured).values()):
            node_id, phase = _split_context(context)
            tests.setdefault(node_id, set()).add(relative)
            if phase in _SHARED_PHASES:
                setup_files.add(relative)
    return {test: frozenset(files) for test, files in tests.items()}, frozenset(setup_files)


def _contexts(per_line: Iterable[list[str]]) -> set[str]:
    return {context for contexts in per_line for context in contexts if context}


def _split_context(context: str) -> tuple[str, str]:
    # rpartition: a parametrized id may itself hold "|" (`test_p[a|b]|run`)
    node_id, sep, phase = context.rpartition("|")
    if sep and phase in _PHASES:
        return node_id, phase
    return context, "run"


def _relative(measured: str, root: Path) -> str | None:
    path = Path(measured)
    # relative_files = true in the coverage config records paths relative to the root
    absolute = (path if path.is_absolute() else root / path).resolve()
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return None


def _union(
    a: Mapping[str, frozenset[str]], b: Mapping[str, frozenset[str]]
) -> dict[str, frozenset[str]]:
    return {key: a.get(key, frozenset()) | b.get(key, frozenset()) for key in {*a, *b}}


def _to_json(test_map: TestMap) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "commit": test_map.commit,
        "recorded_at": test_map.recorded_at.isoformat(),
        "tests": _sorted_lists(test_map.tests),
        "marker_tests": _sorted_lists(test_map.marker_tests),
        "setup_files": sorted(test_map.setup_files),
    }


def _from_json(data: Any) -> TestMap:
    if not isinstance(data, dict):
        raise TypeError("the file holds no JSON object")
    if data.get("format") != FORMAT:
        raise ValueError(f"format is {data.get('format')!r}")
    commit = data["commit"]
    if not isinstance(commit, str):
        raise TypeError("commit is not a string")
    tests = _string_sets(data["tests"], "tests")
    setup_files = _strings(data.get("setup_files", []), "setup_files")
    _check_paths(setup_files.union(*tests.values()))
    return TestMap(
        tests=tests,
        commit=commit,
        recorded_at=_utc(data["recorded_at"]),
        marker_tests=_string_sets(data.get("marker_tests", {}), "marker_tests"),
        setup_files=setup_files,
    )


def _utc(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("recorded_at is not a string")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("recorded_at has no time zone")
    return moment


def _string_sets(value: Any, name: str) -> dict[str, frozenset[str]]:
    if not isinstance(value, dict):
        raise TypeError(f"{name} is not an object")
    return {str(key): _strings(items, f"{name}[{key!r}]") for key, items in value.items()}


def _strings(value: Any, name: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} is not a list of strings")
    return frozenset(value)


def _check_paths(paths: Iterable[str]) -> None:
    # They are compared with the diff's paths: an absolute or climbing one would never match.
    for name in paths:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name:
            raise ValueError(f"{name!r} is not a POSIX path inside the project")


def _sorted_lists(value: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
    return {key: sorted(items) for key, items in value.items()}


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
