"""Unit tests split over CI jobs: the legs, each shard's arguments, the combine, the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.config import shard_spec
from mlci.config.settings import resolve
from mlci.errors import ConfigError
from mlci.project.snapshot import Project
from mlci.session import coverage_config, shards
from mlci.session.registry import BY_NAME, Run
from tests.ci.test_planner import full_project, plan_for, problems_for


def test_each_python_gets_one_leg_per_shard_and_one_combine_job(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, python_versions="3.11,3.12", unit_shards="3")
    units = [job for job in plan.jobs if job.session.startswith("unit")]
    assert [(job.session, job.shard, job.id) for job in units] == [
        (f"unit-{python}", f"{i}/3", f"unit-{python}-shard-{i}")
        for python in ("3.11", "3.12")
        for i in (1, 2, 3)
    ]
    assert units[0].name == "unit (3.11, 1/3)"
    assert units[0].reports == "mlci-reports/unit-3.11-shard-1"
    assert units[0].durations == ".test_durations"
    assert plan.combine is not None and plan.may_skip == ()
    assert plan.combine["artifacts"] == "mlci-reports-unit-*-shard-*"
    assert plan.combine["durations-key"] == "mlci-durations-"
    assert "durations-key" not in units[0].as_dict()  # the plan job chooses the entry once
    unsharded = plan_for(tmp_path, python_versions="3.11")
    assert unsharded.combine is None and unsharded.may_skip == ("combine",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 is not a shard count from 1 to 64"),
        ("65", "65 is not a shard count from 1 to 64"),
        ("two", "'two' is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
    ],
)
def test_the_shard_count_is_checked(tmp_path: Path, value: str, message: str) -> None:
    assert problems_for(tmp_path, unit_shards=value) == [f"unit-shards: {message}"]


@pytest.mark.parametrize("value", ["3/2", "0/3", "1", "a/b", "1/3/4"])
def test_a_bad_shard_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"shard \(from MLCI_SHARD\): .* is not a shard like 2/3"):
        resolve(full_project(tmp_path), environ={"MLCI_SHARD": value})


def test_a_shard_runs_its_part_split_by_durations(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_SHARD": "2/3", "MLCI_UNIT_SHARDS": "3"})
    run = Run(settings, "unit-3.11", Path("reports/unit-3.11-shard-2"), python="3.11")
    [command] = BY_NAME["unit"].commands(run)
    assert "--splits=3" in command and "--group=2" in command
    assert "--splitting-algorithm=least_duration" in command
    assert "--durations-path=reports/unit-3.11-shard-2/durations.json" in command
    assert "--store-durations" in command and "--clean-durations" in command
    assert "--cov-config=reports/unit-3.11-shard-2/coveragerc" in command  # coverage_config.py
    assert "pytest-split>=0.10" in BY_NAME["unit"].tools(settings)

    (root / ".test_durations").write_text('{"tests/test_x.py::test_i": 1.5}')
    assert BY_NAME["unit"].prepare is not None
    BY_NAME["unit"].prepare(run)
    copy = root / "reports" / "unit-3.11-shard-2" / "durations.json"
    assert json.loads(copy.read_text()) == {"tests/test_x.py::test_i": 1.5}
    config = (root / "reports" / "unit-3.11-shard-2" / "coveragerc").read_text()
    assert "relative_files = True" in config


def test_the_combine_session_reads_every_shards_data(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_UNIT_SHARDS": "2"})
    python = settings.main_python
    folder = Path(f"mlci-reports/coverage-{python}")
    run = Run(settings, f"coverage-{python}", folder, python=python)
    with pytest.raises(ConfigError, match="no coverage data of unit-"):
        BY_NAME["coverage"].commands(run)
    for i in (1, 2):  # as GitHub downloads them: one folder per artifact
        shard = root / "mlci-reports" / "shards" / f"mlci-reports-unit-{run.python}-shard-{i}"
        shard.mkdir(parents=True)
        (shard / "coverage.data").write_text("")
        (shard / "durations.json").write_text("{}")
    combine, xml, report, durations = BY_NAME["coverage"].commands(run)
    assert combine[:3] == ["coverage", "combine", "--keep"]
    assert [Path(arg).parent.name for arg in combine[5:]] == [
        f"mlci-reports-unit-{run.python}-shard-1",
        f"mlci-reports-unit-{run.python}-shard-2",
    ]
    assert xml == [
        "coverage",
        "xml",
        f"--rcfile={folder}/coveragerc",
        f"--data-file={folder}/coverage.data",
        "-o",
        f"{folder}/coverage.xml",
    ]
    assert report[:2] == ["coverage", "report"]
    assert durations[:6] == [
        "mlci",
        "merge-durations",
        "--output",
        ".test_durations",
        "--output",
        f"{folder}/durations.json",
    ]
    assert BY_NAME["coverage"].verdict.coverage_gate


def test_merged_durations_are_the_union_of_the_shards(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text('{"t::a": 1.0, "t::b": 2.0}')
    second.write_text('{"t::c": 0.5}')
    out = tmp_path / ".test_durations"
    assert main(["merge-durations", "--output", str(out), str(first), str(second)]) == 0
    assert json.loads(out.read_text()) == {"t::a": 1.0, "t::b": 2.0, "t::c": 0.5}


def test_a_shards_unreadable_durations_are_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, truncated, wrong = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    good.write_text('{"t::a": 1.0}')
    truncated.write_text('{"t::b": 2.')
    wrong.write_text('{"t::c": "slow"}')
    out = tmp_path / ".test_durations"
    assert (
        main(["merge-durations", "--output", str(out), str(good), str(truncated), str(wrong)]) == 0
    )
    assert json.loads(out.read_text()) == {"t::a": 1.0}
    err = capsys.readouterr().err
    assert f"{truncated}: left out" in err and f"{wrong}: left out" in err


def test_the_coverage_config_keeps_the_projects_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'p'\n[tool.coverage.run]\nbranch = true\nomit = ['x.py', 'y.py']\n"
        "[tool.coverage.report]\nexclude_also = ['if TYPE_CHECKING:']\n"
    )
    path = coverage_config.write(Project.load(tmp_path).tools, tmp_path / "out")
    assert path == coverage_config.target(tmp_path / "out")
    import configparser

    read = configparser.ConfigParser(interpolation=None)
    read.read(path)
    assert read.get("run", "branch") == "True" and read.get("run", "relative_files") == "True"
    assert read.get("run", "omit").split() == ["x.py", "y.py"]
    assert read.get("report", "exclude_also").strip() == "if TYPE_CHECKING:"
    (tmp_path / ".coveragerc").write_text("[run]\nbranch = True\n[report]\nshow_missing = True\n")
    rc = coverage_config.write(Project.load(tmp_path).tools, tmp_path / "out")
    assert "show_missing = True" in rc.read_text() and "relative_files = True" in rc.read_text()


def test_sessions_need_nothing_beyond_nox_and_the_standard_library() -> None:
    """The kit's own noxfile imports mlci from the tree, run by `uvx nox`: nox's packages
    are all there is (tomlkit, for instance, is only for `mlci init`)."""
    import subprocess
    import sys

    code = (
        "import sys, mlci.session.nox_sessions;"
        " print(sorted(m for m in ('tomlkit',) if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_shard_values() -> None:
    assert shard_spec.parse("2/3") == shard_spec.Shard(2, 3)
    assert shard_spec.parse("4/3") is None and shard_spec.parse("") is None


@pytest.mark.parametrize(
    ("files", "python", "core"),
    [
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.12", "sysmon"),
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.11", None),  # no sys.monitoring
        ({"pyproject.toml": "[project]\nname = 'p'\n"}, "3.14", None),  # coverage's default
        ({"pyproject.toml": "[tool.coverage.run]\nbranch = true\n"}, "3.12", None),
        ({".coveragerc": "[run]\nbranch = True\n"}, "3.13", None),
        ({"setup.cfg": "[coverage:run]\nbranch = 1\n"}, "3.13", None),
        ({".coveragerc": "[run]\nsource = p\n"}, "3.13", "sysmon"),
        # Branch coverage asked for where pytest-cov reads it, or in tox.ini (coverage reads it).
        (
            {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-ra --cov-branch'\n"},
            "3.12",
            None,
        ),
        (
            {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = ['--cov-branch']\n"},
            "3.13",
            None,
        ),
        ({"tox.ini": "[coverage:run]\nbranch = true\n"}, "3.12", None),
    ],
)
def test_coverage_uses_sys_monitoring_where_it_measures_the_same(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    python: str,
    core: str | None,
) -> None:
    monkeypatch.delenv("COVERAGE_CORE", raising=False)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    expected = {"COVERAGE_CORE": core} if core else {}
    assert coverage_config.core(Project.load(tmp_path, required=False).tools, python) == expected
    monkeypatch.setenv("COVERAGE_CORE", "ctrace")  # the user's choice wins
    assert coverage_config.core(Project.load(tmp_path, required=False).tools, python) == {}


# --- a run proven complete: every collected test in exactly one shard's JUnit report ----------


def shard_reports(
    root: Path, total: int, runs: dict[int, list[str]], **record: object
) -> list[Path]:
    """Report folders as the shards leave them: a record of what was collected, and JUnit."""
    collected = record.get("collected", TESTS)
    folders = []
    for index in range(1, total + 1):
        if index not in runs:
            continue
        folder = root / f"unit-3.11-shard-{index}"
        folder.mkdir(parents=True)
        path = shards.write_record(
            folder, shard_spec.Shard(index, total), str(record.get(str(index), "d1"))
        )
        shards.add_collected(path, list(collected))  # type: ignore[call-overload]
        cases = "".join(
            '<testcase classname="{}" name="{}"/>'.format(*shards.junit_id(t).split("::"))
            for t in runs[index]
        )
        (folder / "junit.xml").write_text(
            f"<testsuites><testsuite>{cases}</testsuite></testsuites>"
        )
        folders.append(folder)
    return folders


TESTS = [f"tests/test_m.py::test_{i}" for i in range(6)]


def test_shards_that_ran_every_test_once_are_complete(tmp_path: Path) -> None:
    folders = shard_reports(tmp_path, 2, {1: TESTS[:3], 2: TESTS[3:]})
    assert shards.check_complete(folders) is None


def test_shards_that_split_by_different_durations_name_what_they_dropped(tmp_path: Path) -> None:
    # Shard 1 split by recorded durations, shard 2 by count: two tests fell between them, one
    # ran twice (the local reproduction of the issue: 4 of 6 ran, and coverage was green).
    folders = shard_reports(
        tmp_path, 2, {1: TESTS[:2], 2: [TESTS[1], TESTS[4], TESTS[5]]}, **{"1": "ab12", "2": "none"}
    )
    line = shards.check_complete(folders)
    assert line is not None and "\n" not in line
    assert line.startswith("the unit shards did not run every test once: 6 tests collected, 4 ran")
    assert "2 never ran: tests.test_m::test_2, tests.test_m::test_3" in line
    assert "1 ran more than once: tests.test_m::test_1" in line
    assert "they split by different durations (1/2: ab12, 2/2: none)" in line


def test_a_missing_shard_and_a_long_list_are_reported_briefly(tmp_path: Path) -> None:
    many = [f"tests/test_m.py::test_{i}" for i in range(30)]
    folders = shard_reports(tmp_path, 3, {1: many[:5]}, collected=many)
    line = shards.check_complete(folders)
    assert line is not None
    assert "shard(s) 2/3, 3/3 left no reports" in line
    assert "25 never ran: " in line and line.count("tests.test_m::") == shards.SHOWN
    assert "and 15 more" in line


def test_a_shard_that_stopped_before_collecting_cannot_be_proven(tmp_path: Path) -> None:
    folder = tmp_path / "unit-3.11-shard-1"
    folder.mkdir()
    shards.write_record(folder, shard_spec.Shard(1, 1), "none")  # pytest never got to collection
    line = shards.check_complete([folder])
    assert line is not None and "shard 1/1 stopped before its tests were collected" in line


@pytest.mark.parametrize(
    ("nodeid", "junit"),
    [
        ("tests/test_a.py::test_x", "tests.test_a::test_x"),
        ("tests/sub/test_b.py::TestK::test_y[1-a/b]", "tests.sub.test_b.TestK::test_y[1-a/b]"),
        ("test_c.py::test_z[x.py]", "test_c::test_z[x.py]"),
    ],
)
def test_node_ids_are_named_as_pytests_junit_report_names_them(nodeid: str, junit: str) -> None:
    assert shards.junit_id(nodeid) == junit


def test_the_coverage_session_refuses_an_incomplete_run_before_combining(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_UNIT_SHARDS": "2"})
    shard_reports(root / "mlci-reports", 2, {1: TESTS[:2], 2: TESTS[3:]})
    run = Run(settings, "coverage-3.11", Path("reports/coverage-3.11"), python="3.11")
    assert BY_NAME["coverage"].prepare is not None
    with pytest.raises(ConfigError, match=r"1 never ran: tests\.test_m::test_2"):
        BY_NAME["coverage"].prepare(run)


def test_a_merge_into_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.json"
    first.write_text('{"t::a": 1.0}')
    assert main(["merge-durations", "--output", str(tmp_path), str(first)]) == 2
    assert f"merge-durations: cannot write {tmp_path}: Is a directory" in capsys.readouterr().err


# --- refused when the plan is made ---------------------------------------------------------------


def test_testmon_with_shards_is_refused(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, unit_shards="2", testmon="true")
    assert len(problems) == 1 and problems[0].startswith(
        "unit-shards: 2 shards with testmon = true"
    )


def test_more_legs_than_a_github_matrix_holds_is_refused(tmp_path: Path) -> None:
    pythons = "3.10,3.11,3.12,3.13"
    [line] = problems_for(
        tmp_path, python_versions=pythons, unit_shards="64", sessions="lint,mypy,unit"
    )
    assert line == (
        "unit-shards: 4 Pythons x 64 shards make 258 CI jobs, over GitHub's 256 per matrix;"
        " use at most 63 shards, or fewer Pythons"
    )
    plan = plan_for(tmp_path, python_versions=pythons, unit_shards="63", sessions="lint,mypy,unit")
    assert len(plan.jobs) == 254


def test_the_same_refusal_comes_from_nox_and_mlci_sessions(tmp_path: Path) -> None:
    root = full_project(tmp_path)
    settings = resolve(root, environ={"MLCI_UNIT_SHARDS": "3", "MLCI_TESTMON": "true"})
    from mlci.session.validation import check

    with pytest.raises(ConfigError, match="3 shards with testmon = true"):
        check(settings)  # what mlci.sessions() (nox) and `mlci sessions` call


def test_gitlab_refuses_shards_in_pyproject_that_the_template_input_contradicts(
    tmp_path: Path,
) -> None:
    from mlci.ci.planner import make_plan

    root = full_project(tmp_path)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text + "[tool.mlci]\nunit-shards = 3\n")
    template_default = {"MLCI_UNIT_SHARDS": " 1"}  # what the template sets when no input is given
    with pytest.raises(ConfigError) as err:
        make_plan(resolve(root, environ=template_default), static_jobs=True)
    assert (
        "unit-shards: [tool.mlci] says 3, but the template's unit-shards input is 1"
        in err.value.problems[0]
    )
    assert make_plan(resolve(root, environ={"MLCI_UNIT_SHARDS": "3"}), static_jobs=True).combine
    assert make_plan(resolve(root, environ=template_default)).combine is None  # GitHub: input wins


def test_the_shards_config_carries_a_tox_ini_coverage_config(tmp_path: Path) -> None:
    """coverage reads tox.ini's [coverage:*] sections; the shards' config must say the same."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "tox.ini").write_text(
        "[tox]\nenvlist = py311\n[coverage:run]\nbranch = true\nomit =\n    */gen/*\n"
        "[coverage:report]\nexclude_also =\n    if TYPE_CHECKING:\n"
    )
    import configparser

    read = configparser.ConfigParser(interpolation=None)
    read.read(coverage_config.write(Project.load(tmp_path).tools, tmp_path / "out"))
    assert read.get("run", "branch") == "true" and read.get("run", "relative_files") == "True"
    assert read.get("run", "omit").split() == ["*/gen/*"]
    assert "if TYPE_CHECKING:" in read.get("report", "exclude_also")
    assert not read.has_section("tox")


def test_shards_that_collected_nothing_are_not_a_complete_run(tmp_path: Path) -> None:
    folders = shard_reports(tmp_path, 2, {1: [], 2: []}, collected=[])
    line = shards.check_complete(folders)
    assert line == "the unit shards collected no test at all (2 shards): nothing was checked"


def test_the_plugin_records_pytests_own_junit_names(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder named like a parameter (`br[1]`) is where a hand-made mapping goes wrong."""
    pytester.mkpydir("tests")
    (pytester.path / "tests" / "br[1]").mkdir()
    (pytester.path / "tests" / "br[1]" / "test_b.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('x', ['a::b', 'c/d'])\ndef test_b(x): ...\n"
    )
    folder = pytester.path / "reports" / "unit-3.11-shard-1"
    folder.mkdir(parents=True)
    record = shards.write_record(folder, shard_spec.Shard(1, 1), "none")
    monkeypatch.setenv(shards.COLLECTED_ENV, str(record))
    junit = folder / "junit.xml"
    result = pytester.runpytest_subprocess(
        f"--junitxml={junit}", "-p", "no:cacheprovider", "--junit-prefix=pre"
    )
    assert result.ret == 0, result.stdout.str()
    assert shards.check_complete([folder]) is None
    assert len(json.loads(record.read_text())["junit"]) == 2
