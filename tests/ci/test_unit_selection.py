"""unit-select in the plan: on a pull request the unit legs run only the test files the change
can reach, every unit test where the map cannot decide, and none (skipped, with the reason)
where no unit test reaches it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mlci.ci import plan_output
from mlci.session.test_map import TestMap, carried
from tests.ci.test_gpu_selection import NOW, plan_on_pull_request

UNIT = {"unit_select": "affected", "gpu_runner": "", "gpu_select": "off"}


def record(root: Path) -> None:
    """The default branch's unit map: test_a reaches a.py, test_b reaches b.py."""
    TestMap(
        {
            "tests/test_a.py::test_one": frozenset({"src/my_model/a.py"}),
            "tests/test_a.py::test_two": frozenset({"src/my_model/a.py"}),
            "tests/test_b.py::test_b[1-2]": frozenset({"src/my_model/b.py"}),
        },
        "c0ffee1",
        NOW - timedelta(hours=1),
    ).dump(carried(root, "unit"))


def unit_legs(plan: object) -> list[str]:
    return [job.unit_tests for job in plan.jobs if job.session.startswith("unit")]  # type: ignore[attr-defined]


def test_the_unit_legs_run_the_files_the_change_reaches(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/a.py\n", **UNIT)
    assert set(unit_legs(plan)) == {"tests/test_a.py"}
    assert plan.unit_selection == "unit: 2 of 3 unit tests reach the 1 file changed"
    assert f"({plan.unit_selection})" in plan_output.table(plan)
    assert '"unit-tests":"tests/test_a.py"' in plan_output.github(plan)
    assert "MLCI_UNIT_TESTS=tests/test_a.py\n" in plan_output.gitlab(plan)
    # ... and its jobs keep their (missing) map under another key than the plan reads.
    assert "MLCI_UNIT_MAP_SUFFIX=-part\n" in plan_output.gitlab(plan)
    # A leg running a part of the tests keeps no test map (it would record only that part).
    assert all(job.test_map == "" for job in plan.jobs if job.session.startswith("unit"))


def test_a_change_no_unit_test_reaches_skips_unit_with_the_reason(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "docs/usage.md\n", **UNIT)
    assert set(unit_legs(plan)) == {"none"}
    assert plan.unit_selection.startswith("unit: skipped, no unit test reaches the 1 file")
    assert [job.session for job in plan.jobs if not job.session.startswith("unit")]  # lint...


def test_everything_runs_where_the_map_cannot_decide(tmp_path: Path) -> None:
    record(tmp_path)
    for changed in ("pyproject.toml\n", "src/my_model/new_module.py\n", "conftest.py\n"):
        plan = plan_on_pull_request(tmp_path, changed, **UNIT)
        assert set(unit_legs(plan)) == {""}, changed
        assert plan.unit_selection.startswith("unit: all tests, "), plan.unit_selection


def test_only_a_pull_request_selects(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/a.py\n", **UNIT, event="push_default")
    assert set(unit_legs(plan)) == {""}
    assert plan.unit_selection == "unit: all tests, push to the default branch"
    assert "MLCI_UNIT_MAP_SUFFIX" not in plan_output.gitlab(plan)  # a full run keeps the map


def test_off_by_default_and_for_sharded_unit(tmp_path: Path) -> None:
    for name in ("off", "sharded"):
        (tmp_path / name).mkdir()
        record(tmp_path / name)
    off = plan_on_pull_request(tmp_path / "off", "src/my_model/a.py\n", gpu_runner="")
    assert set(unit_legs(off)) == {""} and off.unit_selection == ""
    sharded = plan_on_pull_request(
        tmp_path / "sharded", "src/my_model/a.py\n", **UNIT, unit_shards="2"
    )
    assert set(unit_legs(sharded)) == {""}  # the shards' whole is proven complete instead
