"""unit-select in the plan: on a pull request the unit legs run only the test files the change
can reach, every unit test where the map cannot decide, and none (skipped, with the reason)
where no unit test reaches it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mlci.ci import plan_output
from mlci.session.test_map import TestMap, carried
from tests.ci.test_gpu_selection import NOW, plan_on_pull_request
from tests.ci.test_planner import full_project

UNIT = {"unit_select": "affected", "gpu_runner": "", "gpu_select": "off"}


def record(root: Path) -> None:
    """The default branch's unit map: test_a reaches a.py, test_b reaches b.py."""
    full_project(root)
    for name in ("test_a", "test_b"):
        (root / "tests" / f"{name}.py").write_text("def test_one(): ...\n")
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


def test_a_test_file_the_change_deletes_is_not_handed_to_pytest(tmp_path: Path) -> None:
    """pytest refuses a path that does not exist: the file's tests are gone, nothing to run."""
    import subprocess

    from tests.ci.test_planner import plan_for

    record(tmp_path)
    plan_on_pull_request(tmp_path, "src/my_model/a.py\n", **UNIT)  # the base, then a change
    (tmp_path / "tests" / "test_a.py").unlink()
    for args in (
        ["add", "-A"],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "rm"],
    ):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    given = {**UNIT, "event": "pull_request", "diff_base": "HEAD~2"}
    plan = plan_for(tmp_path, **given)
    assert plan.unit_selection == "unit: 2 of 3 unit tests reach the 2 files changed"
    assert set(unit_legs(plan)) == {"none"}  # only test_a's tests were reached
