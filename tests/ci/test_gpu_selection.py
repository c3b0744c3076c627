"""gpu-select in the plan: the gpu legs are left out only when a pull request's change reaches
no gpu test of the carried maps, and the plan says why in one line."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mlci.ci import plan_output
from mlci.ci.planner import Plan
from mlci.session.test_map import TestMap, carried
from tests.ci.test_planner import full_project, plan_for

NOW = datetime.now(timezone.utc)
ROOT = Path(__file__).resolve().parents[2]
GPU_TEST = "tests/test_x.py::test_g"


def record(root: Path, *, age: timedelta = timedelta(hours=1)) -> None:
    """The maps the default branch's unit and gpu jobs left: the gpu test reaches model.py,
    a unit test reaches cli.py."""
    when = NOW - age
    unit = TestMap({"tests/test_x.py::test_i": frozenset({"src/my_model/cli.py"})}, "c0ffee1", when)
    gpu = TestMap(
        {GPU_TEST: frozenset({"src/my_model/model.py"})},
        "c0ffee1",
        when,
        marker_tests={"gpu": frozenset({GPU_TEST})},
    )
    unit.dump(carried(root, "unit"))
    gpu.dump(carried(root, "gpu"))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def plan_on_pull_request(project: Path, changed: str, **flags: str) -> Plan:
    """The plan of a pull request whose one commit touches the `changed` paths (from the
    repository's root, which holds the project)."""
    full_project(project)
    repo = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True, text=True
        ).stdout.strip()
        or project
    )
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    has_commits = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True)
    if has_commits.returncode != 0:
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "base")
    for path in changed.split():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        with (repo / path).open("a") as handle:
            handle.write("# changed\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "change")
    given = {
        "gpu_runner": "gpu",
        "gpu_select": "all",
        "event": "pull_request",
        "diff_base": "HEAD^1",
        **flags,
    }
    return plan_for(project, **given)


def test_a_change_no_gpu_test_reaches_leaves_the_gpu_legs_out(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/cli.py\n")
    assert plan.gpu_jobs == ()
    reason = "gpu: skipped, no gpu test reaches the 1 file changed; last full run c0ffee1"
    assert plan.selection == reason
    assert f"({reason})" in plan_output.table(plan)
    assert f"selection={reason}\n" in plan_output.github(plan)
    assert '"session":"gpu"' not in plan_output.github(plan).split("matrix=")[1].split("\n")[0]


def test_a_change_a_gpu_test_reaches_keeps_them(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/model.py\n")
    assert [job.session for job in plan.gpu_jobs] == ["gpu"]
    assert plan.selection == "gpu: all 1 gpu tests, 1 reach the 1 file changed"


def test_everything_runs_where_the_map_cannot_decide(tmp_path: Path) -> None:
    record(tmp_path)
    cases = {
        "a push": dict(event="push"),
        "no diff base": dict(diff_base=""),
        "a base git does not know": dict(diff_base="no-such-branch"),
        "pyproject.toml changed": dict(),
    }
    for why, flags in cases.items():
        changed = "pyproject.toml\n" if why == "pyproject.toml changed" else "src/my_model/cli.py\n"
        plan = plan_on_pull_request(tmp_path, changed, **flags)
        assert plan.gpu_jobs, why
        assert plan.selection.startswith("gpu: all tests, "), plan.selection
    record(tmp_path, age=timedelta(days=30))
    assert plan_on_pull_request(tmp_path, "src/my_model/cli.py\n").gpu_jobs


def test_without_any_gpu_run_recorded_the_gpu_legs_run(tmp_path: Path) -> None:
    record(tmp_path)
    carried(tmp_path, "gpu").unlink()
    plan = plan_on_pull_request(tmp_path, "src/my_model/cli.py\n")
    assert plan.gpu_jobs and plan.selection == "gpu: all tests, the test map records no gpu run yet"


def test_a_path_of_the_repository_is_read_in_the_project_folder(tmp_path: Path) -> None:
    """git names paths from the repository root; the project may be a folder of it."""
    project = tmp_path / "svc"
    project.mkdir()
    git(tmp_path, "init", "-q")
    record(project)
    plan = plan_on_pull_request(project, "svc/src/my_model/cli.py\n")
    assert plan.gpu_jobs == (), plan.selection
    plan = plan_on_pull_request(project, "svc/src/my_model/model.py\n")
    assert plan.gpu_jobs, plan.selection


def test_a_plan_left_with_no_legs_lets_the_required_check_pass_without_them(
    tmp_path: Path,
) -> None:
    """Only gpu asked for, and left out: the workflow's session job is skipped by its `if:`
    (an empty matrix), which the required check allows because the plan says so."""
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/cli.py\n", sessions="gpu")
    assert plan.jobs == () and plan.gpu_jobs == ()
    assert "may-skip=combine,session\n" in plan_output.github(plan)
    workflow = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    assert "if: ${{ fromJSON(needs.plan.outputs.matrix).include[0] != null }}" in workflow


def test_off_plans_the_gpu_legs_as_before(tmp_path: Path) -> None:
    record(tmp_path)
    plan = plan_on_pull_request(tmp_path, "src/my_model/cli.py\n", gpu_select="off")
    assert plan.gpu_jobs and plan.selection == ""
