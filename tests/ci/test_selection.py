"""The selection decision: every rule that runs all tests, and the affected tests otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlci.ci.selection import Decision, Mode, decide, matches
from mlci.session.test_map import TestMap, file_of

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
TRAIN = "tests/test_gpu.py::test_train"
INFER = "tests/test_gpu.py::test_infer"
KERNEL = "tests/test_gpu.py::test_kernel[fp16]"
OTHER = "tests/test_gpu_other.py::test_other"
GPU = frozenset({TRAIN, INFER, KERNEL, OTHER})
MAP = TestMap(
    tests={
        TRAIN: frozenset({"pkg/model.py", "pkg/train.py", "tests/conftest.py"}),
        INFER: frozenset({"pkg/model.py", "docs/examples/demo.py"}),
        KERNEL: frozenset({"pkg/kernels.py"}),
        OTHER: frozenset({"pkg/other.py"}),
        "tests/test_cpu.py::test_cli": frozenset({"pkg/cli.py"}),
        "tests/test_cpu.py::test_data": frozenset({"pkg/data.py"}),
    },
    commit="abc1234def5678",
    recorded_at=NOW - timedelta(days=1),
    setup_files=frozenset({"pkg/data.py"}),
)
SKIPPED_ONE = "gpu: skipped, no gpu test reaches the 1 file changed; last full run abc1234"


def _decide(
    changed: Sequence[str] | None,
    *,
    test_map: TestMap | None = MAP,
    event: str = "pull_request",
    always: Sequence[str] = (),
    selected: frozenset[str] = GPU,
    mode: Mode = "affected",
    max_age: timedelta = timedelta(days=7),
    now: datetime = NOW,
    label: str = "gpu",
) -> Decision:
    decision = decide(
        changed=changed,
        test_map=test_map,
        now=now,
        max_age=max_age,
        event=event,
        always=always,
        selected_tests=selected,
        mode=mode,
        label=label,
    )
    assert "\n" not in decision.reason
    return decision


def _runs_all(decision: Decision, reason: str) -> None:
    assert decision == Decision(True, None, reason)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ("push_default", "push to the default branch"),
        ("tag", "tag pipeline"),
        ("schedule", "scheduled run"),
        ("merge_group", "merge queue"),
        ("merge_train", "merge train"),
        ("other", "not a pull or merge request"),
        ("workflow_dispatch", "a manual run"),
        ("push", "a push"),
        ("release", "a release run, not a pull request"),
    ],
)
def test_only_a_pull_request_may_select(event: str, why: str) -> None:
    # README.md alone would skip in a pull request.
    _runs_all(_decide(["README.md"], event=event), f"gpu: all tests, {why}")


def test_an_unknown_diff_runs_all() -> None:
    _runs_all(_decide(None), "gpu: all tests, the changed files are unknown")


def test_an_empty_diff_runs_all() -> None:
    _runs_all(_decide([]), "gpu: all tests, the diff lists no changed files")


def test_no_map_runs_all() -> None:
    _runs_all(_decide(["README.md"], test_map=None), "gpu: all tests, no test map recorded yet")


def _aged(age: timedelta, commit: str = "abc1234def") -> TestMap:
    return TestMap(tests=MAP.tests, commit=commit, recorded_at=NOW - age)


@pytest.mark.parametrize(
    ("age", "max_age", "shown"),
    [
        (timedelta(days=8), timedelta(days=7), "8 days old, over 7 days"),
        (timedelta(days=1, hours=2), timedelta(hours=12), "1 day 2 hours old, over 12 hours"),
        (timedelta(minutes=90), timedelta(minutes=30), "1 hour old, over 30 minutes"),
        (timedelta(minutes=61), timedelta(hours=1), "1 hour old, over 1 hour"),
    ],
)
def test_a_stale_map_runs_all(age: timedelta, max_age: timedelta, shown: str) -> None:
    decision = _decide(["README.md"], test_map=_aged(age), max_age=max_age)
    _runs_all(decision, f"gpu: all tests, the test map (abc1234) is {shown}")


def test_a_map_exactly_max_age_old_still_selects() -> None:
    decision = _decide(["README.md"], test_map=_aged(timedelta(days=7)))
    assert decision == Decision(False, (), SKIPPED_ONE)


def test_a_map_dated_after_now_runs_all_beyond_clock_skew() -> None:
    future = _aged(-timedelta(hours=1))
    _runs_all(_decide(["README.md"], test_map=future), "gpu: all tests, the test map (abc1234) "
              "is dated after now")  # fmt: skip
    assert not _decide(["README.md"], test_map=_aged(-timedelta(minutes=1))).run


CONFIG = [
    "pyproject.toml",
    "uv.lock",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "requirements-gpu.txt",
    "requirements/base.in",
    "tox.ini",
    "noxfile.py",
    "conftest.py",
    "tests/conftest.py",  # the map saw it (TRAIN): configuration wins
    "tests/gpu/deep/conftest.py",
    ".pre-commit-config.yaml",
    ".github/workflows/ci.yml",
    ".github/PULL_REQUEST_TEMPLATE.md",
    ".gitlab-ci.yml",
    "ci-templates/gpu.yml",
    "pkg/sub/settings.cfg",
    "mypy.ini",
    "ruff.toml",
    "packages/member/pyproject.toml",
]


@pytest.mark.parametrize("path", CONFIG)
def test_a_dependency_or_config_file_runs_all(path: str) -> None:
    _runs_all(_decide([path]), f"gpu: all tests, {path} changed")


@pytest.mark.parametrize(
    "path", ["pkg/vocab.json", "pkg/kernels.cu", "Makefile", ".python-version", "pkg/model.pyi"]
)
def test_a_file_that_is_not_python_runs_all(path: str) -> None:
    _runs_all(
        _decide([path]), f"gpu: all tests, {path} changed, not Python (the package may read it)"
    )


@pytest.mark.parametrize(
    "path",
    ["README.md", "pkg/NOTES.md", "docs/index.rst", "docs/conf.py", "LICENSE", "LICENSE.txt"],
)
def test_documentation_changes_nothing_the_tests_run(path: str) -> None:
    assert _decide([path]) == Decision(False, (), SKIPPED_ONE)


def test_a_documentation_python_file_a_test_ran_selects_that_test() -> None:
    assert _decide(["docs/examples/demo.py"]).tests == (INFER,)


def test_an_always_glob_runs_all_naming_it() -> None:
    _runs_all(
        _decide(["pkg/cli.py"], always=["pkg/cli.py"]),
        "gpu: all tests, pkg/cli.py changed, matching always 'pkg/cli.py'",
    )


def test_an_always_glob_beats_the_documentation_rule() -> None:
    _runs_all(
        _decide(["docs/gpu.md"], always=["docs/**/*.md"]),
        "gpu: all tests, docs/gpu.md changed, matching always 'docs/**/*.md'",
    )


def test_a_new_module_no_test_ran_runs_all() -> None:
    _runs_all(
        _decide(["pkg/new.py"]),
        "gpu: all tests, pkg/new.py changed, a module no recorded test ran (its reach is unknown)",
    )


def test_a_test_helper_that_is_no_test_file_runs_all() -> None:
    assert _decide(["tests/helpers.py"]).tests is None


def test_a_file_run_by_fixture_setup_runs_all() -> None:
    _runs_all(
        _decide(["pkg/data.py"]),
        "gpu: all tests, pkg/data.py changed, run by fixture setup "
        "(a shared fixture is recorded for its first test only)",
    )


def test_several_blind_spots_name_the_first_and_count_the_rest() -> None:
    _runs_all(
        _decide(["uv.lock", "pyproject.toml", "pkg/model.py"]),
        "gpu: all tests, pyproject.toml changed (and 1 other file)",
    )
    assert _decide(["uv.lock", "tox.ini", "setup.py"]).reason.endswith("(and 2 other files)")


def test_the_tests_a_changed_module_reaches_are_selected_sorted() -> None:
    assert _decide(["pkg/model.py"]) == Decision(
        True, (INFER, TRAIN), "gpu: 2 of 4 gpu tests reach the 1 file changed"
    )


def test_mode_all_runs_all_of_them_once_one_is_affected() -> None:
    assert _decide(["pkg/model.py"], mode="all") == Decision(
        True, None, "gpu: all 4 gpu tests, 2 reach the 1 file changed"
    )
    assert not _decide(["pkg/cli.py"], mode="all").run


def test_a_change_no_selected_test_reaches_skips() -> None:
    assert _decide(["pkg/cli.py"]) == Decision(False, (), SKIPPED_ONE)
    assert _decide(["pkg/cli.py", "README.md", "tests/test_cpu.py"]).reason == (
        "gpu: skipped, no gpu test reaches the 3 files changed; last full run abc1234"
    )


def test_a_map_without_commit_names_its_time() -> None:
    no_commit = _aged(timedelta(days=1), commit="")
    assert _decide(["pkg/cli.py"], test_map=no_commit).reason.endswith(
        "last full run 2025-03-09 12:00 UTC"
    )


def test_a_changed_test_file_selects_its_selected_tests_only() -> None:
    assert _decide(["tests/test_gpu.py"]) == Decision(
        True, (INFER, KERNEL, TRAIN), "gpu: 3 of 4 gpu tests reach the 1 file changed"
    )


def test_a_new_selected_test_file_selects_its_tests() -> None:
    new = "tests/test_new_gpu.py::test_new"
    decision = _decide(["tests/test_new_gpu.py"], selected=GPU | {new})
    assert decision == Decision(
        True,
        (new,),
        "gpu: 1 of 5 gpu tests reach the 1 file changed (1 not in the test map, run to be safe)",
    )


def test_a_test_file_of_no_selected_test_skips() -> None:
    assert _decide(["tests/test_cpu.py"]) == Decision(False, (), SKIPPED_ONE)


@pytest.mark.parametrize("path", ["tests/test_brand_new.py", "pkg/x_test.py"])
def test_a_test_file_the_map_never_saw_runs_all(path: str) -> None:
    """A new test file may hold gpu tests the map cannot name yet."""
    _runs_all(
        _decide([path]),
        f"gpu: all tests, {path} changed, a test file the test map has never seen"
        " (its tests are not in it yet)",
    )


def test_a_selected_test_the_map_never_recorded_always_runs() -> None:
    unknown = "tests/test_gpu.py::test_unrecorded"
    empty = "tests/test_gpu.py::test_empty"
    test_map = TestMap(tests={**MAP.tests, empty: frozenset()}, commit="abc1234", recorded_at=NOW)
    decision = _decide(["pkg/cli.py"], test_map=test_map, selected=GPU | {unknown, empty})
    assert decision == Decision(
        True,
        (empty, unknown),
        "gpu: 2 of 6 gpu tests reach the 1 file changed (2 not in the test map, run to be safe)",
    )


def test_a_deleted_module_selects_the_tests_that_ran_it() -> None:
    assert _decide(["pkg/kernels.py"]).tests == (KERNEL,)


def test_paths_are_normalized_and_counted_once() -> None:
    assert _decide(["./pkg/kernels.py", "pkg/kernels.py"]).reason == (
        "gpu: 1 of 4 gpu tests reach the 1 file changed"
    )


def test_the_label_names_the_selection() -> None:
    assert _decide(None, label="tpu").reason == "tpu: all tests, the changed files are unknown"
    assert _decide(["pkg/cli.py"], label="tpu").reason.startswith("tpu: skipped, no tpu test")


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("a/b/c.py", "a/**", True),
        ("a/c.py", "a/*", True),
        ("a/b/c.py", "a/*", False),
        ("ab/c.py", "a/**", False),
        ("b.py", "**/b.py", True),
        ("x/y/b.py", "**/b.py", True),
        ("x/y/b.py", "x/**/b.py", True),
        ("x/b.py", "x/**/b.py", True),
        ("x/y/b.py", "x/**/c.py", False),
        ("deep/dir/conftest.py", "conftest.py", True),
        ("requirements-dev.txt", "requirements*.txt", True),
        ("a/b.py", "/a/b.py", True),
        ("A/b.py", "a/b.py", False),
        ("a/b.py", "a/[bc].py", True),
    ],
)
def test_globs_match_within_segments_and_double_star_at_any_depth(
    path: str, pattern: str, expected: bool
) -> None:
    assert matches(path, pattern) is expected


PATHS = [
    "pkg/model.py", "pkg/train.py", "pkg/kernels.py", "pkg/other.py", "pkg/cli.py",
    "pkg/data.py", "pkg/new.py", "tests/test_gpu.py", "tests/test_cpu.py",
    "tests/test_gpu_other.py", "tests/conftest.py", "README.md", "docs/examples/demo.py",
    "pkg/vocab.json", "pyproject.toml",
]  # fmt: skip


@given(st.lists(st.sampled_from(PATHS), min_size=1), st.sets(st.sampled_from(sorted(GPU))))
def test_no_test_whose_reach_or_own_file_changed_is_ever_left_out(
    changed: list[str], selected: set[str]
) -> None:
    decision = _decide(changed, selected=frozenset(selected))
    must_run = {
        test for test in selected if MAP.tests[test] & set(changed) or file_of(test) in changed
    }
    if decision.tests is not None:
        assert must_run <= set(decision.tests)
        assert decision.run == bool(decision.tests)
    else:
        assert decision.run
